//! Limits on guessing passwords and second-factor codes.
//!
//! Every attempt is counted before it is checked and given back only when it succeeds
//! (see `store::throttle`), so N concurrent wrong attempts get at most the limit checked
//! and the rest are refused (429 with `Retry-After`). The counters that matter across
//! instances are in the database: passwords per username (or per device cookie, see
//! `device`) and codes per person. The per-address password counter, a coarse brake on
//! one source spraying many usernames, stays in each instance's memory.

use actix_web::HttpRequest;

use super::device;
use super::second_factor::{self, Options};
use crate::mfa::sealed::DataKeys;
use crate::oauth::error::OAuthError;
use crate::password;
use crate::secret;
use crate::state::AppState;
use crate::store::AnyConnection;
use crate::store::db::write_transaction;
use crate::store::id::Id;
use crate::store::throttle::{self, Reserved};
use crate::store::users::{self, User};

/// Attempts are counted over this window.
pub const WINDOW: i64 = 15 * 60;
/// Second-factor codes checked per person per window, wherever they are typed (the
/// second sign-in step, enrolment, turning it off, creating a token, re-authenticating).
pub const SECOND_FACTOR_LIMIT: u32 = 5;
/// The per-address password limit is this many times the per-username one.
pub const PER_ADDRESS_FACTOR: u32 = 4;

/// The result of a guarded check.
#[derive(Debug)]
pub enum Checked<T> {
    Passed(T),
    Failed,
    /// Not checked: the limit is reached. Seconds until it may be tried again.
    TooMany(i64),
}

/// A valid argon2id hash of a random password, so that an unknown username costs as
/// much time as a wrong password.
static DUMMY_HASH: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| password::hash(&secret::random_token("", 16)).unwrap_or_default());

/// The throttling key of the caller's address. IPv6 is keyed by its /64: one
/// subscriber usually holds a whole /64 and could otherwise rotate addresses freely.
pub fn address_key(req: &HttpRequest) -> String {
    match crate::audit::client_ip(req) {
        Some(std::net::IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Some(ip) => ip.to_string(),
        None => "unknown".into(),
    }
}

/// Check `password` for `username` within the sign-in limits: the caller's address, and
/// the username, or this browser's device cookie for that username. Password hashing
/// runs on the blocking pool together with the counting.
pub async fn password(
    state: &AppState,
    req: &HttpRequest,
    username: &str,
    password: String,
) -> Result<Checked<User>, OAuthError> {
    let now = state.clock.now();
    let ip_key = address_key(req);
    if let Err(wait) = state.login_by_ip.reserve(&ip_key, now) {
        return Ok(Checked::TooMany(wait));
    }
    let secure = state.settings.secure_cookies();
    // Usernames are typed by anyone: hashed, the key stays short whatever was typed.
    let counter = match device::recognised(req, &state.device_key, secure, username) {
        Some(device) => format!("login:device:{device}"),
        None => format!("login:user:{}", secret::hash(username)),
    };
    let limit = state.settings.login_max_failures;
    let name = username.to_string();
    let outcome = state
        .db(move |conn| {
            let window_start = match throttle::reserve(conn, &counter, limit, WINDOW, now)? {
                Reserved::Granted { window_start } => window_start,
                Reserved::Refused { retry_after } => return Ok(Checked::TooMany(retry_after)),
            };
            let user = users::find_by_username(conn, &name)?;
            let hash = user
                .as_ref()
                .map_or(DUMMY_HASH.as_str(), |u| u.password_hash.as_str());
            let ok = password::verify(&password, hash);
            match user.filter(|_| ok) {
                Some(u) => {
                    throttle::release(conn, &counter, window_start)?;
                    Ok(Checked::Passed(u))
                }
                None => Ok(Checked::Failed),
            }
        })
        .await;
    // An attempt that was not checked, or that succeeded, does not count.
    if !matches!(outcome, Ok(Checked::Failed)) {
        state.login_by_ip.release(&ip_key);
    }
    outcome
}

/// Check a second-factor code of `user` with `check`, inside the caller's unit of work
/// but outside its transaction: the attempt is reserved (and committed) first, so that
/// concurrent requests see it. `check` answers `Some` when the code was right.
pub fn second_factor<T, E>(
    conn: &mut AnyConnection,
    user: Id,
    now: i64,
    check: impl FnOnce(&mut AnyConnection) -> Result<Option<T>, E>,
) -> Result<Checked<T>, E>
where
    E: From<diesel::result::Error>,
{
    let key = format!("mfa:{user}");
    let window_start = match throttle::reserve(conn, &key, SECOND_FACTOR_LIMIT, WINDOW, now)? {
        Reserved::Granted { window_start } => window_start,
        Reserved::Refused { retry_after } => return Ok(Checked::TooMany(retry_after)),
    };
    match check(conn)? {
        Some(v) => {
            throttle::release(conn, &key, window_start)?;
            Ok(Checked::Passed(v))
        }
        None => Ok(Checked::Failed),
    }
}

/// How a sensitive change proves the second factor.
pub enum Proof {
    /// A code typed into the change's own form, to be checked now.
    Code(String),
    /// The re-authentication of this same request checked a code already.
    Reauthenticated,
}

impl std::fmt::Debug for Proof {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Proof::Code(_) => f.write_str("Code([redacted])"),
            Proof::Reauthenticated => f.write_str("Reauthenticated"),
        }
    }
}

impl Proof {
    /// The proof a form gives: its `code` field, unless `sudo` checked one just now.
    pub fn from_form(form: &crate::endpoints::form::Form, sudo: &super::sudo::Sudo) -> Proof {
        if sudo.second_factor_checked() {
            Proof::Reauthenticated
        } else {
            Proof::Code(form.get("code").unwrap_or("").to_string())
        }
    }
}

/// Run `change` in one write transaction once the second factor is proven: a typed code
/// is checked (within the limit, spent even if `change` then refuses) in that same
/// transaction. `change` answers `None` to refuse without counting a failure.
pub fn with_second_factor<T>(
    conn: &mut AnyConnection,
    keys: &DataKeys,
    user: Id,
    proof: Proof,
    opts: Options,
    now: i64,
    change: impl FnOnce(&mut AnyConnection) -> diesel::QueryResult<T>,
) -> diesel::QueryResult<Checked<T>> {
    match proof {
        Proof::Reauthenticated => write_transaction(conn, change).map(Checked::Passed),
        Proof::Code(code) => second_factor(conn, user, now, |conn| {
            write_transaction(conn, |conn| {
                if second_factor::check(conn, keys, user, &code, opts, now)?.is_none() {
                    return Ok(None);
                }
                change(conn).map(Some)
            })
        }),
    }
}
