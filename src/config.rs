//! Settings: flags > environment > config file > defaults, validated once at start.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::domain::net::{self, Net};
use crate::domain::scope::Scope;

/// The settings as given: by the command line and environment, or by the config file
/// (the same fields under the same names, so the two can never drift apart). Every field
/// is optional so that the file and the defaults can fill the gaps.
#[derive(Debug, Clone, Default, clap::Args, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SettingsArgs {
    /// TOML file with any of the settings below (flags and environment win).
    // A global option (`CommonArgs`); here for the config file.
    #[arg(skip)]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Address and port to listen on.
    #[arg(long, env = "PORTCULLIS_BIND", value_name = "ADDR")]
    pub bind: Option<String>,
    /// Issuer identifier (RFC 8414 §2): https URL without query or fragment.
    #[arg(long, env = "PORTCULLIS_ISSUER", value_name = "URL")]
    pub issuer: Option<String>,
    /// sqlite://FILE or postgres://USER@HOST/DB.
    // A global option (`CommonArgs`); here for the config file.
    #[arg(skip)]
    pub database_url: Option<String>,
    /// Where data.key is kept when no data key is given (signing keys live in the
    /// database; an earlier version's key files here are imported once).
    // A global option (`CommonArgs`); here for the config file.
    #[arg(skip)]
    pub keys_dir: Option<PathBuf>,
    /// Lifetime of access tokens, in seconds.
    #[arg(long, env = "PORTCULLIS_ACCESS_TOKEN_TTL", value_name = "SECONDS")]
    pub access_token_ttl: Option<i64>,
    /// `aud` of access tokens requested without an RFC 8707 `resource` (default: the issuer).
    #[arg(long, env = "PORTCULLIS_DEFAULT_AUDIENCE", value_name = "URI")]
    pub default_audience: Option<String>,
    /// How long a client record is cached in memory, in seconds (0 disables the cache).
    #[arg(long, env = "PORTCULLIS_CLIENT_CACHE_TTL", value_name = "SECONDS")]
    pub client_cache_ttl: Option<u64>,
    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "PORTCULLIS_WORKERS", value_name = "N")]
    pub workers: Option<usize>,
    /// Maximum database connections of this instance.
    #[arg(long, env = "PORTCULLIS_DB_POOL_SIZE", value_name = "N")]
    pub db_pool_size: Option<u32>,
    /// A browser session ends after this many seconds without use.
    #[arg(long, env = "PORTCULLIS_SESSION_IDLE_TTL", value_name = "SECONDS")]
    pub session_idle_ttl: Option<i64>,
    /// A browser session ends this many seconds after sign-in, used or not.
    #[arg(long, env = "PORTCULLIS_SESSION_LIFETIME", value_name = "SECONDS")]
    pub session_lifetime: Option<i64>,
    /// A refresh token not used for this many seconds expires.
    #[arg(long, env = "PORTCULLIS_REFRESH_IDLE_TTL", value_name = "SECONDS")]
    pub refresh_idle_ttl: Option<i64>,
    /// A refresh-token family ends this many seconds after the sign-in that started it.
    #[arg(long, env = "PORTCULLIS_REFRESH_ABSOLUTE_TTL", value_name = "SECONDS")]
    pub refresh_absolute_ttl: Option<i64>,
    /// Scopes people may give personal API tokens: "name=Plain description;name2=...".
    #[arg(long, env = "PORTCULLIS_API_SCOPES", value_name = "LIST")]
    pub api_scopes: Option<String>,
    /// Longest lifetime of a personal API token, in days.
    #[arg(long, env = "PORTCULLIS_PAT_MAX_DAYS", value_name = "DAYS")]
    pub pat_max_days: Option<i64>,
    /// Allow personal API tokens that never expire (off by default).
    #[arg(long, env = "PORTCULLIS_PAT_ALLOW_NEVER", value_name = "BOOL",
          num_args = 0..=1, default_missing_value = "true",
          value_parser = clap::builder::BoolishValueParser::new())]
    pub pat_allow_never: Option<bool>,
    /// Days of audit events to keep (`purge` deletes older ones).
    #[arg(long, env = "PORTCULLIS_AUDIT_RETENTION_DAYS", value_name = "DAYS")]
    pub audit_retention_days: Option<i64>,
    /// Reverse proxies whose `X-Forwarded-For` is believed: addresses or CIDR ranges,
    /// comma-separated. Without it the client address is always the TCP peer.
    #[arg(long, env = "PORTCULLIS_TRUSTED_PROXIES", value_name = "CIDR,...")]
    pub trusted_proxies: Option<String>,
    /// Key that seals TOTP secrets and signing keys at rest: 32 bytes, base64
    /// (default: generated into <keys-dir>/data.key).
    // A global option (`CommonArgs`); here for the config file.
    #[arg(skip)]
    pub data_key: Option<Redacted>,
    /// Earlier data keys, comma-separated, still accepted to open sealed secrets.
    // A global option (`CommonArgs`); here for the config file.
    #[arg(skip)]
    pub data_keys_old: Option<Redacted>,
    /// Failed sign-ins allowed per username (and 4x that per client address) in 15 minutes.
    #[arg(long, env = "PORTCULLIS_LOGIN_MAX_FAILURES", value_name = "N")]
    pub login_max_failures: Option<u32>,
    /// Seconds after a sign-in during which credential changes (two-factor, recovery
    /// codes, API tokens) need no re-authentication.
    #[arg(long, env = "PORTCULLIS_SUDO_TTL", value_name = "SECONDS")]
    pub sudo_ttl: Option<i64>,
    /// Seconds after a sign-in during which a sign-in factor (the authenticator app,
    /// recovery codes) may change without re-authentication; default 300, never longer
    /// than --sudo-ttl.
    #[arg(long, env = "PORTCULLIS_SUDO_TTL_FACTORS", value_name = "SECONDS")]
    pub sudo_ttl_factors: Option<i64>,
    /// Address and port of the metrics listener (`/metrics`, `/healthz`, `/readyz`); off
    /// unless set. Never the public listener.
    #[arg(long, env = "PORTCULLIS_METRICS_BIND", value_name = "ADDR")]
    pub metrics_bind: Option<String>,
    /// Log lines as `text` (default) or `json` (one object per line).
    #[arg(long, env = "PORTCULLIS_LOG_FORMAT", value_name = "FORMAT")]
    pub log_format: Option<String>,
    /// Refuse /authorize requests that were not pushed first (RFC 9126 §5), for every
    /// client (off by default; `client create --require-par` does it per client).
    #[arg(long, env = "PORTCULLIS_REQUIRE_PAR", value_name = "BOOL",
          num_args = 0..=1, default_missing_value = "true",
          value_parser = clap::builder::BoolishValueParser::new())]
    pub require_par: Option<bool>,
    /// DPoP proofs must carry a nonce this server gave out (RFC 9449 §8, §9): a proof
    /// made ahead of time, by whoever held the key then, stops working (off by default).
    #[arg(long, env = "PORTCULLIS_DPOP_NONCE", value_name = "BOOL",
          num_args = 0..=1, default_missing_value = "true",
          value_parser = clap::builder::BoolishValueParser::new())]
    pub dpop_nonce: Option<bool>,
    /// `default`, or `fapi2`: the FAPI 2.0 Security Profile (pushed requests, DPoP-bound
    /// tokens and private_key_jwt required; see the README).
    #[arg(long, env = "PORTCULLIS_PROFILE", value_name = "PROFILE")]
    pub profile: Option<String>,
    /// Dynamic client registration (RFC 7591): `off` (default), `token` (with an initial
    /// access token from `registration-token create`) or `open` (anyone, throttled).
    #[arg(long, env = "PORTCULLIS_REGISTRATION", value_name = "MODE")]
    pub registration: Option<String>,
    /// The most scope an openly registered client may have, space-separated.
    #[arg(long, env = "PORTCULLIS_REGISTRATION_SCOPES", value_name = "SCOPES")]
    pub registration_scopes: Option<String>,
    /// `purge` deletes openly registered clients that signed nobody in within this many
    /// days of registering.
    #[arg(long, env = "PORTCULLIS_REGISTRATION_UNUSED_DAYS", value_name = "DAYS")]
    pub registration_unused_days: Option<i64>,
}

