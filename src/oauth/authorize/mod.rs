//! The authorization endpoint's protocol (RFC 6749 §4.1.1, RFC 7636, OpenID Connect Core
//! §3.1.2): validate a request, decide what it still needs (a sign-in, consent), and
//! issue the code. Pages ask the `Authorizer`; it knows nothing of HTML.

pub mod par;
pub mod request;
pub mod transaction;

use actix_web::http::StatusCode;

pub use request::{
    AuthorizationRequest, AuthorizeError, PageError, Params, RedirectError, Rules, redirect_with,
};

use super::clients::RegisteredBy;
use super::clients::registrar::Registrar;
use crate::keys::Keys;
use crate::oauth::tokens::verify_id_token_hint;
use crate::secret;
use crate::store::codes::{self, CodeRow};
use crate::store::sessions::{self, Session};
use crate::store::users::User;
use crate::store::{Db, DbError, clients, consents, pushed};
use crate::web::form;

/// Authorization codes live one minute (RFC 6749 §4.1.2 recommends at most ten).
pub const CODE_TTL: i64 = 60;

/// What a request needs next.
#[derive(Debug)]
pub enum Step {
    /// The person must sign in (again).
    SignIn,
    /// The person must allow the request.
    Consent,
    /// Everything is in place: issue the code.
    IssueCode,
    /// Refused: send the error to the client (`prompt=none` could not be honoured).
    Refuse(RedirectError),
}

pub struct Authorizer<'a> {
    pub registrar: &'a Registrar,
    pub db: &'a Db,
    /// The issuer identifier, added to every response (RFC 9207).
    pub issuer: &'a str,
    /// Our signing keys, for `id_token_hint`.
    pub keys: &'a Keys,
    /// The server's rules: every request pushed, the FAPI 2.0 profile (`pushed` unset).
    pub rules: Rules,
}

