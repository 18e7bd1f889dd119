//! What the key ring knows of a key besides its secret: its state and times, and the
//! errors of key handling. Shared by the ring, the key set and the old keys directory.

use super::material::{self, KeyAlg};
use crate::sealed::SealError;

/// Where a key is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyState {
    Next,
    Active,
    Retired,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Next => "next",
            KeyState::Active => "active",
            KeyState::Retired => "retired",
        }
    }
}

impl std::str::FromStr for KeyState {
    type Err = String;
    fn from_str(s: &str) -> Result<KeyState, String> {
        match s {
            "next" => Ok(KeyState::Next),
            "active" => Ok(KeyState::Active),
            "retired" => Ok(KeyState::Retired),
            _ => Err(format!("unknown key state {s:?}")),
        }
    }
}

/// A key's record, without its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    pub kid: String,
    pub alg: KeyAlg,
    pub state: KeyState,
    pub created_at: i64,
    pub activated_at: Option<i64>,
    pub retired_at: Option<i64>,
    pub published_until: Option<i64>,
    pub hints_until: Option<i64>,
}

impl KeyRecord {
    /// Whether the JWKS shows it (and our own checks accept its tokens).
    pub fn is_published(&self, now: i64) -> bool {
        self.state != KeyState::Retired || self.published_until.is_some_and(|t| t > now)
    }

    /// Whether it is kept to verify logout hints.
    pub fn verifies_hints(&self, now: i64) -> bool {
        self.is_published(now) || self.hints_until.is_some_and(|t| t > now)
    }

    /// When it may be deleted: when it neither is published nor verifies hints.
    pub fn kept_until(&self) -> Option<i64> {
        match self.state {
            KeyState::Retired => Some(
                self.published_until
                    .unwrap_or(0)
                    .max(self.hints_until.unwrap_or(0)),
            ),
            _ => None,
        }
    }
}

/// How long what we sign lives: the longest token lifetime (access and ID tokens) and
/// the longest session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetimes {
    pub token: i64,
    pub session: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("database: {0}")]
    Db(#[from] diesel::result::Error),
    #[error("{0}")]
    Seal(#[from] SealError),
    #[error("key {kid}: {msg}")]
    Key { kid: String, msg: String },
    #[error(transparent)]
    Material(#[from] material::KeyError),
    #[error("importing the keys directory: {0}")]
    Import(String),
    #[error("no active signing key (run `portcullis keys rotate`)")]
    NoActiveKey,
}
