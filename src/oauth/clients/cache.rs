//! A short-lived in-memory cache of client records, so that the token endpoint does
//! not query the database for every request.
//!
//! Bounds: a deleted client or a replaced secret stops working on every instance within
//! `ttl` seconds. A secret that does not match the cached record is checked once more
//! against the database, so a freshly rotated secret works at once.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::RwLock;

use super::model::Client;

/// More entries than this and the cache starts over: ids are attacker-chosen.
const MAX_ENTRIES: usize = 10_000;

pub struct ClientCache {
    ttl: i64,
    entries: RwLock<HashMap<String, (i64, Arc<Client>)>>,
}

impl ClientCache {
    pub fn new(ttl_secs: u64) -> ClientCache {
        ClientCache {
            ttl: ttl_secs as i64,
            entries: RwLock::new(HashMap::new()),
        }
    }

    pub fn get(&self, client_id: &str, now: i64) -> Option<Arc<Client>> {
        if self.ttl == 0 {
            return None;
        }
        let entries = self.entries.read();
        let (at, client) = entries.get(client_id)?;
        (now - at < self.ttl).then(|| client.clone())
    }

    pub fn put(&self, client: Arc<Client>, now: i64) {
        if self.ttl == 0 {
            return;
        }
        let mut entries = self.entries.write();
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(client.client_id.clone(), (now, client));
    }

    pub fn forget(&self, client_id: &str) {
        self.entries.write().remove(client_id);
    }
}