impl Authorizer<'_> {
    /// Validate a request at /authorize: a pushed one by its `request_uri` (RFC 9126
    /// §4: used once, by the client that pushed it, and nothing else of the request
    /// counts), or the parameters themselves.
    pub async fn validate(
        &self,
        params: Params,
        now: i64,
    ) -> Result<AuthorizationRequest, Refusal> {
        let Some(uri) = params.get("request_uri") else {
            return self.validate_as(params, false).await;
        };
        let gone = || {
            Refusal::Invalid(AuthorizeError::Page(PageError {
                title: "This sign-in link is not valid",
                message: "It expired, was already used, or names another application. Go back to the application and start again.",
            }))
        };
        let (Some(client_id), true) = (
            params.get("client_id"),
            uri.starts_with(request::REQUEST_URI_PREFIX),
        ) else {
            return Err(gone());
        };
        let (hash, client_id) = (secret::hash(uri), client_id.to_string());
        let stored = self
            .db
            .run(move |conn| pushed::take(conn, &hash, &client_id, now))
            .await
            .map_err(|_| Refusal::Unavailable)?
            .ok_or_else(gone)?;
        self.validate_as(form::parse(stored.as_bytes()), true).await
    }

    /// Validate `params` (`pushed`: as they came to the PAR endpoint): the client and
    /// redirect URI first (errors then may not be redirected), then the rest (errors
    /// go back to the client).
    pub async fn validate_as(
        &self,
        params: Params,
        pushed: bool,
    ) -> Result<AuthorizationRequest, Refusal> {
        let client = match params.get("client_id") {
            Some(id) => self
                .registrar
                .find(id)
                .await
                .map_err(|_| Refusal::Unavailable)?,
            None => None,
        };
        let rules = Rules {
            pushed,
            ..self.rules
        };
        let mut areq = request::resolve_redirect(&params, client)
            .and_then(|(client, uri, given)| request::validate(params, client, uri, given, rules))
            .map_err(Refusal::Invalid)?;
        // OpenID Connect Core §3.1.2.1: `id_token_hint` names the person the client
        // expects. Only one of our ID tokens can name anyone (expired is fine: it is a
        // hint from an earlier sign-in).
        if let Some(hint) = areq.params.get("id_token_hint") {
            let claims = verify_id_token_hint(&self.keys.current(), self.issuer, hint);
            let Some(claims) = claims else {
                let e = areq.error(
                    "invalid_request",
                    "id_token_hint is not an ID token of ours",
                );
                return Err(Refusal::Invalid(AuthorizeError::Redirect(e)));
            };
            areq.hint_subject = Some(claims.sub);
        }
        Ok(areq)
    }

    /// What `areq` needs, for the browser signed in as `current` (if anyone).
    /// `signed_in_here`: that session signed in for this very request (its transaction),
    /// which satisfies `prompt=login` and `max_age`.
    pub async fn next_step(
        &self,
        areq: &AuthorizationRequest,
        current: Option<&(Session, User)>,
        signed_in_here: bool,
        now: i64,
    ) -> Result<Step, DbError> {
        // OpenID Connect Core §3.1.2.1: max_age=0 means "sign in again now", hence `>=`.
        // A session weaker than the `acr_values` asked for signs in again (step-up, RFC
        // 9470 §4); after that the code is issued whatever was reached, since acr_values
        // is a voluntary request, and the ID token's `acr` says what it was.
        let must_sign_in = match current {
            None => true,
            Some((s, _)) => {
                !signed_in_here
                    && (areq.prompt.login
                        || areq.max_age.is_some_and(|m| now - s.auth_time >= m)
                        || areq.acr.is_some_and(|want| s.amr.acr() < want))
            }
        };
        // The person the client named with `id_token_hint` must be the one signed in: a
        // browser signed in as someone else signs in again, and a sign-in made for this
        // request as someone else is refused (OpenID Connect Core §3.1.2.1).
        let someone_else = |u: &User| {
            areq.hint_subject
                .as_deref()
                .is_some_and(|sub| sub != u.id.to_string())
        };
        let must_sign_in =
            must_sign_in || current.is_some_and(|(_, u)| !signed_in_here && someone_else(u));
        if must_sign_in {
            return Ok(match areq.prompt.none {
                true => Step::Refuse(areq.error("login_required", "the user is not signed in")),
                false => Step::SignIn,
            });
        }
        let Some((_, user)) = current else {
            return Ok(Step::SignIn);
        };
        if someone_else(user) {
            return Ok(Step::Refuse(areq.error(
                "login_required",
                "the signed-in user is not the one id_token_hint names",
            )));
        }
        let (uid, client_id) = (user.id, areq.client.client_id.clone());
        let granted = self
            .db
            .run(move |conn| consents::find(conn, uid, &client_id))
            .await?;
        let covered = granted.is_some_and(|g| areq.scope.is_subset_of(&g.scope));
        if !covered || areq.prompt.consent {
            return Ok(match areq.prompt.none {
                true => Step::Refuse(areq.error("consent_required", "the user has not consented")),
                false => Step::Consent,
            });
        }
        Ok(Step::IssueCode)
    }

    /// Create the code and say where to send it (RFC 6749 §4.1.2, RFC 9207 `iss`).
    pub async fn issue_code(
        &self,
        areq: &AuthorizationRequest,
        session: &Session,
        user: &User,
        now: i64,
    ) -> Result<String, DbError> {
        let code = secret::random_token("", 32);
        let session_id = session.id;
        let row = CodeRow {
            code_hash: secret::hash(&code),
            client_id: areq.client.client_id.clone(),
            user_id: user.id,
            session_id: Some(session.id),
            redirect_uri: areq.redirect_uri.clone(),
            redirect_uri_given: areq.redirect_uri_given,
            scope: areq.scope.clone(),
            nonce: areq.nonce.clone(),
            code_challenge: areq.code_challenge.as_str().to_string(),
            auth_time: session.auth_time,
            created_at: now,
            expires_at: now + CODE_TTL,
            consumed_at: None,
            issued_jti: None,
            issued_exp: None,
            family_id: None,
            dpop_jkt: areq.dpop_jkt.clone(),
            resources: areq.resources.join(" "),
            amr: session.amr,
        };
        // Openly registered clients that never sign anyone in are purged; this one did.
        let signs_in = (areq.client.registered_by == RegisteredBy::Open)
            .then(|| areq.client.client_id.clone());
        self.db
            .run(move |conn| {
                codes::insert(conn, &row)?;
                // The app took part in this session: it hears when the session ends.
                sessions::note_client(conn, session_id, &row.client_id)?;
                if let Some(id) = signs_in {
                    clients::note_sign_in(conn, &id, now)?;
                }
                Ok(())
            })
            .await?;
        let mut pairs = vec![("code", code.as_str())];
        if let Some(s) = &areq.state {
            pairs.push(("state", s));
        }
        pairs.push(("iss", self.issuer));
        Ok(redirect_with(&areq.redirect_uri, &pairs))
    }

    /// Where to send an error (RFC 6749 §4.1.2.1 plus RFC 9207 `iss`).
    pub fn error_location(&self, e: &RedirectError) -> String {
        e.location(self.issuer)
    }
}

/// Why a request could not be validated.
#[derive(Debug)]
pub enum Refusal {
    Invalid(AuthorizeError),
    /// We could not look the client up.
    Unavailable,
}

/// RFC 9700 §4.12: answer a POST with 303 so the browser does not re-post the form
/// to the client; a GET gets the customary 302.
pub fn redirect_status(via_post: bool) -> StatusCode {
    if via_post {
        StatusCode::SEE_OTHER
    } else {
        StatusCode::FOUND
    }
}
