//! The security page's passkeys: add one (after confirming it is you, like the other
//! factors), and remove one. Adding takes two requests: the first begins the ceremony
//! and shows a page whose script asks the authenticator; the second carries its answer.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::{Purpose, begin, relying_party, take};
use crate::escape;
use crate::mfa::passkeys::NewPasskey;
use crate::pages::extract::SignedInForm;
use crate::pages::security::{Notes, render_page};
use crate::pages::sudo::{self, Action, Window};
use crate::pages::templates::{Layout, PasskeyNewPage, PasswordNote};
use crate::pages::{PageError, render_with, with_script};
use crate::state::AppState;
use crate::store::audit::{self, Event};
use crate::store::db::write_transaction;
use crate::store::id::Id;
use crate::store::passkeys::{self as store, PasskeyRow};
use crate::web::origin;

const ADD: Action = Action {
    path: "/account/security/passkeys/new",
    purpose: "add a passkey",
    window: Window::Factors,
};
const REMOVE: Action = Action {
    path: "/account/security/passkeys/remove",
    purpose: "remove a passkey",
    window: Window::Factors,
};

/// Longest passkey name, in characters.
const NAME_MAX: usize = 64;
/// Passkeys per person: enough for every device anyone has, and a bound on the rows.
const PER_PERSON: i64 = 20;

const OFF: &str = "Passkeys are not available on this server.";
const BAD_NAME: &str =
    "Give the passkey a shorter name (up to 64 characters), without control characters.";
const TOO_MANY: &str =
    "You have as many passkeys as you can have. Remove one you no longer use first.";
const DID_NOT_WORK: &str =
    "The passkey was not added: your browser or authenticator did not finish. Try again.";
const ALREADY: &str = "That passkey is registered already.";

/// `POST /account/security/passkeys/new`: begin creating a passkey.
pub async fn new_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    f: SignedInForm,
) -> Result<HttpResponse, PageError> {
    let sudo = sudo::require(&state, &req, &f, &ADD).await?;
    let token = sudo.csrf(&state, &req);
    let note = |text: &str| Notes {
        passkey: Some(refusal(text)),
        ..Notes::default()
    };
    let Some(rp) = relying_party(&state) else {
        let page = render_page(&state, &f.user, token, note(OFF), StatusCode::NOT_FOUND);
        return Ok(sudo.finish(page.await?));
    };
    let Some(name) = name(f.form.get("name").unwrap_or("")) else {
        let page = render_page(
            &state,
            &f.user,
            token,
            note(BAD_NAME),
            StatusCode::BAD_REQUEST,
        );
        return Ok(sudo.finish(page.await?));
    };
    let uid = f.user.id;
    let existing = state.db.run(move |conn| store::of_user(conn, uid)).await?;
    if existing.len() as i64 >= PER_PERSON {
        let page = render_page(
            &state,
            &f.user,
            token,
            note(TOO_MANY),
            StatusCode::BAD_REQUEST,
        );
        return Ok(sudo.finish(page.await?));
    }
    let (options, server_half) = rp
        .start_registration(&f.user, &existing)
        .map_err(|_| PageError::Unavailable)?;
    let options = serde_json::to_string(&options).map_err(|_| PageError::Unavailable)?;
    let who = Some((uid, Some(f.session.id)));
    let (ceremony, cookie) = begin(&state, &req, Purpose::Register, who, server_half).await?;
    let page = PasskeyNewPage {
        layout: Layout::new(&f.user, "security", &token.token),
        csrf: &token.token,
        ceremony: &ceremony,
        options: &options,
        name: &name,
    };
    let mut res = with_script(
        render_with(token.new_cookie.clone(), StatusCode::OK, &page),
        true,
    );
    if let Some(c) = cookie {
        let _ = res.add_cookie(&c);
    }
    Ok(sudo.finish(res))
}

