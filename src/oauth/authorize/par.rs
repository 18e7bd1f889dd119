//! Pushed authorization requests (RFC 9126): the client sends the authorization request
//! straight to us, authenticated, and the browser then carries only a `request_uri`.
//! Nothing of the request can be read or altered on its way through the browser, and
//! it is validated, completely, before anyone is sent anywhere.

use super::request::REQUEST_URI_PREFIX as URI_PREFIX;
use super::transaction::MAX_PARAMS;
use super::{AuthorizeError, Authorizer, Params, Refusal};
use crate::oauth::clients::Client;
use crate::secret;
use crate::store::pushed::{self, PushedRow};

/// How long a pushed request waits for the browser (RFC 9126 §2.2 suggests short;
/// FAPI 2.0 asks for under 600 s).
pub const TTL: i64 = 60;
/// Parameters that authenticate the client at the PAR endpoint: never kept with the
/// request.
pub const CREDENTIALS: &[&str] = &["client_secret", "client_assertion", "client_assertion_type"];

/// A request that was kept.
#[derive(Debug)]
pub struct Pushed {
    pub request_uri: String,
    pub expires_in: i64,
}

/// Why a push was refused: an OAuth error code and description for a 400 JSON answer
/// (RFC 9126 §2.3), never a redirect.
#[derive(Debug)]
pub enum PushError {
    Invalid {
        error: &'static str,
        description: &'static str,
    },
    Unavailable,
}

fn invalid(description: &'static str) -> PushError {
    PushError::Invalid {
        error: "invalid_request",
        description,
    }
}

impl Authorizer<'_> {
    /// Validate `params`, pushed by the authenticated `client`, as /authorize would,
    /// and keep them for one use within `TTL` seconds.
    pub async fn push(
        &self,
        params: Params,
        client: &Client,
        now: i64,
    ) -> Result<Pushed, PushError> {
        if params.repeated().is_some() {
            return Err(invalid("a parameter is repeated"));
        }
        if params.get("request").is_some() {
            return Err(PushError::Invalid {
                error: "request_not_supported",
                description: "request objects are not supported",
            });
        }
        // §2.1: client_id, if sent, is the authenticated client's.
        if params
            .get("client_id")
            .is_some_and(|c| c != client.client_id)
        {
            return Err(invalid("client_id differs from the authenticated client"));
        }
        let params = params
            .without(CREDENTIALS)
            .with("client_id", &client.client_id);
        let areq = self.validate_as(params, true).await.map_err(|e| match e {
            Refusal::Unavailable => PushError::Unavailable,
            Refusal::Invalid(AuthorizeError::Page(p)) => invalid(p.message),
            Refusal::Invalid(AuthorizeError::Redirect(r)) => PushError::Invalid {
                error: r.error,
                description: r.description,
            },
        })?;
        let encoded = areq.params.encode();
        if encoded.len() > MAX_PARAMS {
            return Err(invalid("the request is too large"));
        }
        let request_uri = format!("{URI_PREFIX}{}", secret::random_token("", 32));
        let row = PushedRow {
            uri_hash: secret::hash(&request_uri),
            client_id: client.client_id.clone(),
            params: encoded,
            created_at: now,
            expires_at: now + TTL,
            used_at: None,
        };
        self.db
            .run(move |conn| pushed::insert(conn, &row))
            .await
            .map_err(|_| PushError::Unavailable)?;
        Ok(Pushed {
            request_uri,
            expires_in: TTL,
        })
    }
}
