//! The askama templates of `templates/`, one struct each.

use askama::Template;

use super::when::When;

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage<'a> {
    pub csrf: &'a str,
    /// The authorization transaction this sign-in belongs to, if any.
    pub txn: Option<&'a str>,
    pub client_name: Option<String>,
    /// The app registered itself (RFC 7591 §5): its name is its own claim.
    pub client_unverified: bool,
    pub error: Option<&'static str>,
    pub username: String,
    /// Passkeys are on: "Sign in with a passkey" and the username field's autofill.
    pub passkeys: bool,
}

/// What every signed-in page shows around its content: who is signed in, the
/// navigation with the current page marked, and "Sign out".
pub struct Layout {
    pub who: String,
    /// `apps`, `security`, `tokens`, `activity`, or `` (none marked).
    pub current: &'static str,
    /// For the sign-out form.
    pub csrf: String,
}

impl Layout {
    pub fn new(user: &crate::store::users::User, current: &'static str, csrf: &str) -> Layout {
        Layout {
            who: user
                .name
                .clone()
                .filter(|n| !n.trim().is_empty())
                .unwrap_or_else(|| user.username.clone()),
            current,
            csrf: csrf.to_string(),
        }
    }
}

pub struct ScopeLine {
    pub name: String,
    pub description: String,
}

#[derive(Template)]
#[template(path = "consent.html")]
pub struct ConsentPage<'a> {
    pub csrf: &'a str,
    pub txn: &'a str,
    pub client_name: String,
    pub username: String,
    pub scopes: Vec<ScopeLine>,
    /// Where the answer goes: an https host, or "an app on this device".
    pub destination: String,
    /// For an app that registered itself (RFC 7591 §5): its name is its own claim, so
    /// the page says so and names where the answer goes.
    pub unverified: Option<Unverified>,
}

/// What a person can check about a self-registered app: the pages it named about itself
/// (shown as text, never fetched by the server).
pub struct Unverified {
    pub links: Vec<(&'static str, String)>,
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    pub title: &'a str,
    pub message: &'a str,
}

pub struct AppLine {
    pub client_id: String,
    pub name: String,
    pub scopes: Vec<ScopeLine>,
    pub granted: When,
    /// When the app last refreshed its access, and from which address ("" unknown).
    pub refreshed: Option<(When, String)>,
}

#[derive(Template)]
#[template(path = "account.html")]
pub struct AccountPage<'a> {
    pub layout: Layout,
    pub csrf: &'a str,
    pub apps: Vec<AppLine>,
}

#[derive(Template)]
#[template(path = "signed_out.html")]
pub struct SignedOutPage;

#[derive(Template)]
#[template(path = "logout.html")]
pub struct LogoutPage<'a> {
    pub csrf: &'a str,
    /// The app that asked for the sign-out, if one did.
    pub app: Option<&'a str>,
    /// Carried so that the confirmation ends the session the hint names.
    pub id_token_hint: Option<&'a str>,
    pub client_id: Option<&'a str>,
    pub post_logout_redirect_uri: Option<&'a str>,
    pub state: Option<&'a str>,
}

/// Scopes in plain words for the consent page.
pub fn describe_scope(scope: &str) -> String {
    match scope {
        "openid" => "Sign you in with your account".into(),
        "profile" => "See your name and username".into(),
        "email" => "See your email address".into(),
        "offline_access" => "Keep access while you are not using it".into(),
        other => format!("Use the \u{201c}{other}\u{201d} permission"),
    }
}

#[derive(Template)]
#[template(path = "login_mfa.html")]
pub struct LoginMfaPage<'a> {
    pub csrf: &'a str,
    pub txn: Option<&'a str>,
    pub error: Option<&'static str>,
    /// Passkeys are on: the page offers them instead of a code.
    pub passkeys: bool,
}

pub struct Enrolment {
    pub qr_svg: String,
    pub secret_base32: String,
    pub otpauth_uri: String,
}

#[derive(Template)]
#[template(path = "security.html")]
pub struct SecurityPage<'a> {
    pub layout: Layout,
    pub csrf: &'a str,
    pub enabled: bool,
    pub recovery_left: i64,
    pub enrolment: Option<Enrolment>,
    pub error: Option<FieldError>,
    /// After a password change or its refusal.
    pub password: Option<PasswordNote>,
    /// The person's passkeys; None when passkeys are off.
    pub passkeys: Option<Vec<PasskeyLine>>,
    /// What the passkey section says after a change (`ok`) or a refusal.
    pub passkey_note: Option<PasswordNote>,
}

/// One of the person's passkeys, as the security page lists it.
pub struct PasskeyLine {
    pub id: String,
    pub name: String,
    pub created: When,
    pub last_used: Option<When>,
    /// Backup eligible: the passkey syncs between the person's devices.
    pub synced: bool,
}

