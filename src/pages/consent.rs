//! The consent decision (the page itself is shown by `authorize`).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::authorize::{self as authz, authorizer, login_page};
use super::extract::CsrfForm;
use super::{PageError, session};
use crate::oauth::authorize::Step;
use crate::state::AppState;
use crate::store::audit::{self, Event};
use crate::store::consents;
use crate::web::origin;

pub async fn consent_post(
    req: HttpRequest,
    CsrfForm(form): CsrfForm,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let Some((id, txn)) = authz::carried(&state, &req, &form).await? else {
        return Err(PageError::bad_request(
            "Something went wrong",
            "The form is incomplete.",
        ));
    };
    let for_page = Some((id.as_str(), &txn.request));
    let Some((session, user)) = session::current(&state, &req).await? else {
        // The session ended while the page was open: sign in again, then continue.
        return Ok(login_page(&req, &state, for_page, None, StatusCode::OK));
    };
    let authorizer = authorizer(&state);
    let now = state.clock.now();
    match form.get("decision") {
        Some("allow") => {}
        Some("deny") => {
            authz::end(&authorizer, &txn, now).await?;
            let e = txn
                .request
                .error("access_denied", "the user denied the request");
            return Err(PageError::ToClient {
                location: authorizer.error_location(&e),
                status: StatusCode::SEE_OTHER,
            });
        }
        _ => {
            return Err(PageError::bad_request(
                "Something went wrong",
                "Please choose Allow or Deny.",
            ));
        }
    }
    // Consent is the last step: whatever the request asked of the sign-in (prompt=login,
    // max_age) must already be met by this session, or it signs in again first.
    let here = txn.signed_in_by(&session);
    let signed_in = (session, user);
    let step = authorizer
        .next_step(&txn.request, Some(&signed_in), here, now)
        .await?;
    if matches!(step, Step::SignIn | Step::Refuse(_)) {
        return authz::proceed(&req, &state, &id, &txn, Some(signed_in)).await;
    }
    let (session, user) = signed_in;
    // Remember the union of what was allowed before and now, so that asking for a
    // subset later does not ask again.
    let uid = user.id;
    let client_id = txn.request.client.client_id.clone();
    let requested = txn.request.scope.clone();
    let (ip, ua) = origin::origin(&req, &state.settings.trusted_proxies);
    state
        .db
        .run(move |conn| {
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
        .await?;
    authz::finish(&state, &txn, &session, &user).await
}
