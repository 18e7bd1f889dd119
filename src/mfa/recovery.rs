//! Recovery codes: single-use codes that stand in for the second factor when the
//! authenticator is lost.
//!
//! Each code is 20 characters of the lowercase RFC 4648 base32 alphabet, 5 bits each:
//! 100 bits from the OS RNG, shown as `abcde-fghij-klmno-pqrst`. The alphabet has no
//! `0`, `1`, `8` or `9`, so digits cannot be misread as the letters o, l, b or g.
//!
//! Storage: only `crate::secret::hash` (SHA-256) of the normalized form, never the
//! code. A slow password hash is unnecessary here because the codes are not chosen by
//! people: an offline search of a stolen table must cover 2^100 candidates. Even
//! against a million users with ten codes each (about 2^23 targets, since the hashes
//! are unsalted) that leaves 2^77 SHA-256 evaluations per hit, beyond any budget at
//! 10^12 hashes a second (millions of years). Online guessing is limited by the sign-in
//! throttle long before that. Hash `normalize(input)`, not the input as typed.

use rand::RngCore;
use rand::rngs::OsRng;

/// Characters per code (20 × 5 bits = 100 bits).
pub const LEN: usize = 20;
/// Characters per dash-separated group in the displayed form.
const GROUP: usize = 5;
/// RFC 4648 §6 base32 alphabet, lowercase.
const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// `n` fresh codes in display form (`abcde-fghij-klmno-pqrst`).
pub fn generate(n: usize) -> Vec<String> {
    (0..n).map(|_| generate_one()).collect()
}

fn generate_one() -> String {
    let mut random = [0u8; LEN];
    OsRng.fill_bytes(&mut random);
    let mut out = String::with_capacity(LEN + LEN / GROUP - 1);
    for (i, byte) in random.iter().enumerate() {
        if i > 0 && i % GROUP == 0 {
            out.push('-');
        }
        // 32 divides 256, so the low five bits of a uniform byte are uniform.
        out.push(char::from(ALPHABET[usize::from(byte & 31)]));
    }
    out
}

/// The canonical form of a code as typed: lowercased, spaces and dashes removed. None
/// unless that leaves exactly 20 characters of the alphabet.
pub fn normalize(input: &str) -> Option<String> {
    let code: String = input
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let valid = code.len() == LEN && code.bytes().all(|b| ALPHABET.contains(&b));
    valid.then_some(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_codes_have_the_display_shape() {
        let codes = generate(10);
        assert_eq!(codes.len(), 10);
        for code in &codes {
            assert_eq!(code.len(), 23);
            let groups: Vec<&str> = code.split('-').collect();
            assert_eq!(groups.len(), 4);
            assert!(groups.iter().all(|g| g.len() == 5));
            let normalized = normalize(code).expect("own codes normalize");
            assert_eq!(normalized, code.replace('-', ""));
        }
        let mut unique = codes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), codes.len());
        assert!(generate(0).is_empty());
    }

    #[test]
    fn normalize_accepts_loose_typing() {
        let canonical = Some("abcdefghijklmnopqrst".to_string());
        for typed in [
            "abcde-fghij-klmno-pqrst",
            "ABCDE-FGHIJ-KLMNO-PQRST",
            "abcde fghij klmno pqrst",
            " abcdefghijklmnopqrst\n",
            "abc-de--fghij klmnopq-rst",
        ] {
            assert_eq!(normalize(typed), canonical, "{typed:?}");
        }
        assert_eq!(
            normalize("22222-33333-44444-77777").as_deref(),
            Some("22222333334444477777")
        );
    }

    #[test]
    fn normalize_rejects_wrong_length_or_alphabet() {
        for bad in [
            "",
            "abcde-fghij-klmno-pqrs",
            "abcde-fghij-klmno-pqrstu",
            "abcde-fghij-klmno-pqrs0",
            "abcde-fghij-klmno-pqrs1",
            "abcde-fghij-klmno-pqrs8",
            "abcde_fghij_klmno_pqrst",
            "abcdé-fghij-klmno-pqrs",
        ] {
            assert_eq!(normalize(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_stored_hash_ignores_how_the_code_was_typed() {
        let code = &generate(1)[0];
        let stored = crate::secret::hash(&normalize(code).expect("valid"));
        let typed = code.to_uppercase().replace('-', " ");
        assert!(crate::secret::verify(
            &normalize(&typed).expect("valid"),
            &stored
        ));
    }
}
