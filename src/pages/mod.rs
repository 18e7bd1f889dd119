//! Server-rendered pages for people: sign-in, consent, connected apps, errors.
//!
//! Every page is sent with anti-framing headers, a strict CSP without scripts, no
//! referrer and no caching. Forms carry a CSRF token (double-submit cookie).

pub mod account;
pub mod activity;
pub mod consent;
pub mod csrf;
pub mod device;
pub mod limits;
pub mod login;
pub mod logout;
pub mod second_factor;
pub mod security;
pub mod session;
pub mod sudo;
pub mod templates;
pub mod tokens;

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpResponse, HttpResponseBuilder};
use askama::Template;

use templates::ErrorPage;

/// No script at all; styles only from our own stylesheet. No `form-action`: after the
/// consent form, the browser must follow our redirect to the client's redirect URI.
pub const PAGE_CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'";

pub fn page_builder(status: StatusCode) -> HttpResponseBuilder {
    let mut b = HttpResponse::build(status);
    b.content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::CONTENT_SECURITY_POLICY, PAGE_CSP))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
    b
}

/// Render a template into a complete response; a template error becomes a plain 500.
pub fn render(mut builder: HttpResponseBuilder, page: &impl Template) -> HttpResponse {
    match page.render() {
        Ok(body) => builder.body(body),
        Err(e) => {
            tracing::error!(error = %e, "template rendering failed");
            page_builder(StatusCode::INTERNAL_SERVER_ERROR).body("Internal error")
        }
    }
}

pub fn error_page(status: StatusCode, title: &str, message: &str) -> HttpResponse {
    render(page_builder(status), &ErrorPage { title, message })
}

/// The page for failures of ours (database down, and so on): nothing internal shown.
pub fn unavailable_page() -> HttpResponse {
    error_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Something went wrong",
        "The service could not complete your request. Please try again in a moment.",
    )
}

/// A redirect that is not cached and leaks no referrer.
pub fn see_other(location: &str, status: StatusCode) -> HttpResponseBuilder {
    let mut b = HttpResponse::build(status);
    b.insert_header((header::LOCATION, location.to_string()))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"));
    b
}

pub async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(include_str!("../../templates/portcullis.css"))
}

/// The signed-in person for an account page, or the response to send instead (the
/// sign-in page, or an error page).
pub async fn signed_in(
    state: &crate::state::AppState,
    req: &actix_web::HttpRequest,
) -> Result<(crate::store::sessions::Session, crate::store::users::User), HttpResponse> {
    match session::current(state, req).await {
        Ok(Some(s)) => Ok(s),
        Ok(None) => Err(see_other("/login", StatusCode::SEE_OTHER).finish()),
        Err(_) => Err(unavailable_page()),
    }
}

/// The page for a form body we could not read, with the status of why: too large
/// (413), too slow to arrive (408), or malformed (400).
pub fn unreadable_form(err: &crate::oauth::error::OAuthError) -> HttpResponse {
    let status = match err.status {
        s @ (StatusCode::PAYLOAD_TOO_LARGE | StatusCode::REQUEST_TIMEOUT) => s,
        _ => StatusCode::BAD_REQUEST,
    };
    error_page(status, "Please try again", "The form could not be read.")
}

/// The page shown when a form's CSRF token does not match.
pub fn stale_form() -> HttpResponse {
    error_page(
        StatusCode::FORBIDDEN,
        "Please try again",
        "This form expired or did not come from this site. Reload the page and try again.",
    )
}

/// Render `page` with the CSRF cookie set when it is new.
pub fn render_with(
    new_cookie: Option<actix_web::cookie::Cookie<'static>>,
    status: StatusCode,
    page: &impl Template,
) -> HttpResponse {
    let mut b = page_builder(status);
    if let Some(c) = new_cookie {
        b.cookie(c);
    }
    render(b, page)
}

/// A form POST from a signed-in person: the body, its CSRF check, and who they are.
pub async fn signed_in_form(
    state: &crate::state::AppState,
    req: &actix_web::HttpRequest,
    payload: actix_web::web::Payload,
) -> Result<
    (
        crate::endpoints::form::Form,
        crate::store::sessions::Session,
        crate::store::users::User,
    ),
    HttpResponse,
> {
    let form = crate::endpoints::form::read(req, payload)
        .await
        .map_err(|e| unreadable_form(&e))?;
    if !csrf::verify(state, req, form.get("csrf")) {
        return Err(stale_form());
    }
    let (session, user) = signed_in(state, req).await?;
    Ok((form, session, user))
}
