//! Limits on guessing passwords (codes: `mfa::guard`).
//!
//! Every attempt is counted before it is checked and given back only when it succeeds
//! (see `store::throttle`), so N concurrent wrong attempts get at most the limit checked
//! and the rest are refused (429 with `Retry-After`). Passwords are counted per username
//! (or per device cookie, see `device`) in the database, shared by all instances; the
//! per-address counter, a coarse brake on one source spraying many usernames, stays in
//! each instance's memory.

use actix_web::HttpRequest;

use super::device;
use crate::metrics;
pub use crate::mfa::guard::{Checked, WINDOW};
use crate::password;
use crate::secret;
use crate::state::AppState;
use crate::store::DbError;
use crate::store::audit::{self, Event};
use crate::store::throttle::{self, Reserved};
use crate::store::users::{self, User};
use crate::web::origin;

/// The per-address password limit is this many times the per-username one.
pub const PER_ADDRESS_FACTOR: u32 = 4;

/// Kilobytes of sign-in requests one address may have kept (each transaction keeps its
/// request, up to 64 KB, for 15 minutes) per `FLOWS_WINDOW` seconds, each counted as at
/// least 1 KB: a ceiling on the storage one source can take that still lets 16 384
/// ordinary sign-ins start from one address (a NAT, a load test) in ten minutes.
pub const FLOW_KB_PER_ADDRESS: u32 = 16 * 1024;
pub const FLOWS_WINDOW: i64 = 600;

/// A valid argon2id hash of a random password, so that an unknown username costs as
/// much time as a wrong password.
static DUMMY_HASH: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| password::hash(&secret::random_token("", 16)).unwrap_or_default());

pub use crate::web::origin::address_key;

/// Check `password` for `username` within the sign-in limits: the caller's address, and
/// the username, or this browser's device cookie for that username. Password hashing
/// runs on the blocking pool together with the counting. `on_wrong` is written when the
/// password is wrong, on the person when the username names one (so that it reaches
/// their Activity page), in the same unit of work.
pub async fn password(
    state: &AppState,
    req: &HttpRequest,
    username: &str,
    password: String,
    on_wrong: Option<Event>,
) -> Result<Checked<User>, DbError> {
    let now = state.clock.now();
    let ip_key = address_key(req, &state.settings.trusted_proxies);
    let (ip, user_agent) = origin::origin(req, &state.settings.trusted_proxies);
    // Refusals go to the audit trail too (OWASP ASVS V7.2.1: every authentication
    // decision), within the per-address cap on refusals written: the person whose
    // username is locked sees it on their activity page, the operator sees from where.
    let throttled = move |limit: &'static str| {
        Event::new("signin.throttled", "failure")
            .from_addr(ip.clone(), user_agent.clone())
            .detail("limit", limit)
    };
    if let Err(wait) = state.login_by_ip.reserve(&ip_key, now) {
        metrics::throttled("address");
        let key = format!("login:ip:{ip_key}");
        crate::audit::record_refusal_once(&state.db, key, WINDOW, throttled("address"), now).await;
        return Ok(Checked::TooMany(wait));
    }
    let device = device::presented(req, state.settings.secure_cookies());
    let device_key = state.device_key.clone();
    let limit = state.settings.login_max_failures;
    let name = username.to_string();
    let ip_key_for_audit = ip_key.clone();
    let outcome = state
        .db
        .run(move |conn| {
            let user = users::find_by_username(conn, &name)?;
            // This browser's own budget, if its device cookie vouches for this person as
            // they are now; else the username's. Usernames are typed by anyone: hashed,
            // the key stays short whatever was typed.
            let (counter, limit_name) = match (&device, &user) {
                (Some(d), Some(u)) if let Some(id) = d.vouches_for(&device_key, u) => {
                    (format!("login:device:{id}"), "device")
                }
                // Any spelling of the name is the same person's budget: "ALICE" and
                // "alice" sign in alike, so they count alike.
                _ => (
                    format!("login:user:{}", secret::hash(&users::key(&name))),
                    "username",
                ),
            };
            let window_start = match throttle::reserve(conn, &counter, limit, WINDOW, now)? {
                Reserved::Granted { window_start } => window_start,
                Reserved::Refused { retry_after } => {
                    metrics::throttled(limit_name);
                    // One line per locked counter and window, however many refusals a
                    // burst gets.
                    if crate::audit::refusal_allowed(&ip_key_for_audit, now) {
                        let e = throttled(limit_name);
                        let e = match &user {
                            Some(u) => e.user(u.id),
                            None => e,
                        };
                        crate::audit::record_once(conn, &counter, WINDOW, &e, now)?;
                    }
                    return Ok(Checked::TooMany(retry_after));
                }
            };
            let hash = user
                .as_ref()
                .map_or(DUMMY_HASH.as_str(), |u| u.password_hash.as_str());
            let ok = password::verify(&password, hash);
            match user {
                Some(u) if ok => {
                    throttle::release(conn, &counter, window_start)?;
                    Ok(Checked::Passed(u))
                }
                _ => {
                    if let Some(e) = on_wrong {
                        let e = match &user {
                            Some(u) => e.user(u.id),
                            None => e,
                        };
                        audit::record(conn, &e, now)?;
                    }
                    Ok(Checked::Failed)
                }
            }
        })
        .await;
    // An attempt that was not checked, or that succeeded, does not count.
    if !matches!(outcome, Ok(Checked::Failed)) {
        state.login_by_ip.release(&ip_key);
    }
    outcome
}
