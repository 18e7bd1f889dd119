//! The second factor: TOTP enrolments, recovery codes, code checks and their limit. The
//! building blocks (`totp`, `qr`, `sealed`, `recovery`) are pure functions with no I/O
//! beyond the OS RNG (and the data key file in `sealed`); `factor` and `guard` run
//! inside a caller's unit of work.
//!
//! - `totp`: RFC 6238 time-based one-time passwords and the `otpauth://` enrolment URI.
//! - `qr`: that URI as an inline SVG QR code that our CSP allows.
//! - `sealed`: AES-256-GCM encryption at rest for TOTP secrets, with key rotation.
//! - `recovery`: single-use recovery codes for when the authenticator is lost.
//! - `factor`: checking a code (app or recovery) against a person's enrolment.
//! - `guard`: the per-person limit on code checks.

pub mod factor;
pub mod guard;
pub mod qr;
pub mod recovery;
pub mod sealed;
pub mod totp;
