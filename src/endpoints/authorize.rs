//! The authorization endpoint (RFC 6749 §3.1, §4.1.1; OpenID Connect Core §3.1.2):
//! validate, then sign in, then consent, then send a code back to the client.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::oauth::authorize::{self, AuthorizationRequest, AuthorizeError, Params, RedirectError};
use crate::pages::templates::{ConsentPage, LoginPage, ScopeLine, describe_scope};
use crate::pages::{csrf, error_page, page_builder, render, see_other, session, unavailable_page};
use crate::secret;
use crate::state::AppState;
use crate::store::codes::{self, CodeRow};
use crate::store::consents;
use crate::store::sessions::Session;
use crate::store::users::User;

/// Authorization codes live one minute (RFC 6749 §4.1.2 recommends at most ten).
pub const CODE_TTL: i64 = 60;

pub async fn authorize_get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let params = Params::parse(req.query_string());
    start(&req, &state, params, false).await
}

pub async fn authorize_post(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    // OpenID Connect Core §3.1.2.1: POST carries the same parameters as a form.
    match super::form::read_raw(&req, payload).await {
        Ok(body) => start(&req, &state, Params::parse(&body), true).await,
        Err(e) => crate::pages::unreadable_form(&e),
    }
}

/// Validate a request (from the endpoint, or again when a form comes back).
pub async fn validate(
    state: &AppState,
    params: Params,
) -> Result<AuthorizationRequest, HttpResponse> {
    let client = match params.get("client_id") {
        Some(id) => match state.find_client(id).await {
            Ok(c) => c,
            Err(_) => return Err(unavailable_page()),
        },
        None => None,
    };
    let checked = authorize::resolve_redirect(&params, client)
        .and_then(|(client, uri, given)| authorize::validate(params, client, uri, given));
    checked.map_err(|e| match e {
        AuthorizeError::Page(p) => error_page(StatusCode::BAD_REQUEST, p.title, p.message),
        AuthorizeError::Redirect(r) => redirect_error(state, &r, StatusCode::FOUND),
    })
}

async fn start(
    req: &HttpRequest,
    state: &AppState,
    params: Params,
    via_post: bool,
) -> HttpResponse {
    let areq = match validate(state, params).await {
        Ok(a) => a,
        Err(res) => return res,
    };
    let current = match session::current(state, req).await {
        Ok(s) => s,
        Err(_) => return unavailable_page(),
    };
    proceed(req, state, areq, current, false, redirect_status(via_post)).await
}

/// RFC 9700 §4.12: answer a POST with 303 so the browser does not re-post the form
/// to the client; a GET gets the customary 302.
pub fn redirect_status(via_post: bool) -> StatusCode {
    if via_post {
        StatusCode::SEE_OTHER
    } else {
        StatusCode::FOUND
    }
}

pub fn redirect_error(state: &AppState, e: &RedirectError, status: StatusCode) -> HttpResponse {
    see_other(&e.location(&state.issuer), status).finish()
}

fn to_client_error(
    state: &AppState,
    areq: &AuthorizationRequest,
    error: &'static str,
    description: &'static str,
    status: StatusCode,
) -> HttpResponse {
    let e = RedirectError {
        redirect_uri: areq.redirect_uri.clone(),
        state: areq.state.clone(),
        error,
        description,
    };
    redirect_error(state, &e, status)
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
) -> HttpResponse {
    let now = state.clock.now();
    // OpenID Connect Core §3.1.2.1: max_age=0 means "sign in again now", hence `>=`.
    let must_sign_in = match &current {
        None => true,
        Some((s, _)) => {
            !fresh && (areq.prompt.login || areq.max_age.is_some_and(|m| now - s.auth_time >= m))
        }
    };
    if must_sign_in {
        if areq.prompt.none {
            return to_client_error(
                state,
                &areq,
                "login_required",
                "the user is not signed in",
                status,
            );
        }
        return login_page(req, state, Some(&areq), None, StatusCode::OK);
    }
    let Some((session, user)) = current else {
        return unavailable_page();
    };
    let client_id = areq.client.client_id.clone();
    let uid = user.id;
    let granted = match state
        .db(move |conn| consents::find(conn, uid, &client_id))
        .await
    {
        Ok(c) => c.map(|c| c.scope),
        Err(_) => return unavailable_page(),
    };
    let covered = granted.as_ref().is_some_and(|g| areq.scope.is_subset_of(g));
    if !covered || areq.prompt.consent {
        if areq.prompt.none {
            return to_client_error(
                state,
                &areq,
                "consent_required",
                "the user has not consented",
                status,
            );
        }
        return consent_page(state, &areq, &session, &user);
    }
    issue_code(state, &areq, &session, &user, status).await
}

/// Create the code and send it to the client (RFC 6749 §4.1.2, RFC 9207 `iss`).
pub async fn issue_code(
    state: &AppState,
    areq: &AuthorizationRequest,
    session: &Session,
    user: &User,
    status: StatusCode,
) -> HttpResponse {
    let code = secret::random_token("", 32);
    let now = state.clock.now();
    let row = CodeRow {
        code_hash: secret::hash(&code),
        client_id: areq.client.client_id.clone(),
        user_id: user.id,
        session_id: Some(session.id),
        redirect_uri: areq.redirect_uri.clone(),
        redirect_uri_given: areq.redirect_uri_given,
        scope: areq.scope.clone(),
        nonce: areq.nonce.clone(),
        code_challenge: areq.code_challenge.as_str().to_string(),
        auth_time: session.auth_time,
        created_at: now,
        expires_at: now + CODE_TTL,
        consumed_at: None,
        issued_jti: None,
        issued_exp: None,
        family_id: None,
    };
    if state
        .db(move |conn| codes::insert(conn, &row))
        .await
        .is_err()
    {
        return unavailable_page();
    }
    let mut pairs = vec![("code", code.as_str())];
    if let Some(s) = &areq.state {
        pairs.push(("state", s));
    }
    pairs.push(("iss", &state.issuer));
    see_other(
        &authorize::redirect_with(&areq.redirect_uri, &pairs),
        status,
    )
    .finish()
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
