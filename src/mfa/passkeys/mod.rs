//! Passkeys (WebAuthn L3) through `webauthn-rs`: the relying party, and the pure steps
//! of each ceremony. Both halves of a ceremony travel as JSON: the browser's options
//! and answer, and the server's state (kept in the database by the caller, so that a
//! ceremony begun on one instance finishes on another).
//!
//! Every passkey requires user verification (a PIN or biometric on the authenticator),
//! so a passkey alone counts as two factors. Credentials are created discoverable, so
//! that people can sign in without typing a username.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::DeserializeOwned;
use webauthn_rs::prelude::{
    AuthenticationResult, CreationChallengeResponse, Credential, DiscoverableAuthentication,
    Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, RequestChallengeResponse, Url, Webauthn, WebauthnBuilder,
    WebauthnError,
};
use webauthn_rs_proto::ResidentKeyRequirement;

use crate::store::passkeys::PasskeyRow;
use crate::store::users::User;

/// How long a ceremony may take, in seconds: the authenticator's own timeout (WebAuthn
/// L3 recommends 300 s for ceremonies with user verification), no longer.
pub const CEREMONY_TTL: i64 = 300;

/// Why a ceremony failed.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    /// The signature counter did not move forward: the authenticator may be cloned
    /// (WebAuthn L3 §7.2 step 22), or the assertion was replayed.
    #[error("the signature counter went backwards")]
    CounterWentBack,
    /// The browser's answer is not JSON of the expected shape.
    #[error("the answer does not parse: {0}")]
    Malformed(String),
    /// Anything else webauthn-rs refuses: a wrong challenge, origin, RP id, signature, a
    /// missing user verification, an unknown credential.
    #[error("{0}")]
    Invalid(WebauthnError),
    /// Our stored state does not read (it never should).
    #[error("stored ceremony state does not parse")]
    Corrupt,
}

impl From<WebauthnError> for Refused {
    fn from(e: WebauthnError) -> Refused {
        match e {
            WebauthnError::CredentialPossibleCompromise => Refused::CounterWentBack,
            e => Refused::Invalid(e),
        }
    }
}

/// A passkey just registered, ready to store.
pub struct NewPasskey {
    pub credential_id: String,
    pub passkey_json: String,
    pub backup_eligible: bool,
    pub backed_up: bool,
    pub sign_count: i64,
}

/// What a successful assertion changes in the stored passkey.
pub struct Used {
    pub passkey_json: String,
    pub sign_count: i64,
    pub backed_up: bool,
    pub backup_eligible: bool,
}

/// The relying party: our issuer's host name and origin.
pub struct RelyingParty {
    webauthn: Webauthn,
}

impl RelyingParty {
    /// The relying party of `issuer`, or why there cannot be one. WebAuthn L3 §5.1.3:
    /// an RP id is a registrable domain, never an IP address.
    pub fn for_issuer(issuer: &str) -> Result<RelyingParty, String> {
        let url = Url::parse(issuer).map_err(|e| format!("the issuer is not a URL: {e}"))?;
        let Some(host) = url.domain() else {
            return Err(format!(
                "the issuer's host {:?} is an IP address, and WebAuthn allows no IP address as a relying party id: give the issuer a host name (localhost works for trials)",
                url.host_str().unwrap_or("")
            ));
        };
        let origin = Url::parse(&url.origin().ascii_serialization())
            .map_err(|e| format!("the issuer has no origin: {e}"))?;
        let webauthn = WebauthnBuilder::new(host, &origin)
            .and_then(|b| b.rp_name("Portcullis").build())
            .map_err(|e| format!("webauthn configuration: {e}"))?;
        Ok(RelyingParty { webauthn })
    }

    /// Options for creating a passkey for `user`, who holds `existing` (excluded, so the
    /// same authenticator is not registered twice), and the state to keep.
    pub fn start_registration(
        &self,
        user: &User,
        existing: &[PasskeyRow],
    ) -> Result<(CreationChallengeResponse, String), Refused> {
        let exclude = existing
            .iter()
            .filter_map(|r| URL_SAFE_NO_PAD.decode(&r.credential_id).ok())
            .collect::<Vec<_>>();
        let (mut ccr, state) = self.webauthn.start_passkey_registration(
            user.id.0,
            &user.username,
            &user.username,
            Some(exclude),
        )?;
        // Discoverable, so that the passkey can sign in without a username (WebAuthn L3
        // §5.4.6). webauthn-rs leaves this to the caller; it checks nothing of it.
        if let Some(sel) = ccr.public_key.authenticator_selection.as_mut() {
            sel.resident_key = Some(ResidentKeyRequirement::Required);
            sel.require_resident_key = true;
        }
        Ok((ccr, to_json(&state)?))
    }

