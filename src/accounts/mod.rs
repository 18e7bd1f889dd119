//! People and their credentials: the operations that both the command line (an operator)
//! and the account pages (the person) perform, each in the caller's unit of work and
//! with its audit event, so that the two can never drift apart.

pub mod leaks;
pub mod tokens;
pub mod users;

use crate::store::audit::Event;

/// Who makes a change, as the audit trail records it.
#[derive(Debug, Clone)]
pub enum Actor {
    /// The person, from this address and user agent.
    Person {
        ip: Option<String>,
        user_agent: Option<String>,
    },
    /// An operator at the command line.
    Operator,
    /// Anyone who reported a leaked credential, from this address.
    Reporter { ip: Option<String> },
}

impl Actor {
    /// Stamp `event` with who made the change.
    pub fn stamp(&self, event: Event) -> Event {
        match self {
            Actor::Person { ip, user_agent } => event.from_addr(ip.clone(), user_agent.clone()),
            Actor::Operator => event.detail("by", "operator"),
            Actor::Reporter { ip } => event.from_addr(ip.clone(), None).detail("by", "report"),
        }
    }
}
