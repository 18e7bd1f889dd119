//! Building blocks for a second factor and for personal access tokens: pure functions
//! and small types with no I/O beyond the OS RNG (and the data key file in `sealed`),
//! so that the endpoints that use them stay thin.
//!
//! - `totp`: RFC 6238 time-based one-time passwords and the `otpauth://` enrolment URI.
//! - `qr`: that URI as an inline SVG QR code that our CSP allows.
//! - `sealed`: AES-256-GCM encryption at rest for TOTP secrets, with key rotation.
//! - `recovery`: single-use recovery codes for when the authenticator is lost.
//! - `pat`: the format of personal access tokens, checked without a database lookup.

pub mod pat;
pub mod qr;
pub mod recovery;
pub mod sealed;
pub mod totp;
