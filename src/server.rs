//! Building and running the HTTP server: storage, keys, routes, middleware.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::http::header;
use actix_web::middleware::DefaultHeaders;
use actix_web::{App, HttpResponse, HttpServer, guard, web};

use arc_swap::ArcSwap;

use crate::audit::IssuedCounter;
use crate::clock::SharedClock;
use crate::config::Settings;
use crate::endpoints::{discovery, health, introspect, revoke, token, userinfo};
use crate::keys::{Keys, ring, signer};
use crate::oauth::issuer::Issuer;
use crate::oauth::registrar::Registrar;
use crate::pages::{
    self, account, activity, authorize, consent, csrf, device, limits, login, logout, security,
    tokens,
};
use crate::sealed::DataKeys;
use crate::state::{AppState, Precomputed};
use crate::store::{Db, db};
use crate::throttle::Throttle;

/// How often each instance looks for key-set changes made by the CLI or another instance.
pub const KEY_REFRESH_INTERVAL: Duration = Duration::from_secs(2);

pub struct RunningServer {
    pub addr: SocketAddr,
    pub issuer: String,
    pub state: Arc<AppState>,
    handle: ServerHandle,
    task: actix_web::rt::task::JoinHandle<std::io::Result<()>>,
}

impl RunningServer {
    /// Wait until the server stops (Ctrl-C or SIGTERM: in-flight requests finish).
    pub async fn wait(self) -> std::io::Result<()> {
        self.task
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))?
    }

    pub async fn stop(self) {
        self.handle.stop(true).await;
        let _ = self.task.await;
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
        let pool = db::open_pool(&setup.database_url, setup.db_pool_size)
            .map_err(|e| anyhow::anyhow!("database (--database-url / DATABASE_URL): {e}"))?;
        db::migrate(&pool)
            .map_err(|e| anyhow::anyhow!("database (--database-url / DATABASE_URL): {e}"))?;
        refuse_if_shared(&setup.keys_dir)
            .map_err(|e| anyhow::anyhow!("keys (--keys-dir / PORTCULLIS_KEYS_DIR): {e}"))?;
        let data_keys = crate::sealed::DataKeys::load(
            setup.data_key.as_ref().map(|k| k.0.as_str()),
            setup.data_keys_old.as_ref().map(|k| k.0.as_str()),
            &setup.keys_dir,
        )
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut conn = pool
            .get()
            .map_err(|e| anyhow::anyhow!("database (--database-url / DATABASE_URL): {e}"))?;
        let keys_err = |e: crate::keys::KeyError| anyhow::anyhow!("signing keys: {e}");
        let lifetimes = setup.signing_lifetimes();
        let started = ring::initialize(&mut conn, &data_keys, &setup.keys_dir, lifetimes, now)
            .map_err(keys_err)?;
        if let Some(kid) = &started.created {
            tracing::info!(%kid, "created the first signing key (RS256)");
        }
        if started.imported > 0 {
            tracing::info!(
                keys = started.imported,
                dir = %setup.keys_dir.display(),
                "imported the signing keys of the keys directory into the database"
            );
        }
        if started.resealed > 0 {
            tracing::info!(
                keys = started.resealed,
                "resealed signing keys under the current data key"
            );
        }
        let (set, version) = ring::load(&mut conn, &data_keys, now).map_err(keys_err)?;
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

    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .wrap(security_headers(hsts))
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
    actix_web::rt::spawn(watch_keys(state.clone()));
    actix_web::rt::spawn(purge_periodically(state.clone()));
    actix_web::rt::spawn(flush_issued_periodically(state.clone()));
    tracing::info!(%addr, %issuer, "portcullis is serving");
    Ok(RunningServer {
        addr,
        issuer,
        state,
        handle,
        task,
    })
}

