//! DPoP proofs at our endpoints (RFC 9449): checked with the shared `jti` store, and a
//! refusal audited with its reason (never the proof).

use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};

use crate::oauth::dpop::{CheckError, Checker, Expect, Proof, USE_NONCE};
use crate::state::AppState;
use crate::store::DbError;
use crate::store::audit::Event;

/// Why a proof was not accepted.
#[derive(Debug)]
pub enum Refusal {
    Invalid(&'static str),
    /// The proof lacks a current server nonce: retry with this one (RFC 9449 §8).
    UseNonce(String),
    Unavailable(DbError),
}

/// Check `proof` for a request to `path` (under our issuer) with `method`, carrying
/// `access_token` at a resource. `client_id`: whom to name in the audit trail.
pub async fn check(
    state: &AppState,
    proof: &str,
    method: &str,
    path: &str,
    access_token: Option<&str>,
    client_id: Option<&str>,
) -> Result<Proof, Refusal> {
    let now = state.clock.now();
    let url = format!("{}{path}", state.issuer.id);
    let expect = Expect {
        method,
        url: &url,
        access_token,
        now,
        fapi2: state.settings.profile == crate::config::Profile::Fapi2,
        nonces: state.dpop_nonces.as_ref(),
    };
    match (Checker { db: &state.db }).check(proof, &expect).await {
        Ok(p) => Ok(p),
        Err(CheckError::Unavailable(e)) => Err(Refusal::Unavailable(e)),
        // The ordinary first answer to a client that has no nonce yet: not audited.
        Err(CheckError::Refused(USE_NONCE)) => match &state.dpop_nonces {
            Some(nonces) => Err(Refusal::UseNonce(nonces.current(now))),
            None => Err(Refusal::Invalid(USE_NONCE.0)),
        },
        Err(CheckError::Refused(r)) => {
            let mut event = Event::new("dpop.refused", "refused")
                .detail("reason", r.0)
                .detail("endpoint", path.to_string());
            // Named by the request, not yet authenticated: a detail, not the client.
            if let Some(c) = client_id {
                event = event.detail("claimed_client", c.to_string());
            }
            crate::audit::record_refusal(&state.db, event, now).await;
            Err(Refusal::Invalid(r.0))
        }
    }
}

/// RFC 9449 §8.2, §9: with nonces on, a successful answer to a request that carried a
/// proof names the nonce to use next, so that a client is not refused once its nonce
/// has gone stale.
pub fn next_nonce<E>(state: &AppState, req: &HttpRequest, result: &mut Result<HttpResponse, E>) {
    if let (Ok(res), Some(nonces)) = (result, &state.dpop_nonces)
        && req.headers().contains_key("dpop")
        && let Ok(nonce) = HeaderValue::from_str(&nonces.current(state.clock.now()))
    {
        res.headers_mut()
            .insert(HeaderName::from_static("dpop-nonce"), nonce);
    }
}
