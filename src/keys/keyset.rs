//! The key set in memory: who signs, what is published, and the JWKS bytes,
//! precomputed once per change so that serving them costs nothing.

use std::collections::HashMap;

use actix_web::web::Bytes;

use super::dir::{KeyDir, KeyDirError, KeyRecord, KeyState};
use super::material::{KeyAlg, Material};

#[derive(Debug)]
pub struct KeySet {
    /// Signs access tokens: the most recently activated key.
    signing: Material,
    /// The active key of each algorithm (ID tokens need RS256 whatever signs access tokens).
    active_by_alg: HashMap<KeyAlg, Material>,
    /// Every published key, for verification of our own tokens.
    by_kid: HashMap<String, Material>,
    records: Vec<KeyRecord>,
    jwks: Bytes,
    /// When a retired key's publication window ends and the set must be rebuilt.
    next_change: Option<i64>,
}

impl KeySet {
    /// Build the set from the directory. `retain` is how long a retired key stays
    /// published: the longest lifetime of a token we sign, plus clock-skew leeway.
    pub fn load(dir: &KeyDir, retain: i64, now: i64) -> Result<KeySet, KeyDirError> {
        let manifest = dir.read_manifest()?;
        let mut by_kid = HashMap::new();
        let mut active_by_alg: HashMap<KeyAlg, (i64, Material)> = HashMap::new();
        let mut published = Vec::new();
        let mut next_change: Option<i64> = None;
        for rec in &manifest.keys {
            let end = match (rec.state, rec.retired_at) {
                (KeyState::Retired, Some(t)) => Some(t + retain),
                (KeyState::Retired, None) => Some(0),
                _ => None,
            };
            if let Some(end) = end {
                if end <= now {
                    continue;
                }
                next_change = Some(next_change.map_or(end, |c| c.min(end)));
            }
            let m = dir.load_material(rec)?;
            if rec.state == KeyState::Active {
                let at = rec.activated_at.unwrap_or(rec.created_at);
                let newer = active_by_alg.get(&rec.alg).is_none_or(|(t, _)| at >= *t);
                if newer {
                    active_by_alg.insert(rec.alg, (at, m.clone()));
                }
            }
            published.push(m.public_jwk.clone());
            by_kid.insert(m.kid.clone(), m);
        }
        let signing = active_by_alg
            .values()
            .max_by_key(|(t, _)| *t)
            .map(|(_, m)| m.clone())
            .ok_or_else(|| KeyDirError::Io {
                dir: dir.path().display().to_string(),
                msg: "no active signing key (run `portcullis keys rotate`)".into(),
            })?;
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
            records: manifest.keys,
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

    pub fn find(&self, kid: &str) -> Option<&Material> {
        self.by_kid.get(kid)
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
