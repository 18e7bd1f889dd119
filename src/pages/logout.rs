//! Signing out, including OpenID Connect RP-Initiated Logout 1.0: an app sends the person
//! here (GET or POST, §2) with `id_token_hint`, `client_id`, `post_logout_redirect_uri`
//! and `state`. We ask the person to confirm before ending the session (a link alone
//! must not sign anyone out: that would be logout CSRF, §6), and afterwards send them
//! only to a URI that the client registered for this, matched exactly (§3). A request
//! we cannot tie to a client, or a URI it did not register, gets an error page and is
//! never redirected.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::templates::{LogoutPage, SignedOutPage};
use super::{PageError, csrf, page_builder, render, see_other, session};
use crate::oauth::authorize::request::MAX_STATE_LEN;
use crate::oauth::clients::Client;
use crate::oauth::tokens::{IdClaims, verify_id_token_hint};
use crate::state::AppState;
use crate::store::id::Id;
use crate::store::sessions;
use crate::store::users::User;
use crate::web::form::{self, Form};

/// A validated sign-out request.
#[derive(Default)]
struct Request {
    /// The ID token the app sent, verified, and its text (carried through the form).
    hint: Option<(IdClaims, String)>,
    client: Option<std::sync::Arc<Client>>,
    /// A registered post-logout URI of `client`, as given.
    return_to: Option<String>,
    state: Option<String>,
}

impl Request {
    /// The hint names someone other than `user`: then nobody is signed out. (It once
    /// signed out whoever was signed in, whoever the app meant.)
    fn for_someone_else(&self, user: &User) -> bool {
        self.hint
            .as_ref()
            .is_some_and(|(h, _)| h.sub != user.id.to_string())
    }

    /// The session the hint names (`sid`), if it does.
    fn named_session(&self) -> Option<Id> {
        let (h, _) = self.hint.as_ref()?;
        uuid::Uuid::parse_str(h.sid.as_deref()?).ok().map(Id)
    }

    /// Where to send the person afterwards: the URI with `state` added (§3).
    fn destination(&self) -> Option<String> {
        let mut url = url::Url::parse(self.return_to.as_deref()?).ok()?;
        if let Some(s) = &self.state {
            url.query_pairs_mut().append_pair("state", s);
        }
        Some(url.into())
    }
}

fn someone_else() -> PageError {
    PageError::bad_request(
        "Nobody was signed out",
        "The app asked to sign out another account than the one signed in here.",
    )
}

fn invalid(message: &'static str) -> PageError {
    PageError::bad_request("This sign-out link is not valid", message)
}

/// Check the parameters.
async fn validate(state: &AppState, params: &Form) -> Result<Request, PageError> {
    if params.repeated().is_some() {
        return Err(invalid("A parameter is repeated."));
    }
    let hinted = match params.get("id_token_hint") {
        Some(hint) => Some(
            verify_id_token_hint(&state.keys.current(), &state.issuer.id, hint).ok_or_else(
                || invalid("The app sent a sign-in token that this server did not issue."),
            )?,
        ),
        None => None,
    };
    // §2: when both are given, client_id must be the ID token's audience.
    let client_id = match (params.get("client_id"), &hinted) {
        (Some(id), Some(h)) if h.aud != id => {
            return Err(invalid(
                "The app's identity does not match its sign-in token.",
            ));
        }
        (Some(id), _) => Some(id.to_string()),
        (None, Some(h)) => Some(h.aud.clone()),
        (None, None) => None,
    };
    let client = match client_id {
        Some(id) => Some(
            state
                .registrar
                .find(&id)
                .await?
                .ok_or_else(|| invalid("The app that sent you here is not registered."))?,
        ),
        None => None,
    };
    let return_to = match params.get("post_logout_redirect_uri") {
        None => None,
        Some(uri) => {
            let Some(c) = &client else {
                return Err(invalid(
                    "The app did not say who it is, so it cannot be sent back to.",
                ));
            };
            if !c.post_logout_redirect_uris.iter().any(|u| u == uri) {
                return Err(invalid(
                    "The address to return to is not registered for this app.",
                ));
            }
            Some(uri.to_string())
        }
    };
    Ok(Request {
        hint: hinted.zip(params.get("id_token_hint").map(str::to_string)),
        client,
        return_to,
        // As at /authorize: a state too long to send back whole is not sent back.
        state: params
            .get("state")
            .filter(|s| s.len() <= MAX_STATE_LEN)
            .map(str::to_string),
    })
}

async fn confirm_or_leave(
    req: &HttpRequest,
    state: &AppState,
    params: &Form,
) -> Result<HttpResponse, PageError> {
    let request = validate(state, params).await?;
    let Some((_, user)) = session::current(state, req).await? else {
        // Nobody to sign out: nothing to confirm.
        return Ok(match request.destination() {
            Some(to) => see_other(&to, StatusCode::SEE_OTHER).finish(),
            None => render(page_builder(StatusCode::OK), &SignedOutPage),
        });
    };
    if request.for_someone_else(&user) {
        return Err(someone_else());
    }
    let token = csrf::ensure(state, req);
    let mut b = page_builder(StatusCode::OK);
    if let Some(c) = token.new_cookie {
        b.cookie(c);
    }
    Ok(render(
        b,
        &LogoutPage {
            csrf: &token.token,
            app: request.client.as_ref().map(|c| c.name.as_str()),
            id_token_hint: request.hint.as_ref().map(|(_, t)| t.as_str()),
            client_id: request.client.as_ref().map(|c| c.client_id.as_str()),
            post_logout_redirect_uri: request.return_to.as_deref(),
            state: request.state.as_deref(),
        },
    ))
}

pub async fn logout_get(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    confirm_or_leave(&req, &state, &form::parse(req.query_string().as_bytes())).await
}

/// The confirmation form comes back here with its CSRF token; an app's POST (§2) has
/// none and is treated like a GET: the person still confirms.
pub async fn logout_post(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let params = form::read(&req, payload).await?;
    if params.get("csrf").is_none() {
        return confirm_or_leave(&req, &state, &params).await;
    }
    if !csrf::verify(&state, &req, params.get("csrf")) {
        return Err(PageError::StaleForm);
    }
    // The hidden fields came back through the browser: check them again.
    let request = validate(&state, &params).await?;
    let current = session::current(&state, &req).await?;
    if let Some((_, user)) = &current
        && request.for_someone_else(user)
    {
        return Err(someone_else());
    }
    // The session the hint names ends too, if it is this person's (the app signed in
    // through another of their browsers). This browser's session always ends: the
    // person asked to sign out here.
    if let (Some(sid), Some((_, user))) = (request.named_session(), &current) {
        let uid = user.id;
        let now = state.clock.now();
        state
            .db
            .run(move |conn| sessions::delete_for(conn, sid, uid, now))
            .await?;
    }
    let cookie = Some(session::end(&state, &req).await?);
    let mut b = match request.destination() {
        Some(to) => see_other(&to, StatusCode::SEE_OTHER),
        None => page_builder(StatusCode::OK),
    };
    if let Some(c) = cookie {
        b.cookie(c);
    }
    if request.return_to.is_some() {
        return Ok(b.finish());
    }
    Ok(render(b, &SignedOutPage))
}
