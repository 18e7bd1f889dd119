//! The second factor: TOTP enrolments, recovery codes, code checks and their limit. The
//! building blocks (`totp`, `qr`, `sealed`, `recovery`) are pure functions with no I/O
//! beyond the OS RNG (TOTP secrets are sealed at rest with `crate::sealed`); `factor` and `guard` run
//! inside a caller's unit of work.
//!
//! - `totp`: RFC 6238 time-based one-time passwords and the `otpauth://` enrolment URI.
//! - `qr`: that URI as an inline SVG QR code that our CSP allows.
//! - `recovery`: single-use recovery codes for when the authenticator is lost.
//! - `factor`: checking a code (app or recovery) against a person's enrolment.
//! - `guard`: the per-person limit on code checks.
//! - `sealing`: a person's TOTP secret at rest, bound to them.
//! - `passkeys`: the WebAuthn relying party and the steps of its ceremonies.

pub mod factor;
pub mod guard;
pub mod passkeys;
pub mod qr;
pub mod recovery;
pub mod sealing;
pub mod totp;
