//! Who is calling: client authentication (RFC 6749 §2.3) of the credentials a request
//! presented (read from HTTP by `endpoints::credentials`).

use std::sync::Arc;

use super::model::{AuthMethod, Client};
use crate::oauth::error::OAuthError;
use crate::secret;

/// The credentials a request presented, before we look at any client. `Debug` never
/// shows a secret.
pub enum Presented {
    Basic {
        client_id: String,
        secret: String,
    },
    Post {
        client_id: String,
        secret: String,
    },
    /// A public client naming itself (`token_endpoint_auth_method=none`).
    IdOnly {
        client_id: String,
    },
    /// `private_key_jwt`: a signed assertion; `client_id` is what it claims (its `sub`),
    /// not yet verified.
    Assertion {
        client_id: String,
        assertion: String,
    },
    Nothing,
}

impl std::fmt::Debug for Presented {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Presented::Basic { client_id, .. } => {
                write!(
                    f,
                    "Basic {{ client_id: {client_id:?}, secret: [redacted] }}"
                )
            }
            Presented::Post { client_id, .. } => {
                write!(f, "Post {{ client_id: {client_id:?}, secret: [redacted] }}")
            }
            Presented::IdOnly { client_id } => write!(f, "IdOnly {{ client_id: {client_id:?} }}"),
            Presented::Assertion { client_id, .. } => write!(
                f,
                "Assertion {{ client_id: {client_id:?}, assertion: [redacted] }}"
            ),
            Presented::Nothing => f.write_str("Nothing"),
        }
    }
}

impl Presented {
    pub fn client_id(&self) -> Option<&str> {
        match self {
            Presented::Basic { client_id, .. }
            | Presented::Post { client_id, .. }
            | Presented::IdOnly { client_id }
            | Presented::Assertion { client_id, .. } => Some(client_id),
            Presented::Nothing => None,
        }
    }

    pub fn used_basic(&self) -> bool {
        matches!(self, Presented::Basic { .. })
    }

    pub fn method(&self) -> Option<AuthMethod> {
        match self {
            Presented::Basic { .. } => Some(AuthMethod::ClientSecretBasic),
            Presented::Post { .. } => Some(AuthMethod::ClientSecretPost),
            Presented::IdOnly { .. } => Some(AuthMethod::None),
            Presented::Assertion { .. } => Some(AuthMethod::PrivateKeyJwt),
            Presented::Nothing => None,
        }
    }
}

/// A hash that no secret has, so that an unknown client costs the same as a wrong secret.
const NO_SUCH_SECRET: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The client the credentials name, if it exists and is registered for the method they
/// use. Every failure is `invalid_client`, never saying which part was wrong.
pub fn registered_for(
    presented: &Presented,
    client: Option<Arc<Client>>,
) -> Result<Arc<Client>, OAuthError> {
    let fail = OAuthError::invalid_client;
    let Some(method) = presented.method() else {
        return Err(fail("client authentication is required"));
    };
    let Some(client) = client else {
        if let Presented::Basic { secret, .. } | Presented::Post { secret, .. } = presented {
            let _ = secret::verify(secret, NO_SUCH_SECRET);
        }
        return Err(fail("client authentication failed"));
    };
    if !client.allows_auth_method(method) {
        return Err(fail(
            "this authentication method is not registered for the client",
        ));
    }
    Ok(client)
}

/// Check a secret (or a public client's bare id) against a client record (`None`: no
/// such client). Assertions are never accepted here: their signature is the
/// registrar's to verify (it may have to fetch the client's keys).
pub fn authenticate(
    presented: &Presented,
    client: Option<Arc<Client>>,
) -> Result<Arc<Client>, OAuthError> {
    let fail = OAuthError::invalid_client;
    let client = registered_for(presented, client)?;
    match (presented, &client.secret_hash) {
        (Presented::Basic { secret, .. } | Presented::Post { secret, .. }, Some(hash)) => {
            if secret::verify(secret, hash) {
                Ok(client)
            } else {
                Err(fail("client authentication failed"))
            }
        }
        (Presented::IdOnly { .. }, None) if client.is_public() => Ok(client),
        _ => Err(fail("client authentication failed")),
    }
}
