//! Building and running the server: storage, keys, the state, the listeners (public and
//! metrics) and the background tasks.

mod outbox;
mod routes;
mod tasks;

pub use routes::routes;
pub use tasks::{KEY_REFRESH_INTERVAL, flush_issued, reload_keys};

use routes::{get_or_head, not_found, security_headers};

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use actix_web::dev::ServerHandle;
use actix_web::middleware::{self};
use actix_web::{App, HttpServer, web};

use arc_swap::ArcSwap;

use crate::audit::IssuedCounter;
use crate::clock::SharedClock;
use crate::config::Settings;
use crate::endpoints::{health, metrics, register};
use crate::keys::KeyAlg;
use crate::keys::{Keys, ring, signer};
use crate::oauth::clients::registrar::Registrar;
use crate::oauth::dpop::{self, Nonces};
use crate::oauth::issuer::Issuer;
use crate::pages::{csrf, device, limits, passkeys as passkey_pages};
use crate::sealed::DataKeys;
use crate::state::{AppState, Precomputed};
use crate::store::{Db, db};
use crate::throttle::Throttle;
use crate::web::observe;

pub struct RunningServer {
    pub addr: SocketAddr,
    pub issuer: String,
    /// Where the metrics listener is bound, when it is on.
    pub metrics_addr: Option<SocketAddr>,
    pub state: Arc<AppState>,
    handle: ServerHandle,
    task: actix_web::rt::task::JoinHandle<std::io::Result<()>>,
    metrics: Option<ServerHandle>,
}

impl RunningServer {
    /// Wait until the server stops (Ctrl-C or SIGTERM: in-flight requests finish).
    /// The issuance counts of the last minute are written before it returns: a rolling
    /// deploy stops instances this way, and must not lose them.
    pub async fn wait(self) -> std::io::Result<()> {
        let served = self
            .task
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        if let Some(m) = &self.metrics {
            m.stop(true).await;
        }
        flush_issued(&self.state).await;
        served
    }

    pub async fn stop(self) {
        if let Some(m) = &self.metrics {
            m.stop(true).await;
        }
        self.handle.stop(true).await;
        let _ = self.task.await;
        flush_issued(&self.state).await;
    }
}

/// `portcullis serve`: run until Ctrl-C or SIGTERM (in-flight requests finish).
pub fn serve(settings: Settings) -> anyhow::Result<()> {
    actix_web::rt::System::new().block_on(async move {
        let running = start(settings, Arc::new(crate::clock::SystemClock)).await?;
        running.wait().await?;
        Ok(())
    })
}

