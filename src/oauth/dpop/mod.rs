//! DPoP proofs (RFC 9449 §4): a client proves, request by request, that it holds the
//! private key its tokens are bound to (`cnf.jkt`, the key's RFC 7638 thumbprint).
//!
//! `verify` is the pure check of §4.3 (points 2 to 11, and point 5's nonce when the
//! server asks for nonces); `Checker` adds the one thing that needs shared state, the
//! single use of each proof's `jti` (§11.1), kept in the database so that a proof
//! replayed at another instance is refused too.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Validation, decode};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::jwk::{self, PublicKey};
use crate::secret;
use crate::store::{Db, DbError, replay};

mod htu;
mod nonce;

pub use htu::normalize_htu;
pub use nonce::{NONCE_KEY_LABEL, NONCE_WINDOW, Nonces};

/// `typ` of a proof (§4.2).
pub const DPOP_JWT: &str = "dpop+jwt";
/// The largest proof we read: an RSA-4096 `jwk` fits with room to spare.
pub const MAX_PROOF_BYTES: usize = 8 * 1024;
/// A proof's `iat` may be this many seconds before or after our clock (§4.3 point 11,
/// §11.1): short, so that its `jti` need only be remembered briefly.
pub const IAT_WINDOW: i64 = 60;

/// The refusal that asks the client to retry with a fresh nonce: `use_dpop_nonce`
/// (§8.1, §9), with the nonce in a `DPoP-Nonce` header.
pub const USE_NONCE: Refused = Refused("the proof must carry the nonce in the DPoP-Nonce header");

/// A proof that passed.
#[derive(Debug, Clone)]
pub struct Proof {
    /// The thumbprint of the proof's key: what tokens are bound to.
    pub jkt: String,
    /// Single-use key of this proof: its key, target and `jti`.
    replay_key: String,
    iat: i64,
}

/// Why a proof was refused: a fixed phrase, for the response's description and the
/// audit trail (never the proof itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused(pub &'static str);

/// What the proof must match: the request it came with.
#[derive(Debug, Clone, Copy)]
pub struct Expect<'a> {
    /// The HTTP method, as sent (`POST`).
    pub method: &'a str,
    /// The target URI, from our configured issuer (never the Host header).
    pub url: &'a str,
    /// At a resource: the access token presented with the proof (`ath`, §4.3 point 10).
    pub access_token: Option<&'a str>,
    pub now: i64,
    /// The FAPI 2.0 profile: no RS256 proofs.
    pub fapi2: bool,
    /// The server's nonces, when proofs must carry one (§4.3 point 5).
    pub nonces: Option<&'a Nonces>,
}

#[derive(Deserialize)]
struct Claims {
    jti: String,
    htm: String,
    htu: String,
    iat: i64,
    #[serde(default)]
    ath: Option<String>,
    #[serde(default)]
    nonce: Option<String>,
}

/// base64url(SHA-256(access token)): the proof's `ath` (§4.2).
pub fn ath(access_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(access_token.as_bytes()))
}

