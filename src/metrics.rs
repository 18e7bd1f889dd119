//! Prometheus metrics: what an on-call team graphs and alerts on.
//!
//! Recorded through the `metrics` facade from wherever the event happens, and rendered in
//! the Prometheus text format by `metrics-exporter-prometheus` on the separate metrics
//! listener (`--metrics-bind`), never on the public one. Every label value comes from a
//! fixed set (an OAuth error code, a grant type, a route pattern): never a secret, a
//! token, a username, a client id or anything else a caller chooses. Client ids are not
//! labels: registration can create them without bound.

use std::sync::OnceLock;

use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Latency buckets, in seconds: from a cached answer to a slow password hash.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Install the process-wide recorder (once; later calls get the same handle). `None`
/// when another recorder was installed first.
pub fn install() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
                .ok()?
                .build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            gauge!(
                "portcullis_build_info",
                "version" => env!("CARGO_PKG_VERSION"),
                "revision" => env!("PORTCULLIS_GIT_REVISION"),
            )
            .set(1.0);
            zero();
            Some(handle)
        })
        .clone()
}

/// Every series of a fixed label set starts at 0, not at its first event: an alert on
/// `increase(...) > 0` then sees the first replay (a series born at 1 shows no increase),
/// and graphs show a quiet zero rather than nothing.
fn zero() {
    counter!("portcullis_refresh_reuse_detected_total").absolute(0);
    counter!("portcullis_code_reuse_detected_total").absolute(0);
    for outcome in ["success", "failure", "throttled"] {
        counter!("portcullis_signins_total", "outcome" => outcome).absolute(0);
    }
    for outcome in ["success", "failure"] {
        counter!("portcullis_second_factor_checks_total", "outcome" => outcome).absolute(0);
    }
    for outcome in ["success", "failure", "counter_went_back"] {
        counter!("portcullis_passkey_checks_total", "outcome" => outcome).absolute(0);
    }
    for limit in [
        "address",
        "username",
        "device",
        "second_factor",
        "authorization",
        "registration",
        "audit",
        "passkey_ceremony",
        "leak_report",
    ] {
        counter!("portcullis_throttle_refusals_total", "limit" => limit).absolute(0);
    }
    for outcome in BACKCHANNEL_OUTCOMES {
        counter!("portcullis_backchannel_deliveries_total", "outcome" => *outcome).absolute(0);
    }
    for kind in CREDENTIAL_KINDS {
        counter!("portcullis_leaked_reports_total", "kind" => *kind).absolute(0);
    }
    for kind in OUTBOX_KINDS {
        gauge!("portcullis_outbox_pending", "kind" => *kind).set(0.0);
        gauge!("portcullis_outbox_oldest_pending_seconds", "kind" => *kind).set(0.0);
    }
    for token_type in ["access_token", "refresh_token"] {
        counter!("portcullis_revocations_total", "token_type" => token_type).absolute(0);
    }
    for outcome in ["written", "dropped"] {
        counter!("portcullis_audit_events_total", "outcome" => outcome).absolute(0);
    }
    for grant in GRANT_LABELS {
        for outcome in TOKEN_OUTCOMES {
            counter!("portcullis_token_requests_total", "grant_type" => *grant, "outcome" => *outcome)
                .absolute(0);
        }
    }
    for outcome in [
        "active",
        "unknown",
        "revoked",
        "expired",
        "address_not_allowed",
        "no_scope_left",
    ] {
        counter!("portcullis_personal_token_checks_total", "outcome" => outcome).absolute(0);
    }
}

/// Every kind of credential we issue (`credential::Kind::label`).
pub const CREDENTIAL_KINDS: &[&str] = &[
    "personal_token",
    "refresh_token",
    "client_secret",
    "registration_access_token",
    "initial_access_token",
    "reset_link",
];

/// Credentials of ours that a leak report ended, by kind.
pub fn leaked_report(kind: &'static str, n: usize) {
    counter!("portcullis_leaked_reports_total", "kind" => kind).increment(n as u64);
}

/// The kinds of outbox message (`store::outbox::Kind::as_str`).
pub const OUTBOX_KINDS: &[&str] = &["backchannel_logout"];

/// What a logout-token delivery attempt can end in: `delivered` (2xx), `retry` (no
/// answer, or 5xx/408/429: tried again later), `refused` (another answer: not tried
/// again), `gave_up` (still failing after a day), `no_longer_wanted` (the client is gone
/// or no longer has a back-channel URI).
pub const BACKCHANNEL_OUTCOMES: &[&str] = &[
    "delivered",
    "retry",
    "refused",
    "gave_up",
    "no_longer_wanted",
];