/// The few settings every command needs (where the database, the keys and the config
/// are), accepted before or after any command. The admin commands take the server's
/// other settings from the environment and the config file.
#[derive(Debug, Clone, Default, clap::Args)]
#[command(next_help_heading = "Global options (any command; server settings: `serve --help`)")]
pub struct CommonArgs {
    /// TOML file with any setting (flags and environment win).
    #[arg(
        long = "config",
        global = true,
        env = "PORTCULLIS_CONFIG",
        value_name = "FILE"
    )]
    pub config: Option<PathBuf>,
    /// sqlite://FILE or postgres://USER@HOST/DB.
    #[arg(
        long = "database-url",
        global = true,
        env = "DATABASE_URL",
        value_name = "URL"
    )]
    pub database_url: Option<String>,
    /// Where data.key is kept when no data key is given (signing keys live in the
    /// database; an earlier version's key files here are imported once).
    #[arg(
        long = "keys-dir",
        global = true,
        env = "PORTCULLIS_KEYS_DIR",
        value_name = "DIR"
    )]
    pub keys_dir: Option<PathBuf>,
    /// The data key: 32 bytes, base64.
    #[arg(
        long = "data-key",
        global = true,
        env = "PORTCULLIS_DATA_KEY",
        value_name = "BASE64",
        hide_env_values = true
    )]
    pub data_key: Option<Redacted>,
    /// Earlier data keys, comma-separated.
    #[arg(
        long = "data-keys-old",
        global = true,
        env = "PORTCULLIS_DATA_KEYS_OLD",
        value_name = "BASE64,...",
        hide_env_values = true
    )]
    pub data_keys_old: Option<Redacted>,
}

