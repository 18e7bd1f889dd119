//! What every command shares: the time, and where the links it prints point.

use crate::clock::{Clock, SystemClock};

/// The time of a command: the system's clock (servers may run on another).
pub fn now() -> i64 {
    SystemClock.now()
}

/// Where the links a command prints point: the issuer it was given, or, without one,
/// the address `serve` would have with these settings (which may not be the servers').
pub enum Base {
    Issuer(String),
    Default(String),
}