/// Check one proof against the request it came with (RFC 9449 §4.3).
pub fn verify(proof: &str, expect: &Expect<'_>) -> Result<Proof, Refused> {
    let header = jwk::raw_header(proof, MAX_PROOF_BYTES).ok_or(Refused(
        "the proof is not a JWT of at most 8 KB without critical extensions",
    ))?;
    let typ = header.get("typ").and_then(|v| v.as_str());
    if !typ.is_some_and(|t| t.eq_ignore_ascii_case(DPOP_JWT)) {
        return Err(Refused("the proof's typ is not dpop+jwt"));
    }
    let alg = header
        .get("alg")
        .and_then(|v| v.as_str())
        .and_then(|a| jwk::parse_alg_for(a, expect.fapi2))
        .ok_or(Refused(
            "the proof's alg is not an accepted asymmetric algorithm",
        ))?;
    let key = header
        .get("jwk")
        .ok_or(Refused("the proof has no jwk header"))
        .and_then(|k| {
            PublicKey::from_json(k)
                .map_err(|_| Refused("the proof's jwk is not an accepted public key"))
        })?;
    if !key.verifies(alg) {
        return Err(Refused("the proof's jwk does not fit its alg"));
    }
    let mut v = Validation::new(alg);
    v.validate_exp = false;
    v.validate_aud = false;
    v.required_spec_claims.clear();
    let claims = decode::<Claims>(proof, &key.key, &v)
        .map_err(|_| Refused("the proof's signature or claims are invalid"))?
        .claims;
    if claims.jti.is_empty() || claims.jti.len() > 256 {
        return Err(Refused("the proof's jti is missing or too long"));
    }
    if claims.htm != expect.method {
        return Err(Refused("the proof's htm does not match the request method"));
    }
    let target = normalize_htu(expect.url).ok_or(Refused("the request URL is not absolute"))?;
    if normalize_htu(&claims.htu).as_deref() != Some(target.as_str()) {
        return Err(Refused("the proof's htu does not match the request URL"));
    }
    // (abs_diff: an iat near i64::MIN must not wrap into the window.)
    if claims.iat.abs_diff(expect.now) > IAT_WINDOW.unsigned_abs() {
        return Err(Refused("the proof's iat is not within the accepted window"));
    }
    if let Some(nonces) = expect.nonces
        && !claims
            .nonce
            .as_deref()
            .is_some_and(|n| nonces.accepts(n, expect.now))
    {
        return Err(USE_NONCE);
    }
    if let Some(token) = expect.access_token {
        let expected = ath(token);
        if !claims
            .ath
            .as_deref()
            .is_some_and(|a| secret::ct_eq(a.as_bytes(), expected.as_bytes()))
        {
            return Err(Refused("the proof's ath does not match the access token"));
        }
    }
    let replay_key = format!(
        "dpop:{}",
        secret::hash(&format!("{} {} {}", key.thumbprint, target, claims.jti))
    );
    Ok(Proof {
        jkt: key.thumbprint,
        replay_key,
        iat: claims.iat,
    })
}

/// Why `Checker::check` refused.
#[derive(Debug)]
pub enum CheckError {
    Refused(Refused),
    Unavailable(DbError),
}

/// Verifies proofs and spends their `jti`s in the shared store.
pub struct Checker<'a> {
    pub db: &'a Db,
}

