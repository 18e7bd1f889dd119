//! DPoP server nonces (RFC 9449 §8, §9).

use crate::secret::{self, MacKey};

/// Server nonces (§8): a proof must carry one given out in this window or the one
/// before. They are not stored: a nonce is its window and a MAC of it under a key that
/// every instance derives from the shared data key, so any instance accepts a nonce
/// another gave out. (`Debug` shows the key redacted.)
#[derive(Debug)]
pub struct Nonces {
    key: MacKey,
    /// Ours: a nonce names the issuer it was given out for, so that two deployments
    /// that share a data key (a copied key file, staging and production) do not take
    /// each other's.
    issuer: String,
}

/// How long a nonce is given out for; it is accepted for up to twice as long.
pub const NONCE_WINDOW: i64 = 300;
/// The label the nonce key is derived under from the data key.
pub const NONCE_KEY_LABEL: &str = "portcullis dpop nonce v1";

impl Nonces {
    pub fn new(key: MacKey, issuer: &str) -> Nonces {
        Nonces {
            key,
            issuer: issuer.to_string(),
        }
    }

    /// A MAC over the issuer and the window (a space cannot occur in an issuer URL).
    fn tag(&self, window: i64) -> String {
        let message = format!("dpop-nonce {} {window}", self.issuer);
        self.key.tag(message.as_bytes())
    }

    /// The nonce to give out now (the `DPoP-Nonce` header).
    pub fn current(&self, now: i64) -> String {
        let window = now.div_euclid(NONCE_WINDOW);
        format!("{window}.{}", self.tag(window))
    }

    /// Whether `nonce` is exactly one this key gives out in the current window or the one
    /// before (§8: it must "exactly match a nonce recently supplied"): compared with
    /// those two strings as a whole, so that `+W.MAC` or `0W.MAC`, which parse to the
    /// same window, are not taken for `W.MAC`.
    pub fn accepts(&self, nonce: &str, now: i64) -> bool {
        let current = now.div_euclid(NONCE_WINDOW);
        [current, current - 1].into_iter().any(|window| {
            let issued = format!("{window}.{}", self.tag(window));
            secret::ct_eq(nonce.as_bytes(), issued.as_bytes())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nonce_holds_only_for_the_issuer_it_was_given_out_for() {
        let now = 1_800_000_123;
        let prod = Nonces::new(MacKey::new([7; 32]), "https://id.example.com");
        let staging = Nonces::new(MacKey::new([7; 32]), "https://id.staging.example.com");
        let n = prod.current(now);
        assert!(prod.accepts(&n, now));
        assert!(!staging.accepts(&n, now), "same key, another issuer");
    }
}