/// Creating a passkey: the browser's options (JSON, read by our script) and the form the
/// script completes and posts.
#[derive(Template)]
#[template(path = "passkey_new.html")]
pub struct PasskeyNewPage<'a> {
    pub layout: Layout,
    pub csrf: &'a str,
    pub ceremony: &'a str,
    pub options: &'a str,
    pub name: &'a str,
}

/// A refusal shown above a form, about one field (by its id): the template marks that
/// field `aria-invalid` and points its `aria-describedby` at the message, so a screen
/// reader reads the reason on the field that needs changing (WCAG 3.3.1).
pub struct FieldError {
    pub field: &'static str,
    pub text: String,
}

impl FieldError {
    pub fn new(field: &'static str, text: impl Into<String>) -> FieldError {
        FieldError {
            field,
            text: text.into(),
        }
    }
}

/// Whether `error` is about field `id`.
fn is_about(error: &Option<FieldError>, id: &str) -> bool {
    error.as_ref().is_some_and(|e| e.field == id)
}

/// What the password form says after a change or a refusal.
pub struct PasswordNote {
    pub ok: bool,
    pub text: String,
    /// The id of the field a refusal is about: the template marks that field invalid
    /// and ties the message to it (`aria-describedby`), so a screen reader reads the
    /// reason on the field that needs changing.
    pub field: &'static str,
}

impl SecurityPage<'_> {
    /// Whether the two-factor forms' message is about field `id`.
    pub fn refused(&self, id: &str) -> bool {
        is_about(&self.error, id)
    }

    /// Whether the passkey section's message is a refusal.
    pub fn passkey_refused(&self) -> bool {
        self.passkey_note.as_ref().is_some_and(|n| !n.ok)
    }

    /// Whether the password form's message is a refusal about field `id`.
    pub fn password_refused(&self, id: &str) -> bool {
        self.password
            .as_ref()
            .is_some_and(|n| !n.ok && n.field == id)
    }
}

#[derive(Template)]
#[template(path = "reset.html")]
pub struct ResetPage<'a> {
    pub csrf: &'a str,
    pub token: &'a str,
    pub error: Option<String>,
    /// The password is set: the page says what ended and links to sign-in.
    pub ended: Option<crate::accounts::users::Ended>,
}

pub struct SessionLine {
    pub id: String,
    /// "Firefox on Linux".
    pub what: String,
    pub ip: String,
    pub started: When,
    pub last_active: When,
    /// The browser looking at the page.
    pub current: bool,
}

#[derive(Template)]
#[template(path = "sessions.html")]
pub struct SessionsPage<'a> {
    pub layout: Layout,
    pub csrf: &'a str,
    pub sessions: Vec<SessionLine>,
}

#[derive(Template)]
#[template(path = "recovery_codes.html")]
pub struct RecoveryCodesPage {
    pub codes: Vec<String>,
}

pub struct TokenLine {
    pub id: String,
    pub name: String,
    pub scopes: Vec<String>,
    pub created: When,
    /// `None`: never expires.
    pub expires: Option<When>,
    /// When and from where; `None`: never used.
    pub last_used: Option<(When, Option<String>)>,
    pub allowed_ips: String,
    pub live: bool,
    pub status: &'static str,
}

#[derive(Template)]
#[template(path = "tokens.html")]
pub struct TokensPage<'a> {
    pub layout: Layout,
    pub csrf: &'a str,
    pub tokens: Vec<TokenLine>,
    pub scopes: Vec<ScopeLine>,
    pub mfa_enabled: bool,
    pub max_days: i64,
    pub allow_never: bool,
    pub error: Option<FieldError>,
    pub form_name: String,
    pub form_ips: String,
}

impl TokensPage<'_> {
    /// Whether the form's message is about field `id`.
    pub fn refused(&self, id: &str) -> bool {
        is_about(&self.error, id)
    }
}

#[derive(Template)]
#[template(path = "token_created.html")]
pub struct TokenCreatedPage {
    pub name: String,
    pub token: String,
}

pub struct EventLine {
    pub title: String,
    pub when: When,
    pub ip: String,
    pub detail: String,
    pub highlight: bool,
}

#[derive(Template)]
#[template(path = "activity.html")]
pub struct ActivityPage {
    pub layout: Layout,
    pub events: Vec<EventLine>,
    pub page: i64,
    pub more: bool,
}

/// Re-authentication before a sensitive change: the original form's fields ride along
/// as hidden inputs, so that nothing typed is lost.
#[derive(Template)]
#[template(path = "reauth.html")]
pub struct ReauthPage<'a> {
    pub layout: Layout,
    pub csrf: &'a str,
    pub action: &'a str,
    pub purpose: &'a str,
    pub carried: Vec<(String, String)>,
    pub second_factor: bool,
    pub minutes: i64,
    pub error: Option<&'static str>,
    /// The person has passkeys and passkeys are on: one may confirm instead.
    pub passkeys: bool,
}
