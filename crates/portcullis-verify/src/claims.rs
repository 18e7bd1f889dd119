//! What a verified access token says (RFC 9068 §2.2).

use std::collections::BTreeSet;

use serde::{Deserialize, Deserializer, Serialize};

/// The claims of a verified access token, typed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    /// The person the token acts for, or the client itself (client credentials).
    pub sub: String,
    /// Every audience the token names (one string in the token becomes one entry).
    #[serde(deserialize_with = "one_or_many")]
    pub aud: Vec<String>,
    pub exp: i64,
    pub iat: i64,
    #[serde(default)]
    pub nbf: Option<i64>,
    pub jti: String,
    pub client_id: String,
    /// The scopes granted, as a set (the token carries them space-separated).
    #[serde(
        default,
        deserialize_with = "scope_set",
        serialize_with = "scope_string"
    )]
    pub scope: BTreeSet<String>,
    /// RFC 9449 §6.1: the DPoP key the token is bound to.
    #[serde(default)]
    pub cnf: Option<Confirmation>,
    /// RFC 9068 §2.2.1: the authentication context class of the person's sign-in.
    #[serde(default)]
    pub acr: Option<String>,
    /// When the person signed in.
    #[serde(default)]
    pub auth_time: Option<i64>,
}

/// RFC 7800 `cnf` with the RFC 9449 member: the thumbprint of the bound key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    pub jkt: String,
}

impl Claims {
    /// Whether the token grants `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scope.contains(scope)
    }

    /// The thumbprint of the DPoP key the token is bound to, if it is.
    pub fn jkt(&self) -> Option<&str> {
        self.cnf.as_ref().map(|c| c.jkt.as_str())
    }
}

fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

fn scope_set<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeSet<String>, D::Error> {
    let s = String::deserialize(d)?;
    Ok(s.split(' ')
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect())
}

fn scope_string<S: serde::Serializer>(scope: &BTreeSet<String>, s: S) -> Result<S::Ok, S::Error> {
    let words: Vec<&str> = scope.iter().map(String::as_str).collect();
    s.serialize_str(&words.join(" "))
}