/// A logout token delivery attempt ended (one of `BACKCHANNEL_OUTCOMES`).
pub fn backchannel_delivery(outcome: &'static str) {
    counter!("portcullis_backchannel_deliveries_total", "outcome" => outcome).increment(1);
}

/// The outbox's messages of `kind` not yet delivered, and the age of the oldest.
pub fn outbox(kind: &'static str, pending: i64, oldest_seconds: i64) {
    gauge!("portcullis_outbox_pending", "kind" => kind).set(pending as f64);
    gauge!("portcullis_outbox_oldest_pending_seconds", "kind" => kind).set(oldest_seconds as f64);
}

/// Every grant-type label (`GrantType::label`), and `other`.
pub const GRANT_LABELS: &[&str] = &[
    "authorization_code",
    "client_credentials",
    "refresh_token",
    "token_exchange",
    "other",
];

/// What a token request can end in: `success`, or an error code the token endpoint
/// answers (RFC 6749 §5.2, RFC 8707, RFC 9449, RFC 6749 §4.1.2.1's two for outages).
pub const TOKEN_OUTCOMES: &[&str] = &[
    "success",
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
    "invalid_target",
    "invalid_dpop_proof",
    "use_dpop_nonce",
    "server_error",
    "temporarily_unavailable",
];

/// A token request ended: `success`, or the OAuth error code.
pub fn token_request(grant: &'static str, outcome: &'static str) {
    counter!("portcullis_token_requests_total", "grant_type" => grant, "outcome" => outcome)
        .increment(1);
}

/// A request was answered; `endpoint` is its route pattern (or `other`).
pub fn http_request(endpoint: String, seconds: f64) {
    histogram!("portcullis_http_request_duration_seconds", "endpoint" => endpoint).record(seconds);
}

/// A password sign-in: `success`, `failure` or `throttled`.
pub fn sign_in(outcome: &'static str) {
    counter!("portcullis_signins_total", "outcome" => outcome).increment(1);
}

/// A second-factor code was checked: `success` or `failure`.
pub fn second_factor(outcome: &'static str) {
    counter!("portcullis_second_factor_checks_total", "outcome" => outcome).increment(1);
}

/// A passkey assertion was checked: `success`, `failure`, or `counter_went_back` (the
/// authenticator may have been cloned).
pub fn passkey(outcome: &'static str) {
    counter!("portcullis_passkey_checks_total", "outcome" => outcome).increment(1);
}

/// An attempt refused unchecked by a limit: `address`, `username`, `device`,
/// `second_factor`, `authorization` (sign-ins started per address), `registration` (open
/// client registrations per address), `audit` (refusals not written to the trail) or
/// `passkey_ceremony` (passkey ceremonies begun per address).
pub fn throttled(limit: &'static str) {
    counter!("portcullis_throttle_refusals_total", "limit" => limit).increment(1);
}

/// A used refresh token came back: its family was revoked.
pub fn refresh_reuse() {
    counter!("portcullis_refresh_reuse_detected_total").increment(1);
}

/// A used authorization code came back: what it issued was revoked.
pub fn code_reuse() {
    counter!("portcullis_code_reuse_detected_total").increment(1);
}

/// A revocation request revoked something: `access_token` or `refresh_token`.
pub fn revoked(token_type: &'static str) {
    counter!("portcullis_revocations_total", "token_type" => token_type).increment(1);
}

/// A personal token was checked: `active`, or why not (`unknown`, `revoked`, `expired`,
/// `address_not_allowed`, `no_scope_left`).
pub fn personal_token(outcome: &'static str) {
    counter!("portcullis_personal_token_checks_total", "outcome" => outcome).increment(1);
}

/// An audit event was written, or lost (`written`, `dropped`).
pub fn audit_event(outcome: &'static str) {
    counter!("portcullis_audit_events_total", "outcome" => outcome).increment(1);
}

/// How long a unit of work waited for a database connection.
pub fn db_wait(seconds: f64) {
    histogram!("portcullis_db_connection_wait_seconds").record(seconds);
}

/// The database pool, as of now.
pub fn db_connections(in_use: u32, idle: u32) {
    gauge!("portcullis_db_connections", "state" => "in_use").set(f64::from(in_use));
    gauge!("portcullis_db_connections", "state" => "idle").set(f64::from(idle));
}

/// How long the active key of `alg` has been signing.
pub fn signing_key_age(alg: &'static str, seconds: i64) {
    gauge!("portcullis_signing_key_age_seconds", "alg" => alg).set(seconds as f64);
}
