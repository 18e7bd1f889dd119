//! Fetching the JWK Sets that `private_key_jwt` clients publish at their `jwks_uri`
//! (OpenID Connect Core §10.1.1): with a timeout, a size cap and no redirects, cached
//! for a few minutes, and fetched again when an assertion names a `kid` we do not have
//! (the client rotated), at most once per `REFETCH_GAP` per URL so that a stream of
//! unknown `kid`s cannot make us hammer the client's server.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use super::jwk::{self, PublicKey};

/// How long a fetched set is used before it is fetched again.
pub const CACHE_TTL: i64 = 300;
/// The least time between two fetches of one URL.
pub const REFETCH_GAP: i64 = 10;
/// The largest JWK Set we read.
pub const MAX_BYTES: usize = 64 * 1024;
const TIMEOUT: Duration = Duration::from_secs(5);
const MAX_URLS: usize = 10_000;

struct Entry {
    fetched_at: i64,
    keys: Option<Arc<Vec<PublicKey>>>,
}

pub struct JwksFetcher {
    http: reqwest::Client,
    cache: Mutex<HashMap<String, Entry>>,
    /// One fetch at a time: requests that arrive while a set is being fetched wait for
    /// it, then find it in the cache, rather than each fetching again.
    fetching: tokio::sync::Mutex<()>,
}

impl Default for JwksFetcher {
    fn default() -> JwksFetcher {
        JwksFetcher::new()
    }
}

impl JwksFetcher {
    pub fn new() -> JwksFetcher {
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("portcullis/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        JwksFetcher {
            http,
            cache: Mutex::new(HashMap::new()),
            fetching: tokio::sync::Mutex::new(()),
        }
    }

    /// The keys published at `uri`, from the cache while it is fresh. With `refresh`
    /// (an assertion named a `kid` we do not have), fetched again unless the last fetch
    /// was less than `REFETCH_GAP` seconds ago.
    pub async fn keys(
        &self,
        uri: &str,
        now: i64,
        refresh: bool,
    ) -> Result<Arc<Vec<PublicKey>>, String> {
        if let Some(answer) = self.cached(uri, now, refresh) {
            return answer;
        }
        let _one_at_a_time = self.fetching.lock().await;
        // Another request may have fetched it while this one waited.
        if let Some(answer) = self.cached(uri, now, refresh) {
            return answer;
        }
        self.fetch_and_remember(uri, now).await
    }

    /// What the cache can answer for `uri` now, if anything.
    fn cached(
        &self,
        uri: &str,
        now: i64,
        refresh: bool,
    ) -> Option<Result<Arc<Vec<PublicKey>>, String>> {
        {
            let cache = self.cache.lock();
            if let Some(e) = cache.get(uri) {
                let fresh = now - e.fetched_at < CACHE_TTL;
                let too_soon = now - e.fetched_at < REFETCH_GAP;
                match &e.keys {
                    Some(k) if fresh && (!refresh || too_soon) => return Some(Ok(k.clone())),
                    None if too_soon => {
                        return Some(Err("the client's jwks_uri could not be read".into()));
                    }
                    _ => {}
                }
            }
        }
        None
    }

    async fn fetch_and_remember(&self, uri: &str, now: i64) -> Result<Arc<Vec<PublicKey>>, String> {
        let fetched = self.fetch(uri).await;
        let mut cache = self.cache.lock();
        if cache.len() >= MAX_URLS {
            cache.retain(|_, e| now - e.fetched_at < CACHE_TTL);
        }
        match fetched {
            Ok(keys) => {
                let keys = Arc::new(keys);
                cache.insert(
                    uri.to_string(),
                    Entry {
                        fetched_at: now,
                        keys: Some(keys.clone()),
                    },
                );
                Ok(keys)
            }
            Err(e) => {
                tracing::warn!(jwks_uri = %uri, error = %e, "cannot read a client's JWK Set");
                // Keep serving the last good set until it expires; remember the failure
                // so that it is not retried on every request.
                let entry = cache.entry(uri.to_string()).or_insert(Entry {
                    fetched_at: now,
                    keys: None,
                });
                match &entry.keys {
                    Some(k) if now - entry.fetched_at < CACHE_TTL => Ok(k.clone()),
                    _ => {
                        entry.fetched_at = now;
                        entry.keys = None;
                        Err("the client's jwks_uri could not be read".into())
                    }
                }
            }
        }
    }

    async fn fetch(&self, uri: &str) -> Result<Vec<PublicKey>, String> {
        let mut res = self
            .http
            .get(uri)
            .header("accept", "application/json, application/jwk-set+json")
            .send()
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        if !res.status().is_success() {
            return Err(format!("status {}", res.status()));
        }
        if res.content_length().is_some_and(|n| n > MAX_BYTES as u64) {
            return Err("the JWK Set is too large".into());
        }
        let mut body = Vec::new();
        while let Some(chunk) = res.chunk().await.map_err(|e| e.to_string())? {
            if body.len() + chunk.len() > MAX_BYTES {
                return Err("the JWK Set is too large".into());
            }
            body.extend_from_slice(&chunk);
        }
        let text = String::from_utf8(body).map_err(|_| "not UTF-8".to_string())?;
        jwk::parse_set(&text)
    }
}
