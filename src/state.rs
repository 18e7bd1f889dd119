//! What every request shares: settings, the database pool, keys, caches, the clock.

use std::sync::Arc;

use actix_web::web::{self, Bytes};
use arc_swap::ArcSwap;

use crate::audit::IssuedCounter;
use crate::clock::SharedClock;
use crate::config::Settings;
use crate::endpoints::discovery;
use crate::keys::Keys;
use crate::mfa::sealed::DataKeys;
use crate::oauth::client::Client;
use crate::oauth::client_auth::{self, Presented};
use crate::oauth::client_cache::ClientCache;
use crate::oauth::error::OAuthError;
use crate::oauth::registrar;
use crate::secret::MacKey;
use crate::store::{AnyConnection, DbPool};
use crate::throttle::Throttle;

/// Responses that depend only on configuration and the key set, rendered once.
pub struct Precomputed {
    pub discovery: Bytes,
    pub jwks: Bytes,
}

pub struct AppState {
    pub settings: Settings,
    pub issuer: String,
    pub default_audience: String,
    pub pool: DbPool,
    pub keys: Keys,
    pub clock: SharedClock,
    pub clients: ClientCache,
    pub precomputed: ArcSwap<Precomputed>,
    /// Password attempts per client address (the per-username and second-factor
    /// counters are in the database, shared by all instances: `pages::limits`).
    pub login_by_ip: Throttle,
    pub issued: IssuedCounter,
    /// Seals TOTP secrets at rest.
    pub data_keys: Arc<DataKeys>,
    /// Signs device cookies (`pages::device`).
    pub device_key: MacKey,
    /// Binds CSRF tokens to sessions (`pages::csrf`).
    pub csrf_key: MacKey,
}

impl AppState {
    pub fn new(
        settings: Settings,
        issuer: String,
        pool: DbPool,
        keys: Keys,
        clock: SharedClock,
        data_keys: DataKeys,
    ) -> AppState {
        let default_audience = settings
            .default_audience
            .clone()
            .unwrap_or_else(|| issuer.clone());
        let clients = ClientCache::new(settings.client_cache_ttl);
        let login_by_ip = Throttle::new(
            settings
                .login_max_failures
                .saturating_mul(crate::pages::limits::PER_ADDRESS_FACTOR),
            crate::pages::limits::WINDOW,
        );
        let state = AppState {
            issued: IssuedCounter::default(),
            device_key: data_keys.derive(crate::pages::device::KEY_LABEL),
            csrf_key: data_keys.derive(crate::pages::csrf::KEY_LABEL),
            data_keys: Arc::new(data_keys),
            login_by_ip,
            settings,
            issuer,
            default_audience,
            pool,
            keys,
            clock,
            clients,
            precomputed: ArcSwap::from_pointee(Precomputed {
                discovery: Bytes::new(),
                jwks: Bytes::new(),
            }),
        };
        state.rebuild_precomputed();
        state
    }

    /// Re-render discovery and the JWKS (at start and after every key-set change).
    pub fn rebuild_precomputed(&self) {
        let keys = self.keys.current();
        self.precomputed.store(Arc::new(Precomputed {
            discovery: discovery::render(&self.issuer),
            jwks: keys.jwks(),
        }));
    }

    /// Run one unit of database work on the blocking pool, never on a worker thread.
    pub async fn db<T, F>(&self, f: F) -> Result<T, OAuthError>
    where
        T: Send + 'static,
        F: FnOnce(&mut AnyConnection) -> diesel::QueryResult<T> + Send + 'static,
    {
        let pool = self.pool.clone();
        let res = web::block(move || {
            let mut conn = pool.get().map_err(DbError::Unavailable)?;
            f(&mut conn).map_err(DbError::Query)
        })
        .await
        .map_err(OAuthError::server)?;
        match res {
            Ok(v) => Ok(v),
            Err(DbError::Unavailable(e)) => Err(OAuthError::unavailable(e)),
            Err(DbError::Query(e)) => Err(OAuthError::server(e)),
        }
    }

    /// Record one audit event in its own unit of work (for events without a
    /// surrounding transaction). A failure is logged, never shown to the person.
    pub async fn audit(&self, event: crate::store::audit::Event) {
        let now = self.clock.now();
        if let Err(e) = self
            .db(move |conn| crate::store::audit::record(conn, &event, now))
            .await
        {
            tracing::error!(error = %e, "cannot write an audit event");
        }
    }

    /// A client by id, from the cache when it can answer.
    pub async fn find_client(&self, id: &str) -> Result<Option<Arc<Client>>, OAuthError> {
        let now = self.clock.now();
        if let Some(c) = self.clients.get(id, now) {
            return Ok(Some(c));
        }
        let owned = id.to_string();
        let found = self
            .db(move |conn| registrar::find(conn, &owned))
            .await?
            .map(Arc::new);
        if let Some(c) = &found {
            self.clients.put(c.clone(), now);
        }
        Ok(found)
    }

    /// Authenticate the calling client, from the cache when it can answer.
    pub async fn authenticate_client(
        &self,
        presented: &Presented,
    ) -> Result<Arc<Client>, OAuthError> {
        let Some(id) = presented.client_id() else {
            return client_auth::authenticate(presented, None);
        };
        let now = self.clock.now();
        if let Some(cached) = self.clients.get(id, now)
            && let Ok(client) = client_auth::authenticate(presented, Some(cached))
        {
            return Ok(client);
        }
        // Not cached, or the cached record says no: ask the database, which is the
        // truth (a secret may have been rotated a moment ago).
        let owned = id.to_string();
        let found = self
            .db(move |conn| registrar::find(conn, &owned))
            .await?
            .map(Arc::new);
        match &found {
            Some(c) => self.clients.put(c.clone(), now),
            None => self.clients.forget(id),
        }
        client_auth::authenticate(presented, found)
    }
}

enum DbError {
    Unavailable(r2d2::Error),
    Query(diesel::result::Error),
}
