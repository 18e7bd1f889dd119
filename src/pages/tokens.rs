//! Personal API tokens for people: list, create (after a fresh TOTP code), show once,
//! revoke.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::limits::{self, Checked, Proof};
use super::second_factor::{self, Options};
use super::sudo::{self, Action};
use super::templates::{ScopeLine, TokenCreatedPage, TokenLine, TokensPage};
use super::{csrf, render_with, see_other, signed_in, signed_in_form, unavailable_page};
use crate::cli::{human_time, parse_time};
use crate::domain::net::AllowList;
use crate::domain::scope::Scope;
use crate::endpoints::form::Form;
use crate::mfa::pat;
use crate::oauth::personal::entitled;
use crate::secret;
use crate::state::AppState;
use crate::store::audit::{self, Event};
use crate::store::db::write_transaction;
use crate::store::id::Id;
use crate::store::pat::{self as store, PersonalToken};
use crate::store::users::User;

/// The tokens page. `form`: the person's input to show again after a refusal.
async fn show(
    state: &AppState,
    user: &User,
    token: csrf::Csrf,
    error: Option<String>,
    status: StatusCode,
    form: Option<&Form>,
) -> HttpResponse {
    let uid = user.id;
    let Ok((tokens, mfa_enabled)) = state
        .db(move |conn| {
            Ok((
                store::list_for_user(conn, uid)?,
                second_factor::enabled(conn, uid)?,
            ))
        })
        .await
    else {
        return unavailable_page();
    };
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
            created: human_time(t.created_at),
            expires: t.expires_at.map_or_else(|| "never".into(), human_time),
            last_used: match (t.last_used_at, &t.last_used_ip) {
                (Some(at), Some(ip)) => format!("{} from {ip}", human_time(at)),
                (Some(at), None) => human_time(at),
                _ => "never".into(),
            },
            allowed_ips: t.allowed_ips.to_string(),
            name: t.name,
        })
        .collect();
    let page = TokensPage {
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
    render_with(token.new_cookie, status, &page)
}

pub async fn tokens_get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    match signed_in(&state, &req).await {
        Ok((_, user)) => {
            let token = csrf::ensure(&state, &req);
            show(&state, &user, token, None, StatusCode::OK, None).await
        }
        Err(res) => res,
    }
}

/// A creation request after validation.
struct NewToken {
    name: String,
    scope: Scope,
    expires_at: Option<i64>,
    allowed_ips: AllowList,
}

fn validate(state: &AppState, user: &User, form: &Form, now: i64) -> Result<NewToken, String> {
    let name = form.get("name").unwrap_or("").trim().to_string();
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err("Give the token a name of 1 to 64 characters.".into());
    }
    // Only scopes of the catalogue this person is entitled to: a token never carries
    // more, whatever the form says.
    let scopes: Vec<&str> = entitled(&state.settings.api_scopes, user)
        .into_iter()
        .map(|(n, _)| n.as_str())
        .filter(|n| form.get(&format!("scope.{n}")).is_some())
        .collect();
    if scopes.is_empty() {
        return Err("Choose at least one permission.".into());
    }
    let max = state.settings.pat_max_days;
    let expires_at = match form.get("expires").unwrap_or("30") {
        "never" if state.settings.pat_allow_never => None,
        "never" => return Err("Tokens must expire.".into()),
        "date" => {
            let t = form
                .get("expires_on")
                .and_then(parse_time)
                .ok_or("Enter the expiry date as YYYY-MM-DD.")?;
            if t <= now {
                return Err("The expiry date must be in the future.".into());
            }
            if t > now + max * 86_400 {
                return Err(format!("Tokens can last at most {max} days."));
            }
            Some(t)
        }
        days => {
            let d: i64 = days.parse().map_err(|_| "Choose when the token expires.")?;
            if !(1..=max).contains(&d) {
                return Err(format!("Tokens can last at most {max} days."));
            }
            Some(now + d * 86_400)
        }
    };
    let allowed_ips = AllowList::parse(form.get("allowed_ips").unwrap_or(""))
        .map_err(|bad| format!("\u{201c}{bad}\u{201d} is not an IP address or CIDR range."))?;
    let scope = Scope::parse(&scopes.join(" ")).map_err(|e| e.to_string())?;
    Ok(NewToken {
        name,
        scope,
        expires_at,
        allowed_ips,
    })
}

enum Created {
    Token(String),
    NameTaken,
}

