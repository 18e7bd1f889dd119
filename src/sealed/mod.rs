//! Encryption at rest for secrets that we must be able to read back (TOTP shared
//! secrets, signing keys), unlike credentials, which we only hash.
//!
//! AES-256-GCM with a random 96-bit nonce per message. Random nonces are safe for far more
//! messages than we will ever seal under one key (NIST SP 800-38D §8.3 allows 2^32). The
//! key id is the additional authenticated data, so a value cannot be re-labelled to
//! another key. Sealed form: `v1.<keyid>.<base64url(nonce || ciphertext || tag)>`, where
//! the key id is the first 8 hex digits of SHA-256 of the key.
//!
//! A value that belongs to one row (a person's TOTP secret) is sealed with `seal_for`
//! and its context (the row's owner) in the authenticated data too, as `v2.…`: copied to
//! another row, it no longer opens. `open` and `open_for` each take only their own form.
//!
//! Rotation: seal with the current key; keep older keys in the ring so that existing
//! values still open, and reseal those for which `needs_reseal` is true when read.

use std::fs::OpenOptions;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hmac;
use base64::Engine;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use rand::RngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};

/// The environment variable that holds the current data key.
pub const ENV_CURRENT: &str = "PORTCULLIS_DATA_KEY";
/// The environment variable that lists older data keys, comma-separated.
pub const ENV_OLD: &str = "PORTCULLIS_DATA_KEYS_OLD";
/// The key file inside the keys directory when no key is given in the environment.
pub const KEY_FILE: &str = "data.key";

const VERSION: &str = "v1";
/// Sealed with a context (`seal_for`).
const BOUND: &str = "v2";
const TAG_LEN: usize = 16;

const LOOSE: GeneralPurposeConfig =
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
const URL_SAFE_LOOSE: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LOOSE);
const STANDARD_LOOSE: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LOOSE);

/// Errors never include key material, only where the bad key came from.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("{setting}: {msg}")]
    Setting { setting: String, msg: String },
    #[error("data key file {path}: {msg}")]
    File { path: String, msg: String },
    #[error("AES-256-GCM sealing failed")]
    Crypto,
}

struct DataKey {
    id: String,
    bytes: [u8; 32],
}

impl DataKey {
    fn new(bytes: [u8; 32]) -> DataKey {
        let digest = Sha256::digest(bytes);
        let id = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
        DataKey { id, bytes }
    }

    fn aead(&self) -> Option<LessSafeKey> {
        UnboundKey::new(&AES_256_GCM, &self.bytes)
            .ok()
            .map(LessSafeKey::new)
    }
}

/// What `DataKeys::load` does when no key is configured and the key file is absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// Make a new key file (a first start).
    Create,
    /// Refuse (anything that must read what was sealed before).
    Refuse,
}

/// The key ring: one current key that seals, older keys that still open.
pub struct DataKeys {
    current: DataKey,
    old: Vec<DataKey>,
}

impl std::fmt::Debug for DataKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let old: Vec<&str> = self.old.iter().map(|k| k.id.as_str()).collect();
        f.debug_struct("DataKeys")
            .field("current", &self.current.id)
            .field("old", &old)
            .finish()
    }
}

impl DataKeys {
    pub fn from_parts(current: [u8; 32], old: Vec<[u8; 32]>) -> DataKeys {
        DataKeys {
            current: DataKey::new(current),
            old: old.into_iter().map(DataKey::new).collect(),
        }
    }

    /// The ring from `PORTCULLIS_DATA_KEY` (`env_current`) when it is set, otherwise from
    /// `<keys_dir>/data.key`, created with a fresh random key (mode 0600) on first start.
    /// Older keys come from `PORTCULLIS_DATA_KEYS_OLD` (`env_old`) in either case, so a
    /// file key can be moved to the environment by listing it there as old.
    ///
    /// Keys are 32 bytes in base64url or standard base64, padded or not. An empty
    /// `env_current` is an error rather than "unset": an instance that silently made its
    /// own key could not read what its siblings sealed.
    ///
    /// With `Missing::Refuse`, an absent key file is an error instead: a command run
    /// against a database whose secrets were sealed elsewhere must not invent a key.
    pub fn load(
        env_current: Option<&str>,
        env_old: Option<&str>,
        keys_dir: &Path,
        missing: Missing,
    ) -> Result<DataKeys, SealError> {
        let current = match env_current {
            Some(value) => decode_key(value).ok_or_else(|| SealError::Setting {
                setting: ENV_CURRENT.into(),
                msg: "must be 32 bytes of base64".into(),
            })?,
            None if missing == Missing::Refuse && !keys_dir.join(KEY_FILE).exists() => {
                return Err(SealError::File {
                    path: keys_dir.join(KEY_FILE).display().to_string(),
                    msg: format!(
                        "does not exist, and {ENV_CURRENT} is not set; the database's keys are sealed with the servers' data key: set {ENV_CURRENT} (or --data-key) to it"
                    ),
                });
            }
            None => load_or_create(keys_dir)?,
        };
        let mut old = Vec::new();
        let items = env_old.unwrap_or("").split(',').map(str::trim);
        for (i, item) in items.filter(|s| !s.is_empty()).enumerate() {
            old.push(decode_key(item).ok_or_else(|| SealError::Setting {
                setting: ENV_OLD.into(),
                msg: format!("key {} must be 32 bytes of base64", i + 1),
            })?);
        }
        Ok(DataKeys::from_parts(current, old))
    }

