//! How every page is answered: the headers (anti-framing, a CSP without scripts, no
//! referrer, no caching), rendering, redirects, the error page and 429s.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpResponse, HttpResponseBuilder};
use askama::Template;

use super::templates::ErrorPage;

/// No script at all; styles only from our own stylesheet. No `form-action`: after the
/// consent form, the browser must follow our redirect to the client's redirect URI.
pub const PAGE_CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'";

/// The pages that offer passkeys: our one script (`/assets/passkeys.js`), which may
/// fetch ceremony options from us, and nothing else.
pub const PAGE_CSP_WITH_SCRIPT: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'";

/// Let `res` (a page) run our script, when `script` says it includes it.
pub fn with_script(mut res: HttpResponse, script: bool) -> HttpResponse {
    if script {
        res.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            header::HeaderValue::from_static(PAGE_CSP_WITH_SCRIPT),
        );
    }
    res
}

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

/// A form's action opened with another method than POST (its URL typed in, or a page
/// reloaded after a refusal): a page saying so, 405 with `Allow` (RFC 9110 §15.5.6).
pub async fn post_only() -> HttpResponse {
    let mut res = error_page(
        StatusCode::METHOD_NOT_ALLOWED,
        "This address takes a form",
        "Go back to the page with the form and send it from there.",
    );
    res.headers_mut()
        .insert(header::ALLOW, header::HeaderValue::from_static("POST"));
    res
}

/// Query strings of pages that cannot be read (a repeated or malformed parameter) get
/// the error page, not the framework's plain-text message naming its parser.
pub fn query_config() -> actix_web::web::QueryConfig {
    actix_web::web::QueryConfig::default().error_handler(|err, _req| {
        let page = error_page(
            StatusCode::BAD_REQUEST,
            "This address is not right",
            "Part of the address could not be read. Go back and follow the link again.",
        );
        actix_web::error::InternalError::from_response(err, page).into()
    })
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

/// A 429 page with `Retry-After` (RFC 6585 §4).
pub fn too_many(mut res: HttpResponse, wait: i64) -> HttpResponse {
    if let Ok(v) = header::HeaderValue::from_str(&wait.max(1).to_string()) {
        res.headers_mut().insert(header::RETRY_AFTER, v);
    }
    res
}