/// The keys directory and the data key file are secrets: a server whose keys others can
/// read would sign for them too. Refuse to start rather than run so.
fn refuse_if_shared(keys_dir: &std::path::Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let data_key = keys_dir.join(crate::sealed::KEY_FILE);
    for path in [keys_dir, data_key.as_path()] {
        if let Ok(m) = std::fs::metadata(path)
            && m.permissions().mode() & 0o077 != 0
        {
            return Err(format!(
                "{} is open to other users (mode {:o}); make it readable by the server's user only (chmod {} {})",
                path.display(),
                m.permissions().mode() & 0o777,
                if m.is_dir() { "700" } else { "600" },
                path.display()
            ));
        }
    }
    Ok(())
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
    let default_audience = settings
        .default_audience
        .clone()
        .unwrap_or_else(|| issuer.clone());
    let precomputed = Precomputed::of(&issuer, &keys.current());
    AppState {
        issuer: Issuer::new(issuer, default_audience, keys.clone()),
        registrar: Registrar::new(db.clone(), settings.client_cache_ttl, clock.clone()),
        precomputed: ArcSwap::from_pointee(precomputed),
        login_by_ip: Throttle::new(
            settings
                .login_max_failures
                .saturating_mul(limits::PER_ADDRESS_FACTOR),
            limits::WINDOW,
        ),
        issued: IssuedCounter::default(),
        device_key: data_keys.derive(device::KEY_LABEL),
        csrf_key: data_keys.derive(csrf::KEY_LABEL),
        data_keys: Arc::new(data_keys),
        keys,
        db,
        clock,
        settings,
    }
}

/// Reload the key set if it changed (or a retired key's window ended), and with it the
/// JWKS. Blocking database work: call from a blocking context. Returns whether it
/// changed.
pub fn reload_keys(state: &AppState, now: i64) -> Result<bool, crate::keys::KeyError> {
    let mut conn = state
        .db
        .pool()
        .get()
        .map_err(|e| crate::keys::KeyError::Import(format!("no database connection: {e}")))?;
    if !state.keys.refresh(&mut conn, &state.data_keys, now)? {
        return Ok(false);
    }
    let current = state.keys.current();
    state
        .precomputed
        .store(Arc::new(Precomputed::of(&state.issuer.id, &current)));
    tracing::info!(kid = %current.signing().kid, "key set reloaded");
    Ok(true)
}

/// Pick up key rotations made elsewhere and drop retired keys whose time has come.
async fn watch_keys(state: Arc<AppState>) {
    loop {
        actix_web::rt::time::sleep(KEY_REFRESH_INTERVAL).await;
        let s = state.clone();
        let now = state.clock.now();
        match web::block(move || reload_keys(&s, now)).await {
            Ok(Ok(true)) => {}
            Ok(Ok(false)) => {}
            Ok(Err(e)) => {
                tracing::error!(error = %e, "cannot reload the key set; keeping the current one")
            }
            Err(e) => tracing::error!(error = %e, "key refresh task failed"),
        }
    }
}

/// How often `serve` deletes expired codes, sessions, revocation records and families.
pub const PURGE_INTERVAL: Duration = Duration::from_secs(600);

/// How often the coalesced `token.issued` counts are written to the audit trail.
pub const ISSUED_FLUSH_INTERVAL: Duration = Duration::from_secs(60);

async fn flush_issued_periodically(state: Arc<AppState>) {
    loop {
        actix_web::rt::time::sleep(ISSUED_FLUSH_INTERVAL).await;
        flush_issued(&state).await;
    }
}

pub async fn flush_issued(state: &Arc<AppState>) {
    let now = state.clock.now();
    let s = state.clone();
    if let Err(e) = state.db.run(move |conn| s.issued.flush(conn, now)).await {
        tracing::warn!(error = %e, "cannot write issued-token counts; will retry");
    }
}

async fn purge_periodically(state: Arc<AppState>) {
    loop {
        actix_web::rt::time::sleep(PURGE_INTERVAL).await;
        let now = state.clock.now();
        let (ttl, idle) = (
            state.settings.access_token_ttl,
            state.settings.session_idle_ttl,
        );
        let keep = state.settings.audit_retention_days;
        match state
            .db
            .run(move |conn| crate::store::purge::run(conn, now, ttl, idle, keep))
            .await
        {
            Ok(p) => tracing::debug!(?p, "purged"),
            Err(e) => tracing::warn!(error = %e, "purge failed; will retry"),
        }
    }
}

