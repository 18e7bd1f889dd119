//! Key material: generation, PEM, and the public JWK of a private key.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair};
use jsonwebtoken::jwk::{Jwk, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use rsa::pkcs8::{EncodePrivateKey, LineEnding};

/// The signing algorithms a key of ours can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum KeyAlg {
    RS256,
    ES256,
    EdDSA,
}

impl KeyAlg {
    pub fn jwt(self) -> Algorithm {
        match self {
            KeyAlg::RS256 => Algorithm::RS256,
            KeyAlg::ES256 => Algorithm::ES256,
            KeyAlg::EdDSA => Algorithm::EdDSA,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            KeyAlg::RS256 => "RS256",
            KeyAlg::ES256 => "ES256",
            KeyAlg::EdDSA => "EdDSA",
        }
    }
}

impl std::str::FromStr for KeyAlg {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "RS256" => Ok(KeyAlg::RS256),
            "ES256" => Ok(KeyAlg::ES256),
            "EdDSA" => Ok(KeyAlg::EdDSA),
            _ => Err(format!(
                "unsupported key algorithm {s:?} (RS256, ES256, EdDSA)"
            )),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("key generation failed: {0}")]
    Generate(String),
}

/// A PKCS#8 document as PEM (RFC 7468 §10).
fn pem(der: &[u8]) -> Result<String, KeyError> {
    pem_rfc7468::encode_string("PRIVATE KEY", LineEnding::LF, der)
        .map_err(|e| KeyError::Generate(e.to_string()))
}

/// A new private key as PKCS#8 PEM. RSA keys come from the `rsa` crate (generation
/// only; it never signs, RUSTSEC-2023-0071); EC and Ed keys from aws-lc.
pub fn generate(alg: KeyAlg) -> Result<String, KeyError> {
    let err = |e: &dyn std::fmt::Display| KeyError::Generate(e.to_string());
    match alg {
        KeyAlg::RS256 => {
            let key =
                rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).map_err(|e| err(&e))?;
            let pem = key.to_pkcs8_pem(LineEnding::LF).map_err(|e| err(&e))?;
            Ok(pem.to_string())
        }
        KeyAlg::ES256 => {
            let doc = EcdsaKeyPair::generate_pkcs8(
                &ECDSA_P256_SHA256_FIXED_SIGNING,
                &SystemRandom::new(),
            )
            .map_err(|e| err(&e))?;
            pem(doc.as_ref())
        }
        KeyAlg::EdDSA => {
            let doc =
                Ed25519KeyPair::generate_pkcs8v1(&SystemRandom::new()).map_err(|e| err(&e))?;
            pem(doc.as_ref())
        }
    }
}

/// A private key ready to sign, with its public JWK.
#[derive(Clone)]
pub struct Material {
    pub alg: KeyAlg,
    pub kid: String,
    pub encoding: EncodingKey,
    pub decoding: DecodingKey,
    /// Public members only: kty, kid, use, alg and the key parameters.
    pub public_jwk: serde_json::Value,
}

impl std::fmt::Debug for Material {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Material")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// Parse a PKCS#8 PEM private key and derive its public JWK. The key id is the
/// RFC 7638 thumbprint (SHA-256), so it is stable across restarts and instances.
pub fn from_pem(alg: KeyAlg, pem: &str) -> Result<Material, String> {
    let encoding = match alg {
        KeyAlg::RS256 => EncodingKey::from_rsa_pem(pem.as_bytes()),
        KeyAlg::ES256 => EncodingKey::from_ec_pem(pem.as_bytes()),
        KeyAlg::EdDSA => EncodingKey::from_ed_pem(pem.as_bytes()),
    }
    .map_err(|e| e.to_string())?;
    let jwk = Jwk::from_encoding_key(&encoding, alg.jwt()).map_err(|e| e.to_string())?;
    let kid = jwk
        .thumbprint(ThumbprintHash::SHA256)
        .map_err(|e| e.to_string())?;
    let decoding = DecodingKey::from_jwk(&jwk).map_err(|e| e.to_string())?;
    let mut public_jwk = serde_json::to_value(&jwk).map_err(|e| e.to_string())?;
    if let Some(obj) = public_jwk.as_object_mut() {
        // Only public members leave the server; `use` and `alg` tell verifiers how
        // this key may be used (RFC 7517 §4.2, §4.4).
        obj.retain(|k, _| matches!(k.as_str(), "kty" | "crv" | "n" | "e" | "x" | "y"));
        obj.insert("kid".into(), kid.clone().into());
        obj.insert("use".into(), "sig".into());
        obj.insert("alg".into(), alg.as_str().into());
    }
    Ok(Material {
        alg,
        kid,
        encoding,
        decoding,
        public_jwk,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_alg_round_trips_and_has_a_stable_kid() {
        for alg in [KeyAlg::RS256, KeyAlg::ES256, KeyAlg::EdDSA] {
            let pem = generate(alg).unwrap();
            let a = from_pem(alg, &pem).unwrap();
            let b = from_pem(alg, &pem).unwrap();
            assert_eq!(a.kid, b.kid);
            assert_eq!(a.public_jwk["alg"], alg.as_str());
            assert!(a.public_jwk.get("d").is_none(), "no private members");
        }
    }
}
