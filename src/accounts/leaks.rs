//! Credentials reported as leaked (`POST /credentials/revoke`): each of ours stops
//! working at once and its owner's trail says so; anything else is ignored without a
//! trace. The reporter learns nothing: the caller answers the same whatever happened.

use std::collections::HashMap;

use diesel::QueryResult;

use super::Actor;
use crate::credential::{self, Kind};
use crate::store::audit::{self, Event};
use crate::store::db::write_transaction;
use crate::store::{AnyConnection, clients, pat, refresh, registration, resets};

/// The most credentials one report may carry.
pub const MAX_PER_REPORT: usize = 1000;

/// What a report ended (for the metrics and the client cache; never told to the
/// reporter).
#[derive(Debug, Default)]
pub struct Revoked {
    pub by_kind: HashMap<Kind, usize>,
    /// Clients whose secret or registration access token ended.
    pub clients: Vec<String>,
}

/// The hashes of the strings that are ours (prefix and checksum hold), by kind: the
/// rest is dropped here, before any lookup.
fn ours(strings: &[String]) -> HashMap<Kind, Vec<String>> {
    let mut by_kind: HashMap<Kind, Vec<String>> = HashMap::new();
    for s in strings {
        if let Some(kind) = credential::recognise(s.trim()) {
            by_kind
                .entry(kind)
                .or_default()
                .push(crate::secret::hash(s.trim()));
        }
    }
    by_kind
}

/// End every credential of ours among `strings`, in one transaction, and record an event
/// for each owner (`by`: the reporter's address). Every kind's statement runs whether or
/// not anything of that kind was reported, so that the work (and the time) does not
/// depend on what the report held.
pub fn report(
    conn: &mut AnyConnection,
    strings: &[String],
    by: &Actor,
    now: i64,
) -> QueryResult<Revoked> {
    let by_kind = ours(strings);
    let of = |k: Kind| by_kind.get(&k).map(Vec::as_slice).unwrap_or_default();
    write_transaction(conn, |conn| {
        let mut events = Vec::new();
        for (id, user, name) in pat::revoke_reported(conn, of(Kind::Personal), now)? {
            events.push(
                event("pat.reported_leaked", Kind::Personal)
                    .user(user)
                    .detail("token_id", id.to_string())
                    .detail("token_name", name),
            );
        }
        for (family, user, client) in refresh::revoke_reported(conn, of(Kind::Refresh), now)? {
            events.push(
                event("refresh.reported_leaked", Kind::Refresh)
                    .user(user)
                    .client(client)
                    .detail("family_id", family.to_string()),
            );
        }
        for id in clients::secrets_reported(conn, of(Kind::ClientSecret), now)? {
            events.push(event("client.secret_reported_leaked", Kind::ClientSecret).client(id));
        }
        let rats = of(Kind::RegistrationAccess);
        for id in clients::registration_tokens_reported(conn, rats, now)? {
            let e = event(
                "client.registration_token_reported_leaked",
                Kind::RegistrationAccess,
            );
            events.push(e.client(id));
        }
        for id in registration::revoke_reported(conn, of(Kind::InitialAccess), now)? {
            let e = event("registration_token.reported_leaked", Kind::InitialAccess);
            events.push(e.detail("registration_token_id", id));
        }
        for user in resets::cancel_reported(conn, of(Kind::ResetLink), now)? {
            events.push(event("user.reset_link_reported_leaked", Kind::ResetLink).user(user));
        }
        let mut revoked = Revoked::default();
        for e in &events {
            if let Some(kind) = Kind::ALL.iter().find(|k| e.details["kind"] == k.label()) {
                *revoked.by_kind.entry(*kind).or_default() += 1;
                if matches!(kind, Kind::ClientSecret | Kind::RegistrationAccess) {
                    revoked.clients.extend(e.client_id.clone());
                }
            }
            audit::record(conn, &by.stamp(e.clone()), now)?;
        }
        Ok(revoked)
    })
}

fn event(kind: &'static str, credential: Kind) -> Event {
    Event::new(kind, "success").detail("kind", credential.label())
}