const CREATE: Action = Action {
    path: "/account/tokens",
    purpose: "create an API token",
};

pub async fn create_post(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (form, session, user) = match signed_in_form(&state, &req, payload).await {
        Ok(f) => f,
        Err(res) => return res,
    };
    let sudo = match sudo::require(&state, &req, &session, &user, &form, &CREATE).await {
        Ok(s) => s,
        Err(res) => return res,
    };
    let token = sudo.csrf(&state, &req);
    let now = state.clock.now();
    let refuse = |token, msg: &str, status| {
        show(
            &state,
            &user,
            token,
            Some(msg.to_string()),
            status,
            Some(&form),
        )
    };
    let new = match validate(&state, &user, &form, now) {
        Ok(n) => n,
        Err(msg) => return sudo.finish(refuse(token, &msg, StatusCode::BAD_REQUEST).await),
    };
    let proof = Proof::from_form(&form, &sudo);
    let keys = state.data_keys.clone();
    let uid = user.id;
    let (ip, ua) = crate::audit::origin(&req);
    let name = new.name.clone();
    let outcome = state
        .db(move |conn| {
            if !second_factor::enabled(conn, uid)? {
                return Ok(None);
            }
            // A fresh code from the app: recovery codes do not create tokens.
            limits::with_second_factor(conn, &keys, uid, proof, Options::APP_CODE, now, |conn| {
                let value = pat::generate();
                let t = PersonalToken {
                    id: Id::new_v7(),
                    user_id: uid,
                    name: new.name.clone(),
                    token_hash: secret::hash(&value),
                    scope: new.scope.clone(),
                    allowed_ips: new.allowed_ips.clone(),
                    created_at: now,
                    expires_at: new.expires_at,
                    revoked_at: None,
                    last_used_at: None,
                    last_used_ip: None,
                };
                if !store::insert(conn, &t, now)? {
                    return Ok(Created::NameTaken);
                }
                let e = Event::new("pat.created", "success")
                    .user(uid)
                    .from_addr(ip, ua)
                    .detail("token_id", t.id.to_string())
                    .detail("token_name", t.name.clone())
                    .detail("scope", t.scope.to_string())
                    .detail("expires_at", t.expires_at)
                    .detail("allowed_ips", t.allowed_ips.to_string());
                audit::record(conn, &e, now)?;
                Ok(Created::Token(value))
            })
            .map(Some)
        })
        .await;
    let res = match outcome {
        Ok(Some(Checked::Passed(Created::Token(value)))) => render_with(
            token.new_cookie,
            StatusCode::OK,
            &TokenCreatedPage { name, token: value },
        ),
        Ok(Some(Checked::Passed(Created::NameTaken))) => {
            refuse(
                token,
                "You already have a token with that name.",
                StatusCode::BAD_REQUEST,
            )
            .await
        }
        Ok(Some(Checked::Failed)) => {
            refuse(
                token,
                "That code did not work, or was already used.",
                StatusCode::BAD_REQUEST,
            )
            .await
        }
        Ok(Some(Checked::TooMany(wait))) => sudo::too_many(
            refuse(
                token,
                "Too many wrong codes. Please wait a few minutes.",
                StatusCode::TOO_MANY_REQUESTS,
            )
            .await,
            wait,
        ),
        Ok(None) => {
            refuse(
                token,
                "Creating API tokens needs two-factor sign-in.",
                StatusCode::BAD_REQUEST,
            )
            .await
        }
        Err(_) => unavailable_page(),
    };
    sudo.finish(res)
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
    let Some(id) = form
        .get("id")
        .and_then(|i| uuid::Uuid::parse_str(i).ok())
        .map(Id)
    else {
        return see_other("/account/tokens", StatusCode::SEE_OTHER).finish();
    };
    let uid = user.id;
    let now = state.clock.now();
    let (ip, ua) = crate::audit::origin(&req);
    let done = state
        .db(move |conn| {
            write_transaction(conn, |conn| {
                if let Some(t) = store::revoke(conn, id, Some(uid), now)? {
                    let e = Event::new("pat.revoked", "success")
                        .user(uid)
                        .from_addr(ip, ua)
                        .detail("token_id", t.id.to_string())
                        .detail("token_name", t.name);
                    audit::record(conn, &e, now)?;
                }
                Ok(())
            })
        })
        .await;
    if done.is_err() {
        return unavailable_page();
    }
    see_other("/account/tokens", StatusCode::SEE_OTHER).finish()
}