impl SettingsArgs {
    /// The settings an admin command runs with: the environment's (the same variables
    /// as the server's), then the global options given on the command line.
    pub fn for_admin(common: &CommonArgs) -> Result<SettingsArgs, ConfigError> {
        #[derive(clap::Parser)]
        struct FromEnv {
            #[command(flatten)]
            settings: SettingsArgs,
        }
        let env = <FromEnv as clap::Parser>::try_parse_from(["portcullis"])
            .map_err(|e| bad("environment", e.to_string().trim().to_string()))?;
        Ok(env.settings.with_common(common))
    }

    /// These settings with the global options given before the command filled in where
    /// the command's own did not say.
    pub fn with_common(mut self, common: &CommonArgs) -> SettingsArgs {
        let c = common.clone();
        self.config = self.config.or(c.config);
        self.database_url = self.database_url.or(c.database_url);
        self.keys_dir = self.keys_dir.or(c.keys_dir);
        self.data_key = self.data_key.or(c.data_key);
        self.data_keys_old = self.data_keys_old.or(c.data_keys_old);
        self
    }
}

/// Validated settings. A value of this type is always usable.
#[derive(Debug, Clone)]
pub struct Settings {
    pub bind: SocketAddr,
    /// The configured issuer; `None` means `http://<bound address>`.
    pub issuer: Option<String>,
    pub database_url: String,
    pub keys_dir: PathBuf,
    pub access_token_ttl: i64,
    pub default_audience: Option<String>,
    pub client_cache_ttl: u64,
    pub workers: Option<usize>,
    pub db_pool_size: u32,
    pub session_idle_ttl: i64,
    pub session_lifetime: i64,
    pub login_max_failures: u32,
    /// Credential changes need a sign-in at most this many seconds old.
    pub sudo_ttl: i64,
    /// Changes of a sign-in factor: at most this many seconds old (<= `sudo_ttl`).
    pub sudo_ttl_factors: i64,
    pub metrics_bind: Option<SocketAddr>,
    pub log_format: LogFormat,
    /// Every authorization request must be pushed (RFC 9126); the `fapi2` profile too.
    pub require_par: bool,
    /// DPoP proofs need a server nonce (RFC 9449 §8).
    pub dpop_nonce: bool,
    pub profile: Profile,
    pub registration: Registration,
    /// The most scope an openly registered client may have.
    pub registration_scopes: Scope,
    pub registration_unused_days: i64,
    pub refresh_idle_ttl: i64,
    pub refresh_absolute_ttl: i64,
    /// (name, description) of the scopes personal tokens may carry.
    pub api_scopes: Vec<(String, String)>,
    /// The names of `api_scopes`: what personal tokens may carry now. A token created
    /// when the catalogue had more keeps only these.
    pub api_scope_names: Scope,
    pub pat_max_days: i64,
    pub pat_allow_never: bool,
    pub audit_retention_days: i64,
    /// Peers whose `X-Forwarded-For` is believed (see `audit::client_ip`).
    pub trusted_proxies: Vec<Net>,
    pub data_key: Option<Redacted>,
    pub data_keys_old: Option<Redacted>,
}

