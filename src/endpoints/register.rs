//! Dynamic client registration (RFC 7591) at `POST /register`, and the management of a
//! registration (RFC 7592) at its `registration_client_uri`, `/register/{client_id}`,
//! with the registration access token it was given.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use crate::config::Registration;
use crate::oauth::clients::registrar;
use crate::oauth::clients::registration::{self, MetadataError, Policy, Submitted};
use crate::oauth::clients::{Introspection, RegisteredBy};
use crate::secret;
use crate::state::AppState;
use crate::store::audit::Event;
use crate::store::db::write_transaction;
use crate::store::{clients, registration as tokens};
use crate::web::{form, origin};

/// The largest registration we read: a JWK Set of a few keys and a dozen URIs.
const MAX_BODY: usize = 64 * 1024;
/// Open registrations one address may make per `OPEN_WINDOW` seconds.
pub const OPEN_PER_ADDRESS: u32 = 20;
pub const OPEN_WINDOW: i64 = 3600;

fn answer(status: StatusCode, body: serde_json::Value) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(body)
}

fn error(status: StatusCode, error: &str, description: &str) -> HttpResponse {
    answer(
        status,
        json!({ "error": error, "error_description": description }),
    )
}

/// RFC 6750 §3: a bad bearer token (an initial or registration access token): 401 with
/// the challenge.
fn unauthorized(description: &str) -> HttpResponse {
    challenge(description, true)
}

/// RFC 6750 §3.1: a request without any token gets the bare challenge, no error code.
fn no_token(description: &str) -> HttpResponse {
    challenge(description, false)
}

fn challenge(description: &str, with_error: bool) -> HttpResponse {
    let mut res = error(StatusCode::UNAUTHORIZED, "invalid_token", description);
    let realm = crate::oauth::error::REALM;
    let challenge = if with_error {
        format!("Bearer realm=\"{realm}\", error=\"invalid_token\"")
    } else {
        format!("Bearer realm=\"{realm}\"")
    };
    if let Ok(v) = header::HeaderValue::from_str(&challenge) {
        res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    res
}

fn unavailable() -> HttpResponse {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "temporarily_unavailable",
        "try again in a moment",
    )
}

/// The bearer token of the request, if it sent one; what is wrong with the header
/// otherwise (answered with `unauthorized`).
fn bearer(req: &HttpRequest) -> Result<Option<String>, &'static str> {
    let Some(v) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let v = v.to_str().map_err(|_| "malformed Authorization header")?;
    match v.split_once(' ') {
        Some((scheme, t)) if scheme.eq_ignore_ascii_case("bearer") && !t.trim().is_empty() => {
            Ok(Some(t.trim().to_string()))
        }
        _ => Err("use the Bearer scheme"),
    }
}

async fn audit(state: &AppState, req: &HttpRequest, event: Event) {
    let (ip, ua) = origin::origin(req, &state.settings.trusted_proxies);
    crate::audit::record(&state.db, event.from_addr(ip, ua), state.clock.now()).await;
}

async fn refuse(state: &AppState, req: &HttpRequest, e: MetadataError) -> HttpResponse {
    let (ip, ua) = origin::origin(req, &state.settings.trusted_proxies);
    let event = Event::new("client.registration_refused", "refused")
        .detail("error", e.error)
        .detail("reason", e.description.clone())
        .from_addr(ip, ua);
    crate::audit::record_refusal(&state.db, event, state.clock.now()).await;
    error(StatusCode::BAD_REQUEST, e.error, &e.description)
}

/// RFC 7591 §2: a value the server does not support is refused at registration, not
/// discovered at the first code exchange (as a `server_error`).
fn id_token_key(
    state: &AppState,
    valid: &crate::oauth::clients::ValidClientRequest,
) -> Result<(), MetadataError> {
    if state.settings.profile == crate::config::Profile::Fapi2
        && valid.id_token_alg == crate::keys::KeyAlg::RS256
        && valid
            .grant_types
            .contains(&crate::oauth::clients::GrantType::AuthorizationCode)
    {
        // FAPI 2.0 §5.4.1: PS256, ES256 or EdDSA; its sign-ins would be refused anyway.
        return Err(MetadataError {
            error: "invalid_client_metadata",
            description: "id_token_signed_response_alg: the FAPI 2.0 profile does not sign with RS256; use ES256 or EdDSA".into(),
        });
    }
    if state.keys.current().active(valid.id_token_alg).is_some() {
        return Ok(());
    }
    Err(MetadataError {
        error: "invalid_client_metadata",
        description: format!(
            "id_token_signed_response_alg: this server has no {} signing key",
            valid.id_token_alg.as_str()
        ),
    })
}

