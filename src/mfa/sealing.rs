//! A person's TOTP secret at rest: sealed with the data key and bound to the person, so
//! that a sealed value copied to another person's row does not open there.

use crate::sealed::{self, DataKeys, SealError};
use crate::store::AnyConnection;
use crate::store::id::Id;
use crate::store::totp;

fn context(user: Id) -> String {
    format!("user_totp {user}")
}

pub fn seal(keys: &DataKeys, user: Id, secret: &[u8]) -> Result<String, SealError> {
    keys.seal_for(secret, &context(user))
}

/// The secret of `user`, if `stored` is theirs and opens with the data keys.
pub fn open(keys: &DataKeys, user: Id, stored: &str) -> Option<Vec<u8>> {
    keys.open_for(stored, &context(user))
}

/// At start: bind the secrets sealed before they were bound (each opened as it was and
/// sealed again for the row it is in), so that request paths open bound values only.
/// Returns how many moved. A value that does not open stays as it is, and fails closed.
pub fn bind_unbound(conn: &mut AnyConnection, keys: &DataKeys) -> diesel::QueryResult<usize> {
    let mut moved = 0;
    for t in totp::all_unbound(conn)? {
        if !sealed::is_unbound(&t.secret_sealed) {
            continue;
        }
        let Some(secret) = keys.open(&t.secret_sealed) else {
            continue;
        };
        if let Ok(bound) = seal(keys, t.user_id, &secret)
            && totp::reseal(conn, t.user_id, &t.secret_sealed, &bound)?
        {
            moved += 1;
        }
    }
    Ok(moved)
}
