//! Signing keys: generation, the keys directory, the in-memory key set and JWKS, and
//! the jsonwebtoken signer that keeps parsed keys.

pub mod dir;
pub mod keyset;
pub mod material;
pub mod signer;

use std::sync::Arc;
use std::time::SystemTime;

use arc_swap::ArcSwap;

pub use dir::{KeyDir, KeyDirError, KeyRecord, KeyState};
pub use keyset::KeySet;
pub use material::{KeyAlg, Material};

/// The live key set of a running server, swapped whole when the directory changes.
pub struct Keys {
    dir: KeyDir,
    retain: i64,
    current: ArcSwap<KeySet>,
    stamp: parking_lot::Mutex<Option<SystemTime>>,
}

impl Keys {
    pub fn open(dir: KeyDir, retain: i64, now: i64) -> Result<Keys, KeyDirError> {
        dir.ensure_initialized(now)?;
        let stamp = Self::stamp_of(&dir);
        let set = KeySet::load(&dir, retain, now)?;
        Ok(Keys {
            dir,
            retain,
            current: ArcSwap::from_pointee(set),
            stamp: parking_lot::Mutex::new(stamp),
        })
    }

    fn stamp_of(dir: &KeyDir) -> Option<SystemTime> {
        std::fs::metadata(dir.manifest_path())
            .and_then(|m| m.modified())
            .ok()
    }

    pub fn current(&self) -> Arc<KeySet> {
        self.current.load_full()
    }

    /// Reload when the manifest changed (a `keys rotate` from the CLI or another
    /// instance) or a retired key's window ended. Returns whether the set changed.
    /// Blocking file work: call from a blocking context.
    pub fn refresh(&self, now: i64) -> Result<bool, KeyDirError> {
        let stamp = Self::stamp_of(&self.dir);
        let changed = *self.stamp.lock() != stamp;
        if !changed && !self.current.load().needs_rebuild(now) {
            return Ok(false);
        }
        let set = KeySet::load(&self.dir, self.retain, now)?;
        self.current.store(Arc::new(set));
        *self.stamp.lock() = stamp;
        Ok(true)
    }
}
