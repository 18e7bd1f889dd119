//! The browser side of the authorization endpoint (RFC 6749 §3.1, §4.1.1; OpenID Connect
//! Core §3.1.2): the `Authorizer` validates the request and says what it needs; this
//! module shows the sign-in or consent page, or sends the person back to the client.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::templates::{ConsentPage, LoginPage, ScopeLine, describe_scope};
use super::{PageError, csrf, page_builder, render, see_other, session};
use crate::oauth::authorize::{
    AuthorizationRequest, AuthorizeError, Authorizer, Params, Refusal, Step, redirect_status,
};
use crate::state::AppState;
use crate::store::sessions::Session;
use crate::store::users::User;
use crate::web::form;

pub fn authorizer(state: &AppState) -> Authorizer<'_> {
    Authorizer {
        registrar: &state.registrar,
        db: &state.db,
        issuer: &state.issuer.id,
    }
}

pub async fn authorize_get(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let params = form::parse(req.query_string().as_bytes());
    start(&req, &state, params, false).await
}

pub async fn authorize_post(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    // OpenID Connect Core §3.1.2.1: POST carries the same parameters as a form.
    let body = form::read_raw(&req, payload).await?;
    start(&req, &state, form::parse(body.as_bytes()), true).await
}

/// Validate a request (from the endpoint, or again when a form comes back).
pub async fn validate(state: &AppState, params: Params) -> Result<AuthorizationRequest, PageError> {
    let authorizer = authorizer(state);
    authorizer.validate(params).await.map_err(|e| match e {
        Refusal::Unavailable => PageError::Unavailable,
        Refusal::Invalid(AuthorizeError::Page(p)) => PageError::bad_request(p.title, p.message),
        Refusal::Invalid(AuthorizeError::Redirect(r)) => PageError::ToClient {
            location: authorizer.error_location(&r),
            status: StatusCode::FOUND,
        },
    })
}

/// The request carried by a sign-in or consent form, validated again from scratch.
pub async fn carried(
    state: &AppState,
    f: &form::Form,
) -> Result<Option<AuthorizationRequest>, PageError> {
    match f.get("authz") {
        Some(a) => Ok(Some(validate(state, form::parse(a.as_bytes())).await?)),
        None => Ok(None),
    }
}

async fn start(
    req: &HttpRequest,
    state: &AppState,
    params: Params,
    via_post: bool,
) -> Result<HttpResponse, PageError> {
    let areq = validate(state, params).await?;
    let current = session::current(state, req).await?;
    proceed(req, state, areq, current, false, redirect_status(via_post)).await
}

/// Sign-in and consent as the request and the session require; then issue the code.
/// `fresh` is true right after the person typed their password.
pub async fn proceed(
    req: &HttpRequest,
    state: &AppState,
    areq: AuthorizationRequest,
    current: Option<(Session, User)>,
    fresh: bool,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    let now = state.clock.now();
    let authorizer = authorizer(state);
    let step = authorizer
        .next_step(&areq, current.as_ref(), fresh, now)
        .await?;
    match (step, current) {
        (Step::Refuse(e), _) => Err(PageError::ToClient {
            location: authorizer.error_location(&e),
            status,
        }),
        (Step::SignIn, _) | (_, None) => {
            Ok(login_page(req, state, Some(&areq), None, StatusCode::OK))
        }
        (Step::Consent, Some((session, user))) => Ok(consent_page(state, &areq, &session, &user)),
        (Step::IssueCode, Some((session, user))) => {
            let location = authorizer.issue_code(&areq, &session, &user, now).await?;
            Ok(see_other(&location, status).finish())
        }
    }
}

pub fn login_page(
    req: &HttpRequest,
    state: &AppState,
    areq: Option<&AuthorizationRequest>,
    error: Option<&'static str>,
    status: StatusCode,
) -> HttpResponse {
    let token = csrf::ensure(state, req);
    let username = areq.and_then(|a| a.login_hint.clone()).unwrap_or_default();
    login_page_with(token, areq, error, status, username)
}

pub fn login_page_with(
    token: csrf::Csrf,
    areq: Option<&AuthorizationRequest>,
    error: Option<&'static str>,
    status: StatusCode,
    username: String,
) -> HttpResponse {
    let page = LoginPage {
        csrf: &token.token,
        // After sign-in the request resumes; `prompt=login` has then been honoured.
        authz: areq.map(|a| a.params.encode()),
        client_name: areq.map(|a| a.client.name.clone()),
        error,
        username,
    };
    let mut b = page_builder(status);
    if let Some(c) = token.new_cookie {
        b.cookie(c);
    }
    render(b, &page)
}

/// The consent form's CSRF token is bound to `session`, which may be one this very
/// response starts (sign-in, then consent, without a round trip).
fn consent_page(
    state: &AppState,
    areq: &AuthorizationRequest,
    session: &Session,
    user: &User,
) -> HttpResponse {
    let csrf = csrf::for_session(state, &session.token_hash);
    let page = ConsentPage {
        csrf: &csrf,
        authz: areq.params.encode(),
        client_name: areq.client.name.clone(),
        username: user.username.clone(),
        scopes: areq
            .scope
            .iter()
            .map(|s| ScopeLine {
                name: s.to_string(),
                description: describe_scope(s),
            })
            .collect(),
    };
    render(page_builder(StatusCode::OK), &page)
}