    /// A key for one purpose (`label`), derived from the current data key with
    /// HMAC-SHA-256, so that one configured secret yields independent keys (device
    /// cookies, CSRF tokens) and none of them reveals the data key.
    pub fn derive(&self, label: &str) -> crate::secret::MacKey {
        let key = hmac::Key::new(hmac::HMAC_SHA256, &self.current.bytes);
        let tag = hmac::sign(&key, label.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        crate::secret::MacKey::new(out)
    }

    /// The id of the key that `seal` uses, for logs.
    pub fn current_id(&self) -> &str {
        &self.current.id
    }

    /// Encrypt `plaintext` under the current key with a fresh random nonce.
    pub fn seal(&self, plaintext: &[u8]) -> Result<String, SealError> {
        self.seal_with(VERSION, plaintext, None)
    }

    /// `seal`, bound to `context` (what the value belongs to): only `open_for` with the
    /// same context opens it.
    pub fn seal_for(&self, plaintext: &[u8], context: &str) -> Result<String, SealError> {
        self.seal_with(BOUND, plaintext, Some(context))
    }

    fn seal_with(
        &self,
        version: &str,
        plaintext: &[u8],
        context: Option<&str>,
    ) -> Result<String, SealError> {
        let key = self.current.aead().ok_or(SealError::Crypto)?;
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);
        let mut buf = Vec::with_capacity(NONCE_LEN + plaintext.len() + TAG_LEN);
        buf.extend_from_slice(&nonce);
        buf.extend_from_slice(plaintext);
        let mut in_out = buf.split_off(NONCE_LEN);
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad(&self.current.id, context)),
            &mut in_out,
        )
        .map_err(|_| SealError::Crypto)?;
        buf.extend_from_slice(&in_out);
        Ok(format!(
            "{version}.{}.{}",
            self.current.id,
            URL_SAFE_NO_PAD.encode(&buf)
        ))
    }

    /// Decrypt a value from `seal`: None if it is malformed, names a key not in the
    /// ring, or was altered in any way.
    pub fn open(&self, sealed: &str) -> Option<Vec<u8>> {
        self.open_with(VERSION, sealed, None)
    }

    /// Decrypt a value from `seal_for` with the same `context`; None otherwise.
    pub fn open_for(&self, sealed: &str, context: &str) -> Option<Vec<u8>> {
        self.open_with(BOUND, sealed, Some(context))
    }

    fn open_with(&self, version: &str, sealed: &str, context: Option<&str>) -> Option<Vec<u8>> {
        let (v, id, payload) = parse(sealed)?;
        if v != version {
            return None;
        }
        let data = URL_SAFE_NO_PAD.decode(payload).ok()?;
        if data.len() < NONCE_LEN + TAG_LEN {
            return None;
        }
        let (nonce, ciphertext) = data.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().ok()?;
        // Ids are 32 bits, so two keys may share one: try each key that matches.
        self.keys().filter(|k| k.id == id).find_map(|k| {
            let mut in_out = ciphertext.to_vec();
            let plain = k
                .aead()?
                .open_in_place(
                    Nonce::assume_unique_for_key(nonce),
                    Aad::from(aad(id, context)),
                    &mut in_out,
                )
                .ok()?;
            Some(plain.to_vec())
        })
    }

    /// Was `sealed` made with a key other than the current one? Then it should be
    /// opened and sealed again, so that the old key can eventually leave the ring.
    /// False for values that are not in the sealed format at all.
    pub fn needs_reseal(&self, sealed: &str) -> bool {
        parse(sealed).is_some_and(|(_, id, _)| id != self.current.id)
    }

    fn keys(&self) -> impl Iterator<Item = &DataKey> {
        std::iter::once(&self.current).chain(&self.old)
    }
}

