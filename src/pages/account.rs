//! The person's own page: connected apps (consents), each revocable.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::templates::{AccountPage, AppLine};
use super::{csrf, page_builder, render, see_other, signed_in, signed_in_form, unavailable_page};
use crate::state::AppState;
use crate::store::audit::{self, Event};
use crate::store::{consents, refresh};

pub async fn account_get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let (_, user) = match signed_in(&state, &req).await {
        Ok(s) => s,
        Err(res) => return res,
    };
    let uid = user.id;
    let Ok(list) = state
        .db(move |conn| consents::list_for_user(conn, uid))
        .await
    else {
        return unavailable_page();
    };
    let token = csrf::ensure(&state, &req);
    let apps = list
        .into_iter()
        .map(|(c, name)| AppLine {
            client_id: c.client_id,
            name,
            scopes: c.scope.iter().map(str::to_string).collect(),
            granted: crate::cli::human_time(c.updated_at),
        })
        .collect();
    let page = AccountPage {
        csrf: &token.token,
        username: user.username,
        apps,
    };
    let mut b = page_builder(StatusCode::OK);
    if let Some(c) = token.new_cookie {
        b.cookie(c);
    }
    render(b, &page)
}

pub async fn revoke_post(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (form, _, user) = match signed_in_form(&state, &req, payload).await {
        Ok(f) => f,
        Err(res) => return res,
    };
    let Some(client_id) = form.get("client_id").map(str::to_string) else {
        return see_other("/account", StatusCode::SEE_OTHER).finish();
    };
    let uid = user.id;
    let now = state.clock.now();
    let (ip, ua) = crate::audit::origin(&req);
    let revoked = state
        .db(move |conn| {
            crate::store::db::write_transaction(conn, |conn| {
                // Only an app this person allowed: anything else is refused without an
                // event, so the form cannot write made-up client ids into the trail.
                if !consents::revoke(conn, uid, &client_id)? {
                    return Ok(false);
                }
                // Withdrawing consent ends what the app holds, not only future prompts.
                let n =
                    refresh::revoke_for_user(conn, uid, Some(&client_id), "consent revoked", now)?;
                let e = Event::new("consent.revoked", "success")
                    .user(uid)
                    .client(client_id.clone())
                    .from_addr(ip, ua)
                    .detail("families_revoked", n);
                audit::record(conn, &e, now)?;
                Ok(true)
            })
        })
        .await;
    match revoked {
        Ok(true) => see_other("/account", StatusCode::SEE_OTHER).finish(),
        Ok(false) => super::error_page(
            StatusCode::BAD_REQUEST,
            "Nothing to remove",
            "You have not allowed that app. Go back to your connected apps and try again.",
        ),
        Err(_) => unavailable_page(),
    }
}
