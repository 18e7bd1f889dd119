//! Personal API tokens for people: list, create (after a fresh TOTP code), show once,
//! revoke.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::extract::{SignedIn, SignedInForm};
use super::sudo::{self, Action, Window};
use super::templates::{FieldError, Layout, ScopeLine, TokenCreatedPage, TokenLine, TokensPage};
use super::when::when;
use super::{PageError, csrf, render_with, see_other};
use crate::accounts::Actor;
use crate::accounts::tokens::{self as accounts, Created, NewToken};
use crate::clock::parse_time;
use crate::domain::net::AllowList;
use crate::domain::scope::Scope;
use crate::mfa::factor::{self, Options};
use crate::mfa::guard::{self, Checked};
use crate::oauth::personal::entitled;
use crate::state::AppState;
use crate::store::db::write_transaction;
use crate::store::id::Id;
use crate::store::pat as store;
use crate::store::users::User;
use crate::web::form::Form;
use crate::web::origin;

/// The tokens page. `form`: the person's input to show again after a refusal.
async fn show(
    state: &AppState,
    user: &User,
    token: csrf::Csrf,
    error: Option<FieldError>,
    status: StatusCode,
    form: Option<&Form>,
) -> Result<HttpResponse, PageError> {
    let uid = user.id;
    let (tokens, mfa_enabled) = state
        .db
        .run(move |conn| {
            Ok((
                store::list_for_user(conn, uid)?,
                factor::enabled(conn, uid)?,
            ))
        })
        .await?;
    let now = state.clock.now();
    let lines = tokens
        .into_iter()
        .map(|t| TokenLine {
            id: t.id.to_string(),
            live: t.is_live(now),
            status: if t.revoked_at.is_some() {
                "revoked"
            } else {
                "expired"
            },
            scopes: t.scope.iter().map(str::to_string).collect(),
            created: when(t.created_at, now),
            expires: t.expires_at.map(|e| when(e, now)),
            last_used: t
                .last_used_at
                .map(|at| (when(at, now), t.last_used_ip.clone())),
            allowed_ips: t.allowed_ips.to_string(),
            name: t.name,
        })
        .collect();
    let page = TokensPage {
        layout: Layout::new(user, "tokens", &token.token),
        csrf: &token.token,
        tokens: lines,
        scopes: entitled(&state.settings.api_scopes, user)
            .into_iter()
            .map(|(n, d)| ScopeLine {
                name: n.clone(),
                description: d.clone(),
            })
            .collect(),
        mfa_enabled,
        max_days: state.settings.pat_max_days,
        allow_never: state.settings.pat_allow_never,
        error,
        form_name: form.and_then(|f| f.get("name")).unwrap_or("").to_string(),
        form_ips: form
            .and_then(|f| f.get("allowed_ips"))
            .unwrap_or("")
            .to_string(),
    };
    Ok(render_with(token.new_cookie, status, &page))
}

pub async fn tokens_get(
    req: HttpRequest,
    state: web::Data<AppState>,
    me: SignedIn,
) -> Result<HttpResponse, PageError> {
    let token = csrf::ensure(&state, &req);
    show(&state, &me.user, token, None, StatusCode::OK, None).await
}

fn validate(state: &AppState, user: &User, form: &Form, now: i64) -> Result<NewToken, FieldError> {
    let name = form.get("name").unwrap_or("").trim().to_string();
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(FieldError::new(
            "name",
            "Give the token a name of 1 to 64 characters.",
        ));
    }
    // Only scopes of the catalogue this person is entitled to: a token never carries
    // more, whatever the form says.
    let scopes: Vec<&str> = entitled(&state.settings.api_scopes, user)
        .into_iter()
        .map(|(n, _)| n.as_str())
        .filter(|n| form.get(&format!("scope.{n}")).is_some())
        .collect();
    if scopes.is_empty() {
        return Err(FieldError::new(
            "permissions",
            "Choose at least one permission.",
        ));
    }
    let max = state.settings.pat_max_days;
    let expires_at = match form.get("expires").unwrap_or("30") {
        "never" if state.settings.pat_allow_never => None,
        "never" => return Err(FieldError::new("expires", "Tokens must expire.")),
        "date" => {
            let t = form.get("expires_on").and_then(parse_time).ok_or_else(|| {
                FieldError::new("expires_on", "Enter the expiry date as YYYY-MM-DD.")
            })?;
            if t <= now {
                return Err(FieldError::new(
                    "expires_on",
                    "The expiry date must be in the future.",
                ));
            }
            if t > now + max * 86_400 {
                return Err(FieldError::new(
                    "expires_on",
                    format!("Tokens can last at most {max} days."),
                ));
            }
            Some(t)
        }
        days => {
            let d: i64 = days
                .parse()
                .map_err(|_| FieldError::new("expires", "Choose when the token expires."))?;
            if !(1..=max).contains(&d) {
                return Err(FieldError::new(
                    "expires",
                    format!("Tokens can last at most {max} days."),
                ));
            }
            Some(now + d * 86_400)
        }
    };
    let allowed_ips = AllowList::parse(form.get("allowed_ips").unwrap_or("")).map_err(|bad| {
        FieldError::new(
            "allowed_ips",
            format!("\u{201c}{bad}\u{201d} is not an IP address or CIDR range."),
        )
    })?;
    let scope = Scope::parse(&scopes.join(" "))
        .map_err(|e| FieldError::new("permissions", e.to_string()))?;
    Ok(NewToken {
        name,
        scope,
        expires_at,
        allowed_ips,
    })
}

