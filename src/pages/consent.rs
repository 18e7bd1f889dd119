//! The consent decision (the page itself is shown by `authorize`).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::authorize::{self as authz, authorizer, login_page};
use super::extract::CsrfForm;
use super::{PageError, see_other, session};
use crate::state::AppState;
use crate::store::audit::{self, Event};
use crate::store::consents;
use crate::web::origin;

pub async fn consent_post(
    req: HttpRequest,
    CsrfForm(form): CsrfForm,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let Some(areq) = authz::carried(&state, &form).await? else {
        return Err(PageError::bad_request(
            "Something went wrong",
            "The form is incomplete.",
        ));
    };
    let Some((session, user)) = session::current(&state, &req).await? else {
        // The session ended while the page was open: sign in again, then continue.
        return Ok(login_page(&req, &state, Some(&areq), None, StatusCode::OK));
    };
    match form.get("decision") {
        Some("allow") => {}
        Some("deny") => {
            let e = areq.error("access_denied", "the user denied the request");
            return Err(PageError::ToClient {
                location: authorizer(&state).error_location(&e),
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
    // Remember the union of what was allowed before and now, so that asking for a
    // subset later does not ask again.
    let uid = user.id;
    let client_id = areq.client.client_id.clone();
    let requested = areq.scope.clone();
    let now = state.clock.now();
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
    let location = authorizer(&state)
        .issue_code(&areq, &session, &user, now)
        .await?;
    Ok(see_other(&location, StatusCode::SEE_OTHER).finish())
}
