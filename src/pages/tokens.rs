//! Personal API tokens for people: list, create (after a fresh TOTP code), show once,
//! revoke.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::second_factor;
use super::templates::{ScopeLine, TokenCreatedPage, TokenLine, TokensPage};
use super::{csrf, render_with, see_other, signed_in, signed_in_form, unavailable_page};
use crate::cli::{human_time, parse_time};
use crate::endpoints::form::Form;
use crate::mfa::pat;
use crate::oauth::ip_allow;
use crate::oauth::personal::entitled;
use crate::secret;
use crate::state::AppState;
use crate::store::audit::{self, Event};
use crate::store::db::write_transaction;
use crate::store::id::Id;
use crate::store::pat::{self as store, PersonalToken};
use crate::store::users::User;

async fn show(
    req: &HttpRequest,
    state: &AppState,
    user: &User,
    error: Option<String>,
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
            scopes: t.scope.split(' ').map(str::to_string).collect(),
            created: human_time(t.created_at),
            expires: t.expires_at.map_or_else(|| "never".into(), human_time),
            last_used: match (t.last_used_at, &t.last_used_ip) {
                (Some(at), Some(ip)) => format!("{} from {ip}", human_time(at)),
                (Some(at), None) => human_time(at),
                _ => "never".into(),
            },
            allowed_ips: t.allowed_ips.clone(),
            name: t.name,
        })
        .collect();
    let csrf::Csrf { token, new_cookie } = csrf::ensure(req, state.settings.secure_cookies());
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let page = TokensPage {
        csrf: &token,
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
    render_with(new_cookie, status, &page)
}

pub async fn tokens_get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    match signed_in(&state, &req).await {
        Ok((_, user)) => show(&req, &state, &user, None, None).await,
        Err(res) => res,
    }
}

/// A creation request after validation.
struct NewToken {
    name: String,
    scope: String,
    expires_at: Option<i64>,
    allowed_ips: String,
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
    let nets = ip_allow::parse_list(form.get("allowed_ips").unwrap_or(""))
        .map_err(|bad| format!("\u{201c}{bad}\u{201d} is not an IP address or CIDR range."))?;
    Ok(NewToken {
        name,
        scope: scopes.join(" "),
        expires_at,
        allowed_ips: nets
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(" "),
    })
}

enum Created {
    Token(String),
    Refused(&'static str),
}

pub async fn create_post(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (form, user) = match signed_in_form(&state, &req, payload).await {
        Ok(f) => f,
        Err(res) => return res,
    };
    let now = state.clock.now();
    let new = match validate(&state, &user, &form, now) {
        Ok(n) => n,
        Err(msg) => return show(&req, &state, &user, Some(msg), Some(&form)).await,
    };
    let key = format!("mfa:{}", user.id);
    if state.mfa_by_user.check(&key, now).is_err() {
        return show(
            &req,
            &state,
            &user,
            Some("Too many wrong codes. Please wait a few minutes.".into()),
            Some(&form),
        )
        .await;
    }
    let code = form.get("code").unwrap_or("").to_string();
    let keys = state.data_keys.clone();
    let uid = user.id;
    let (ip, ua) = crate::audit::origin(&req);
    let name = new.name.clone();
    let outcome = state
        .db(move |conn| {
            write_transaction(conn, |conn| {
                if !second_factor::enabled(conn, uid)? {
                    return Ok(Created::Refused(
                        "Creating API tokens needs two-factor sign-in.",
                    ));
                }
                // A fresh code from the app: recovery codes do not create tokens.
                if second_factor::check(conn, &keys, uid, &code, false, true, now)?.is_none() {
                    return Ok(Created::Refused(
                        "That code did not work, or was already used.",
                    ));
                }
                if store::name_taken(conn, uid, &new.name)? {
                    return Ok(Created::Refused("You already have a token with that name."));
                }
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
                store::insert(conn, &t)?;
                let e = Event::new("pat.created", "success")
                    .user(uid)
                    .from_addr(ip, ua)
                    .detail("token_id", t.id.to_string())
                    .detail("token_name", t.name.clone())
                    .detail("scope", t.scope.clone())
                    .detail("expires_at", t.expires_at)
                    .detail("allowed_ips", t.allowed_ips.clone());
                audit::record(conn, &e, now)?;
                Ok(Created::Token(value))
            })
        })
        .await;
    match outcome {
        Ok(Created::Token(value)) => {
            state.mfa_by_user.reset(&key);
            let token = csrf::ensure(&req, state.settings.secure_cookies());
            render_with(
                token.new_cookie,
                StatusCode::OK,
                &TokenCreatedPage { name, token: value },
            )
        }
        Ok(Created::Refused(msg)) => {
            state.mfa_by_user.fail(&key, now);
            show(&req, &state, &user, Some(msg.into()), Some(&form)).await
        }
        Err(_) => unavailable_page(),
    }
}

pub async fn revoke_post(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (form, user) = match signed_in_form(&state, &req, payload).await {
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
