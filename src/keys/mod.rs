//! Signing keys: generation, the key ring in the database (sealed with the data key),
//! the in-memory key set and JWKS, and the jsonwebtoken signer that keeps parsed keys.

pub mod dir;
pub mod keyset;
pub mod material;
pub mod record;
pub mod ring;
pub mod signer;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use arc_swap::ArcSwap;

pub use keyset::KeySet;
pub use material::{KeyAlg, Material};
pub use record::{KeyError, KeyRecord, KeyState, Lifetimes};

use crate::sealed::DataKeys;
use crate::store::AnyConnection;

/// The live key set of a running server, swapped whole when the stored set changes.
pub struct Keys {
    current: ArcSwap<KeySet>,
    version: AtomicI64,
}

impl Keys {
    pub fn new(set: KeySet, version: i64) -> Keys {
        Keys {
            current: ArcSwap::from_pointee(set),
            version: AtomicI64::new(version),
        }
    }

    pub fn current(&self) -> Arc<KeySet> {
        self.current.load_full()
    }

    /// Reload when the stored set changed (a rotation by the command line or another
    /// instance) or a retired key's window ended. Returns whether the set changed.
    /// Blocking database work: call inside a unit of work.
    pub fn refresh(
        &self,
        conn: &mut AnyConnection,
        data_keys: &DataKeys,
        now: i64,
    ) -> Result<bool, KeyError> {
        let version = crate::store::keys::version(conn)?;
        if version == self.version.load(Ordering::SeqCst) && !self.current().needs_rebuild(now) {
            return Ok(false);
        }
        let (set, version) = ring::load(conn, data_keys, now)?;
        self.current.store(Arc::new(set));
        self.version.store(version, Ordering::SeqCst);
        Ok(true)
    }
}
