//! The browser side of the authorization endpoint (RFC 6749 §3.1, §4.1.1; OpenID Connect
//! Core §3.1.2): the `Authorizer` validates the request and says what it needs; this
//! module shows the sign-in or consent page, or sends the person back to the client.
//! A request that needs a page is kept on the server as a transaction
//! (`oauth::authorize::transaction`); the pages carry only its id.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::limits;
use super::templates::{ConsentPage, LoginPage, ScopeLine, Unverified, describe_scope};
use super::{PageError, csrf, page_builder, render, see_other, session};
use crate::oauth::authorize::transaction::{self, Resume, Transaction};
use crate::oauth::authorize::{
    AuthorizationRequest, AuthorizeError, Authorizer, Params, Refusal, Step, redirect_status,
};
use crate::secret;
use crate::state::AppState;
use crate::store::sessions::Session;
use crate::store::users::User;
use crate::web::form::{self, Form};

/// The authorization protocol as this server is configured.
pub fn authorizer(state: &AppState) -> Authorizer<'_> {
    state.authorizer()
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
    let body = form::read_raw_up_to(&req, payload, transaction::MAX_PARAMS).await?;
    start(&req, &state, form::parse(body.as_bytes()), true).await
}

/// `status`: how to redirect an error to the client (303 after a POST, RFC 9700 §4.12).
fn refusal(authorizer: &Authorizer, e: Refusal, status: StatusCode) -> PageError {
    match e {
        Refusal::Unavailable => PageError::Unavailable,
        Refusal::Invalid(AuthorizeError::Page(p)) => PageError::bad_request(p.title, p.message),
        Refusal::Invalid(AuthorizeError::Redirect(r)) => PageError::ToClient {
            location: authorizer.error_location(&r),
            status,
        },
    }
}

/// The name of the cookie that binds transactions to this browser.
fn binding_cookie(secure: bool) -> &'static str {
    if secure {
        "__Host-portcullis_flow"
    } else {
        "portcullis_flow"
    }
}

/// The browser's binding value, if it has one.
pub fn binding_value(state: &AppState, req: &HttpRequest) -> Option<String> {
    let secure = state.settings.secure_cookies();
    req.cookie(binding_cookie(secure))
        .map(|c| c.value().to_string())
        .filter(|v| v.len() == 43)
}

/// The browser's binding value, or a new one with the cookie that sets it.
pub fn binding(state: &AppState, req: &HttpRequest) -> (String, Option<Cookie<'static>>) {
    let secure = state.settings.secure_cookies();
    if let Some(value) = binding_value(state, req) {
        return (value, None);
    }
    let value = secret::random_token("", 32);
    let cookie = Cookie::build(binding_cookie(secure), value.clone())
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .finish();
    (value, Some(cookie))
}

async fn start(
    req: &HttpRequest,
    state: &AppState,
    params: Params,
    via_post: bool,
) -> Result<HttpResponse, PageError> {
    let authorizer = authorizer(state);
    let areq = authorizer
        .validate(params, state.clock.now())
        .await
        .map_err(|e| refusal(&authorizer, e, redirect_status(via_post)))?;
    let current = session::current(state, req).await?;
    let now = state.clock.now();
    let status = redirect_status(via_post);
    match authorizer
        .next_step(&areq, current.as_ref(), false, now)
        .await?
    {
        Step::Refuse(e) => Err(PageError::ToClient {
            location: authorizer.error_location(&e),
            status,
        }),
        Step::IssueCode => match &current {
            Some((session, user)) => {
                let location = authorizer.issue_code(&areq, session, user, now).await?;
                Ok(see_other(&location, status).finish())
            }
            None => Err(PageError::Unavailable),
        },
        // A page is needed: keep the request on the server for the steps to come.
        step => {
            let size = transaction::size(&areq);
            if size > transaction::MAX_PARAMS {
                return Err(PageError::Page {
                    status: StatusCode::PAYLOAD_TOO_LARGE,
                    title: "This sign-in request is too large",
                    message: "The application sent more than this server keeps for a sign-in. Go back to the application.",
                });
            }
            // Every transaction is a stored row until it expires: one address may keep
            // only so many kilobytes (a brake on filling the database, not on people).
            let key = limits::address_key(req, &state.settings.trusted_proxies);
            let kb = u32::try_from(size.div_ceil(1024).max(1)).unwrap_or(u32::MAX);
            if let Err(wait) = state.flows_by_ip.reserve_n(&key, kb, now) {
                crate::metrics::throttled("authorization");
                return Err(PageError::TooMany(wait));
            }
            let (value, cookie) = binding(state, req);
            let (id, txn) = authorizer.begin(areq, &value, now).await?;
            let mut res = page_for(req, state, step, &id, &txn, current.as_ref());
            if let Some(c) = cookie {
                let _ = res.add_cookie(&c);
            }
            Ok(res)
        }
    }
}

fn resume_error(authorizer: &Authorizer, e: Resume) -> PageError {
    match e {
        Resume::Gone => PageError::bad_request(
            "This sign-in request has ended",
            "It expired, was already used, or was started in another browser. Go back to the application and start again.",
        ),
        // The forms that resume a transaction are POSTs: 303 (RFC 9110 §15.4.4).
        Resume::Refused(r) => refusal(authorizer, r, StatusCode::SEE_OTHER),
        Resume::Unavailable(e) => e.into(),
    }
}

/// The transaction a sign-in, second-step or consent form carries (`txn`), if any.
pub async fn carried(
    state: &AppState,
    req: &HttpRequest,
    f: &Form,
) -> Result<Option<(String, Transaction)>, PageError> {
    let Some(id) = f.get("txn") else {
        return Ok(None);
    };
    let authorizer = authorizer(state);
    let secure = state.settings.secure_cookies();
    let binding = req.cookie(binding_cookie(secure));
    let txn = authorizer
        .resume(id, binding.as_ref().map(|c| c.value()), state.clock.now())
        .await
        .map_err(|e| resume_error(&authorizer, e))?;
    Ok(Some((id.to_string(), txn)))
}

