//! An authorization request in progress, kept on the server.
//!
//! `/authorize` validates a request once. When it cannot answer at once (the person must
//! sign in, or consent), it stores the request as a transaction and the pages carry only
//! the transaction's id: nothing of the request rides through the browser to be altered
//! (a consent form once came back with `prompt` and `max_age` removed, and got a code
//! with an old sign-in time), and a large request no longer makes a large form. Each
//! step records what it settled (which session signed in, and when); the code is issued
//! only when nothing is owed, from the stored request, and the transaction then ends.
//!
//! A transaction is bound to the browser that started it (a random cookie, stored as a
//! hash), lasts `TTL` seconds, and completes once: a replayed, expired or foreign id is
//! refused with an error page, never a redirect.

use super::{AuthorizationRequest, Authorizer, Refusal};
use crate::secret;
use crate::store::id::Id;
use crate::store::transactions::{self, TransactionRow};
use crate::store::{DbError, sessions::Session};
use crate::web::form;

/// How long a person has to sign in and decide.
pub const TTL: i64 = 15 * 60;

/// The largest request kept (its parameters, encoded): what a GET's query or an
/// `/authorize` POST can carry, so that no request that arrives is refused for its size
/// here, while no one can store more per transaction.
pub const MAX_PARAMS: usize = 64 * 1024;

/// The size `request` would take when kept.
pub fn size(request: &AuthorizationRequest) -> usize {
    request.params.encode().len()
}

/// An open transaction, its request validated again against today's client record.
#[derive(Debug)]
pub struct Transaction {
    id_hash: String,
    pub request: AuthorizationRequest,
    /// The session that signed in during this transaction, and when it finished.
    signed_in: Option<(Id, Option<i64>)>,
}

impl Transaction {
    /// Whether `session` completed a sign-in during this transaction: that satisfies
    /// `prompt=login` and `max_age`, whatever they asked.
    pub fn signed_in_by(&self, session: &Session) -> bool {
        matches!(self.signed_in, Some((id, Some(_))) if id == session.id)
    }
}

/// Why a transaction id was not accepted.
#[derive(Debug)]
pub enum Resume {
    /// Unknown, expired, already used, or started by another browser.
    Gone,
    /// The stored request no longer validates (its client changed since).
    Refused(Refusal),
    Unavailable(DbError),
}

impl From<DbError> for Resume {
    fn from(e: DbError) -> Resume {
        Resume::Unavailable(e)
    }
}

impl Authorizer<'_> {
    /// Store `request` for the browser holding `binding`; returns the id for its forms,
    /// and the transaction.
    pub async fn begin(
        &self,
        request: AuthorizationRequest,
        binding: &str,
        now: i64,
    ) -> Result<(String, Transaction), DbError> {
        let id = secret::random_token("", 32);
        let id_hash = secret::hash(&id);
        let row = TransactionRow {
            id_hash: id_hash.clone(),
            binding_hash: secret::hash(binding),
            client_id: request.client.client_id.clone(),
            params: request.params.encode(),
            session_id: None,
            authenticated_at: None,
            created_at: now,
            expires_at: now + TTL,
            completed_at: None,
            pushed: request.pushed,
        };
        self.db
            .run(move |conn| transactions::insert(conn, &row))
            .await?;
        let txn = Transaction {
            id_hash,
            request,
            signed_in: None,
        };
        Ok((id, txn))
    }

    /// The open transaction `id` of the browser holding `binding`.
    pub async fn resume(
        &self,
        id: &str,
        binding: Option<&str>,
        now: i64,
    ) -> Result<Transaction, Resume> {
        let id_hash = secret::hash(id);
        let lookup = id_hash.clone();
        let row = self
            .db
            .run(move |conn| transactions::find_open(conn, &lookup, now))
            .await?
            .ok_or(Resume::Gone)?;
        let ours = binding.is_some_and(|b| {
            secret::ct_eq(secret::hash(b).as_bytes(), row.binding_hash.as_bytes())
        });
        if !ours {
            return Err(Resume::Gone);
        }
        let request = match self
            .validate_as(form::parse(row.params.as_bytes()), row.pushed)
            .await
        {
            Ok(r) => r,
            // Its client changed since: the answer (an error for the client) is final,
            // so the transaction ends with it, and only the request that ends it answers.
            Err(refusal) => {
                let ended = self
                    .db
                    .run(move |conn| transactions::complete(conn, &id_hash, now))
                    .await?;
                return Err(if ended {
                    Resume::Refused(refusal)
                } else {
                    Resume::Gone
                });
            }
        };
        if request.client.client_id != row.client_id {
            return Err(Resume::Gone);
        }
        Ok(Transaction {
            id_hash,
            request,
            signed_in: row.session_id.map(|s| (s, row.authenticated_at)),
        })
    }

    /// `session` has started signing in for `txn` (its password was right).
    pub async fn signing_in(&self, txn: &mut Transaction, session: Id) -> Result<(), DbError> {
        let id_hash = txn.id_hash.clone();
        self.db
            .run(move |conn| transactions::signing_in(conn, &id_hash, session))
            .await?;
        txn.signed_in = Some((session, None));
        Ok(())
    }

    /// `session` finished signing in for `txn` at `at` (with its second factor, if any).
    pub async fn authenticated(
        &self,
        txn: &mut Transaction,
        session: Id,
        at: i64,
    ) -> Result<(), DbError> {
        let id_hash = txn.id_hash.clone();
        self.db
            .run(move |conn| transactions::authenticated(conn, &id_hash, session, at))
            .await?;
        if matches!(txn.signed_in, Some((id, _)) if id == session) {
            txn.signed_in = Some((session, Some(at)));
        }
        Ok(())
    }

    /// End `txn`: `false` when another request ended it first (it then yields nothing).
    pub async fn complete(&self, txn: &Transaction, now: i64) -> Result<bool, DbError> {
        let id_hash = txn.id_hash.clone();
        self.db
            .run(move |conn| transactions::complete(conn, &id_hash, now))
            .await
    }
}
