//! The client registry: who the clients are (looked up through a short cache), who is
//! calling (client authentication), registration and secret rotation. Identifiers and
//! secrets are generated here and a secret leaves only once, in the return value.

use std::sync::Arc;

use super::assertion::{self, Audiences};
use super::auth::{self as client_auth, Presented};
use super::cache::ClientCache;
use super::jwks_fetch::JwksFetcher;
use super::model::{
    AuthMethod, BackchannelLogout, Client, ClientKeys, ClientMetadata, Introspection, RegisteredBy,
};
use super::redirect_uri;
use super::request::{ValidClientRequest, validate_backchannel_logout_uri, validate_jwks_uri};
use crate::clock::SharedClock;
use crate::domain::scope::Scope;
use crate::oauth::error::OAuthError;
use crate::oauth::jwk;
use crate::secret;
use crate::store::audit::Event;
use crate::store::clients::{self, ClientRow};
use crate::store::{AnyConnection, Db, corrupt};
use crate::store::{consents, replay};

/// Client lookups and authentication for request paths.
pub struct Registrar {
    db: Db,
    cache: ClientCache,
    clock: SharedClock,
    /// What `private_key_jwt` assertions must be addressed to.
    audiences: Audiences,
    jwks: JwksFetcher,
    /// The FAPI 2.0 profile: clients authenticate with `private_key_jwt` only.
    key_based_only: bool,
}

impl Registrar {
    /// `fapi2`: the FAPI 2.0 profile (`private_key_jwt` only, addressed to the issuer
    /// identifier as a string).
    pub fn new(db: Db, cache_ttl: u64, clock: SharedClock, issuer: &str, fapi2: bool) -> Registrar {
        Registrar {
            db,
            cache: ClientCache::new(cache_ttl),
            clock,
            audiences: Audiences::for_issuer(issuer, fapi2),
            jwks: JwksFetcher::new(),
            key_based_only: fapi2,
        }
    }

    /// A client by id, from the cache when it can answer.
    pub async fn find(&self, id: &str) -> Result<Option<Arc<Client>>, OAuthError> {
        let now = self.clock.now();
        if let Some(c) = self.cache.get(id, now) {
            return Ok(Some(c));
        }
        self.fetch(id, now).await
    }

    /// The database's answer, remembered in the cache.
    async fn fetch(&self, id: &str, now: i64) -> Result<Option<Arc<Client>>, OAuthError> {
        let owned = id.to_string();
        // A disabled client is unknown to the protocol: it cannot authenticate, start a
        // sign-in or refresh, and its access tokens are inactive at introspection.
        let found = self
            .db
            .run(move |conn| load(conn, &owned))
            .await?
            .filter(|c| c.disabled_at.is_none())
            .map(Arc::new);
        match &found {
            Some(c) => self.cache.put(c.clone(), now),
            None => self.cache.forget(id),
        }
        Ok(found)
    }

    /// Forget a cached client (it was changed or deleted here).
    pub fn forget(&self, client_id: &str) {
        self.cache.forget(client_id);
    }

    /// A client by id from the database, never the cache.
    pub async fn fresh(&self, id: &str) -> Result<Option<Arc<Client>>, OAuthError> {
        self.fetch(id, self.clock.now()).await
    }

    /// Authenticate the calling client, from the cache when it can answer.
    pub async fn authenticate(&self, presented: &Presented) -> Result<Arc<Client>, OAuthError> {
        if let Presented::Assertion {
            client_id,
            assertion,
        } = presented
        {
            return self
                .authenticate_assertion(presented, client_id, assertion)
                .await;
        }
        if self.key_based_only && presented.method().is_some() {
            return Err(OAuthError::invalid_client(
                "this server accepts private_key_jwt client authentication only (FAPI 2.0)",
            ));
        }
        let Some(id) = presented.client_id() else {
            return client_auth::authenticate(presented, None);
        };
        let now = self.clock.now();
        if let Some(cached) = self.cache.get(id, now)
            && let Ok(client) = client_auth::authenticate(presented, Some(cached))
        {
            return Ok(client);
        }
        // Not cached, or the cached record says no: ask the database, which is the
        // truth (a secret may have been rotated a moment ago).
        let found = self.fetch(id, now).await?;
        client_auth::authenticate(presented, found)
    }

