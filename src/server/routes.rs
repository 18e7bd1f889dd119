//! The public listener's routes and the headers every answer carries.

use actix_web::http::header;
use actix_web::middleware::DefaultHeaders;
use actix_web::{HttpResponse, guard, web};

use crate::endpoints::{
    discovery, health, introspect, leaks, par, register, revoke, token, userinfo,
};
use crate::pages::{
    self, account, activity, authorize, consent, login, logout, passkeys, password, reset,
    security, sessions, tokens,
};

/// Headers for every response. Pages add their own CSP on top later; JSON answers
/// must never be framed or sniffed either. With an https issuer, browsers are told to
/// use https only for a year (RFC 6797); without one we are not behind TLS and must not.
pub fn security_headers(https: bool) -> DefaultHeaders {
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

/// `GET /`: people who open the server's address land on their account (the sign-in
/// page when nobody is signed in); programs find everything through discovery.
async fn home() -> HttpResponse {
    pages::see_other("/account", actix_web::http::StatusCode::SEE_OTHER).finish()
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", get_or_head().to(home));
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
        web::resource("/credentials/revoke")
            .route(web::post().to(leaks::report))
            .default_service(web::to(token::method_not_allowed)),
    )
    .service(
        web::resource("/introspect")
            .route(web::post().to(introspect::introspect_ep))
            .default_service(web::to(token::method_not_allowed)),
    )
    .service(
        web::resource("/register")
            .route(web::post().to(register::register))
            .default_service(web::to(token::method_not_allowed)),
    )
    .service(
        web::resource("/register/{client_id}")
            .route(web::get().to(register::read))
            .route(web::put().to(register::update))
            .route(web::delete().to(register::delete)),
    )
    .service(
        web::resource("/par")
            .route(web::post().to(par::par_ep))
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
    .service(form_action("/login/mfa", login::mfa_post))
    .service(form_action(
        "/login/passkey",
        passkeys::sign_in::passkey_post,
    ))
    .service(form_action("/passkeys/options", passkeys::options_post))
    .service(form_action(
        "/account/security/passkeys/new",
        passkeys::manage::new_post,
    ))
    .service(form_action(
        "/account/security/passkeys",
        passkeys::manage::create_post,
    ))
    .service(form_action(
        "/account/security/passkeys/remove",
        passkeys::manage::remove_post,
    ))
    .service(form_action("/consent", consent::consent_post))
    .route("/account", get_or_head().to(account::account_get))
    .service(form_action("/account/revoke", account::revoke_post))
    .route(
        "/account/security",
        get_or_head().to(security::security_get),
    )
    .service(form_action(
        "/account/security/enroll",
        security::enroll_post,
    ))
    .service(form_action(
        "/account/security/confirm",
        security::confirm_post,
    ))
    .service(form_action(
        "/account/security/disable",
        security::disable_post,
    ))
    .service(form_action(
        "/account/security/recovery-codes",
        security::recovery_codes_post,
    ))
    .service(form_action(
        "/account/security/password",
        password::password_post,
    ))
    .service(
        web::resource("/reset")
            .app_data(pages::query_config())
            .route(get_or_head().to(reset::reset_get))
            .route(web::post().to(reset::reset_post)),
    )
    .route(
        "/account/security/sessions",
        get_or_head().to(sessions::sessions_get),
    )
    .service(form_action(
        "/account/security/sessions/end",
        sessions::end_post,
    ))
    .service(form_action(
        "/account/security/sessions/end-others",
        sessions::end_others_post,
    ))
    .service(
        web::resource("/account/tokens")
            .route(get_or_head().to(tokens::tokens_get))
            .route(web::post().to(tokens::create_post)),
    )
    .service(form_action("/account/tokens/revoke", tokens::revoke_post))
    .service(
        web::resource("/account/activity")
            .app_data(pages::query_config())
            .route(get_or_head().to(activity::activity_get)),
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
    .route("/assets/passkeys.js", get_or_head().to(passkeys::script))
    .route("/healthz", get_or_head().to(health::healthz))
    .route("/readyz", get_or_head().to(health::readyz))
    .default_service(web::to(not_found));
}

/// A form's action: POST only; any other method gets a page saying so (405 with
/// `Allow`).
fn form_action<F, Args>(path: &str, handler: F) -> actix_web::Resource
where
    F: actix_web::Handler<Args>,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    web::resource(path)
        .route(web::post().to(handler))
        .default_service(web::to(pages::post_only))
}

/// RFC 9110 §9.1: a general-purpose server supports HEAD wherever it supports GET (actix
/// sends the headers of the GET answer without its body).
pub fn get_or_head() -> actix_web::Route {
    web::route().guard(guard::Any(guard::Get()).or(guard::Head()))
}

pub async fn not_found() -> HttpResponse {
    HttpResponse::NotFound().json(serde_json::json!({ "error": "not_found" }))
}
