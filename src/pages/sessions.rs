//! Where a person is signed in (`/account/security/sessions`): every live browser
//! session with its browser and system (from the user agent), address, start and last
//! activity; "Sign out" per session and "Sign out everywhere else". Ending a session
//! deletes it on the server, so it ends at once on every instance.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::extract::{SignedIn, SignedInForm};
use super::templates::{Layout, SessionLine, SessionsPage};
use super::when::when;
use super::{PageError, csrf, render_with, see_other, session};
use crate::accounts::Actor;
use crate::state::AppState;
use crate::store::audit::{self, Event};
use crate::store::db::write_transaction;
use crate::store::id::Id;
use crate::store::sessions::{self, Session};
use crate::web::origin;

const PATH: &str = "/account/security/sessions";

/// "Firefox on Linux", from a well-kept parser (woothee); the raw string is never shown.
fn describe(user_agent: Option<&str>) -> String {
    let parsed = user_agent.and_then(|ua| woothee::parser::Parser::new().parse(ua));
    let known = |s: &str| !s.is_empty() && s != "UNKNOWN";
    match parsed {
        Some(r) if known(r.name) && known(r.os) => format!("{} on {}", r.name, r.os),
        Some(r) if known(r.name) => r.name.to_string(),
        _ => "An unknown browser".to_string(),
    }
}

fn line(s: &Session, current: Id, now: i64) -> SessionLine {
    SessionLine {
        id: s.id.to_string(),
        what: describe(s.user_agent.as_deref()),
        ip: s.ip.clone().unwrap_or_default(),
        started: when(s.created_at, now),
        last_active: when(s.last_seen_at, now),
        current: s.id == current,
    }
}

pub async fn sessions_get(
    req: HttpRequest,
    state: web::Data<AppState>,
    me: SignedIn,
) -> Result<HttpResponse, PageError> {
    let (uid, idle, now) = (
        me.user.id,
        state.settings.session_idle_ttl,
        state.clock.now(),
    );
    let list = state
        .db
        .run(move |conn| sessions::list_live(conn, uid, idle, now))
        .await?;
    let token = csrf::ensure(&state, &req);
    let page = SessionsPage {
        layout: Layout::new(&me.user, "security", &token.token),
        csrf: &token.token,
        sessions: list.iter().map(|s| line(s, me.session.id, now)).collect(),
    };
    Ok(render_with(token.new_cookie, StatusCode::OK, &page))
}

/// `id` given: that session (one of this person's); none: every other one.
async fn end(
    req: &HttpRequest,
    state: &AppState,
    f: &SignedInForm,
    which: Option<Id>,
) -> Result<HttpResponse, PageError> {
    let (ip, user_agent) = origin::origin(req, &state.settings.trusted_proxies);
    let by = Actor::Person { ip, user_agent };
    let (uid, current, now) = (f.user.id, f.session.id, state.clock.now());
    state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let n = match which {
                    Some(id) => usize::from(sessions::delete_for(conn, id, uid, now)?),
                    None => sessions::delete_others(conn, uid, current, now)?,
                };
                if n > 0 {
                    let e = Event::new("session.ended", "success")
                        .user(uid)
                        .detail("sessions_ended", n)
                        .detail("which", if which.is_some() { "one" } else { "others" });
                    audit::record(conn, &by.stamp(e), now)?;
                }
                Ok(n)
            })
        })
        .await?;
    // Ending this very session signs this browser out: the server has forgotten the
    // session, and the browser is told to forget its cookie.
    if which == Some(current) {
        return Ok(see_other("/login", StatusCode::SEE_OTHER)
            .cookie(session::removal(state))
            .finish());
    }
    Ok(see_other(PATH, StatusCode::SEE_OTHER).finish())
}

pub async fn end_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    f: SignedInForm,
) -> Result<HttpResponse, PageError> {
    let Some(id) = f
        .form
        .get("id")
        .and_then(|v| uuid::Uuid::parse_str(v).ok())
        .map(Id)
    else {
        return Err(PageError::bad_request(
            "No such session",
            "Go back to the list of your sessions and try again.",
        ));
    };
    end(&req, &state, &f, Some(id)).await
}

pub async fn end_others_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    f: SignedInForm,
) -> Result<HttpResponse, PageError> {
    end(&req, &state, &f, None).await
}

#[cfg(test)]
mod tests {
    #[test]
    fn browsers_are_named_from_their_user_agent() {
        let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
        assert_eq!(super::describe(Some(firefox)), "Firefox on Linux");
        assert_eq!(super::describe(Some("made-up")), "An unknown browser");
        assert_eq!(super::describe(None), "An unknown browser");
    }
}