    /// `private_key_jwt`: the assertion must verify with one of the client's keys, be
    /// addressed to us, be fresh, and be the first use of its `jti` anywhere. A refusal
    /// is audited with its reason (never the assertion).
    async fn authenticate_assertion(
        &self,
        presented: &Presented,
        client_id: &str,
        assertion: &str,
    ) -> Result<Arc<Client>, OAuthError> {
        let now = self.clock.now();
        // The cached record first; a cached one whose keys do not verify the assertion
        // is checked once more against the database (`client set-jwks` a moment ago).
        if let Some(cached) = self.cache.get(client_id, now)
            && let Ok(client) = client_auth::registered_for(presented, Some(cached))
            && let Ok(verified) = self.verify_assertion(&client, assertion, now).await
        {
            return self.spend_assertion(client, verified, now).await;
        }
        let client = match client_auth::registered_for(presented, self.fetch(client_id, now).await?)
        {
            Ok(c) => c,
            Err(e) => {
                let event = Event::new("client.assertion_refused", "refused")
                    .detail("claimed_client", client_id.to_string())
                    .detail("reason", "no such client registered for private_key_jwt");
                crate::audit::record_refusal(&self.db, event, now).await;
                return Err(e);
            }
        };
        match self.verify_assertion(&client, assertion, now).await {
            Ok(verified) => self.spend_assertion(client, verified, now).await,
            Err(reason) => Err(self.refuse_assertion(client_id, reason, now).await),
        }
    }

    /// Verify `assertion` with `client`'s keys (fetching a jwks_uri's when needed).
    async fn verify_assertion(
        &self,
        client: &Client,
        assertion: &str,
        now: i64,
    ) -> Result<assertion::Verified, &'static str> {
        let id = client.client_id.as_str();
        let checked = match &client.keys {
            ClientKeys::Set(keys) => assertion::verify(assertion, id, keys, &self.audiences, now),
            ClientKeys::Uri(uri) => {
                let keys = self
                    .jwks
                    .keys(uri, now, false, client.self_registered())
                    .await
                    .map_err(|_| "the client's jwks_uri could not be read")?;
                match assertion::verify(assertion, id, &keys, &self.audiences, now) {
                    // The client may have rotated: fetch once more, then decide.
                    Err(assertion::Refused::UnknownKid) => {
                        match self
                            .jwks
                            .keys(uri, now, true, client.self_registered())
                            .await
                        {
                            Ok(k) => assertion::verify(assertion, id, &k, &self.audiences, now),
                            Err(_) => Err(assertion::Refused::UnknownKid),
                        }
                    }
                    other => other,
                }
            }
            ClientKeys::None => Err(assertion::Refused::Invalid(
                "the client has no registered keys",
            )),
        };
        checked.map_err(assertion::Refused::reason)
    }

    /// Spend a verified assertion's `jti`: only its first use, on any instance,
    /// authenticates.
    async fn spend_assertion(
        &self,
        client: Arc<Client>,
        verified: assertion::Verified,
        now: i64,
    ) -> Result<Arc<Client>, OAuthError> {
        let (key, until) = (verified.replay_key, verified.until);
        let first = self
            .db
            .run(move |conn| replay::first_use(conn, &key, until))
            .await?;
        if !first {
            let id = client.client_id.clone();
            return Err(self
                .refuse_assertion(&id, "the assertion was already used", now)
                .await);
        }
        Ok(client)
    }

    /// Audit a refused assertion with its reason (never the assertion itself).
    async fn refuse_assertion(
        &self,
        client_id: &str,
        reason: &'static str,
        now: i64,
    ) -> OAuthError {
        let event = Event::new("client.assertion_refused", "refused")
            .client(client_id.to_string())
            .detail("reason", reason);
        crate::audit::record_refusal(&self.db, event, now).await;
        OAuthError::invalid_client(format!("client authentication failed: {reason}"))
    }
}

