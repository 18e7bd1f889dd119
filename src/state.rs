//! What every request shares: settings, the database, keys, the protocol services, caches
//! and the clock. A plain holder: the server fills it at start; handlers take from it the
//! narrow pieces that the protocol needs.

use std::sync::Arc;

use actix_web::web::Bytes;
use arc_swap::ArcSwap;

use crate::audit::IssuedCounter;
use crate::clock::SharedClock;
use crate::config::{Profile, Registration, Settings};
use crate::keys::{KeySet, Keys};
use crate::oauth::authorize::{Authorizer, Rules};
use crate::oauth::clients::registrar::Registrar;
use crate::oauth::dpop::Nonces;
use crate::oauth::issuer::Issuer;
use crate::oauth::metadata;
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
    pub fn of(issuer: &str, settings: &Settings, keys: &KeySet) -> Precomputed {
        let served = metadata::Served {
            require_par: settings.requires_par(),
            fapi2: settings.profile == Profile::Fapi2,
            registration: settings.registration != Registration::Off,
        };
        Precomputed {
            discovery: Bytes::from(metadata::render(issuer, served)),
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
    /// Open client registrations per client address (`endpoints::register`).
    pub registrations_by_ip: Throttle,
    pub issued: IssuedCounter,
    /// Seals TOTP secrets at rest.
    pub data_keys: Arc<DataKeys>,
    /// Signs device cookies (`pages::device`).
    pub device_key: MacKey,
    /// Binds CSRF tokens to sessions (`pages::csrf`).
    pub csrf_key: MacKey,
    /// The WebAuthn relying party; None when passkeys are off (an issuer at an IP
    /// address, where WebAuthn allows none).
    pub passkeys: Option<Arc<crate::mfa::passkeys::RelyingParty>>,
    /// Passkey ceremonies begun per client address (`pages::passkeys`).
    pub ceremonies_by_ip: Throttle,
    /// Calls out to URLs clients registered (back-channel logout).
    pub outbound: crate::web::outbound::Outbound,
    /// DPoP server nonces, when proofs must carry one (`--dpop-nonce`).
    pub dpop_nonces: Option<Nonces>,
}

impl AppState {
    /// The authorization protocol under this server's rules (PAR required, the FAPI 2.0
    /// profile).
    pub fn authorizer(&self) -> Authorizer<'_> {
        Authorizer {
            registrar: &self.registrar,
            db: &self.db,
            issuer: &self.issuer.id,
            keys: &self.keys,
            rules: Rules {
                pushed: false,
                require_par: self.settings.requires_par(),
                fapi2: self.settings.profile == Profile::Fapi2,
            },
        }
    }
}