/// Who may register clients over HTTP (RFC 7591).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registration {
    Off,
    /// With an initial access token.
    Token,
    /// Anyone, throttled per address, within the registration scopes.
    Open,
}

/// The security profile the server enforces for every client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// RFC 9700 best practice; DPoP, PAR and private_key_jwt where a client asks.
    Default,
    /// FAPI 2.0 Security Profile: PAR, DPoP and (for confidential clients)
    /// private_key_jwt for everyone.
    Fapi2,
}

impl Settings {
    /// Whether /authorize takes only pushed requests.
    pub fn requires_par(&self) -> bool {
        self.require_par || self.profile == Profile::Fapi2
    }

    /// Whether every token request must carry a DPoP proof.
    pub fn requires_dpop(&self) -> bool {
        self.profile == Profile::Fapi2
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    /// One JSON object per line.
    Json,
}

/// A configured secret: never printed by `Debug`.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Redacted(pub String);

impl std::str::FromStr for Redacted {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Redacted, Self::Err> {
        Ok(Redacted(s.to_string()))
    }
}

impl std::fmt::Debug for Redacted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Redacted(..)")
    }
}

pub const DEFAULT_API_SCOPES: &str =
    "api:read=Read your data through the API;api:write=Change your data through the API";

fn parse_api_scopes(s: &str) -> Result<Vec<(String, String)>, ConfigError> {
    let setting = "API scopes (--api-scopes / PORTCULLIS_API_SCOPES)";
    let mut out: Vec<(String, String)> = Vec::new();
    for item in s.split(';').map(str::trim).filter(|i| !i.is_empty()) {
        let (name, desc) = item.split_once('=').unwrap_or((item, item));
        let name = name.trim();
        let scope =
            crate::domain::scope::Scope::parse(name).map_err(|e| bad(setting, e.to_string()))?;
        if scope.iter().count() != 1 {
            return Err(bad(setting, format!("{name:?} must be one scope name")));
        }
        if out.iter().any(|(n, _)| n == name) {
            return Err(bad(setting, format!("{name:?} is listed twice")));
        }
        out.push((name.to_string(), desc.trim().to_string()));
    }
    if out.is_empty() {
        return Err(bad(setting, "lists no scope"));
    }
    Ok(out)
}

pub const DEFAULT_BIND: &str = "127.0.0.1:8080";
pub const DEFAULT_DATABASE_URL: &str = "sqlite://portcullis.db";
/// Access tokens are bearer credentials: keep them short-lived (RFC 9700 §4.10).
pub const MAX_ACCESS_TOKEN_TTL: i64 = 86_400;

#[derive(Debug, thiserror::Error)]
#[error("{setting}: {msg}")]
pub struct ConfigError {
    pub setting: &'static str,
    pub msg: String,
}

fn bad(setting: &'static str, msg: impl Into<String>) -> ConfigError {
    ConfigError {
        setting,
        msg: msg.into(),
    }
}

/// RFC 8414 §2: the issuer is a URL using the https scheme with no query or fragment
/// components. Plain http is accepted for local development. A trailing slash is
/// dropped so that endpoint URLs join cleanly.
pub fn validate_issuer(issuer: &str) -> Result<String, ConfigError> {
    let setting = "issuer (--issuer / PORTCULLIS_ISSUER)";
    let url = url::Url::parse(issuer).map_err(|e| bad(setting, format!("{issuer:?}: {e}")))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(bad(
            setting,
            format!("{issuer:?} must use https (or http for local use)"),
        ));
    }
    if url.query().is_some() || issuer.contains('?') {
        return Err(bad(setting, format!("{issuer:?} must not have a query")));
    }
    if url.fragment().is_some() || issuer.contains('#') {
        return Err(bad(setting, format!("{issuer:?} must not have a fragment")));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad(
            setting,
            format!("{issuer:?} must not carry user information"),
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad(setting, format!("{issuer:?} has no host")));
    }
    Ok(issuer.trim_end_matches('/').to_string())
}