/// A client secret as shown once to the operator. Never printed by `Debug`.
pub struct NewSecret(pub String);

impl std::fmt::Debug for NewSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewSecret(..)")
    }
}

/// An opaque, random client id (128 bits): ids are not secrets, but they should
/// not be guessable or say how many clients exist. Never one that starts with `-`:
/// operators pass ids to the CLI, which would read it as an option (1 in 64 did).
fn new_client_id() -> String {
    loop {
        let id = secret::random_token("", 16);
        if !id.starts_with('-') {
            return id;
        }
    }
}

fn new_secret() -> (NewSecret, String) {
    let s = crate::credential::generate(crate::credential::Kind::ClientSecret);
    let h = secret::hash(&s);
    (NewSecret(s), h)
}

pub fn register(
    conn: &mut AnyConnection,
    req: &ValidClientRequest,
    now: i64,
) -> diesel::QueryResult<(Client, Option<NewSecret>)> {
    let (mut row, secret) = new_row(req, new_client_id(), &RegisteredBy::Operator, None, now);
    row.introspects_any = true;
    clients::insert(conn, &row)?;
    Ok((Client::try_from(row)?, secret))
}

/// What a client that registered itself receives once: its secret, if it has one, and
/// the token that manages its registration. `Debug` shows neither.
pub struct SelfRegistered {
    pub client: Client,
    pub secret: Option<NewSecret>,
    pub registration_access_token: String,
}

/// Register a client that registered itself (RFC 7591), `registered_by` saying how and
/// `introspection` whose tokens it may introspect.
pub fn register_self(
    conn: &mut AnyConnection,
    req: &ValidClientRequest,
    registered_by: RegisteredBy,
    introspection: Introspection,
    now: i64,
) -> diesel::QueryResult<SelfRegistered> {
    let rat = crate::credential::generate(crate::credential::Kind::RegistrationAccess);
    let (mut row, secret) = new_row(
        req,
        new_client_id(),
        &registered_by,
        Some(secret::hash(&rat)),
        now,
    );
    row.introspects_any = introspection == Introspection::Any;
    clients::insert(conn, &row)?;
    Ok(SelfRegistered {
        client: Client::try_from(row)?,
        secret,
        registration_access_token: rat,
    })
}

/// Replace a self-registered client's metadata (RFC 7592 §2.2): its secret is kept if
/// it still uses one (a new one is made if it starts to), and its registration access
/// token is replaced. `None` when there is no such self-registered client.
pub fn update_self(
    conn: &mut AnyConnection,
    current: &Client,
    req: &ValidClientRequest,
    now: i64,
) -> diesel::QueryResult<Option<SelfRegistered>> {
    let rat = crate::credential::generate(crate::credential::Kind::RegistrationAccess);
    let (mut row, mut secret) = new_row(
        req,
        current.client_id.clone(),
        &current.registered_by,
        Some(secret::hash(&rat)),
        now,
    );
    if row.secret_hash.is_some() && current.secret_hash.is_some() {
        row.secret_hash = current.secret_hash.clone();
        secret = None;
    }
    row.created_at = current.created_at;
    let Some(current_rat) = current.registration_token_hash.as_deref() else {
        return Ok(None);
    };
    if !clients::replace(conn, &row, current_rat)? {
        return Ok(None);
    }
    // People allowed an app by its name and where it sends them: if either changes, each
    // of them is asked again (otherwise a harmless-looking app could become another).
    if row.name != current.name || req.redirect_uris != current.redirect_uris {
        consents::forget_client(conn, &current.client_id)?;
    }
    let client = load(conn, &current.client_id)?.ok_or(diesel::result::Error::NotFound)?;
    Ok(Some(SelfRegistered {
        client,
        secret,
        registration_access_token: rat,
    }))
}

