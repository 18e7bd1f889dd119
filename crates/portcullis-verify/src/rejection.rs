//! Why a request was not allowed, and how to say so: RFC 6750 §3 (`Bearer`), RFC 9449
//! §7.1 (`DPoP`) and RFC 9470 §3 (a stronger sign-in).

/// The algorithms a DPoP proof may use, as the `algs` challenge parameter lists them.
pub const DPOP_ALGS: &str = "ES256 EdDSA RS256 PS256";

/// A refusal: the status to answer, and the `WWW-Authenticate` value that says why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// No credentials at all: 401 with a bare challenge (RFC 6750 §3.1: no error code).
    #[error("no access token")]
    Missing,
    /// The token is malformed, expired, revoked, for someone else, or not ours.
    #[error("invalid token: {0}")]
    InvalidToken(&'static str),
    /// The request itself is malformed (two tokens, a bad header).
    #[error("invalid request: {0}")]
    InvalidRequest(&'static str),
    /// A DPoP-bound token without a valid proof (RFC 9449 §7.1).
    #[error("invalid DPoP proof: {0}")]
    InvalidDpopProof(&'static str),
    /// Valid, but without the scope this route needs: 403 (RFC 6750 §3.1).
    #[error("insufficient scope: {0} needed")]
    InsufficientScope(String),
    /// Valid, but the person's sign-in is not strong or recent enough (RFC 9470 §3).
    #[error("a stronger or more recent sign-in is needed")]
    InsufficientUserAuthentication {
        acr_values: Option<String>,
        max_age: Option<i64>,
    },
    /// The issuer's keys could not be read and none is known: 503, try again.
    #[error("the issuer's keys cannot be read")]
    Unavailable,
}

impl Rejection {
    /// The HTTP status to answer with.
    pub fn status(&self) -> u16 {
        match self {
            Rejection::InvalidRequest(_) => 400,
            Rejection::InsufficientScope(_) => 403,
            Rejection::Unavailable => 503,
            _ => 401,
        }
    }

    /// The `WWW-Authenticate` value (`None` for a 503). `dpop`: whether the request used
    /// (or the token needs) the DPoP scheme, whose challenge then carries `algs`.
    pub fn challenge(&self, dpop: bool) -> Option<String> {
        let scheme = if dpop {
            format!("DPoP algs=\"{DPOP_ALGS}\"")
        } else {
            "Bearer".to_string()
        };
        let with = |error: &str, description: &str| {
            format!("{scheme}, error=\"{error}\", error_description=\"{description}\"")
        };
        Some(match self {
            Rejection::Missing => scheme,
            Rejection::InvalidToken(why) => with("invalid_token", why),
            Rejection::InvalidRequest(why) => with("invalid_request", why),
            Rejection::InvalidDpopProof(why) => format!(
                "DPoP algs=\"{DPOP_ALGS}\", error=\"invalid_dpop_proof\", error_description=\"{why}\""
            ),
            Rejection::InsufficientScope(scope) => format!(
                "{scheme}, error=\"insufficient_scope\", scope=\"{}\"",
                quoted(scope)
            ),
            Rejection::InsufficientUserAuthentication {
                acr_values,
                max_age,
            } => {
                let mut v = format!(
                    "{scheme}, error=\"insufficient_user_authentication\", error_description=\"a stronger or more recent sign-in is needed\""
                );
                if let Some(a) = acr_values {
                    v.push_str(&format!(", acr_values=\"{}\"", quoted(a)));
                }
                if let Some(m) = max_age {
                    v.push_str(&format!(", max_age={m}"));
                }
                v
            }
            Rejection::Unavailable => return None,
        })
    }
}

/// A value safe inside a quoted-string (RFC 9110 §5.6.4): scopes and ACR values are
/// printable ASCII without `"` or `\` in practice; anything else is dropped.
fn quoted(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .filter(|c| *c != '"' && *c != '\\')
        .collect()
}