/// Open storage and keys, bind, and start serving. Everything that can be wrong with
/// the configuration is reported here, before the first request.
pub async fn start(settings: Settings, clock: SharedClock) -> anyhow::Result<RunningServer> {
    signer::install();
    let listener = TcpListener::bind(settings.bind)
        .map_err(|e| anyhow::anyhow!("bind (--bind / PORTCULLIS_BIND): {}: {e}", settings.bind))?;
    let addr = listener.local_addr()?;
    let issuer = settings
        .issuer
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));

    let setup = settings.clone();
    let now = clock.now();
    let (pool, keys, data_keys) = web::block(move || -> anyhow::Result<_> {
        let db_err = |e: db::DbSetupError| anyhow::anyhow!("database (--database-url / DATABASE_URL): {e}");
        // Everything that may refuse the start runs over one plain connection; the pool
        // (with its background threads) is built only once all of it has passed.
        let mut conn = db::connect(&setup.database_url).map_err(db_err)?;
        let applied = crate::store::upgrade::migrate(&mut conn).map_err(db_err)?;
        if applied > 0 {
            tracing::info!(migrations = applied, "applied database migrations");
        }
        crate::sealed::ensure_private(&setup.keys_dir)
            .map_err(|e| anyhow::anyhow!("keys (--keys-dir / PORTCULLIS_KEYS_DIR): {e}"))?;
        // A database that already holds keys was sealed with some data key: a new key
        // file would open nothing (a restored backup, a new keys directory).
        let missing = if ring::records(&mut conn).map_err(|e| anyhow::anyhow!("signing keys: {e}"))?.is_empty() {
            crate::sealed::Missing::Create
        } else {
            crate::sealed::Missing::Refuse
        };
        let data_keys = crate::sealed::DataKeys::load(
            setup.data_key.as_ref().map(|k| k.0.as_str()),
            setup.data_keys_old.as_ref().map(|k| k.0.as_str()),
            &setup.keys_dir,
            missing,
        )
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        let keys_err = |e: crate::keys::KeyError| anyhow::anyhow!("signing keys: {e}");
        let lifetimes = setup.signing_lifetimes();
        // FAPI 2.0 §5.4.1 allows PS256, ES256 and EdDSA only.
        let fapi2 = setup.profile == crate::config::Profile::Fapi2;
        let first_alg = if fapi2 { KeyAlg::ES256 } else { KeyAlg::RS256 };
        let started = ring::initialize(
            &mut conn,
            &data_keys,
            &setup.keys_dir,
            lifetimes,
            first_alg,
            now,
        )
        .map_err(keys_err)?;
        if let Some(kid) = &started.created {
            tracing::info!(%kid, alg = first_alg.as_str(), "created the first signing key");
        }
        if started.imported > 0 {
            tracing::info!(
                keys = started.imported,
                dir = %setup.keys_dir.display(),
                "imported the signing keys of the keys directory into the database; once the database is backed up, the PEM files and manifest there are no longer read and may be deleted"
            );
        }
        if started.resealed > 0 {
            tracing::info!(
                keys = started.resealed,
                "resealed signing keys under the current data key"
            );
        }
        let bound = crate::mfa::sealing::bind_unbound(&mut conn, &data_keys)
            .map_err(|e| anyhow::anyhow!("database: {e}"))?;
        if bound > 0 {
            tracing::info!(
                secrets = bound,
                "bound the sealed TOTP secrets to their people"
            );
        }
        let (set, version) = ring::load(&mut conn, &data_keys, now).map_err(keys_err)?;
        if fapi2 && set.signing().alg == KeyAlg::RS256 {
            return Err(anyhow::anyhow!(
                "signing keys: the FAPI 2.0 profile does not sign with RS256; run `portcullis keys rotate --alg ES256` (or EdDSA) first"
            ));
        }
        drop(conn);
        let pool = db::open_pool(&setup.database_url, setup.db_pool_size).map_err(db_err)?;
        Ok((pool, Keys::new(set, version), data_keys))
    })
    .await??;

    let workers = settings.workers;
    let state = Arc::new(build_state(
        settings,
        issuer.clone(),
        pool,
        keys,
        clock,
        data_keys,
    ));
    let data = web::Data::from(state.clone());
    let hsts = state.settings.secure_cookies();
    let trusted = Arc::new(state.settings.trusted_proxies.clone());
    let metrics_bind = state.settings.metrics_bind;

    let mut server = HttpServer::new(move || {
        let trusted = trusted.clone();
        App::new()
            .app_data(data.clone())
            .wrap(security_headers(hsts))
            .wrap(middleware::from_fn(move |req, next| {
                observe::observe(trusted.clone(), req, next)
            }))
            .configure(routes)
    })
    .listen(listener)?
    .shutdown_timeout(30);
    if let Some(n) = workers {
        server = server.workers(n);
    }
    let server = server.run();
    let handle = server.handle();
    let task = actix_web::rt::spawn(server);
    let metrics = match metrics_bind {
        Some(bind) => Some(metrics_listener(bind, state.clone())?),
        None => None,
    };
    tasks::spawn(&state);
    tracing::info!(%addr, %issuer, "portcullis is serving");
    Ok(RunningServer {
        addr,
        issuer,
        metrics_addr: metrics.as_ref().map(|m| m.0),
        state,
        handle,
        task,
        metrics: metrics.map(|m| m.1),
    })
}

