use super::*;
use std::os::unix::fs::PermissionsExt;

fn ring() -> DataKeys {
    DataKeys::from_parts([7; 32], vec![])
}

#[test]
fn round_trip() {
    let keys = ring();
    for plain in [&b""[..], b"x", &[0u8; 20], &[0xff; 1000]] {
        let sealed = keys.seal(plain).expect("seals");
        assert!(sealed.starts_with(&format!("v1.{}.", keys.current_id())));
        assert_eq!(keys.open(&sealed).as_deref(), Some(plain));
        assert!(!keys.needs_reseal(&sealed));
    }
    // A fresh nonce each time.
    assert_ne!(keys.seal(b"x").ok(), keys.seal(b"x").ok());
}

#[test]
fn key_id_is_sha256_prefix() {
    // SHA-256 of 32 zero bytes is 66687aad…
    let keys = DataKeys::from_parts([0; 32], vec![]);
    assert_eq!(keys.current_id(), "66687aad");
}

#[test]
fn any_tampering_is_detected() {
    let keys = ring();
    let sealed = keys.seal(b"totp secret").expect("seals");
    let payload_at = sealed.rfind('.').expect("dot") + 1;
    let bytes = URL_SAFE_NO_PAD.decode(&sealed[payload_at..]).expect("b64");
    for i in 0..bytes.len() {
        let mut flipped = bytes.clone();
        flipped[i] ^= 0x01;
        let forged = format!(
            "{}{}",
            &sealed[..payload_at],
            URL_SAFE_NO_PAD.encode(&flipped)
        );
        assert_eq!(keys.open(&forged), None, "byte {i}");
    }
    let truncated = &sealed[..sealed.len() - 2];
    assert_eq!(keys.open(truncated), None);
    // Relabelling with another id fails too (unknown id, and it is the AAD).
    let relabelled = sealed.replacen(keys.current_id(), "00000000", 1);
    assert_eq!(keys.open(&relabelled), None);
    for bad in [
        "",
        "v1",
        "v1.x.y",
        "v2.00000000.AAAA",
        "v1..",
        &format!("{sealed}.x"),
    ] {
        assert_eq!(keys.open(bad), None, "{bad:?}");
    }
    // A ring without the key cannot open it.
    let other = DataKeys::from_parts([8; 32], vec![]);
    assert_eq!(other.open(&sealed), None);
}

#[test]
fn rotation_keeps_old_values_readable() {
    let (k1, k2) = ([1u8; 32], [2u8; 32]);
    let before = DataKeys::from_parts(k1, vec![]);
    let sealed = before.seal(b"secret").expect("seals");
    let after = DataKeys::from_parts(k2, vec![k1]);
    assert_eq!(after.open(&sealed).as_deref(), Some(&b"secret"[..]));
    assert!(after.needs_reseal(&sealed));
    let resealed = after.seal(b"secret").expect("seals");
    assert!(!after.needs_reseal(&resealed));
    assert_eq!(before.open(&resealed), None);
    assert!(!after.needs_reseal("not sealed"));
}

#[test]
fn load_from_environment() {
    let dir = tempfile::tempdir().expect("tempdir");
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE};
    let k1 = URL_SAFE_NO_PAD.encode([1u8; 32]);
    // 0xfb bytes encode to both of the characters on which the alphabets differ.
    let old = [
        STANDARD.encode([0xfb; 32]),
        STANDARD_NO_PAD.encode([0xfc; 32]),
    ];
    let old = format!(" {}, ,{},{}\n", old[0], old[1], URL_SAFE.encode([0xfd; 32]));
    let keys = DataKeys::load(Some(&k1), Some(&old), dir.path(), Missing::Create).expect("loads");
    assert_eq!(keys.current_id(), DataKey::new([1; 32]).id);
    assert_eq!(keys.old.len(), 3);
    assert_eq!(keys.old[0].bytes, [0xfb; 32]);
    assert!(!dir.path().join(KEY_FILE).exists());
    let debug = format!("{keys:?}");
    assert!(debug.contains(keys.current_id()));
    assert!(!debug.contains("bytes") && !debug.contains("[1, 1"));
}

