//! What every request shares: settings, the database, keys, the protocol services, caches
//! and the clock. A plain holder: the server fills it at start; handlers take from it the
//! narrow pieces that the protocol needs.

use std::sync::Arc;

use actix_web::web::Bytes;
use arc_swap::ArcSwap;

use crate::audit::IssuedCounter;
use crate::clock::SharedClock;
use crate::config::Settings;
use crate::keys::{KeySet, Keys};
use crate::oauth::issuer::Issuer;
use crate::oauth::metadata;
use crate::oauth::registrar::Registrar;
use crate::sealed::DataKeys;
use crate::secret::MacKey;
use crate::store::Db;
use crate::throttle::Throttle;

/// Responses that depend only on configuration and the key set, rendered once.
pub struct Precomputed {
    pub discovery: Bytes,
    pub jwks: Bytes,
}

impl Precomputed {
    pub fn of(issuer: &str, keys: &KeySet) -> Precomputed {
        Precomputed {
            discovery: Bytes::from(metadata::render(issuer)),
            jwks: keys.jwks(),
        }
    }
}

pub struct AppState {
    pub settings: Settings,
    pub db: Db,
    pub clock: SharedClock,
    /// The live key set (reloaded when another process rotates it).
    pub keys: Arc<Keys>,
    /// Signs tokens; knows the issuer identifier and the default audience.
    pub issuer: Issuer,
    /// Finds and authenticates clients.
    pub registrar: Registrar,
    pub precomputed: ArcSwap<Precomputed>,
    /// Password attempts per client address (the per-username and second-factor
    /// counters are in the database, shared by all instances: `pages::limits`).
    pub login_by_ip: Throttle,
    /// Authorization transactions started per client address (`pages::authorize`).
    pub flows_by_ip: Throttle,
    pub issued: IssuedCounter,
    /// Seals TOTP secrets at rest.
    pub data_keys: Arc<DataKeys>,
    /// Signs device cookies (`pages::device`).
    pub device_key: MacKey,
    /// Binds CSRF tokens to sessions (`pages::csrf`).
    pub csrf_key: MacKey,
}