/// `POST /account/security/passkeys`: the authenticator's answer; store the passkey.
pub async fn create_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    f: SignedInForm,
) -> Result<HttpResponse, PageError> {
    let token = crate::pages::csrf::ensure(&state, &req);
    let show = |text: &str, ok: bool, status| {
        let note = PasswordNote {
            ok,
            text: text.to_string(),
            field: "passkey-name",
        };
        let notes = Notes {
            passkey: Some(note),
            ..Notes::default()
        };
        render_page(&state, &f.user, token.clone(), notes, status)
    };
    let Some(rp) = relying_party(&state) else {
        return show(OFF, false, StatusCode::NOT_FOUND).await;
    };
    let ceremony = f.form.get("ceremony").unwrap_or("");
    // The ceremony was begun by this person, in this session, in this browser.
    let begun = take(&state, &req, ceremony, Purpose::Register)
        .await?
        .filter(|c| c.user_id == Some(f.user.id) && c.session_id == Some(f.session.id));
    let name = name(f.form.get("name").unwrap_or(""));
    let answer = f.form.get("credential").unwrap_or("");
    let (Some(c), Some(name)) = (begun, name) else {
        return show(DID_NOT_WORK, false, StatusCode::BAD_REQUEST).await;
    };
    let created = match rp.finish_registration(answer, &c.state) {
        Ok(p) => p,
        Err(e) => {
            tracing::info!(error = %e, "passkey registration refused");
            return show(DID_NOT_WORK, false, StatusCode::BAD_REQUEST).await;
        }
    };
    match store_new(&state, &req, f.user.id, name, created).await? {
        true => show("Passkey added.", true, StatusCode::OK).await,
        false => show(ALREADY, false, StatusCode::CONFLICT).await,
    }
}

/// Store a new passkey and its audit event; false when the credential exists already.
async fn store_new(
    state: &AppState,
    req: &HttpRequest,
    user: Id,
    name: String,
    p: NewPasskey,
) -> Result<bool, PageError> {
    let now = state.clock.now();
    let (ip, ua) = origin::origin(req, &state.settings.trusted_proxies);
    let event = Event::new("passkey.added", "success")
        .user(user)
        .from_addr(ip, ua)
        .detail("passkey", name.clone())
        .detail("synced", p.backup_eligible);
    let row = PasskeyRow {
        id: Id::new_v7(),
        user_id: user,
        credential_id: p.credential_id,
        name,
        passkey: p.passkey_json,
        sign_count: p.sign_count,
        backup_eligible: p.backup_eligible,
        backed_up: p.backed_up,
        created_at: now,
        last_used_at: None,
    };
    Ok(state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                if store::count_of_user(conn, user)? >= PER_PERSON || !store::insert(conn, &row)? {
                    return Ok(false);
                }
                audit::record(conn, &event, now)?;
                Ok(true)
            })
        })
        .await?)
}

/// `POST /account/security/passkeys/remove`: a removed passkey signs nobody in.
pub async fn remove_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    f: SignedInForm,
) -> Result<HttpResponse, PageError> {
    let sudo = sudo::require(&state, &req, &f, &REMOVE).await?;
    let token = sudo.csrf(&state, &req);
    let id = f
        .form
        .get("id")
        .and_then(|s| s.parse::<uuid::Uuid>().ok())
        .map(Id);
    let (uid, now) = (f.user.id, state.clock.now());
    let (ip, ua) = origin::origin(&req, &state.settings.trusted_proxies);
    let removed = match id {
        None => None,
        Some(id) => {
            state
                .db
                .run(move |conn| {
                    write_transaction(conn, |conn| {
                        let Some(row) = store::remove(conn, uid, id)? else {
                            return Ok(None);
                        };
                        let e = Event::new("passkey.removed", "success")
                            .user(uid)
                            .from_addr(ip, ua)
                            .detail("passkey", row.name.clone());
                        audit::record(conn, &e, now)?;
                        Ok(Some(row.name))
                    })
                })
                .await?
        }
    };
    let (note, status) = match removed {
        Some(name) => (
            PasswordNote {
                ok: true,
                text: format!("Passkey \u{201c}{name}\u{201d} removed."),
                field: "",
            },
            StatusCode::OK,
        ),
        None => (
            refusal("That passkey is not one of yours, or was removed already."),
            StatusCode::NOT_FOUND,
        ),
    };
    let notes = Notes {
        passkey: Some(note),
        ..Notes::default()
    };
    Ok(sudo.finish(render_page(&state, &f.user, token, notes, status).await?))
}

fn refusal(text: &str) -> PasswordNote {
    PasswordNote {
        ok: false,
        text: text.to_string(),
        field: "passkey-name",
    }
}

/// The name the person gave, trimmed; "Passkey" when none. None when it is too long or
/// holds control or invisible characters.
fn name(given: &str) -> Option<String> {
    let n = given.trim();
    if n.chars().count() > NAME_MAX || n.chars().any(escape::dangerous) {
        return None;
    }
    Some(if n.is_empty() {
        "Passkey".into()
    } else {
        n.to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::name;

    #[test]
    fn names_are_trimmed_bounded_and_visible() {
        assert_eq!(name("  Laptop ").as_deref(), Some("Laptop"));
        assert_eq!(name("").as_deref(), Some("Passkey"));
        assert!(name(&"x".repeat(65)).is_none());
        assert!(name("a\u{202e}b").is_none());
        assert!(name("a\nb").is_none());
    }
}
