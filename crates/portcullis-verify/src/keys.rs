//! The issuer's signing keys, fetched from its JWKS and cached: for as long as the
//! answer's `Cache-Control: max-age` says (within bounds); fetched again when a token
//! names a key we do not have, at most once per `REFETCH_GAP`, one fetch at a time; and
//! the last good set kept while the issuer cannot be reached.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey};
use parking_lot::RwLock;

/// The least time between two fetches caused by unknown `kid`s.
pub const REFETCH_GAP: Duration = Duration::from_secs(10);
/// How long a set is used when the answer says nothing (`max-age` absent).
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(300);
/// The bounds put on an answer's `max-age`.
const MIN_MAX_AGE: Duration = Duration::from_secs(30);
const MAX_MAX_AGE: Duration = Duration::from_secs(86_400);
/// The most keys kept from one set, and the largest set read.
const MAX_KEYS: usize = 64;
const MAX_BYTES: usize = 256 * 1024;

/// One verification key, with the one algorithm it verifies.
pub struct Key {
    pub alg: Algorithm,
    pub key: DecodingKey,
}

struct Set {
    keys: HashMap<String, Arc<Key>>,
    fetched: Instant,
    max_age: Duration,
}

/// The cache of one issuer's key set.
pub struct KeyCache {
    http: reqwest::Client,
    jwks_uri: String,
    set: RwLock<Option<Arc<Set>>>,
    /// One fetch at a time: requests that need one while it runs wait for it.
    fetching: tokio::sync::Mutex<Option<Instant>>,
    fetches: AtomicU64,
}

/// The algorithms a key may verify: asymmetric only (never `none` or HMAC, whose "key"
/// would be public).
fn accepted(alg: Algorithm) -> bool {
    !matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
}

impl KeyCache {
    pub fn new(http: reqwest::Client, jwks_uri: String) -> KeyCache {
        KeyCache {
            http,
            jwks_uri,
            set: RwLock::new(None),
            fetching: tokio::sync::Mutex::new(None),
            fetches: AtomicU64::new(0),
        }
    }

    /// How many times the JWKS was fetched (for monitoring, and to check the limits).
    pub fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// The key named `kid`. `Ok(None)`: the issuer has no such key (after at most one
    /// fetch per `REFETCH_GAP`). `Err(())`: no set could be read at all.
    pub async fn get(&self, kid: &str) -> Result<Option<Arc<Key>>, ()> {
        let current = self.set.read().clone();
        if let Some(set) = &current
            && set.fetched.elapsed() < set.max_age
            && let Some(k) = set.keys.get(kid)
        {
            return Ok(Some(k.clone()));
        }
        self.refresh(current.as_ref()).await;
        let now = self.set.read().clone();
        match now {
            Some(set) => Ok(set.keys.get(kid).cloned()),
            None => Err(()),
        }
    }

    /// Fetch again unless another request just did, or the last fetch was less than
    /// `REFETCH_GAP` ago. `seen`: the set the caller looked at.
    async fn refresh(&self, seen: Option<&Arc<Set>>) {
        let mut last = self.fetching.lock().await;
        // Someone else fetched while this request waited: use theirs.
        let newer = match (seen, self.set.read().as_ref()) {
            (Some(a), Some(b)) => !Arc::ptr_eq(a, b),
            (None, Some(_)) => true,
            _ => false,
        };
        if newer || last.is_some_and(|t| t.elapsed() < REFETCH_GAP) {
            return;
        }
        *last = Some(Instant::now());
        self.fetches.fetch_add(1, Ordering::Relaxed);
        // On failure the last good set stays (expired or not): better than refusing
        // every token while the issuer is away.
        if let Ok(set) = self.fetch().await {
            *self.set.write() = Some(Arc::new(set));
        }
    }

    async fn fetch(&self) -> Result<Set, String> {
        let mut res = self
            .http
            .get(&self.jwks_uri)
            .header("accept", "application/jwk-set+json, application/json")
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !res.status().is_success() {
            return Err(format!("status {}", res.status()));
        }
        let max_age = res
            .headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok())
            .and_then(max_age)
            .unwrap_or(DEFAULT_MAX_AGE)
            .clamp(MIN_MAX_AGE, MAX_MAX_AGE);
        let mut body = Vec::new();
        while let Some(chunk) = res.chunk().await.map_err(|e| e.to_string())? {
            if body.len() + chunk.len() > MAX_BYTES {
                return Err("the key set is too large".into());
            }
            body.extend_from_slice(&chunk);
        }
        let set: JwkSet = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
        let mut keys = HashMap::new();
        for jwk in set.keys.iter().take(MAX_KEYS) {
            let (Some(kid), Some(alg)) = (&jwk.common.key_id, jwk.common.key_algorithm) else {
                continue;
            };
            let Ok(alg) = Algorithm::try_from(alg) else {
                continue;
            };
            if !accepted(alg) {
                continue;
            }
            if let Ok(key) = DecodingKey::from_jwk(jwk) {
                keys.insert(kid.clone(), Arc::new(Key { alg, key }));
            }
        }
        Ok(Set {
            keys,
            fetched: Instant::now(),
            max_age,
        })
    }
}

/// `max-age=N` of a `Cache-Control` value (`no-store` and `no-cache` read as 0).
fn max_age(v: &str) -> Option<Duration> {
    let mut found = None;
    for d in v.split(',').map(str::trim) {
        if d.eq_ignore_ascii_case("no-store") || d.eq_ignore_ascii_case("no-cache") {
            return Some(Duration::ZERO);
        }
        if let Some(n) = d.strip_prefix("max-age=") {
            found = n
                .trim_matches('"')
                .parse::<u64>()
                .ok()
                .map(Duration::from_secs);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_is_read_from_cache_control() {
        assert_eq!(
            max_age("public, max-age=300"),
            Some(Duration::from_secs(300))
        );
        assert_eq!(max_age("max-age=\"60\""), Some(Duration::from_secs(60)));
        assert_eq!(max_age("no-store"), Some(Duration::ZERO));
        assert_eq!(max_age("public"), None);
    }

    #[test]
    fn symmetric_algorithms_are_never_keys() {
        assert!(!accepted(Algorithm::HS256));
        assert!(accepted(Algorithm::ES256));
        assert!(accepted(Algorithm::EdDSA));
    }
}
