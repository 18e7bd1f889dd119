//! The audit trail: one append-only table of security events. Writers call `record`
//! inside the transaction of the change it describes, where there is one.

use diesel::prelude::*;
use serde_json::Value;

use super::db::AnyConnection;
use super::id::Id;
use super::schema::audit_events;
use crate::escape::{inert, json_inert};

/// What happened, by whom, from where. Never a secret, token, password or code.
#[derive(Debug, Clone)]
pub struct Event {
    pub kind: &'static str,
    pub user_id: Option<Id>,
    pub client_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub outcome: &'static str,
    pub details: Value,
}

/// The longest free text an event keeps in one field (a client id, an address, a
/// detail): callers and forms choose these values, and the trail must stay bounded.
pub const MAX_FIELD_CHARS: usize = 256;

fn bounded(s: String) -> String {
    if s.chars().count() <= MAX_FIELD_CHARS {
        s
    } else {
        s.chars().take(MAX_FIELD_CHARS).collect()
    }
}

impl Event {
    pub fn new(kind: &'static str, outcome: &'static str) -> Event {
        Event {
            kind,
            user_id: None,
            client_id: None,
            ip: None,
            user_agent: None,
            outcome,
            details: Value::Object(Default::default()),
        }
    }

    pub fn user(mut self, id: Id) -> Event {
        self.user_id = Some(id);
        self
    }

    pub fn client(mut self, id: impl Into<String>) -> Event {
        self.client_id = Some(bounded(id.into()));
        self
    }

    pub fn from_addr(mut self, ip: Option<String>, user_agent: Option<String>) -> Event {
        self.ip = ip.map(bounded);
        self.user_agent = user_agent.map(bounded);
        self
    }

    /// A detail; text longer than `MAX_FIELD_CHARS` is cut.
    pub fn detail(mut self, key: &str, value: impl Into<Value>) -> Event {
        let value = match value.into() {
            Value::String(s) => Value::String(bounded(s)),
            v => v,
        };
        if let Value::Object(m) = &mut self.details {
            m.insert(key.into(), value);
        }
        self
    }
}

#[derive(Debug, Clone, Queryable, Insertable, Selectable, serde::Serialize)]
#[diesel(table_name = audit_events)]
pub struct AuditRow {
    #[serde(serialize_with = "ser_id")]
    pub id: Id,
    pub at: i64,
    pub kind: String,
    #[serde(serialize_with = "ser_opt_id")]
    pub user_id: Option<Id>,
    pub client_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub outcome: String,
    pub details: String,
}

fn ser_id<S: serde::Serializer>(id: &Id, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(id)
}

fn ser_opt_id<S: serde::Serializer>(id: &Option<Id>, s: S) -> Result<S::Ok, S::Error> {
    match id {
        Some(id) => s.collect_str(id),
        None => s.serialize_none(),
    }
}

/// Append an event, and emit it as a structured log line.
pub fn record(conn: &mut AnyConnection, e: &Event, now: i64) -> QueryResult<()> {
    // The log line carries what callers typed: made inert, like `audit list`.
    tracing::info!(
        target: "audit",
        kind = e.kind,
        outcome = e.outcome,
        user_id = e.user_id.map(|u| u.to_string()),
        client_id = e.client_id.as_deref().map(inert),
        ip = e.ip.as_deref().map(inert),
        details = %json_inert(&e.details.to_string()),
    );
    let row = AuditRow {
        id: Id::new_v7(),
        at: now,
        kind: e.kind.to_string(),
        user_id: e.user_id,
        client_id: e.client_id.clone(),
        ip: e.ip.clone(),
        user_agent: e.user_agent.clone(),
        outcome: e.outcome.to_string(),
        details: e.details.to_string(),
    };
    diesel::insert_into(audit_events::table)
        .values(&row)
        .execute(conn)?;
    crate::metrics::audit_event("written");
    Ok(())
}

#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub user_id: Option<Id>,
    pub client_id: Option<String>,
    pub kind: Option<String>,
    pub since: Option<i64>,
    pub limit: i64,
    pub offset: i64,
}

/// Events, newest first.
pub fn list(conn: &mut AnyConnection, f: &Filter) -> QueryResult<Vec<AuditRow>> {
    let mut q = audit_events::table.into_boxed();
    if let Some(u) = f.user_id {
        q = q.filter(audit_events::user_id.eq(u));
    }
    if let Some(c) = &f.client_id {
        q = q.filter(audit_events::client_id.eq(c.clone()));
    }
    if let Some(k) = &f.kind {
        q = q.filter(audit_events::kind.eq(k.clone()));
    }
    if let Some(t) = f.since {
        q = q.filter(audit_events::at.ge(t));
    }
    q.order((audit_events::at.desc(), audit_events::id.desc()))
        .limit(f.limit)
        .offset(f.offset)
        .load(conn)
}

pub fn purge(conn: &mut AnyConnection, before: i64) -> QueryResult<usize> {
    diesel::delete(audit_events::table.filter(audit_events::at.lt(before))).execute(conn)
}
