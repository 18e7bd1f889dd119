//! The person's own security events, newest first, paged. A personal token's first use
//! from a new address is highlighted.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;

use super::extract::SignedIn;
use super::templates::{ActivityPage, EventLine, Layout};
use super::when::when;
use super::{PageError, csrf, render_with};
use crate::state::AppState;
use crate::store::audit::{self, AuditRow, Filter};
use crate::store::clients;
use std::collections::HashMap;

const PAGE_SIZE: i64 = 50;

/// What happened, in plain words. Every kind written with a person's id has its words
/// here; one added later without them reads as a generic line, never as its code.
fn title(kind: &str) -> &'static str {
    match kind {
        "signin.success" => "Signed in",
        "signin.failure" => "Failed sign-in",
        "signin.throttled" => "Sign-in refused: too many tries",
        "mfa.enrolled" => "Two-factor sign-in turned on",
        "mfa.disabled" => "Two-factor sign-in turned off",
        "mfa.reset" => "Two-factor sign-in reset by an administrator",
        "mfa.recovery_code_used" => "Recovery code used",
        "mfa.recovery_codes_replaced" => "New recovery codes made",
        "passkey.added" => "Passkey added",
        "passkey.removed" => "Passkey removed",
        "passkey.counter_went_back" => "Passkey refused: it may have been copied",
        "sudo.confirmed" => "Identity confirmed for a sensitive change",
        "sudo.failed" => "Identity confirmation failed",
        "session.ended" => "Browser signed out from the sessions list",
        "user.password_changed" => "Password changed",
        "user.password_change_failed" => "Password change refused",
        "user.reset_link_created" => "Password reset link made",
        "user.password_reset" => "Password set with a reset link",
        "user.api_scopes_changed" => "API permissions changed",
        "backchannel_logout.finished" => "App told of a sign-out",
        "consent.granted" => "App allowed",
        "consent.revoked" => "App access removed",
        "token.issued" => "App given tokens",
        "token.revoked" => "App token revoked",
        "pat.created" => "API token created",
        "pat.used" => "API token used",
        "pat.revoked" => "API token revoked",
        "pat.reported_leaked" => "API token reported as leaked: it no longer works",
        "refresh.reported_leaked" => "App sign-in reported as leaked: the app was signed out",
        "user.reset_link_reported_leaked" => "Password reset link reported as leaked: cancelled",
        "pat.refused" => "API token refused",
        "refresh.reuse_detected" => "Stolen sign-in suspected: app signed out",
        "code.reuse_detected" => "Sign-in code replayed: tokens revoked",
        _ => "Other security event",
    }
}

/// `names`: the apps' names by client id (an app deleted since shows its id).
fn line(e: AuditRow, names: &HashMap<String, String>, now: i64) -> EventLine {
    let d: Value = serde_json::from_str(&e.details).unwrap_or(Value::Null);
    let mut parts = Vec::new();
    if let Some(n) = d.get("token_name").and_then(Value::as_str) {
        parts.push(format!("token \u{201c}{n}\u{201d}"));
    }
    if let Some(n) = d.get("passkey").and_then(Value::as_str) {
        parts.push(format!("passkey \u{201c}{n}\u{201d}"));
    }
    if let Some(c) = &e.client_id {
        match names.get(c) {
            Some(name) => parts.push(format!("app \u{201c}{name}\u{201d}")),
            None => parts.push(format!("app {c}")),
        }
    }
    if let Some(r) = d.get("reason").and_then(Value::as_str) {
        parts.push(r.replace('_', " "));
    }
    if d.get("by").and_then(Value::as_str) == Some("operator") {
        parts.push("by an administrator".to_string());
    }
    EventLine {
        title: title(&e.kind).to_string(),
        when: when(e.at, now),
        ip: e.ip.unwrap_or_default(),
        detail: parts.join(", "),
        highlight: e.kind == "pat.used" && d.get("new_address") == Some(&Value::Bool(true)),
    }
}

#[derive(serde::Deserialize)]
pub struct PageQuery {
    page: Option<i64>,
}

pub async fn activity_get(
    req: HttpRequest,
    state: web::Data<AppState>,
    me: SignedIn,
    q: web::Query<PageQuery>,
) -> Result<HttpResponse, PageError> {
    let page = q.page.unwrap_or(0).clamp(0, 10_000);
    let filter = Filter {
        user_id: Some(me.user.id),
        limit: PAGE_SIZE + 1,
        offset: page * PAGE_SIZE,
        ..Default::default()
    };
    let (mut rows, names) = state
        .db
        .run(move |conn| {
            let rows = audit::list(conn, &filter)?;
            let mut ids: Vec<String> = rows.iter().filter_map(|r| r.client_id.clone()).collect();
            ids.sort();
            ids.dedup();
            let names = clients::names(conn, &ids)?;
            Ok((rows, names))
        })
        .await?;
    let more = rows.len() as i64 > PAGE_SIZE;
    rows.truncate(PAGE_SIZE as usize);
    let token = csrf::ensure(&state, &req);
    let now = state.clock.now();
    let page_view = ActivityPage {
        layout: Layout::new(&me.user, "activity", &token.token),
        events: rows.into_iter().map(|e| line(e, &names, now)).collect(),
        page,
        more,
    };
    Ok(render_with(token.new_cookie, StatusCode::OK, &page_view))
}