/// Headers for every response. Pages add their own CSP on top later; JSON answers
/// must never be framed or sniffed either. With an https issuer, browsers are told to
/// use https only for a year (RFC 6797); without one we are not behind TLS and must not.
fn security_headers(https: bool) -> DefaultHeaders {
    let headers = DefaultHeaders::new();
    let headers = if https {
        headers.add((header::STRICT_TRANSPORT_SECURITY, "max-age=31536000"))
    } else {
        headers
    };
    headers
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; frame-ancestors 'none'",
        ))
        .add((header::REFERRER_POLICY, "no-referrer"))
        .add((header::CACHE_CONTROL, "no-store"))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/token")
            .route(web::post().to(token::token_ep))
            .default_service(web::to(token::method_not_allowed)),
    )
    .service(
        web::resource([
            "/.well-known/openid-configuration",
            "/.well-known/oauth-authorization-server",
        ])
        .route(get_or_head().to(discovery::metadata)),
    )
    .service(web::resource("/jwks.json").route(get_or_head().to(discovery::jwks)))
    .service(
        web::resource("/revoke")
            .route(web::post().to(revoke::revoke_ep))
            .default_service(web::to(token::method_not_allowed)),
    )
    .service(
        web::resource("/introspect")
            .route(web::post().to(introspect::introspect_ep))
            .default_service(web::to(token::method_not_allowed)),
    )
    .service(
        web::resource("/authorize")
            .route(get_or_head().to(authorize::authorize_get))
            .route(web::post().to(authorize::authorize_post)),
    )
    .service(
        web::resource("/userinfo")
            .route(get_or_head().to(userinfo::userinfo_get))
            .route(web::post().to(userinfo::userinfo_post)),
    )
    .service(
        web::resource("/login")
            .route(get_or_head().to(login::login_get))
            .route(web::post().to(login::login_post)),
    )
    .route("/login/mfa", web::post().to(login::mfa_post))
    .route("/consent", web::post().to(consent::consent_post))
    .route("/account", get_or_head().to(account::account_get))
    .route("/account/revoke", web::post().to(account::revoke_post))
    .route(
        "/account/security",
        get_or_head().to(security::security_get),
    )
    .route(
        "/account/security/enroll",
        web::post().to(security::enroll_post),
    )
    .route(
        "/account/security/confirm",
        web::post().to(security::confirm_post),
    )
    .route(
        "/account/security/disable",
        web::post().to(security::disable_post),
    )
    .route(
        "/account/security/recovery-codes",
        web::post().to(security::recovery_codes_post),
    )
    .service(
        web::resource("/account/tokens")
            .route(get_or_head().to(tokens::tokens_get))
            .route(web::post().to(tokens::create_post)),
    )
    .route(
        "/account/tokens/revoke",
        web::post().to(tokens::revoke_post),
    )
    .route(
        "/account/activity",
        get_or_head().to(activity::activity_get),
    )
    .service(
        web::resource("/logout")
            .route(get_or_head().to(logout::logout_get))
            .route(web::post().to(logout::logout_post)),
    )
    .route(
        "/assets/portcullis.css",
        get_or_head().to(pages::stylesheet),
    )
    .route("/healthz", get_or_head().to(health::healthz))
    .route("/readyz", get_or_head().to(health::readyz))
    .default_service(web::to(not_found));
}

/// RFC 9110 §9.1: a general-purpose server supports HEAD wherever it supports GET (actix
/// sends the headers of the GET answer without its body).
fn get_or_head() -> actix_web::Route {
    web::route().guard(guard::Any(guard::Get()).or(guard::Head()))
}

async fn not_found() -> HttpResponse {
    HttpResponse::NotFound().json(serde_json::json!({ "error": "not_found" }))
}