impl Settings {
    pub fn from_args(given: &SettingsArgs) -> Result<Settings, ConfigError> {
        let args = match &given.config {
            Some(path) => given.over(read_file(path)?)?,
            None => given.clone(),
        };
        let bind_str = args.bind.clone().unwrap_or_else(|| DEFAULT_BIND.into());
        let bind: SocketAddr = bind_str.parse().map_err(|_| {
            bad(
                "bind (--bind / PORTCULLIS_BIND)",
                format!("{bind_str:?} is not an address:port such as 127.0.0.1:8080"),
            )
        })?;
        let issuer = match args.issuer.clone() {
            Some(i) => Some(validate_issuer(&i)?),
            None => None,
        };
        let database_url = args
            .database_url
            .clone()
            .unwrap_or_else(|| DEFAULT_DATABASE_URL.into());
        if database_url.trim().is_empty() {
            return Err(bad(
                "database url (--database-url / DATABASE_URL)",
                "is empty",
            ));
        }
        let keys_dir = args
            .keys_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("keys"));
        let access_token_ttl = args.access_token_ttl.unwrap_or(600);
        if !(1..=MAX_ACCESS_TOKEN_TTL).contains(&access_token_ttl) {
            return Err(bad(
                "access token ttl (--access-token-ttl / PORTCULLIS_ACCESS_TOKEN_TTL)",
                format!("{access_token_ttl} must be between 1 and {MAX_ACCESS_TOKEN_TTL} seconds"),
            ));
        }
        let default_audience = args.default_audience.clone();
        if let Some(a) = &default_audience
            && !crate::domain::resource::is_valid(a)
        {
            return Err(bad(
                "default audience (--default-audience / PORTCULLIS_DEFAULT_AUDIENCE)",
                format!("{a:?} must be an absolute URI without a fragment"),
            ));
        }
        let workers = args.workers;
        if workers == Some(0) {
            return Err(bad(
                "workers (--workers / PORTCULLIS_WORKERS)",
                "must be at least 1",
            ));
        }
        let db_pool_size = args.db_pool_size.unwrap_or(8);
        if db_pool_size == 0 {
            return Err(bad(
                "database pool size (--db-pool-size / PORTCULLIS_DB_POOL_SIZE)",
                "must be at least 1",
            ));
        }
        let session_idle_ttl = args.session_idle_ttl.unwrap_or(3600);
        let session_lifetime = args.session_lifetime.unwrap_or(86_400);
        if session_idle_ttl < 60 || session_lifetime < 60 {
            return Err(bad(
                "session lifetimes (PORTCULLIS_SESSION_IDLE_TTL / PORTCULLIS_SESSION_LIFETIME)",
                "must be at least 60 seconds",
            ));
        }
        let login_max_failures = args.login_max_failures.unwrap_or(5);
        if login_max_failures == 0 {
            return Err(bad(
                "login max failures (--login-max-failures / PORTCULLIS_LOGIN_MAX_FAILURES)",
                "must be at least 1",
            ));
        }
        let metrics_bind = match args.metrics_bind.as_deref() {
            None | Some("") => None,
            Some(b) => Some(b.parse::<SocketAddr>().map_err(|_| {
                bad(
                    "metrics bind (--metrics-bind / PORTCULLIS_METRICS_BIND)",
                    format!("{b:?} is not an address:port such as 127.0.0.1:9464"),
                )
            })?),
        };
        if metrics_bind.is_some_and(|m| m == bind && bind.port() != 0) {
            return Err(bad(
                "metrics bind (--metrics-bind / PORTCULLIS_METRICS_BIND)",
                "must not be the public listener's address",
            ));
        }
        let profile = match args.profile.as_deref().unwrap_or("default") {
            "default" => Profile::Default,
            "fapi2" => Profile::Fapi2,
            other => {
                return Err(bad(
                    "profile (--profile / PORTCULLIS_PROFILE)",
                    format!("{other:?}: use default or fapi2"),
                ));
            }
        };
        let registration = match args.registration.as_deref().unwrap_or("off") {
            "off" => Registration::Off,
            "token" => Registration::Token,
            "open" => Registration::Open,
            other => {
                return Err(bad(
                    "registration (--registration / PORTCULLIS_REGISTRATION)",
                    format!("{other:?}: use off, token or open"),
                ));
            }
        };
        let registration_scopes = Scope::parse(
            args.registration_scopes
                .as_deref()
                .unwrap_or("openid profile email offline_access"),
        )
        .map_err(|e| {
            bad(
                "registration scopes (--registration-scopes / PORTCULLIS_REGISTRATION_SCOPES)",
                e.to_string(),
            )
        })?;
        let registration_unused_days = args.registration_unused_days.unwrap_or(30);
        if registration_unused_days < 1 {
            return Err(bad(
                "registration unused days (--registration-unused-days / PORTCULLIS_REGISTRATION_UNUSED_DAYS)",
                "must be at least 1",
            ));
        }
        let log_format = match args.log_format.as_deref().unwrap_or("text") {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => {
                return Err(bad(
                    "log format (--log-format / PORTCULLIS_LOG_FORMAT)",
                    format!("{other:?}: use text or json"),
                ));
            }
        };
        if let Some(k) = &args.data_key
            && !crate::sealed::is_key(&k.0)
        {
            return Err(bad(
                "data key (--data-key / PORTCULLIS_DATA_KEY)",
                "must be 32 bytes of base64 (e.g. `head -c32 /dev/urandom | base64`)",
            ));
        }
        if let Some(old) = &args.data_keys_old
            && let Some(i) = old
                .0
                .split(',')
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .position(|k| !crate::sealed::is_key(k))
        {
            return Err(bad(
                "old data keys (--data-keys-old / PORTCULLIS_DATA_KEYS_OLD)",
                format!("key {} must be 32 bytes of base64", i + 1),
            ));
        }
        let sudo_ttl = args.sudo_ttl.unwrap_or(900);
        if !(0..=86_400).contains(&sudo_ttl) {
            return Err(bad(
                "sudo ttl (--sudo-ttl / PORTCULLIS_SUDO_TTL)",
                "must be between 0 and 86400 seconds",
            ));
        }
        let sudo_ttl_factors = args.sudo_ttl_factors.unwrap_or(300);
        if !(0..=86_400).contains(&sudo_ttl_factors) {
            return Err(bad(
                "sudo ttl for factors (--sudo-ttl-factors / PORTCULLIS_SUDO_TTL_FACTORS)",
                "must be between 0 and 86400 seconds",
            ));
        }
        // A factor change is the more sensitive one: never a longer window.
        let sudo_ttl_factors = sudo_ttl_factors.min(sudo_ttl);
        let refresh_idle_ttl = args.refresh_idle_ttl.unwrap_or(14 * 86_400);
        let refresh_absolute_ttl = args.refresh_absolute_ttl.unwrap_or(90 * 86_400);
        if refresh_idle_ttl < 60 || refresh_absolute_ttl < refresh_idle_ttl {
            return Err(bad(
                "refresh lifetimes (PORTCULLIS_REFRESH_IDLE_TTL / PORTCULLIS_REFRESH_ABSOLUTE_TTL)",
                "idle must be at least 60 seconds and at most the absolute lifetime",
            ));
        }
        let api_scopes =
            parse_api_scopes(args.api_scopes.as_deref().unwrap_or(DEFAULT_API_SCOPES))?;
        let pat_max_days = args.pat_max_days.unwrap_or(365);
        if !(1..=3650).contains(&pat_max_days) {
            return Err(bad(
                "personal token max days (--pat-max-days / PORTCULLIS_PAT_MAX_DAYS)",
                "must be between 1 and 3650",
            ));
        }
        let audit_retention_days = args.audit_retention_days.unwrap_or(365);
        if audit_retention_days < 1 {
            return Err(bad(
                "audit retention (--audit-retention-days / PORTCULLIS_AUDIT_RETENTION_DAYS)",
                "must be at least 1 day",
            ));
        }
        let trusted_proxies = net::parse_list(args.trusted_proxies.as_deref().unwrap_or(""))
            .map_err(|entry| {
                bad(
                    "trusted proxies (--trusted-proxies / PORTCULLIS_TRUSTED_PROXIES)",
                    format!("{entry:?} is not an IP address or CIDR range"),
                )
            })?;
        if let Some(all) = trusted_proxies.iter().find(|n| n.covers_everything()) {
            return Err(bad(
                "trusted proxies (--trusted-proxies / PORTCULLIS_TRUSTED_PROXIES)",
                format!("{all} would believe X-Forwarded-For from every client; name the proxies"),
            ));
        }
        Ok(Settings {
            trusted_proxies,
            api_scope_names: Scope::parse(
                &api_scopes
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
            )
            .map_err(|e| {
                bad(
                    "API scopes (--api-scopes / PORTCULLIS_API_SCOPES)",
                    e.to_string(),
                )
            })?,
            api_scopes,
            pat_max_days,
            pat_allow_never: args.pat_allow_never.unwrap_or(false),
            audit_retention_days,
            data_key: args.data_key.clone(),
            data_keys_old: args.data_keys_old.clone(),
            refresh_idle_ttl,
            refresh_absolute_ttl,
            session_idle_ttl,
            session_lifetime,
            login_max_failures,
            sudo_ttl,
            sudo_ttl_factors,
            metrics_bind,
            log_format,
            require_par: args.require_par.unwrap_or(false),
            dpop_nonce: args.dpop_nonce.unwrap_or(false),
            profile,
            registration,
            registration_scopes,
            registration_unused_days,
            bind,
            issuer,
            database_url,
            keys_dir,
            access_token_ttl,
            default_audience,
            client_cache_ttl: args.client_cache_ttl.unwrap_or(5),
            workers,
            db_pool_size,
        })
    }

    /// Cookies get `Secure` (and the `__Host-` prefix) when the issuer is https.
    pub fn secure_cookies(&self) -> bool {
        self.issuer
            .as_deref()
            .is_some_and(|i| i.starts_with("https://"))
    }

    /// How long what this instance signs lives (access and ID tokens; sessions, for
    /// logout hints): a retiring key is kept at least this long.
    pub fn signing_lifetimes(&self) -> crate::keys::Lifetimes {
        crate::keys::Lifetimes {
            token: self.access_token_ttl,
            session: self.session_lifetime,
        }
    }
}