impl Checker<'_> {
    pub async fn check(&self, proof: &str, expect: &Expect<'_>) -> Result<Proof, CheckError> {
        let p = verify(proof, expect).map_err(CheckError::Refused)?;
        // Remembered until no clock could accept the proof any more.
        let (key, until) = (p.replay_key.clone(), p.iat + IAT_WINDOW + 1);
        let first = self
            .db
            .run(move |conn| replay::first_use(conn, &key, until))
            .await
            .map_err(CheckError::Unavailable)?;
        if !first {
            return Err(CheckError::Refused(Refused("the proof was already used")));
        }
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A proof signed over exactly this header (the typed header drops members such as
    /// `crit`, so it is written by hand).
    fn signed(header: serde_json::Value, claims: serde_json::Value) -> (String, String) {
        use crate::keys::{KeyAlg, material};
        let pem = material::generate(KeyAlg::ES256).unwrap();
        let m = material::from_pem(KeyAlg::ES256, &pem).unwrap();
        let mut header = header;
        header["jwk"] = m.public_jwk.clone();
        let msg = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let sig = jsonwebtoken::crypto::sign(msg.as_bytes(), &m.encoding, m.alg.jwt()).unwrap();
        (format!("{msg}.{sig}"), m.kid.clone())
    }

    fn expect(now: i64) -> Expect<'static> {
        Expect {
            method: "POST",
            url: "https://as.example/token",
            access_token: None,
            now,
            fapi2: false,
            nonces: None,
        }
    }

    #[test]
    fn critical_extensions_and_overflowing_iat_are_refused() {
        let now = 1_800_000_000;
        let claims = |iat: i64| serde_json::json!({"jti": "j1", "htm": "POST", "htu": "https://as.example/%74oken", "iat": iat});
        let header = serde_json::json!({"typ": "dpop+jwt", "alg": "ES256"});
        // The control: the same proof without the extension is accepted (and htu is
        // compared after percent-decoding unreserved characters).
        let (ok, jkt) = signed(header.clone(), claims(now));
        assert_eq!(verify(&ok, &expect(now)).unwrap().jkt, jkt);
        // RFC 7515 §4.1.11: an extension we do not understand marked critical.
        let mut crit = header.clone();
        crit["crit"] = serde_json::json!(["exp"]);
        crit["exp"] = serde_json::json!(now);
        let (p, _) = signed(crit, claims(now));
        assert!(verify(&p, &expect(now)).is_err());
        // iat at the ends of the range: refused, without wrapping into the window.
        for iat in [i64::MIN, i64::MIN + 1, i64::MAX] {
            let (p, _) = signed(header.clone(), claims(iat));
            assert!(verify(&p, &expect(now)).is_err(), "{iat}");
        }
    }

    #[test]
    fn ath_is_the_rfc_example() {
        // RFC 9449 §7.1, Figure 12: the token and its ath.
        assert_eq!(
            ath("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
            "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
        );
    }

    #[test]
    fn nonces_hold_for_two_windows_and_only_from_our_key() {
        use crate::secret::MacKey;
        let ours = Nonces::new(MacKey::new([7; 32]), "https://as.example");
        let theirs = Nonces::new(MacKey::new([8; 32]), "https://as.example");
        let now = 1_800_000_123;
        let n = ours.current(now);
        assert!(ours.accepts(&n, now));
        assert!(ours.accepts(&n, now + NONCE_WINDOW));
        assert!(!ours.accepts(&n, now + 2 * NONCE_WINDOW));
        assert!(!ours.accepts(&n, now - NONCE_WINDOW));
        assert!(!theirs.accepts(&n, now));
        let (window, tag) = n.split_once('.').unwrap();
        let next: i64 = window.parse::<i64>().unwrap() + 1;
        assert!(!ours.accepts(&format!("{next}.{tag}"), now + NONCE_WINDOW));
        for bad in ["", ".", "x.y", "1", &format!("{window}.")] {
            assert!(!ours.accepts(bad, now), "{bad}");
        }
        // Only the string given out, not another spelling of its window.
        for spelling in [
            format!("+{n}"),
            format!("0{n}"),
            format!("+00{n}"),
            format!(" {n}"),
        ] {
            assert!(!ours.accepts(&spelling, now), "{spelling}");
        }
        // In a proof: required when asked for, and checked.
        let header = serde_json::json!({"typ": "dpop+jwt", "alg": "ES256"});
        let claims = |nonce: Option<&str>| {
            let mut c = serde_json::json!({"jti": "j", "htm": "POST", "htu": "https://as.example/token", "iat": now});
            if let Some(n) = nonce {
                c["nonce"] = serde_json::json!(n);
            }
            c
        };
        let with = Expect {
            nonces: Some(&ours),
            ..expect(now)
        };
        let (p, _) = signed(header.clone(), claims(None));
        assert_eq!(verify(&p, &with).unwrap_err(), USE_NONCE);
        assert!(verify(&p, &expect(now)).is_ok());
        let (p, _) = signed(header.clone(), claims(Some(&theirs.current(now))));
        assert_eq!(verify(&p, &with).unwrap_err(), USE_NONCE);
        let (p, _) = signed(header, claims(Some(&n)));
        assert!(verify(&p, &with).is_ok());
    }
}