    pub fn finish_registration(&self, answer: &str, state: &str) -> Result<NewPasskey, Refused> {
        let answer: RegisterPublicKeyCredential = from_json(answer)?;
        well_formed(&answer.id, &answer.raw_id, &answer.type_)?;
        top_level(&answer.response.client_data_json)?;
        let state: PasskeyRegistration =
            serde_json::from_str(state).map_err(|_| Refused::Corrupt)?;
        let passkey = self.webauthn.finish_passkey_registration(&answer, &state)?;
        // WebAuthn L3 §7.1 step 19: an id this long is refused (it would be sent back to
        // the browser in every list of the person's credentials).
        if passkey.cred_id().len() > MAX_CREDENTIAL_ID {
            return Err(Refused::Malformed("the credential id is too long".into()));
        }
        let credential_id = URL_SAFE_NO_PAD.encode(passkey.cred_id());
        let cred = Credential::from(passkey.clone());
        Ok(NewPasskey {
            credential_id,
            passkey_json: to_json(&passkey)?,
            backup_eligible: cred.backup_eligible,
            backed_up: cred.backup_state,
            sign_count: i64::from(cred.counter),
        })
    }

    /// Options for signing in with any passkey of ours the browser holds (no username),
    /// and the state to keep. `conditional`: for the username field's autofill (WebAuthn
    /// L3 §5.1.4, mediation "conditional") rather than a button.
    pub fn start_discoverable(
        &self,
        conditional: bool,
    ) -> Result<(RequestChallengeResponse, String), Refused> {
        let (mut rcr, state) = self.webauthn.start_discoverable_authentication()?;
        if !conditional {
            rcr.mediation = None;
        }
        Ok((rcr, to_json(&state)?))
    }

    /// Options for a passkey of one known person (the step after a password, and
    /// re-authentication), and the state to keep.
    pub fn start_for(
        &self,
        rows: &[PasskeyRow],
    ) -> Result<(RequestChallengeResponse, String), Refused> {
        let passkeys = rows.iter().map(stored).collect::<Result<Vec<_>, _>>()?;
        let (rcr, state) = self.webauthn.start_passkey_authentication(&passkeys)?;
        Ok((rcr, to_json(&state)?))
    }

    /// The person and credential a discoverable answer claims (not yet verified).
    pub fn identify(&self, answer: &str) -> Result<(uuid::Uuid, String), Refused> {
        let answer = assertion(answer)?;
        let (user, cred) = self
            .webauthn
            .identify_discoverable_authentication(&answer)?;
        Ok((user, URL_SAFE_NO_PAD.encode(cred)))
    }

    /// Verify a discoverable answer against the stored passkey it names.
    pub fn finish_discoverable(
        &self,
        answer: &str,
        state: &str,
        row: &PasskeyRow,
    ) -> Result<Used, Refused> {
        let answer = assertion(answer)?;
        let state: DiscoverableAuthentication =
            serde_json::from_str(state).map_err(|_| Refused::Corrupt)?;
        let mut passkey = stored(row)?;
        let result = self.webauthn.finish_discoverable_authentication_v2(
            &answer,
            state,
            Credential::from(passkey.clone()),
        )?;
        used(&mut passkey, &result)
    }

    /// Verify an answer to `start_for`; `row` is the stored passkey it names (found by
    /// the caller with `credential_of`), which must be one the ceremony allowed.
    pub fn finish_for(&self, answer: &str, state: &str, row: &PasskeyRow) -> Result<Used, Refused> {
        let answer = assertion(answer)?;
        // WebAuthn L3 §7.2 step 6: the person is known already; a user handle, when the
        // authenticator gives one, must be theirs.
        if answer
            .get_user_unique_id()
            .is_some_and(|h| h != row.user_id.0.as_bytes())
        {
            return Err(Refused::Malformed(
                "the user handle names someone else".into(),
            ));
        }
        let state: PasskeyAuthentication =
            serde_json::from_str(state).map_err(|_| Refused::Corrupt)?;
        let mut passkey = stored(row)?;
        // webauthn-rs checks the answer against the credentials the ceremony allowed, as
        // they were when it began; the counter is checked again against the row when the
        // use is recorded (`store::passkeys::record_use`).
        let result = self
            .webauthn
            .finish_passkey_authentication(&answer, &state)?;
        used(&mut passkey, &result)
    }
}

/// The credential id (base64url) an assertion names.
pub fn credential_of(answer: &str) -> Result<String, Refused> {
    Ok(URL_SAFE_NO_PAD.encode(&assertion(answer)?.raw_id))
}

/// WebAuthn L3 §7.1 step 19: credential ids are at most 1023 bytes.
const MAX_CREDENTIAL_ID: usize = 1023;