/// The stored form of a validated registration, and its new secret if it has one.
fn new_row(
    req: &ValidClientRequest,
    client_id: String,
    registered_by: &RegisteredBy,
    registration_token_hash: Option<String>,
    now: i64,
) -> (ClientRow, Option<NewSecret>) {
    let uses_secret = req
        .auth_methods
        .iter()
        .any(|m| AuthMethod::SECRET.contains(m));
    let (secret, hash) = if uses_secret {
        let (s, h) = new_secret();
        (Some(s), Some(h))
    } else {
        (None, None)
    };
    let row = ClientRow {
        client_id,
        name: req.name.clone(),
        secret_hash: hash,
        auth_methods: join(req.auth_methods.iter().map(|m| m.as_str())),
        grant_types: join(req.grant_types.iter().map(|g| g.as_str())),
        redirect_uris: join(&req.redirect_uris),
        scopes: req.scope.to_string(),
        resources: join(&req.resources),
        created_at: now,
        updated_at: now,
        post_logout_redirect_uris: join(&req.post_logout_redirect_uris),
        id_token_alg: req.id_token_alg.as_str().to_string(),
        jwks: req.jwks.clone(),
        jwks_uri: req.jwks_uri.clone(),
        dpop_bound: req.dpop_bound,
        require_par: req.require_par,
        registered_by: registered_by.to_string(),
        registration_token_hash,
        metadata: serde_json::to_string(&req.metadata).unwrap_or_else(|_| "{}".into()),
        last_sign_in_at: None,
        disabled_at: None,
        tokens_not_before: None,
        introspects_any: false,
        backchannel_logout_uri: req.backchannel_logout.as_ref().map(|b| b.uri.clone()),
        backchannel_logout_session_required: req
            .backchannel_logout
            .as_ref()
            .is_none_or(|b| b.session_required),
        secret_reported_at: None,
    };
    (row, secret)
}

/// A registered client by id, from the database.
pub fn load(conn: &mut AnyConnection, client_id: &str) -> diesel::QueryResult<Option<Client>> {
    clients::find(conn, client_id)?
        .map(Client::try_from)
        .transpose()
}

/// Every registered client, oldest first.
pub fn load_all(conn: &mut AnyConnection) -> diesel::QueryResult<Vec<Client>> {
    clients::list(conn)?
        .into_iter()
        .map(Client::try_from)
        .collect()
}

