//! Time-based one-time passwords (RFC 6238) as authenticator apps implement them:
//! HMAC-SHA1, 6 digits, 30-second steps counted from the Unix epoch (T0 = 0).
//!
//! SHA-1 is used only as the HMAC of RFC 4226, where its collision weakness does not
//! apply (RFC 6238 §1.2 and RFC 4226 Appendix A.2); it is also the only algorithm that
//! every authenticator app supports, which is why the key URI pins `algorithm=SHA1`.

use aws_lc_rs::hmac;
use data_encoding::BASE32_NOPAD;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use rand::RngCore;
use rand::rngs::OsRng;
use subtle::ConstantTimeEq;

/// Digits in a code (RFC 4226 §5.3 requires at least 6).
pub const DIGITS: usize = 6;
/// Length of a time step, in seconds (RFC 6238 §5.2 recommends 30).
pub const PERIOD: i64 = 30;
/// Secret length: 160 bits, the HMAC-SHA1 output size (RFC 4226 §4, R6).
pub const SECRET_LEN: usize = 20;

/// 10^DIGITS: the modulus of RFC 4226 §5.3 step 3.
const MODULUS: u32 = 1_000_000;

/// A fresh shared secret: 20 bytes from the OS RNG.
pub fn generate_secret() -> Vec<u8> {
    let mut secret = vec![0u8; SECRET_LEN];
    OsRng.fill_bytes(&mut secret);
    secret
}

/// RFC 4648 base32, uppercase and without `=` padding: the form that the key URI
/// format expects and that people type in when they cannot scan the QR code.
pub fn base32(secret: &[u8]) -> String {
    BASE32_NOPAD.encode(secret)
}

/// Decode base32 as people copy it: any case, spaces and trailing `=` padding allowed.
/// None for characters outside the alphabet, impossible lengths, or non-zero bits left
/// over at the end (so that every secret has exactly one accepted encoding: the
/// encoding's trailing-bit check).
pub fn from_base32(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_end_matches(|c: char| c == '=' || c.is_ascii_whitespace());
    let typed: String = s
        .chars()
        .filter(|c| *c != ' ')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    BASE32_NOPAD.decode(typed.as_bytes()).ok()
}

/// The Key Uri Format that authenticator apps scan:
/// `otpauth://totp/ISSUER:ACCOUNT?secret=...&issuer=...&algorithm=SHA1&digits=6&period=30`.
/// Label parts and parameters are percent-encoded byte by byte (only RFC 3986 unreserved
/// characters stay), so a `:` in the issuer or account cannot shift the separator, and
/// spaces become `%20` rather than `+`, which some apps would show literally.
pub fn otpauth_uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    let issuer = percent_encode(issuer);
    format!(
        "otpauth://totp/{issuer}:{account}?secret={secret}&issuer={issuer}\
         &algorithm=SHA1&digits={DIGITS}&period={PERIOD}",
        account = percent_encode(account),
        secret = base32(secret),
    )
}

/// RFC 3986 §2.3: everything but the unreserved characters is percent-encoded.
const NOT_UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn percent_encode(s: &str) -> String {
    utf8_percent_encode(s, NOT_UNRESERVED).to_string()
}

/// The code shown by an app at Unix time `unix`, zero-padded to 6 digits. Times before
/// the epoch count as step 0 (RFC 6238 defines none).
pub fn code_at(secret: &[u8], unix: i64) -> String {
    format_code(hotp(secret, step_counter(unix.div_euclid(PERIOD))))
}

/// Check `code` against the steps around `now` (one step either side, RFC 6238 §5.2, to
/// absorb clock drift and typing time) and return the matched time step, which the caller
/// must store as the new `last_used_step`.
///
/// Steps at or before `last_used_step` are refused, so a code, once accepted, is never
/// accepted again, and neither is an older one (RFC 6238 §5.2). When two steps of the
/// window happen to share a code, the later step is returned so that the same code
/// cannot be replayed against the other. Input must be exactly 6 ASCII digits once
/// surrounding whitespace is trimmed; every candidate is compared in constant time.
pub fn verify(secret: &[u8], code: &str, now: i64, last_used_step: Option<i64>) -> Option<i64> {
    let code = code.trim();
    if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let current = now.div_euclid(PERIOD);
    let mut matched = None;
    for step in [current - 1, current, current + 1] {
        if step < 0 || last_used_step.is_some_and(|last| step <= last) {
            continue;
        }
        let expected = format_code(hotp(secret, step_counter(step)));
        if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) {
            matched = Some(step);
        }
    }
    matched
}

fn step_counter(step: i64) -> u64 {
    u64::try_from(step).unwrap_or(0)
}

fn format_code(value: u32) -> String {
    format!("{value:0width$}", width = DIGITS)
}

