//! The page error: what a page handler answers when it cannot go on. Each variant renders
//! one error page, sends the person to sign in, or (`ToClient`) sends an error back to a
//! client's registered redirect URI, which was checked before the error was made.

use actix_web::cookie::Cookie;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

use super::respond::{error_page, page_builder, see_other};
use crate::store::DbError;
use crate::web::form::FormError;

#[derive(Debug)]
pub enum PageError {
    /// A failure of ours (the database did not answer): nothing internal is shown.
    Unavailable,
    /// Nobody is signed in: to the sign-in page.
    SignIn,
    /// A form we could not read: too large (413), too slow (408), else 400.
    Unreadable(FormError),
    /// A form whose CSRF token does not match the browser's.
    StaleForm,
    /// An authorization error for the client, at its registered redirect URI
    /// (RFC 6749 §4.1.2.1).
    ToClient {
        location: String,
        status: StatusCode,
    },
    /// A page to answer instead of going on (asking the person to confirm, say),
    /// rendered.
    Prompt(Box<Prompt>),
    /// Too many requests from this source: 429 with `Retry-After` (seconds).
    TooMany(i64),
    /// Any other refusal, as an error page.
    Page {
        status: StatusCode,
        title: &'static str,
        message: &'static str,
    },
}

/// A rendered page with its status, a cookie to set and a `Retry-After` to send.
#[derive(Debug)]
pub struct Prompt {
    status: StatusCode,
    html: String,
    cookie: Option<Cookie<'static>>,
    retry_after: Option<i64>,
    /// The page includes our script (`respond::with_script`).
    script: bool,
}

impl PageError {
    /// Answer `page` instead of going on.
    pub fn prompt(
        status: StatusCode,
        page: &impl Template,
        cookie: Option<Cookie<'static>>,
        retry_after: Option<i64>,
    ) -> PageError {
        match page.render() {
            Ok(html) => PageError::Prompt(Box::new(Prompt {
                status,
                html,
                cookie,
                retry_after,
                script: false,
            })),
            Err(e) => {
                tracing::error!(error = %e, "template rendering failed");
                PageError::Unavailable
            }
        }
    }

    /// Let a prompt's page run our script.
    pub fn with_script(mut self, script: bool) -> PageError {
        if let PageError::Prompt(p) = &mut self {
            p.script = script;
        }
        self
    }

    pub fn bad_request(title: &'static str, message: &'static str) -> PageError {
        PageError::Page {
            status: StatusCode::BAD_REQUEST,
            title,
            message,
        }
    }
}

impl std::fmt::Display for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PageError::Unavailable => f.write_str("service unavailable"),
            PageError::SignIn => f.write_str("not signed in"),
            PageError::Unreadable(e) => write!(f, "unreadable form: {e}"),
            PageError::StaleForm => f.write_str("CSRF token mismatch"),
            PageError::ToClient { .. } => f.write_str("error sent to the client"),
            PageError::Prompt(_) => f.write_str("a page instead"),
            PageError::TooMany(_) => f.write_str("too many requests"),
            PageError::Page { title, .. } => f.write_str(title),
        }
    }
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        match self {
            PageError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            PageError::SignIn => StatusCode::SEE_OTHER,
            PageError::Unreadable(FormError::TooLarge) => StatusCode::PAYLOAD_TOO_LARGE,
            PageError::Unreadable(FormError::TooSlow) => StatusCode::REQUEST_TIMEOUT,
            PageError::Unreadable(_) => StatusCode::BAD_REQUEST,
            PageError::StaleForm => StatusCode::FORBIDDEN,
            PageError::TooMany(_) => StatusCode::TOO_MANY_REQUESTS,
            PageError::Prompt(p) => p.status,
            PageError::ToClient { status, .. } | PageError::Page { status, .. } => *status,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        match self {
            PageError::Unavailable => error_page(
                status,
                "Something went wrong",
                "The service could not complete your request. Please try again in a moment.",
            ),
            PageError::SignIn => see_other("/login", status).finish(),
            PageError::Unreadable(_) => {
                error_page(status, "Please try again", "The form could not be read.")
            }
            PageError::StaleForm => error_page(
                status,
                "Please try again",
                "This form expired or did not come from this site. Reload the page and try again.",
            ),
            PageError::ToClient { location, .. } => see_other(location, status).finish(),
            PageError::Prompt(p) => {
                let mut b = page_builder(status);
                if let Some(c) = &p.cookie {
                    b.cookie(c.clone());
                }
                if let Some(wait) = p.retry_after {
                    b.insert_header((header::RETRY_AFTER, wait.max(1).to_string()));
                }
                super::with_script(b.body(p.html.clone()), p.script)
            }
            PageError::TooMany(wait) => super::respond::too_many(
                error_page(
                    status,
                    "Too many requests",
                    "Too many sign-ins were started from your network. Please wait a few minutes and try again.",
                ),
                *wait,
            ),
            PageError::Page { title, message, .. } => error_page(status, title, message),
        }
    }
}

/// Database failures are ours: logged with their detail, shown as "unavailable".
impl From<DbError> for PageError {
    fn from(e: DbError) -> PageError {
        tracing::warn!(error = %e, "a page could not reach the database");
        PageError::Unavailable
    }
}

/// Protocol services report their own failures (logged where they happen).
impl From<crate::oauth::error::OAuthError> for PageError {
    fn from(_: crate::oauth::error::OAuthError) -> PageError {
        PageError::Unavailable
    }
}

impl From<FormError> for PageError {
    fn from(e: FormError) -> PageError {
        PageError::Unreadable(e)
    }
}