impl SettingsArgs {
    /// These settings, with the gaps filled from `file`: the command line and the
    /// environment win over the file.
    fn over(&self, file: SettingsArgs) -> Result<SettingsArgs, ConfigError> {
        let bad_merge = |e: serde_json::Error| bad("config (--config)", e.to_string());
        let mut merged = serde_json::to_value(file).map_err(bad_merge)?;
        let given = serde_json::to_value(self).map_err(bad_merge)?;
        if let (Some(m), Some(g)) = (merged.as_object_mut(), given.as_object()) {
            for (k, v) in g.iter().filter(|(_, v)| !v.is_null()) {
                m.insert(k.clone(), v.clone());
            }
        }
        let mut args: SettingsArgs = serde_json::from_value(merged).map_err(bad_merge)?;
        args.config = self.config.clone();
        Ok(args)
    }
}

fn read_file(path: &Path) -> Result<SettingsArgs, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| bad("config (--config)", format!("{}: {e}", path.display())))?;
    toml::from_str(&text).map_err(|e| {
        bad(
            "config (--config)",
            format!("{}: {}", path.display(), e.message()),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_need_nothing() {
        let s = Settings::from_args(&SettingsArgs::default()).unwrap();
        assert_eq!(s.bind.to_string(), DEFAULT_BIND);
        assert_eq!(s.access_token_ttl, 600);
        assert_eq!(s.database_url, DEFAULT_DATABASE_URL);
    }

    #[test]
    fn refuses_bad_values_naming_the_setting() {
        let a = SettingsArgs {
            issuer: Some("https://a.example/?x=1".into()),
            ..Default::default()
        };
        assert!(
            Settings::from_args(&a)
                .unwrap_err()
                .to_string()
                .starts_with("issuer")
        );
        let a = SettingsArgs {
            issuer: Some("https://a.example/#f".into()),
            ..Default::default()
        };
        assert!(Settings::from_args(&a).is_err());
        let a = SettingsArgs {
            bind: Some("nonsense".into()),
            ..Default::default()
        };
        assert!(
            Settings::from_args(&a)
                .unwrap_err()
                .to_string()
                .starts_with("bind")
        );
        let a = SettingsArgs {
            access_token_ttl: Some(0),
            ..Default::default()
        };
        assert!(Settings::from_args(&a).is_err());
    }

    #[test]
    fn issuer_loses_its_trailing_slash() {
        assert_eq!(
            validate_issuer("https://a.example/").unwrap(),
            "https://a.example"
        );
        assert_eq!(
            validate_issuer("https://a.example/t1").unwrap(),
            "https://a.example/t1"
        );
    }
}
