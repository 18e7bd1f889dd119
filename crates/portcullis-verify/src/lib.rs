//! Verify Portcullis access tokens in a Rust API.
//!
//! A `Verifier` reads the issuer's keys (discovery, then the JWKS, cached as the answer
//! says and refetched when a token names a new key) and checks each request's
//! credentials as RFC 9068 and RFC 9449 ask: the `at+jwt` type, the algorithm of the key
//! that signed it (never `none`, never HMAC), issuer, audience and times; and for a token
//! bound to a key, the DPoP proof of this request. A refusal (`Rejection`) carries the
//! status and the `WWW-Authenticate` challenge to answer with (RFC 6750 §3, RFC 9449
//! §7.1, RFC 9470 §3).
//!
//! ```no_run
//! use portcullis_verify::{Presented, Verifier, require_scope};
//!
//! # async fn run(authorization: Option<&str>, dpop: Option<&str>) {
//! let verifier = Verifier::discover("https://auth.example.com", "https://api.example.com")
//!     .await
//!     .expect("the issuer answers");
//! let request = Presented {
//!     authorization,
//!     dpop,
//!     method: "GET",
//!     url: "https://api.example.com/orders",
//! };
//! match verifier.verify(&request).await.and_then(|c| require_scope(&c, "orders:read").map(|()| c)) {
//!     Ok(claims) => println!("{} may read orders", claims.sub),
//!     Err(refusal) => println!("{} {:?}", refusal.status(), refusal.challenge(false)),
//! }
//! # }
//! ```
//!
//! With the `actix` feature, `actix::Verified` is an extractor and `Rejection` a
//! response.

mod claims;
pub mod dpop;
mod keys;
mod rejection;
mod verifier;

#[cfg(feature = "actix")]
pub mod actix;

pub use claims::{Claims, Confirmation};
pub use rejection::{DPOP_ALGS, Rejection};
pub use verifier::{Presented, SetupError, Verifier, require_scope, require_sign_in};
