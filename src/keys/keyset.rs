//! The key set in memory: who signs, what is published, what still verifies logout
//! hints, and the JWKS bytes, precomputed once per change so that serving them costs
//! nothing.

use std::collections::HashMap;

use actix_web::web::Bytes;

use super::material::{KeyAlg, Material};
use super::record::{KeyError, KeyRecord, KeyState};

#[derive(Debug)]
pub struct KeySet {
    /// Signs access tokens: the active key of the recorded access-token algorithm.
    signing: Material,
    /// The active key of each algorithm (ID tokens use the client's algorithm).
    active_by_alg: HashMap<KeyAlg, Material>,
    /// Every published key, for verification of our own tokens.
    by_kid: HashMap<String, Material>,
    /// Every key kept to verify logout hints (published ones, and retired ones within
    /// the session lifetime).
    hint_keys: HashMap<String, Material>,
    records: Vec<KeyRecord>,
    jwks: Bytes,
    /// When a retired key's window ends and the set must be rebuilt.
    next_change: Option<i64>,
}

impl KeySet {
    /// Build the set from the keys still kept, as of `now`; the active key of
    /// `access_alg` signs access tokens.
    pub fn build(
        keys: Vec<(KeyRecord, Material)>,
        access_alg: KeyAlg,
        now: i64,
    ) -> Result<KeySet, KeyError> {
        let mut by_kid = HashMap::new();
        let mut hint_keys = HashMap::new();
        let mut active_by_alg: HashMap<KeyAlg, ((i64, String), Material)> = HashMap::new();
        let mut published = Vec::new();
        let mut next_change: Option<i64> = None;
        let mut records = Vec::new();
        for (rec, m) in keys {
            for end in [rec.published_until, rec.hints_until].into_iter().flatten() {
                if end > now {
                    next_change = Some(next_change.map_or(end, |c| c.min(end)));
                }
            }
            if rec.state == KeyState::Active {
                // One active key per algorithm; should two ever be, the later wins, and
                // between equals the greater kid: the same choice on every instance.
                let rank = (rec.activated_at.unwrap_or(rec.created_at), rec.kid.clone());
                if active_by_alg.get(&rec.alg).is_none_or(|(r, _)| rank > *r) {
                    active_by_alg.insert(rec.alg, (rank, m.clone()));
                }
            }
            if rec.verifies_hints(now) {
                hint_keys.insert(m.kid.clone(), m.clone());
            }
            if rec.is_published(now) {
                published.push(m.public_jwk.clone());
                by_kid.insert(m.kid.clone(), m);
            }
            records.push(rec);
        }
        let signing = active_by_alg
            .get(&access_alg)
            .map(|(_, m)| m.clone())
            .ok_or(KeyError::NoActiveKey)?;
        let jwks = serde_json::to_vec(&serde_json::json!({ "keys": published }))
            .map(Bytes::from)
            .unwrap_or_default();
        Ok(KeySet {
            signing,
            active_by_alg: active_by_alg
                .into_iter()
                .map(|(a, (_, m))| (a, m))
                .collect(),
            by_kid,
            hint_keys,
            records,
            jwks,
            next_change,
        })
    }

    pub fn signing(&self) -> &Material {
        &self.signing
    }

    pub fn active(&self, alg: KeyAlg) -> Option<&Material> {
        self.active_by_alg.get(&alg)
    }

    /// A published key by kid.
    pub fn find(&self, kid: &str) -> Option<&Material> {
        self.by_kid.get(kid)
    }

    /// A key that verifies logout hints (RP-Initiated Logout 1.0 §2 accepts expired ID
    /// tokens), published or not.
    pub fn find_for_hint(&self, kid: &str) -> Option<&Material> {
        self.hint_keys.get(kid)
    }

    pub fn jwks(&self) -> Bytes {
        self.jwks.clone()
    }

    pub fn records(&self) -> &[KeyRecord] {
        &self.records
    }

    pub fn needs_rebuild(&self, now: i64) -> bool {
        self.next_change.is_some_and(|t| t <= now)
    }
}
