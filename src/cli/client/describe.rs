//! How `client create` and `client show` print a client: one JSON line, or one line per
//! field for people; every value a registrant chose is printed inert.

use serde_json::json;

use crate::clock::rfc3339;
use crate::escape::{inert, json_inert};
use crate::oauth::clients::registrar::NewSecret;
use crate::oauth::clients::{Client, ClientKeys, Introspection};
use crate::store::outbox;

/// The kids of a client's registered keys (a key without one shows its thumbprint).
pub(super) fn kids(c: &Client) -> Vec<String> {
    match &c.keys {
        ClientKeys::Set(keys) => keys
            .iter()
            .map(|k| {
                k.kid
                    .clone()
                    .unwrap_or_else(|| format!("(no kid; thumbprint {})", k.thumbprint))
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// One JSON line; dangerous characters in values written as `\uXXXX` escapes (the same
/// JSON value, nothing a terminal acts on).
pub(super) fn json_line(c: &Client, secret: Option<&NewSecret>) -> String {
    json_inert(&to_json(c, secret).to_string())
}

pub(super) fn to_json(c: &Client, secret: Option<&NewSecret>) -> serde_json::Value {
    let methods: Vec<&str> = c.auth_methods.iter().map(|m| m.as_str()).collect();
    let mut v = json!({
        "client_id": c.client_id,
        "client_name": c.name,
        "grant_types": c.grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>(),
        "redirect_uris": c.redirect_uris,
        "scope": c.scope.to_string(),
        "token_endpoint_auth_method": methods.first().copied().unwrap_or("none"),
        "token_endpoint_auth_methods": methods,
        "resources": c.resources,
        "post_logout_redirect_uris": c.post_logout_redirect_uris,
        "id_token_signed_response_alg": c.id_token_alg.as_str(),
        "public": c.is_public(),
        "client_id_issued_at": c.created_at,
        "dpop_bound_access_tokens": c.dpop_bound,
        "require_pushed_authorization_requests": c.require_par,
        "registered_by": c.registered_by.to_string(),
        "disabled_at": c.disabled_at,
        "secret_reported_at": c.secret_reported_at,
        "introspects_any_token": c.introspection == Introspection::Any,
    });
    if let serde_json::Value::Object(m) = serde_json::to_value(&c.metadata).unwrap_or_default()
        && let serde_json::Value::Object(out) = &mut v
    {
        out.extend(m);
    }
    match &c.keys {
        ClientKeys::Set(_) => v["jwks_kids"] = kids(c).into(),
        ClientKeys::Uri(u) => v["jwks_uri"] = u.clone().into(),
        ClientKeys::None => {}
    }
    if let Some(b) = &c.backchannel_logout {
        v["backchannel_logout_uri"] = b.uri.clone().into();
        v["backchannel_logout_session_required"] = b.session_required.into();
    }
    if let Some(s) = secret {
        v["client_secret"] = s.0.clone().into();
        // RFC 7591 §3.2.1: 0 means the secret does not expire.
        v["client_secret_expires_at"] = 0.into();
    }
    v
}

pub(super) fn print_human(c: &Client, secret: Option<&NewSecret>) {
    say!("{}", describe(c, secret).trim_end());
}

/// `client show` for people: one line per field.
pub(super) fn describe(c: &Client, secret: Option<&NewSecret>) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    macro_rules! say {
        ($($arg:tt)*) => {{
            let _ = writeln!(out, $($arg)*);
        }};
    }
    say!("client_id:     {}", c.client_id);
    if let Some(s) = secret {
        say!("client_secret: {}", s.0);
        say!("               (shown only now: store it safely)");
    }
    say!("name:          {}", inert(&c.name));
    say!(
        "type:          {}",
        if c.is_public() {
            "public"
        } else {
            "confidential"
        }
    );
    let join = |v: Vec<&str>| v.join(" ");
    say!(
        "grant types:   {}",
        join(c.grant_types.iter().map(|g| g.as_str()).collect())
    );
    say!(
        "auth methods:  {}",
        join(c.auth_methods.iter().map(|m| m.as_str()).collect())
    );
    say!("scope:         {}", c.scope);
    // Every stored value as inert text: a registrant chose most of them, and nothing
    // they typed may move the operator's cursor or write to their clipboard.
    let list = |v: &[String]| inert(&v.join(" "));
    say!("redirect URIs: {}", list(&c.redirect_uris));
    say!("resources:     {}", list(&c.resources));
    say!("after sign-out: {}", list(&c.post_logout_redirect_uris));
    say!("ID token alg:  {}", c.id_token_alg.as_str());
    match &c.keys {
        ClientKeys::Set(_) => say!("keys (kid):    {}", list(&kids(c))),
        ClientKeys::Uri(u) => say!("jwks_uri:      {}", inert(u)),
        ClientKeys::None => {}
    }
    if let Some(b) = &c.backchannel_logout {
        say!("back-channel:  {}", inert(&b.uri));
    }
    if c.dpop_bound {
        say!("DPoP:          required on every token request");
    }
    if c.require_par {
        say!("PAR:           authorization requests must be pushed");
    }
    say!("created:       {}", rfc3339(c.created_at));
    say!("registered by: {}", inert(&c.registered_by.to_string()));
    if c.introspection == Introspection::Own {
        say!("introspects:   its own tokens only");
    }
    if let Some(t) = c.secret_reported_at {
        say!(
            "SECRET LEAKED: reported {}; it authenticates nothing until `client rotate-secret`",
            rfc3339(t)
        );
    }
    if let Some(t) = c.disabled_at {
        say!("DISABLED:      since {}", rfc3339(t));
    }
    for (label, value) in [
        ("client_uri", &c.metadata.client_uri),
        ("tos_uri", &c.metadata.tos_uri),
        ("policy_uri", &c.metadata.policy_uri),
        ("software_id", &c.metadata.software_id),
    ] {
        if let Some(v) = value {
            say!("{label:<14} {}", inert(v));
        }
    }
    out
}

/// The last logout token sent to a client: what became of it.
pub(super) fn last_delivery_json(l: &outbox::LastAttempt) -> serde_json::Value {
    json!({
        "session_ended_at": l.created_at,
        "attempts": l.attempts,
        "outcome": l.outcome.as_deref().unwrap_or("pending"),
        "finished_at": l.finished_at,
        "error": l.last_error,
    })
}

pub(super) fn last_delivery_text(l: &outbox::LastAttempt) -> String {
    let outcome = l.outcome.as_deref().unwrap_or("pending, will retry");
    let error = l
        .last_error
        .as_deref()
        .map(|e| format!(" ({})", inert(e)))
        .unwrap_or_default();
    format!(
        "{outcome} after {} attempt(s){error}; session ended {}",
        l.attempts,
        rfc3339(l.created_at)
    )
}