/// The second listener, for the people who run us: metrics and health, never on the
/// public listener.
fn metrics_listener(
    bind: SocketAddr,
    state: Arc<AppState>,
) -> anyhow::Result<(SocketAddr, ServerHandle)> {
    let handle = crate::metrics::install()
        .ok_or_else(|| anyhow::anyhow!("metrics: another metrics recorder is installed"))?;
    let listener = TcpListener::bind(bind).map_err(|e| {
        anyhow::anyhow!("metrics bind (--metrics-bind / PORTCULLIS_METRICS_BIND): {bind}: {e}")
    })?;
    let addr = listener.local_addr()?;
    let state_trusted = state.settings.trusted_proxies.clone();
    let data = web::Data::from(state);
    let prometheus = web::Data::new(handle);
    let trusted = Arc::new(state_trusted);
    let server = HttpServer::new(move || {
        let trusted = trusted.clone();
        App::new()
            .app_data(data.clone())
            .app_data(prometheus.clone())
            .wrap(middleware::from_fn(move |req, next| {
                observe::observe(trusted.clone(), req, next)
            }))
            .route("/metrics", get_or_head().to(metrics::metrics_get))
            .route("/healthz", get_or_head().to(health::healthz))
            .route("/readyz", get_or_head().to(health::readyz))
            .default_service(web::to(not_found))
    })
    .listen(listener)?
    .workers(1)
    .shutdown_timeout(5)
    .run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    tracing::info!(%addr, "metrics are served");
    Ok((addr, handle))
}

fn build_state(
    settings: Settings,
    issuer: String,
    pool: crate::store::DbPool,
    keys: Keys,
    clock: SharedClock,
    data_keys: DataKeys,
) -> AppState {
    let db = Db::new(pool);
    let keys = Arc::new(keys);
    let nonce_issuer = issuer.clone();
    let default_audience = settings
        .default_audience
        .clone()
        .unwrap_or_else(|| issuer.clone());
    let precomputed = Precomputed::of(&issuer, &settings, &keys.current());
    let registrar = Registrar::new(
        db.clone(),
        settings.client_cache_ttl,
        clock.clone(),
        &issuer,
        settings.profile == crate::config::Profile::Fapi2,
    );
    AppState {
        issuer: Issuer::new(issuer, default_audience, keys.clone()),
        registrar,
        precomputed: ArcSwap::from_pointee(precomputed),
        login_by_ip: Throttle::new(
            settings
                .login_max_failures
                .saturating_mul(limits::PER_ADDRESS_FACTOR),
            limits::WINDOW,
        ),
        flows_by_ip: Throttle::new(limits::FLOW_KB_PER_ADDRESS, limits::FLOWS_WINDOW),
        registrations_by_ip: Throttle::new(register::OPEN_PER_ADDRESS, register::OPEN_WINDOW),
        issued: IssuedCounter::default(),
        passkeys: passkey_relying_party(&nonce_issuer),
        ceremonies_by_ip: Throttle::new(passkey_pages::PER_ADDRESS, passkey_pages::WINDOW),
        outbound: crate::web::outbound::Outbound::new(crate::oauth::backchannel::TIMEOUT),
        device_key: data_keys.derive(device::KEY_LABEL),
        csrf_key: data_keys.derive(csrf::KEY_LABEL),
        dpop_nonces: settings
            .dpop_nonce
            .then(|| Nonces::new(data_keys.derive(dpop::NONCE_KEY_LABEL), &nonce_issuer)),
        data_keys: Arc::new(data_keys),
        keys,
        db,
        clock,
        settings,
    }
}

/// Passkeys are on when the issuer has a host name; otherwise the log says why not.
fn passkey_relying_party(issuer: &str) -> Option<Arc<crate::mfa::passkeys::RelyingParty>> {
    match crate::mfa::passkeys::RelyingParty::for_issuer(issuer) {
        Ok(rp) => Some(Arc::new(rp)),
        Err(why) => {
            tracing::warn!("passkeys are off: {why}");
            None
        }
    }
}
