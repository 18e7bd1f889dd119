//! The client registry: registration and secret rotation. Identifiers and secrets are
//! generated here and the secret leaves only once, in the return value.

use super::client::{Client, ValidClientRequest};
use crate::secret;
use crate::store::{AnyConnection, clients};

/// Prefix of client secrets, so that secret scanners can recognise leaked ones.
pub const SECRET_PREFIX: &str = "pcs_";

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
    let s = secret::random_token(SECRET_PREFIX, 32);
    let h = secret::hash(&s);
    (NewSecret(s), h)
}

pub fn register(
    conn: &mut AnyConnection,
    req: &ValidClientRequest,
    now: i64,
) -> diesel::QueryResult<(Client, Option<NewSecret>)> {
    let (secret, hash) = if req.public {
        (None, None)
    } else {
        let (s, h) = new_secret();
        (Some(s), Some(h))
    };
    let client = clients::insert(conn, &new_client_id(), hash, req, now)?;
    Ok((client, secret))
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
