//! Personal access tokens: our credential format (`crate::credential`) with the `pcp_`
//! prefix, 256 bits from the OS RNG and a checksum that `well_formed` checks before any
//! lookup. Tokens of the first format (a base64url body) keep working.

use crate::credential::{self, Kind};

pub const PREFIX: &str = "pcp_";
/// Length of a whole token.
pub const LEN: usize = credential::LEN;

/// A fresh token. Show it once; store only `crate::secret::hash` of it.
pub fn generate() -> String {
    credential::generate(Kind::Personal)
}

/// Does `token` have our shape and a correct checksum? Pure and cheap: call it before
/// any database lookup.
pub fn well_formed(token: &str) -> bool {
    credential::recognise(token) == Some(Kind::Personal)
}
