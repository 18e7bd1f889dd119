//! A jsonwebtoken `CryptoProvider` that keeps each private key parsed.
//!
//! jsonwebtoken's aws-lc backend parses the RSA private key on every `encode`, which
//! halves the RS256 signing rate (notes/stack.md §5). We keep jsonwebtoken for the JWT
//! itself (header, claims, encoding, verification) and replace only the signer factory:
//! it looks the key bytes up in a process-wide cache of parsed aws-lc key pairs.
//! Verification stays with the stock aws-lc verifier. The `rsa` crate is never involved.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self as sig, EcdsaKeyPair, Ed25519KeyPair, RsaKeyPair};
use jsonwebtoken::crypto::{CryptoProvider, JwtSigner};
use jsonwebtoken::errors::{Error, ErrorKind};
use jsonwebtoken::signature::{self, Signer};
use jsonwebtoken::{Algorithm, EncodingKey};
use parking_lot::RwLock;

enum Parsed {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

struct CachedSigner {
    alg: Algorithm,
    key: Arc<Parsed>,
}

impl Signer<Vec<u8>> for CachedSigner {
    fn try_sign(&self, msg: &[u8]) -> Result<Vec<u8>, signature::Error> {
        match (&*self.key, self.alg) {
            (Parsed::Rsa(kp), alg) => {
                let enc: &'static dyn sig::RsaEncoding = match alg {
                    Algorithm::RS256 => &sig::RSA_PKCS1_SHA256,
                    Algorithm::RS384 => &sig::RSA_PKCS1_SHA384,
                    Algorithm::RS512 => &sig::RSA_PKCS1_SHA512,
                    Algorithm::PS256 => &sig::RSA_PSS_SHA256,
                    Algorithm::PS384 => &sig::RSA_PSS_SHA384,
                    Algorithm::PS512 => &sig::RSA_PSS_SHA512,
                    _ => return Err(signature::Error::new()),
                };
                let mut out = vec![0; kp.public_modulus_len()];
                kp.sign(enc, &SystemRandom::new(), msg, &mut out)
                    .map_err(signature::Error::from_source)?;
                Ok(out)
            }
            (Parsed::Ec(kp), _) => kp
                .sign(&SystemRandom::new(), msg)
                .map(|s| s.as_ref().to_vec())
                .map_err(signature::Error::from_source),
            (Parsed::Ed(kp), _) => Ok(kp.sign(msg).as_ref().to_vec()),
        }
    }
}

impl JwtSigner for CachedSigner {
    fn algorithm(&self) -> Algorithm {
        self.alg
    }
}

/// Parsed keys by their DER bytes, with the algorithm they were parsed for. Grows by
/// one entry per signing key ever loaded.
type Cache = HashMap<Vec<u8>, (Algorithm, Arc<Parsed>)>;
static CACHE: LazyLock<RwLock<Cache>> = LazyLock::new(|| RwLock::new(HashMap::new()));

/// Can a key parsed for `parsed_for` sign with `alg`? Any RSA padding can use one RSA
/// key; an EC key is bound to its curve, an Ed key to EdDSA.
fn compatible(parsed_for: Algorithm, alg: Algorithm) -> bool {
    use Algorithm::*;
    let rsa = |a| matches!(a, RS256 | RS384 | RS512 | PS256 | PS384 | PS512);
    parsed_for == alg || (rsa(parsed_for) && rsa(alg))
}

fn parse(alg: Algorithm, der: &[u8]) -> Result<Parsed, Error> {
    use Algorithm::*;
    Ok(match alg {
        RS256 | RS384 | RS512 | PS256 | PS384 | PS512 => Parsed::Rsa(
            RsaKeyPair::from_der(der).map_err(|e| ErrorKind::InvalidRsaKey(e.to_string()))?,
        ),
        ES256 => Parsed::Ec(
            EcdsaKeyPair::from_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, der)
                .map_err(|_| ErrorKind::InvalidEcdsaKey)?,
        ),
        ES384 => Parsed::Ec(
            EcdsaKeyPair::from_pkcs8(&sig::ECDSA_P384_SHA384_FIXED_SIGNING, der)
                .map_err(|_| ErrorKind::InvalidEcdsaKey)?,
        ),
        EdDSA => {
            Parsed::Ed(Ed25519KeyPair::from_pkcs8(der).map_err(|_| ErrorKind::InvalidEddsaKey)?)
        }
        _ => return Err(ErrorKind::InvalidAlgorithm.into()),
    })
}

fn cached_signer(alg: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>, Error> {
    if matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512) {
        // We never sign with shared secrets; refuse rather than fall back silently.
        return Err(ErrorKind::InvalidAlgorithm.into());
    }
    let der = key.as_bytes();
    if let Some((parsed_for, p)) = CACHE.read().get(der) {
        if !compatible(*parsed_for, *alg) {
            return Err(ErrorKind::InvalidAlgorithm.into());
        }
        return Ok(Box::new(CachedSigner {
            alg: *alg,
            key: p.clone(),
        }));
    }
    let parsed = Arc::new(parse(*alg, der)?);
    CACHE.write().insert(der.to_vec(), (*alg, parsed.clone()));
    Ok(Box::new(CachedSigner {
        alg: *alg,
        key: parsed,
    }))
}

static PROVIDER: LazyLock<CryptoProvider> = LazyLock::new(|| {
    let stock = &jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER;
    CryptoProvider {
        signer_factory: cached_signer,
        verifier_factory: stock.verifier_factory,
        key_utils: stock.key_utils.clone(),
    }
});

/// Install the provider for this process. Idempotent; call before any JWT work.
pub fn install() {
    // An Err means a provider is already installed: ours, from an earlier call.
    let _ = PROVIDER.install_default();
}