/// Split `v1.<keyid>.<payload>` (or `v2.…`) into version, key id and payload.
fn parse(sealed: &str) -> Option<(&str, &str, &str)> {
    let mut parts = sealed.split('.');
    let (version, id, payload) = (parts.next()?, parts.next()?, parts.next()?);
    let id_ok = id.len() == 8 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    let known = version == VERSION || version == BOUND;
    (known && id_ok && parts.next().is_none()).then_some((version, id, payload))
}

/// The authenticated data: the key id, and the context of a bound value (after a NUL,
/// which neither contains).
fn aad(id: &str, context: Option<&str>) -> Vec<u8> {
    match context {
        None => id.as_bytes().to_vec(),
        Some(c) => format!("{id}\0{c}").into_bytes(),
    }
}

/// Whether `sealed` is in the unbound form of `seal` (values sealed before they were
/// bound to their context are moved over with `seal_for`).
pub fn is_unbound(sealed: &str) -> bool {
    parse(sealed).is_some_and(|(v, _, _)| v == VERSION)
}

/// Whether `text` is a data key (32 bytes of base64), for checking settings at start.
pub fn is_key(text: &str) -> bool {
    decode_key(text).is_some()
}

/// 32 bytes from base64url or standard base64, with or without padding.
fn decode_key(text: &str) -> Option<[u8; 32]> {
    let text = text.trim();
    let bytes = URL_SAFE_LOOSE
        .decode(text)
        .or_else(|_| STANDARD_LOOSE.decode(text))
        .ok()?;
    bytes.try_into().ok()
}

/// The keys directory and the data key file are secrets: a server whose keys others can
/// read would sign for them too. Refuse to start rather than run so.
///
/// A directory that holds no secret yet (a fresh checkout's `keys/`, made under the
/// umask) is narrowed to 0700 instead, before anything is written into it.
pub fn ensure_private(keys_dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let data_key = keys_dir.join(KEY_FILE);
    if let Ok(m) = std::fs::metadata(keys_dir)
        && m.is_dir()
        && m.permissions().mode() & 0o077 != 0
        && !data_key.exists()
    {
        std::fs::set_permissions(keys_dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| format!("{}: cannot make it private: {e}", keys_dir.display()))?;
        tracing::info!(dir = %keys_dir.display(), "made the keys directory private (0700)");
    }
    for path in [keys_dir, data_key.as_path()] {
        if let Ok(m) = std::fs::metadata(path)
            && m.permissions().mode() & 0o077 != 0
        {
            return Err(format!(
                "{} is open to other users (mode {:o}); make it readable by the server's user only (chmod {} {})",
                path.display(),
                m.permissions().mode() & 0o777,
                if m.is_dir() { "700" } else { "600" },
                path.display()
            ));
        }
    }
    Ok(())
}

/// Read `<dir>/data.key`, or create it if absent. The new key is written completely to a
/// private temporary file and then hard-linked into place: linking fails if the name
/// exists, so when two instances start at once exactly one key wins, and the loser
/// (like every reader) only ever sees a complete file.
fn load_or_create(dir: &Path) -> Result<[u8; 32], SealError> {
    let path = dir.join(KEY_FILE);
    let fail = |msg: String| SealError::File {
        path: path.display().to_string(),
        msg,
    };
    let read = || -> Result<[u8; 32], SealError> {
        let text = std::fs::read_to_string(&path).map_err(|e| fail(e.to_string()))?;
        decode_key(&text).ok_or_else(|| fail("must be 32 bytes of base64".into()))
    };
    if path.exists() {
        return read();
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| fail(e.to_string()))?;
    let mut key = [0u8; 32];
    OsRng.fill_bytes(&mut key);
    let mut suffix = [0u8; 8];
    OsRng.fill_bytes(&mut suffix);
    let tmp = dir.join(format!(
        ".{KEY_FILE}.{}.tmp",
        URL_SAFE_NO_PAD.encode(suffix)
    ));
    let written = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| {
            f.write_all(format!("{}\n", URL_SAFE_NO_PAD.encode(key)).as_bytes())?;
            f.sync_all()
        })
        .and_then(|()| std::fs::hard_link(&tmp, &path));
    let _ = std::fs::remove_file(&tmp);
    match written {
        Ok(()) => {
            tracing::info!(
                path = %path.display(),
                "generated the data key (it opens the signing keys and TOTP secrets in the database: back it up, or set PORTCULLIS_DATA_KEY)"
            );
            Ok(key)
        }
        Err(e) if e.kind() == ErrorKind::AlreadyExists => read(),
        Err(e) => Err(fail(e.to_string())),
    }
}

#[cfg(test)]
mod tests;
