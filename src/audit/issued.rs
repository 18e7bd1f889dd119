//! The coalesced count of issued tokens.
//!
//! Tokens are issued on the hot path, where a database write per token would cap the
//! rate at the database's. Issuance is therefore counted in memory and written as one
//! `token.issued` event per client and grant per minute, with the count. Everything
//! else is written as it happens, in the transaction of the change.

use std::collections::HashMap;

use parking_lot::Mutex;

use crate::store::AnyConnection;
use crate::store::audit::{self, Event};

/// Counts of tokens issued since the last flush, by client and grant.
#[derive(Default)]
pub struct IssuedCounter {
    // Keyed by client first so the hot path looks up with a `&str` and allocates only
    // the first time a client is seen in a window.
    counts: Mutex<HashMap<String, HashMap<&'static str, u64>>>,
}

impl IssuedCounter {
    pub fn note(&self, client_id: &str, grant: &'static str) {
        let mut c = self.counts.lock();
        let per_grant = match c.get_mut(client_id) {
            Some(m) => m,
            None => c.entry(client_id.to_string()).or_default(),
        };
        *per_grant.entry(grant).or_insert(0) += 1;
    }

    /// Take the counts, leaving zero behind.
    pub fn take(&self) -> Vec<((String, &'static str), u64)> {
        std::mem::take(&mut *self.counts.lock())
            .into_iter()
            .flat_map(|(client, grants)| {
                grants
                    .into_iter()
                    .map(move |(grant, n)| ((client.clone(), grant), n))
            })
            .collect()
    }

    /// Write the counts as events (and put them back if the write fails).
    pub fn flush(&self, conn: &mut AnyConnection, now: i64) -> diesel::QueryResult<usize> {
        let taken = self.take();
        let n = taken.len();
        for ((client, grant), count) in &taken {
            let e = Event::new("token.issued", "success")
                .client(client.clone())
                .detail("grant", *grant)
                .detail("count", *count);
            if let Err(err) = audit::record(conn, &e, now) {
                let mut c = self.counts.lock();
                for ((client, grant), count) in taken {
                    *c.entry(client).or_default().entry(grant).or_insert(0) += count;
                }
                return Err(err);
            }
        }
        Ok(n)
    }
}
