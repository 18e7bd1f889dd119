//! The consent decision (the page itself is rendered by the authorization endpoint).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::{csrf, error_page, session, unavailable_page};
use crate::endpoints::authorize::{self as authz, login_page};
use crate::endpoints::form;
use crate::oauth::authorize::{Params, RedirectError};
use crate::state::AppState;
use crate::store::audit::{self, Event};
use crate::store::consents;

pub async fn consent_post(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let form = match form::read(&req, payload).await {
        Ok(f) => f,
        Err(e) => return super::unreadable_form(&e),
    };
    if !csrf::verify(&state, &req, form.get("csrf")) {
        return error_page(
            StatusCode::FORBIDDEN,
            "Please try again",
            "This form expired or did not come from this site. Go back to the application and start again.",
        );
    }
    let Some(raw) = form.get("authz") else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Something went wrong",
            "The form is incomplete.",
        );
    };
    let areq = match authz::validate(&state, Params::parse(raw)).await {
        Ok(a) => a,
        Err(res) => return res,
    };
    let (session, user) = match session::current(&state, &req).await {
        Ok(Some(s)) => s,
        // The session ended while the page was open: sign in again, then continue.
        Ok(None) => return login_page(&req, &state, Some(&areq), None, StatusCode::OK),
        Err(_) => return unavailable_page(),
    };
    match form.get("decision") {
        Some("allow") => {}
        Some("deny") => {
            let e = RedirectError {
                redirect_uri: areq.redirect_uri.clone(),
                state: areq.state.clone(),
                error: "access_denied",
                description: "the user denied the request",
            };
            return authz::redirect_error(&state, &e, StatusCode::SEE_OTHER);
        }
        _ => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "Something went wrong",
                "Please choose Allow or Deny.",
            );
        }
    }
    // Remember the union of what was allowed before and now, so that asking for a
    // subset later does not ask again.
    let uid = user.id;
    let client_id = areq.client.client_id.clone();
    let requested = areq.scope.clone();
    let now = state.clock.now();
    let (ip, ua) = crate::audit::origin(&req);
    let saved = state
        .db(move |conn| {
            let all = match consents::find(conn, uid, &client_id)? {
                Some(before) => before.scope.union(&requested),
                None => requested,
            };
            consents::grant(conn, uid, &client_id, &all, now)?;
            let e = Event::new("consent.granted", "success")
                .user(uid)
                .client(client_id.clone())
                .from_addr(ip, ua)
                .detail("scope", all.to_string());
            audit::record(conn, &e, now)
        })
        .await;
    if saved.is_err() {
        return unavailable_page();
    }
    authz::issue_code(&state, &areq, &session, &user, StatusCode::SEE_OTHER).await
}