#[test]
fn bad_environment_values_name_the_setting() {
    let dir = tempfile::tempdir().expect("tempdir");
    let short = URL_SAFE_NO_PAD.encode([1u8; 31]);
    for bad in ["", "not base64!", short.as_str()] {
        let err =
            DataKeys::load(Some(bad), None, dir.path(), Missing::Create).expect_err("refused");
        assert_eq!(
            err.to_string(),
            "PORTCULLIS_DATA_KEY: must be 32 bytes of base64"
        );
    }
    let good = URL_SAFE_NO_PAD.encode([1u8; 32]);
    let old = format!("{good},{short}");
    let err =
        DataKeys::load(Some(&good), Some(&old), dir.path(), Missing::Create).expect_err("refused");
    assert_eq!(
        err.to_string(),
        "PORTCULLIS_DATA_KEYS_OLD: key 2 must be 32 bytes of base64"
    );
    assert!(!err.to_string().contains(&short));
}

#[test]
fn key_file_is_created_private_and_reused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys_dir = dir.path().join("keys");
    let first = DataKeys::load(None, None, &keys_dir, Missing::Create).expect("creates");
    let path = keys_dir.join(KEY_FILE);
    let mode = std::fs::metadata(&path)
        .expect("exists")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let entries = std::fs::read_dir(&keys_dir).expect("dir").count();
    assert_eq!(entries, 1, "no temporary file is left behind");
    let again = DataKeys::load(None, None, &keys_dir, Missing::Create).expect("reads");
    assert_eq!(first.current_id(), again.current_id());
    let sealed = first.seal(b"s").expect("seals");
    assert_eq!(again.open(&sealed).as_deref(), Some(&b"s"[..]));
}

#[test]
fn concurrent_first_starts_agree_on_one_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ids: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    DataKeys::load(None, None, dir.path(), Missing::Create).map(|k| k.current.id)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread").expect("loads"))
            .collect()
    });
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
}

#[test]
fn a_corrupt_key_file_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join(KEY_FILE), "short\n").expect("write");
    let err = DataKeys::load(None, None, dir.path(), Missing::Create).expect_err("refused");
    assert!(err.to_string().starts_with("data key file "));
    assert!(
        err.to_string()
            .ends_with("data.key: must be 32 bytes of base64")
    );
}

#[test]
fn a_bound_value_opens_only_in_its_context() {
    let keys = ring();
    let sealed = keys
        .seal_for(b"totp secret", "user_totp alice")
        .expect("seals");
    assert!(sealed.starts_with(&format!("v2.{}.", keys.current_id())));
    assert!(!is_unbound(&sealed));
    assert_eq!(
        keys.open_for(&sealed, "user_totp alice").as_deref(),
        Some(&b"totp secret"[..])
    );
    // Copied to another row, or read as an unbound value: nothing.
    assert_eq!(keys.open_for(&sealed, "user_totp mallory"), None);
    assert_eq!(keys.open(&sealed), None);
    // Relabelled as unbound: the version is not the authenticated data, the context is.
    let relabelled = sealed.replacen("v2.", "v1.", 1);
    assert_eq!(keys.open(&relabelled), None);
    // An unbound value does not pass for a bound one either.
    let unbound = keys.seal(b"totp secret").expect("seals");
    assert!(is_unbound(&unbound));
    assert_eq!(keys.open_for(&unbound, "user_totp alice"), None);
    // Rotation works for bound values as for the others.
    let after = DataKeys::from_parts([9; 32], vec![[7; 32]]);
    assert!(after.needs_reseal(&sealed));
    assert!(after.open_for(&sealed, "user_totp alice").is_some());
}