async fn body(req: &HttpRequest, payload: web::Payload) -> Result<Submitted, HttpResponse> {
    let bytes = form::read_json(req, payload, MAX_BODY).await.map_err(|e| {
        let status = match e {
            form::FormError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::BAD_REQUEST,
        };
        error(status, "invalid_client_metadata", &e.to_string())
    })?;
    registration::parse(&bytes).map_err(|e| error(StatusCode::BAD_REQUEST, e.error, &e.description))
}

/// `POST /register`.
pub async fn register(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let mode = state.settings.registration;
    if mode == Registration::Off {
        return error(StatusCode::NOT_FOUND, "not_found", "no such endpoint");
    }
    let now = state.clock.now();
    // An initial access token registers with the operator's trust; without one, only
    // open registration, throttled per address.
    let initial = match bearer(&req) {
        Ok(t) => t,
        Err(why) => return unauthorized(why),
    };
    if initial.is_none() {
        if mode == Registration::Token {
            return no_token("an initial access token is required (RFC 7591 §3)");
        }
        let key = origin::address_key(&req, &state.settings.trusted_proxies);
        if let Err(wait) = state.registrations_by_ip.reserve(&key, now) {
            crate::metrics::throttled("registration");
            let mut res = error(
                StatusCode::TOO_MANY_REQUESTS,
                "temporarily_unavailable",
                "too many registrations from this address",
            );
            if let Ok(v) = header::HeaderValue::from_str(&wait.max(1).to_string()) {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return res;
        }
    }
    // The token first: a request without a live one learns nothing about its body and
    // writes nothing (its use is spent later, with the client, in one transaction).
    if let Some(t) = &initial {
        let hash = secret::hash(t);
        match state
            .db
            .run(move |conn| tokens::live(conn, &hash, now))
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                return unauthorized(
                    "the initial access token is unknown, expired, revoked or used up",
                );
            }
            Err(e) => {
                tracing::error!(error = %e, "registration token check failed");
                return unavailable();
            }
        }
    }
    let submitted = match body(&req, payload).await {
        Ok(s) => s,
        Err(res) => return res,
    };
    let policy = Policy {
        open: initial.is_none(),
        open_scopes: state.settings.registration_scopes.clone(),
    };
    let valid = match submitted.validate(&policy) {
        Ok(v) => v,
        Err(e) => return refuse(&state, &req, e).await,
    };
    if let Err(e) = id_token_key(&state, &valid) {
        return refuse(&state, &req, e).await;
    }
    // The token's use and the client are one unit: a refused insert spends nothing,
    // and a token for one use registers one client however many requests race.
    let token_hash = initial.as_deref().map(secret::hash);
    let jwks = valid.jwks.clone();
    let registered = state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let (by, introspection) = match &token_hash {
                    None => (RegisteredBy::Open, Introspection::Own),
                    Some(h) => match tokens::spend(conn, h, now)? {
                        Some((id, any)) => (
                            RegisteredBy::RegistrationToken(id),
                            if any {
                                Introspection::Any
                            } else {
                                Introspection::Own
                            },
                        ),
                        None => return Ok(None),
                    },
                };
                registrar::register_self(conn, &valid, by, introspection, now).map(Some)
            })
        })
        .await;
    let registered = match registered {
        Ok(Some(r)) => r,
        Ok(None) => {
            return unauthorized(
                "the initial access token is unknown, expired, revoked or used up",
            );
        }
        Err(e) => {
            tracing::error!(error = %e, "registration failed");
            return unavailable();
        }
    };
    let event = Event::new("client.registered", "success")
        .client(registered.client.client_id.clone())
        .detail("registered_by", registered.client.registered_by.to_string());
    audit(&state, &req, event).await;
    answer(
        StatusCode::CREATED,
        registration::to_json(
            &registered.client,
            jwks.as_deref(),
            registered.secret.as_ref().map(|s| s.0.as_str()),
            Some(&registered.registration_access_token),
            &state.issuer.id,
        ),
    )
}

/// The client `client_id` if the request carries its registration access token; the
/// same 401 otherwise, whether or not the client exists (RFC 7592 §2).
async fn managed(
    req: &HttpRequest,
    state: &AppState,
    client_id: &str,
) -> Result<std::sync::Arc<crate::oauth::clients::Client>, HttpResponse> {
    if state.settings.registration == Registration::Off {
        return Err(error(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such endpoint",
        ));
    }
    let denied = || unauthorized("the registration access token is not valid for this client");
    let token = bearer(req)
        .map_err(unauthorized)?
        .ok_or_else(|| no_token("send the registration access token (RFC 7592 §2)"))?;
    let client = state
        .registrar
        .fresh(client_id)
        .await
        .map_err(|_| unavailable())?;
    let presented = secret::hash(&token);
    match client {
        Some(c)
            if c.registration_token_hash
                .as_deref()
                .is_some_and(|h| secret::ct_eq(h.as_bytes(), presented.as_bytes())) =>
        {
            Ok(c)
        }
        _ => Err(denied()),
    }
}