/// The next page or redirect for transaction `txn` (id `id`) and the browser's session.
pub async fn proceed(
    req: &HttpRequest,
    state: &AppState,
    id: &str,
    txn: &Transaction,
    current: Option<(Session, User)>,
) -> Result<HttpResponse, PageError> {
    let now = state.clock.now();
    let authorizer = authorizer(state);
    let here = current.as_ref().is_some_and(|(s, _)| txn.signed_in_by(s));
    let step = authorizer
        .next_step(&txn.request, current.as_ref(), here, now)
        .await?;
    match (step, current) {
        (Step::IssueCode, Some((session, user))) => finish(state, txn, &session, &user).await,
        (Step::Refuse(e), _) => {
            end(&authorizer, txn, now).await?;
            Err(PageError::ToClient {
                location: authorizer.error_location(&e),
                status: StatusCode::SEE_OTHER,
            })
        }
        (step, current) => Ok(page_for(req, state, step, id, txn, current.as_ref())),
    }
}

/// Issue the code of `txn` and end it (once: a second request gets an error page).
pub async fn finish(
    state: &AppState,
    txn: &Transaction,
    session: &Session,
    user: &User,
) -> Result<HttpResponse, PageError> {
    let now = state.clock.now();
    let authorizer = authorizer(state);
    end(&authorizer, txn, now).await?;
    let location = authorizer
        .issue_code(&txn.request, session, user, now)
        .await?;
    Ok(see_other(&location, StatusCode::SEE_OTHER).finish())
}

/// End `txn` before answering the client for it. Only the request that ends it may
/// answer: a second one, racing it, gets the error page, never a second redirect.
pub async fn end(
    authorizer: &Authorizer<'_>,
    txn: &Transaction,
    now: i64,
) -> Result<(), PageError> {
    if authorizer.complete(txn, now).await? {
        Ok(())
    } else {
        Err(resume_error(authorizer, Resume::Gone))
    }
}

/// The page a step needs: sign-in (also when nobody is signed in), or consent.
fn page_for(
    req: &HttpRequest,
    state: &AppState,
    step: Step,
    id: &str,
    txn: &Transaction,
    current: Option<&(Session, User)>,
) -> HttpResponse {
    match (step, current) {
        (Step::Consent, Some((session, user))) => consent_page(state, id, txn, session, user),
        _ => login_page(req, state, Some((id, &txn.request)), None, StatusCode::OK),
    }
}

pub fn login_page(
    req: &HttpRequest,
    state: &AppState,
    txn: Option<(&str, &AuthorizationRequest)>,
    error: Option<&'static str>,
    status: StatusCode,
) -> HttpResponse {
    let token = csrf::ensure(state, req);
    let username = txn
        .and_then(|(_, a)| a.login_hint.clone())
        .unwrap_or_default();
    login_page_with(state, token, txn, error, status, username)
}

pub fn login_page_with(
    state: &AppState,
    token: csrf::Csrf,
    txn: Option<(&str, &AuthorizationRequest)>,
    error: Option<&'static str>,
    status: StatusCode,
    username: String,
) -> HttpResponse {
    let page = LoginPage {
        csrf: &token.token,
        txn: txn.map(|(id, _)| id),
        client_name: txn.map(|(_, a)| a.client.name.clone()),
        client_unverified: txn.is_some_and(|(_, a)| a.client.self_registered()),
        error,
        username,
        passkeys: state.passkeys.is_some(),
    };
    let mut b = page_builder(status);
    if let Some(c) = token.new_cookie {
        b.cookie(c);
    }
    super::with_script(render(b, &page), page.passkeys)
}

/// Where the person is sent next, as they can check it. Only an https host is where the
/// answer goes; a loopback or private-use URI is whichever app on this device listens
/// there (RFC 8252 §7), whatever host it names.
fn destination(areq: &crate::oauth::authorize::AuthorizationRequest) -> String {
    match url::Url::parse(&areq.redirect_uri) {
        Ok(u) if u.scheme() == "https" => u
            .host_str()
            .map_or_else(|| areq.redirect_uri.clone(), str::to_string),
        Ok(u) if u.scheme() == "http" => "an app on this device".to_string(),
        Ok(u) => format!("the app on this device that opens {}: links", u.scheme()),
        Err(_) => areq.redirect_uri.clone(),
    }
}

/// RFC 7591 §5: a self-registered app's name and pages are its own claims.
fn unverified(areq: &crate::oauth::authorize::AuthorizationRequest) -> Unverified {
    let m = &areq.client.metadata;
    let links = [
        ("Website", &m.client_uri),
        ("Terms of service", &m.tos_uri),
        ("Privacy policy", &m.policy_uri),
    ]
    .into_iter()
    .filter_map(|(label, uri)| uri.clone().map(|u| (label, u)))
    .collect();
    Unverified { links }
}

/// The consent form's CSRF token is bound to `session`, which may be one this very
/// response starts (sign-in, then consent, without a round trip).
fn consent_page(
    state: &AppState,
    id: &str,
    txn: &Transaction,
    session: &Session,
    user: &User,
) -> HttpResponse {
    let csrf = csrf::for_session(state, &session.token_hash);
    let areq = &txn.request;
    let page = ConsentPage {
        csrf: &csrf,
        txn: id,
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
        destination: destination(areq),
        unverified: areq.client.self_registered().then(|| unverified(areq)),
    };
    render(page_builder(StatusCode::OK), &page)
}