/// An assertion as the browser sent it, checked for the shape webauthn-rs leaves to us.
fn assertion(answer: &str) -> Result<PublicKeyCredential, Refused> {
    let answer: PublicKeyCredential = from_json(answer)?;
    well_formed(&answer.id, &answer.raw_id, &answer.type_)?;
    top_level(&answer.response.client_data_json)?;
    Ok(answer)
}

/// WebAuthn L3 §5.1: `id` is `rawId` in base64url, and the type is "public-key".
fn well_formed(id: &str, raw_id: &[u8], type_: &str) -> Result<(), Refused> {
    if type_ != "public-key" || id != URL_SAFE_NO_PAD.encode(raw_id) {
        return Err(Refused::Malformed("id, rawId and type do not agree".into()));
    }
    Ok(())
}

/// WebAuthn L3 §7.1 step 9, §7.2 steps 13-14 leave cross-origin frames to the relying
/// party: ours are never framed (`frame-ancestors 'none'`), so an answer made in one
/// (`crossOrigin` true, or a `topOrigin`) is refused.
fn top_level(client_data_json: &[u8]) -> Result<(), Refused> {
    #[derive(serde::Deserialize)]
    struct Collected {
        #[serde(rename = "crossOrigin", default)]
        cross_origin: Option<bool>,
        #[serde(rename = "topOrigin", default)]
        top_origin: Option<serde_json::Value>,
    }
    let c: Collected = serde_json::from_slice(client_data_json)
        .map_err(|e| Refused::Malformed(format!("clientDataJSON: {e}")))?;
    if c.cross_origin == Some(true) || c.top_origin.is_some() {
        return Err(Refused::Malformed("made in a cross-origin frame".into()));
    }
    Ok(())
}

/// A stored passkey, with the signature counter of its row (the one the database
/// checks and moves), not the copy inside its JSON.
fn stored(row: &PasskeyRow) -> Result<Passkey, Refused> {
    let passkey: Passkey = serde_json::from_str(&row.passkey).map_err(|_| Refused::Corrupt)?;
    let mut cred = Credential::from(passkey);
    cred.counter = u32::try_from(row.sign_count).map_err(|_| Refused::Corrupt)?;
    Ok(Passkey::from(cred))
}

fn used(passkey: &mut Passkey, result: &AuthenticationResult) -> Result<Used, Refused> {
    if !result.user_verified() {
        // webauthn-rs requires it already; a passkey that counts as two factors must.
        return Err(Refused::Invalid(WebauthnError::UserNotVerified));
    }
    passkey.update_credential(result);
    Ok(Used {
        passkey_json: to_json(&*passkey)?,
        sign_count: i64::from(result.counter()),
        backed_up: result.backup_state(),
        backup_eligible: result.backup_eligible(),
    })
}

fn to_json(v: &impl serde::Serialize) -> Result<String, Refused> {
    serde_json::to_string(v).map_err(|_| Refused::Corrupt)
}

fn from_json<T: DeserializeOwned>(s: &str) -> Result<T, Refused> {
    if s.len() > 64 * 1024 {
        return Err(Refused::Malformed("too long".into()));
    }
    serde_json::from_str(s).map_err(|e| Refused::Malformed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_made_in_a_cross_origin_frame_are_refused() {
        let get = |extra: &str| {
            format!(
                r#"{{"type":"webauthn.get","challenge":"x","origin":"http://localhost:8080"{extra}}}"#
            )
        };
        assert!(top_level(get("").as_bytes()).is_ok());
        assert!(top_level(get(r#","crossOrigin":false"#).as_bytes()).is_ok());
        assert!(top_level(get(r#","crossOrigin":true"#).as_bytes()).is_err());
        assert!(top_level(get(r#","topOrigin":"http://evil.example""#).as_bytes()).is_err());
        assert!(top_level(b"not json").is_err());
    }

    #[test]
    fn id_raw_id_and_type_must_agree() {
        let raw = [1u8, 2, 3];
        assert!(well_formed("AQID", &raw, "public-key").is_ok());
        assert!(well_formed("AQIE", &raw, "public-key").is_err());
        assert!(well_formed("AQID", &raw, "password").is_err());
    }

    #[test]
    fn an_issuer_at_an_ip_address_has_no_relying_party() {
        let e = RelyingParty::for_issuer("http://127.0.0.1:8080")
            .err()
            .unwrap();
        assert!(e.contains("IP address"), "{e}");
        assert!(RelyingParty::for_issuer("http://[::1]:8080").is_err());
        assert!(RelyingParty::for_issuer("http://localhost:8080").is_ok());
        assert!(RelyingParty::for_issuer("https://id.example.com/tenant").is_ok());
    }
}