/// `GET /register/{client_id}` (RFC 7592 §2.1): never the secret.
pub async fn read(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let c = match managed(&req, &state, &path).await {
        Ok(c) => c,
        Err(res) => return res,
    };
    let id = c.client_id.clone();
    let jwks = match state.db.run(move |conn| clients::find(conn, &id)).await {
        Ok(row) => row.and_then(|r| r.jwks),
        Err(e) => {
            tracing::error!(error = %e, "registration read failed");
            return unavailable();
        }
    };
    answer(
        StatusCode::OK,
        registration::to_json(&c, jwks.as_deref(), None, None, &state.issuer.id),
    )
}

/// `PUT /register/{client_id}` (RFC 7592 §2.2): the whole metadata again, validated as at
/// registration, within the policy it registered under; a new registration access
/// token in the answer.
pub async fn update(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let current = match managed(&req, &state, &path).await {
        Ok(c) => c,
        Err(res) => return res,
    };
    let submitted = match body(&req, payload).await {
        Ok(s) => s,
        Err(res) => return res,
    };
    if submitted.client_id.as_deref() != Some(current.client_id.as_str()) {
        return refuse(
            &state,
            &req,
            MetadataError {
                error: "invalid_client_metadata",
                description: "client_id must be the registered client's".into(),
            },
        )
        .await;
    }
    if let (Some(given), Some(hash)) = (&submitted.client_secret, &current.secret_hash)
        && !secret::verify(given, hash)
    {
        return refuse(
            &state,
            &req,
            MetadataError {
                error: "invalid_client_metadata",
                description: "client_secret is not the client's".into(),
            },
        )
        .await;
    }
    let policy = Policy {
        open: current.registered_by == RegisteredBy::Open,
        open_scopes: state.settings.registration_scopes.clone(),
    };
    let valid = match submitted.validate(&policy) {
        Ok(v) => v,
        Err(e) => return refuse(&state, &req, e).await,
    };
    if let Err(e) = registration::never_weaker(&current, &valid) {
        return refuse(&state, &req, e).await;
    }
    if let Err(e) = id_token_key(&state, &valid) {
        return refuse(&state, &req, e).await;
    }
    let now = state.clock.now();
    let jwks = valid.jwks.clone();
    let c = current.clone();
    let updated = state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| registrar::update_self(conn, &c, &valid, now))
        })
        .await;
    state.registrar.forget(&current.client_id);
    match updated {
        Ok(Some(u)) => {
            let event = Event::new("client.updated", "success").client(u.client.client_id.clone());
            audit(&state, &req, event).await;
            answer(
                StatusCode::OK,
                registration::to_json(
                    &u.client,
                    jwks.as_deref(),
                    u.secret.as_ref().map(|s| s.0.as_str()),
                    Some(&u.registration_access_token),
                    &state.issuer.id,
                ),
            )
        }
        Ok(None) => unauthorized("the registration access token is not valid for this client"),
        Err(e) => {
            tracing::error!(error = %e, "registration update failed");
            unavailable()
        }
    }
}

/// `DELETE /register/{client_id}` (RFC 7592 §2.3): the client, its consents, codes and
/// refresh tokens go; its access tokens are inactive at once.
pub async fn delete(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let current = match managed(&req, &state, &path).await {
        Ok(c) => c,
        Err(res) => return res,
    };
    let id = current.client_id.clone();
    let Some(rat) = current.registration_token_hash.clone() else {
        return unauthorized("the registration access token is not valid for this client");
    };
    let deleted = state
        .db
        .run(move |conn| clients::delete_registered(conn, &id, &rat))
        .await;
    state.registrar.forget(&current.client_id);
    match deleted {
        Ok(false) => unauthorized("the registration access token is not valid for this client"),
        Ok(true) => {
            let event = Event::new("client.deleted", "success")
                .client(current.client_id.clone())
                .detail("by", "registration access token");
            audit(&state, &req, event).await;
            HttpResponse::NoContent()
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .finish()
        }
        Err(e) => {
            tracing::error!(error = %e, "registration delete failed");
            unavailable()
        }
    }
}