fn join<T: AsRef<str>>(items: impl IntoIterator<Item = T>) -> String {
    items
        .into_iter()
        .map(|s| s.as_ref().to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

fn words(s: &str) -> impl Iterator<Item = &str> {
    s.split(' ').filter(|w| !w.is_empty())
}

/// Every value was validated when written. One that no longer parses (a grant type a
/// later version dropped, an edited row) makes the client unusable, never quietly
/// narrower or wider: the request that needed it fails and the error is logged.
impl TryFrom<ClientRow> for Client {
    type Error = diesel::result::Error;

    fn try_from(r: ClientRow) -> diesel::QueryResult<Client> {
        let what = |field: &str| format!("client {} {field}", r.client_id);
        let list = |text: &str| words(text).map(str::to_string).collect::<Vec<_>>();
        let auth_methods = words(&r.auth_methods)
            .map(|m| m.parse().map_err(|e| corrupt(&what("auth method"), e)))
            .collect::<diesel::QueryResult<Vec<_>>>()?;
        let grant_types = words(&r.grant_types)
            .map(|g| g.parse().map_err(|e| corrupt(&what("grant type"), e)))
            .collect::<diesel::QueryResult<Vec<_>>>()?;
        let redirect_uris = list(&r.redirect_uris);
        let post_logout_redirect_uris = list(&r.post_logout_redirect_uris);
        for u in redirect_uris.iter().chain(&post_logout_redirect_uris) {
            redirect_uri::validate(u).map_err(|e| corrupt(&what("redirect URI"), e))?;
        }
        let resources = list(&r.resources);
        if let Some(bad) = resources
            .iter()
            .find(|r| !crate::domain::resource::is_valid(r))
        {
            return Err(corrupt(&what("resource"), bad));
        }
        let keys = match (&r.jwks, &r.jwks_uri) {
            (Some(text), None) => ClientKeys::Set(Arc::new(
                jwk::parse_set(text).map_err(|e| corrupt(&what("JWK Set"), e))?,
            )),
            (None, Some(uri)) => {
                validate_jwks_uri(uri).map_err(|e| corrupt(&what("jwks_uri"), e))?;
                ClientKeys::Uri(uri.clone())
            }
            (None, None) => ClientKeys::None,
            (Some(_), Some(_)) => {
                return Err(corrupt(&what("keys"), "both a JWK Set and a jwks_uri"));
            }
        };
        let backchannel_logout = match &r.backchannel_logout_uri {
            Some(uri) => {
                validate_backchannel_logout_uri(uri)
                    .map_err(|e| corrupt(&what("backchannel_logout_uri"), e))?;
                Some(BackchannelLogout {
                    uri: uri.clone(),
                    session_required: r.backchannel_logout_session_required,
                })
            }
            None => None,
        };
        let metadata: ClientMetadata =
            serde_json::from_str(&r.metadata).map_err(|e| corrupt(&what("metadata"), e))?;
        Ok(Client {
            disabled_at: r.disabled_at,
            tokens_not_before: r.tokens_not_before,
            introspection: if r.introspects_any {
                Introspection::Any
            } else {
                Introspection::Own
            },
            keys,
            dpop_bound: r.dpop_bound,
            require_par: r.require_par,
            registered_by: RegisteredBy::parse(&r.registered_by)
                .ok_or_else(|| corrupt(&what("registered_by"), &r.registered_by))?,
            registration_token_hash: r.registration_token_hash,
            metadata,
            scope: Scope::parse(&r.scopes).map_err(|e| corrupt(&what("scope"), e))?,
            id_token_alg: r
                .id_token_alg
                .parse()
                .map_err(|e| corrupt(&what("ID token algorithm"), e))?,
            client_id: r.client_id,
            name: r.name,
            // A reported secret authenticates nothing until it is rotated.
            secret_hash: r.secret_hash.filter(|_| r.secret_reported_at.is_none()),
            secret_reported_at: r.secret_reported_at,
            auth_methods,
            grant_types,
            redirect_uris,
            resources,
            post_logout_redirect_uris,
            backchannel_logout,
            created_at: r.created_at,
        })
    }
}

/// Replace the JWK Set of a client registered with one (`client set-jwks`). The set is
/// checked as at registration. `Ok(false)` when there is no such client.
pub fn set_jwks(
    conn: &mut AnyConnection,
    client_id: &str,
    jwks_text: &str,
    now: i64,
) -> Result<bool, String> {
    jwk::parse_set(jwks_text)?;
    let v: serde_json::Value = serde_json::from_str(jwks_text).map_err(|e| e.to_string())?;
    clients::set_jwks(conn, client_id, &v.to_string(), now).map_err(|e| e.to_string())
}

/// Replace a confidential client's secret. `None` when there is no such confidential client.
pub fn rotate_secret(
    conn: &mut AnyConnection,
    client_id: &str,
    now: i64,
) -> diesel::QueryResult<Option<NewSecret>> {
    let (s, h) = new_secret();
    Ok(clients::set_secret_hash(conn, client_id, &h, now)?.then_some(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids_never_look_like_options() {
        // Without the check, about 78 of 5,000 would start with '-'.
        assert!((0..5000).all(|_| !new_client_id().starts_with('-')));
    }
}
