//! Setting a new password from a reset link an operator gave (`user reset-link`): the
//! link's token is checked, the new password held to the strength rule, and then, in
//! one transaction, the token is spent and the password set, which ends every session
//! and refresh-token family of the person.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::extract::CsrfForm;
use super::password::strong_enough;
use super::templates::ResetPage;
use super::{PageError, csrf, render_with};
use crate::accounts::Actor;
use crate::accounts::users::reset_password;
use crate::password;
use crate::secret;
use crate::state::AppState;
use crate::store::db::write_transaction;
use crate::store::{resets, users};
use crate::web::origin;

/// 410: the link existed, or never did; either way it will not work again.
const DEAD_LINK: PageError = PageError::Page {
    status: StatusCode::GONE,
    title: "This link does not work",
    message: "The reset link has expired or was used already. Ask your administrator for a new one.",
};

#[derive(serde::Deserialize)]
pub struct ResetQuery {
    token: Option<String>,
}

fn page(
    state: &AppState,
    req: &HttpRequest,
    token: &str,
    error: Option<String>,
    status: StatusCode,
) -> HttpResponse {
    let c = csrf::ensure(state, req);
    let p = ResetPage {
        csrf: &c.token,
        token,
        error,
        ended: None,
    };
    render_with(c.new_cookie, status, &p)
}

pub async fn reset_get(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<ResetQuery>,
) -> Result<HttpResponse, PageError> {
    let token = q.token.clone().unwrap_or_default();
    let (hash, now) = (secret::hash(&token), state.clock.now());
    let live = state
        .db
        .run(move |conn| resets::peek(conn, &hash, now))
        .await?;
    if live.is_none() {
        return Err(DEAD_LINK);
    }
    Ok(page(&state, &req, &token, None, StatusCode::OK))
}

pub async fn reset_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm,
) -> Result<HttpResponse, PageError> {
    let token = form.get("token").unwrap_or("").to_string();
    let new = form.get("new_password").unwrap_or("").to_string();
    let again = form.get("new_password_again").unwrap_or("");
    let (hash, now) = (secret::hash(&token), state.clock.now());
    let h = hash.clone();
    let user = state
        .db
        .run(move |conn| {
            Ok(match resets::peek(conn, &h, now)? {
                Some(id) => users::find(conn, id)?,
                None => None,
            })
        })
        .await?;
    let Some(user) = user else {
        return Err(DEAD_LINK);
    };
    if new != again {
        let why = Some("The two passwords differ.".to_string());
        return Ok(page(&state, &req, &token, why, StatusCode::BAD_REQUEST));
    }
    if let Err(why) = strong_enough(&user, &new).await? {
        let why = Some(format!("That password is not strong enough. {why}"));
        return Ok(page(&state, &req, &token, why, StatusCode::BAD_REQUEST));
    }
    // argon2 off the worker thread.
    let new_hash = web::block(move || password::hash(&new))
        .await
        .map_err(|_| PageError::Unavailable)?
        .map_err(|_| PageError::Unavailable)?;
    let (ip, user_agent) = origin::origin(&req, &state.settings.trusted_proxies);
    let by = Actor::Person { ip, user_agent };
    let uid = user.id;
    let done = state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                // Spent here, with the change: of two uses racing, one sets the password.
                if resets::spend(conn, &hash, now)? != Some(uid) {
                    return Ok(None);
                }
                reset_password(conn, uid, &new_hash, &by, now).map(Some)
            })
        })
        .await?;
    let Some(ended) = done else {
        return Err(DEAD_LINK);
    };
    let p = ResetPage {
        csrf: "",
        token: "",
        error: None,
        ended: Some(ended),
    };
    Ok(render_with(None, StatusCode::OK, &p))
}
