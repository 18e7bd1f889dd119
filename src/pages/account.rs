//! The person's own page: connected apps (consents), each revocable.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::extract::{SignedIn, SignedInForm};
use super::templates::{AccountPage, AppLine, Layout, ScopeLine, describe_scope};
use super::when::when;
use super::{PageError, csrf, render_with, see_other};
use crate::state::AppState;
use crate::store::audit::{self, Event};
use crate::store::db::write_transaction;
use crate::store::{consents, refresh};
use crate::web::origin;

pub async fn account_get(
    req: HttpRequest,
    state: web::Data<AppState>,
    me: SignedIn,
) -> Result<HttpResponse, PageError> {
    let uid = me.user.id;
    let now = state.clock.now();
    let (list, uses) = state
        .db
        .run(move |conn| {
            Ok((
                consents::list_for_user(conn, uid)?,
                refresh::last_uses(conn, uid, now)?,
            ))
        })
        .await?;
    let token = csrf::ensure(&state, &req);
    let apps = list
        .into_iter()
        .map(|(c, name)| AppLine {
            refreshed: uses
                .iter()
                .find(|(client, _, _)| *client == c.client_id)
                .map(|(_, at, ip)| (when(*at, now), ip.clone().unwrap_or_default())),
            client_id: c.client_id,
            name,
            scopes: c
                .scope
                .iter()
                .map(|s| ScopeLine {
                    name: s.to_string(),
                    description: describe_scope(s),
                })
                .collect(),
            granted: when(c.updated_at, now),
        })
        .collect();
    let page = AccountPage {
        layout: Layout::new(&me.user, "apps", &token.token),
        csrf: &token.token,
        apps,
    };
    Ok(render_with(token.new_cookie, StatusCode::OK, &page))
}

fn nothing_to_remove() -> PageError {
    PageError::bad_request(
        "Nothing to remove",
        "You have not allowed that app. Go back to your connected apps and try again.",
    )
}

pub async fn revoke_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    f: SignedInForm,
) -> Result<HttpResponse, PageError> {
    let Some(client_id) = f
        .form
        .get("client_id")
        .filter(|c| !c.is_empty())
        .map(str::to_string)
    else {
        return Err(nothing_to_remove());
    };
    let uid = f.user.id;
    let now = state.clock.now();
    let (ip, ua) = origin::origin(&req, &state.settings.trusted_proxies);
    let revoked = state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
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
        .await?;
    if !revoked {
        return Err(nothing_to_remove());
    }
    Ok(see_other("/account", StatusCode::SEE_OTHER).finish())
}