/// HOTP (RFC 4226 §5.3): HMAC-SHA1 of the big-endian counter, dynamic truncation to 31
/// bits, then the last six decimal digits.
fn hotp(secret: &[u8], counter: u64) -> u32 {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret);
    let tag = hmac::sign(&key, &counter.to_be_bytes());
    let mac = tag.as_ref();
    let offset = usize::from(mac[mac.len() - 1] & 0x0f);
    let bin = u32::from_be_bytes([
        mac[offset] & 0x7f,
        mac[offset + 1],
        mac[offset + 2],
        mac[offset + 3],
    ]);
    bin % MODULUS
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC_KEY: &[u8] = b"12345678901234567890";

    #[test]
    fn rfc6238_appendix_b_sha1_vectors() {
        // (time, 8-digit TOTP) from RFC 6238 Appendix B, SHA1 rows; we show the last 6.
        // The key is the 20-byte ASCII string of the RFC's reference implementation.
        let vectors = [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ];
        for (time, totp8) in vectors {
            assert_eq!(code_at(RFC_KEY, time), &totp8[2..], "time {time}");
        }
    }

    #[test]
    fn rfc4226_appendix_d_hotp_values() {
        let expected = [
            755224, 287082, 359152, 969429, 338314, 254676, 287922, 162583, 399871, 520489,
        ];
        for (counter, value) in expected.into_iter().enumerate() {
            assert_eq!(hotp(RFC_KEY, counter as u64), value);
        }
    }

    #[test]
    fn codes_are_zero_padded() {
        assert_eq!(format_code(42), "000042");
        // RFC 6238 Appendix B: 07081804 at 1111111109, so six digits with a leading zero.
        assert_eq!(code_at(RFC_KEY, 1_111_111_109), "081804");
    }

    #[test]
    fn base32_round_trip_and_rfc4648_vectors() {
        let vectors = [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ];
        for (plain, encoded) in vectors {
            assert_eq!(base32(plain.as_bytes()), encoded);
            assert_eq!(from_base32(encoded).as_deref(), Some(plain.as_bytes()));
        }
        let secret = generate_secret();
        assert_eq!(base32(&secret).len(), 32);
        assert_eq!(from_base32(&base32(&secret)), Some(secret));
    }

    #[test]
    fn base32_accepts_loose_input_and_rejects_garbage() {
        assert_eq!(
            from_base32("mzxw 6ytb oi======").as_deref(),
            Some(&b"foobar"[..])
        );
        assert_eq!(from_base32("MZXW6YTB1"), None); // '1' is not in the alphabet
        assert_eq!(from_base32("MZXW6YTBO"), None); // impossible length
        assert_eq!(from_base32("MY").as_deref(), Some(&b"f"[..]));
        assert_eq!(from_base32("MZ"), None); // same byte, but non-zero leftover bits
    }

    #[test]
    fn otpauth_uri_encodes_label_and_parameters() {
        let uri = otpauth_uri("Acme Co", "alice@example.com", b"foobar");
        assert_eq!(
            uri,
            "otpauth://totp/Acme%20Co:alice%40example.com?secret=MZXW6YTBOI\
             &issuer=Acme%20Co&algorithm=SHA1&digits=6&period=30"
        );
        let tricky = otpauth_uri("A:B&c=d", "x?y#z", b"f");
        assert!(tricky.starts_with("otpauth://totp/A%3AB%26c%3Dd:x%3Fy%23z?secret=MY&"));
        assert!(tricky.contains("&issuer=A%3AB%26c%3Dd&"));
        let parsed = url::Url::parse(&tricky).expect("valid URL");
        let issuer = parsed
            .query_pairs()
            .find(|(k, _)| k == "issuer")
            .map(|(_, v)| v.into_owned());
        assert_eq!(issuer.as_deref(), Some("A:B&c=d"));
    }

    #[test]
    fn window_accepts_one_step_either_side() {
        let secret = generate_secret();
        let now = 1_700_000_015; // step 56_666_667
        let step = now / PERIOD;
        for delta in -1..=1 {
            let code = code_at(&secret, now + delta * PERIOD);
            assert_eq!(verify(&secret, &code, now, None), Some(step + delta));
        }
        for delta in [-3, -2, 2, 3] {
            let code = code_at(&secret, now + delta * PERIOD);
            // A far-away step could share the code by chance (1 in 10^6 per step).
            let near = (-1..=1).any(|d| code_at(&secret, now + d * PERIOD) == code);
            if !near {
                assert_eq!(verify(&secret, &code, now, None), None, "delta {delta}");
            }
        }
    }

    #[test]
    fn a_code_is_never_accepted_twice() {
        let secret = generate_secret();
        let now = 1_700_000_000;
        let code = code_at(&secret, now);
        let step = verify(&secret, &code, now, None).expect("fresh code");
        assert_eq!(verify(&secret, &code, now, Some(step)), None);
        assert_eq!(verify(&secret, &code, now + PERIOD, Some(step)), None);
        // An older code in the window is refused once a newer one was used.
        let previous = code_at(&secret, now - PERIOD);
        if previous != code {
            assert_eq!(verify(&secret, &previous, now, Some(step)), None);
        }
        // The next step's code is still fine.
        let next = code_at(&secret, now + PERIOD);
        assert_eq!(
            verify(&secret, &next, now + PERIOD, Some(step)),
            Some(step + 1)
        );
    }

    #[test]
    fn malformed_codes_are_refused() {
        let secret = RFC_KEY;
        let now = 59;
        let code = code_at(secret, now);
        assert_eq!(code, "287082");
        assert!(verify(secret, &code, now, None).is_some());
        assert!(verify(secret, " 287082\t", now, None).is_some());
        for bad in [
            "", "28708", "2870820", "287 082", "28708x", "+28708", "-287082", "２87082", "0287082",
        ] {
            assert_eq!(verify(secret, bad, now, None), None, "{bad:?}");
        }
    }

    #[test]
    fn secrets_are_random_and_160_bits() {
        let a = generate_secret();
        assert_eq!(a.len(), 20);
        assert_ne!(a, generate_secret());
    }
}
