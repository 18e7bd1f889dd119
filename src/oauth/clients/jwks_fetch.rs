//! Fetching the JWK Sets that `private_key_jwt` clients publish at their `jwks_uri`
//! (OpenID Connect Core §10.1.1): with a timeout, a size cap and no redirects, cached
//! for a few minutes, and fetched again when an assertion names a `kid` we do not have
//! (the client rotated), at most once per `REFETCH_GAP` per URL so that a stream of
//! unknown `kid`s cannot make us hammer the client's server.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use crate::oauth::jwk::{self, PublicKey};
use crate::web::outbound::Outbound;

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
    http: Outbound,
    cache: Mutex<HashMap<String, Entry>>,
    /// One fetch at a time per URL: requests that arrive while a set is being fetched
    /// wait for it, then find it in the cache, rather than each fetching again. Other
    /// URLs do not wait (a slow client's server delays only that client).
    fetching: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Default for JwksFetcher {
    fn default() -> JwksFetcher {
        JwksFetcher::new()
    }
}

impl JwksFetcher {
    pub fn new() -> JwksFetcher {
        JwksFetcher {
            http: Outbound::new(TIMEOUT),
            cache: Mutex::new(HashMap::new()),
            fetching: Mutex::new(HashMap::new()),
        }
    }

    /// The lock that serialises fetches of `uri`.
    fn lock_for(&self, uri: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.fetching.lock();
        if locks.len() >= MAX_URLS {
            // Only locks nobody holds or waits for.
            locks.retain(|_, l| Arc::strong_count(l) > 1);
        }
        locks.entry(uri.to_string()).or_default().clone()
    }

    /// The keys published at `uri`, from the cache while it is fresh. With `refresh`
    /// (an assertion named a `kid` we do not have), fetched again unless the last fetch
    /// was less than `REFETCH_GAP` seconds ago.
    ///
    /// `public_only`: the URL was named by a self-registered client; it is fetched only
    /// from public addresses, by name (see `PublicOnly`).
    pub async fn keys(
        &self,
        uri: &str,
        now: i64,
        refresh: bool,
        public_only: bool,
    ) -> Result<Arc<Vec<PublicKey>>, String> {
        if let Some(answer) = self.cached(uri, now, refresh) {
            return answer;
        }
        let lock = self.lock_for(uri);
        let _one_at_a_time = lock.lock().await;
        // Another request may have fetched it while this one waited.
        if let Some(answer) = self.cached(uri, now, refresh) {
            return answer;
        }
        self.fetch_and_remember(uri, now, public_only).await
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

    async fn fetch_and_remember(
        &self,
        uri: &str,
        now: i64,
        public_only: bool,
    ) -> Result<Arc<Vec<PublicKey>>, String> {
        let fetched = self.fetch(uri, public_only).await;
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

    async fn fetch(&self, uri: &str, public_only: bool) -> Result<Vec<PublicKey>, String> {
        let http = self.http.for_url(uri, public_only)?;
        let mut res = http
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    /// A JWK Set served once per connection, by hand (a test needs no web framework).
    fn serve_jwks(listener: TcpListener, body: String) {
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut s) = stream else { return };
                let mut buf = [0u8; 2048];
                let _ = s.read(&mut buf);
                let _ = write!(
                    s,
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
    }

    /// One client's server that never answers holds up only its own fetch, not the
    /// fetch of another client's keys.
    #[actix_web::test]
    async fn a_slow_server_delays_only_its_own_clients() {
        use crate::keys::{KeyAlg, material};
        let m =
            material::from_pem(KeyAlg::ES256, &material::generate(KeyAlg::ES256).unwrap()).unwrap();
        let fast = TcpListener::bind("127.0.0.1:0").unwrap();
        let fast_url = format!("http://{}/jwks", fast.local_addr().unwrap());
        serve_jwks(
            fast,
            serde_json::json!({ "keys": [m.public_jwk] }).to_string(),
        );
        // Accepts (and tells us), then says nothing until the fetch times out.
        let slow = TcpListener::bind("127.0.0.1:0").unwrap();
        let slow_url = format!("http://{}/jwks", slow.local_addr().unwrap());
        let (accepted, on_accept) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let held = slow.accept();
            let _ = accepted.send(());
            std::thread::sleep(Duration::from_secs(8));
            drop(held);
        });
        let fetcher = Arc::new(JwksFetcher::new());
        let f = fetcher.clone();
        let pending = actix_web::rt::spawn(async move { f.keys(&slow_url, 0, false, false).await });
        // Wait (off the runtime's thread) until the slow fetch is under way.
        let _ = actix_web::rt::task::spawn_blocking(move || on_accept.recv()).await;
        let keys = fetcher.keys(&fast_url, 0, false, false).await.unwrap();
        assert_eq!(keys.len(), 1);
        assert!(!pending.is_finished(), "the slow fetch is still waiting");
        pending.abort();
    }
}