const CREATE: Action = Action {
    path: "/account/tokens",
    purpose: "create an API token",
    window: Window::Credentials,
};

pub async fn create_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    f: SignedInForm,
) -> Result<HttpResponse, PageError> {
    let sudo = sudo::require(&state, &req, &f, &CREATE).await?;
    let SignedInForm { form, user, .. } = f;
    let token = sudo.csrf(&state, &req);
    let now = state.clock.now();
    let refuse = |token, error: FieldError, status| {
        show(&state, &user, token, Some(error), status, Some(&form))
    };
    let new = match validate(&state, &user, &form, now) {
        Ok(n) => n,
        Err(e) => return Ok(sudo.finish(refuse(token, e, StatusCode::BAD_REQUEST).await?)),
    };
    let proof = sudo.proof(&form);
    let keys = state.data_keys.clone();
    let uid = user.id;
    let (ip, user_agent) = origin::origin(&req, &state.settings.trusted_proxies);
    let by = Actor::Person { ip, user_agent };
    let name = new.name.clone();
    let outcome = state
        .db
        .run(move |conn| {
            if !factor::enabled(conn, uid)? {
                return Ok(None);
            }
            // A fresh code from the app: recovery codes do not create tokens.
            guard::with_second_factor(conn, &keys, uid, proof, Options::APP_CODE, now, |conn| {
                accounts::create(conn, uid, &new, &by, now)
            })
            .map(Some)
        })
        .await?;
    let (msg, status) = match outcome {
        Some(Checked::Passed(Created::Token(value))) => {
            let page = TokenCreatedPage { name, token: value };
            return Ok(sudo.finish(render_with(token.new_cookie, StatusCode::OK, &page)));
        }
        Some(Checked::Passed(Created::NameTaken)) => (
            FieldError::new("name", "You already have a token with that name."),
            StatusCode::BAD_REQUEST,
        ),
        Some(Checked::Failed) => (
            FieldError::new("code", "That code did not work, or was already used."),
            StatusCode::BAD_REQUEST,
        ),
        Some(Checked::TooMany(wait)) => {
            let res = refuse(
                token,
                FieldError::new("code", "Too many wrong codes. Please wait a few minutes."),
                StatusCode::TOO_MANY_REQUESTS,
            );
            return Ok(sudo.finish(super::too_many(res.await?, wait)));
        }
        None => (
            FieldError::new("code", "Creating API tokens needs two-factor sign-in."),
            StatusCode::BAD_REQUEST,
        ),
    };
    Ok(sudo.finish(refuse(token, msg, status).await?))
}

pub async fn revoke_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    f: SignedInForm,
) -> Result<HttpResponse, PageError> {
    let back = see_other("/account/tokens", StatusCode::SEE_OTHER).finish();
    let Some(id) = f
        .form
        .get("id")
        .and_then(|i| uuid::Uuid::parse_str(i).ok())
        .map(Id)
    else {
        return Ok(back);
    };
    let uid = f.user.id;
    let now = state.clock.now();
    let (ip, user_agent) = origin::origin(&req, &state.settings.trusted_proxies);
    let by = Actor::Person { ip, user_agent };
    state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| accounts::revoke(conn, id, Some(uid), &by, now))
        })
        .await?;
    Ok(back)
}
