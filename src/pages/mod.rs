//! Server-rendered pages for people: the browser side of the authorization endpoint
//! (sign-in, second step, consent), sign-out, and the account pages.
//!
//! Every page is sent with anti-framing headers, a strict CSP without scripts, no
//! referrer and no caching. Forms carry a CSRF token (`csrf`). Handlers take their
//! checked inputs from `extract` and answer `PageError` when they cannot go on.

pub mod account;
pub mod activity;
pub mod authorize;
pub mod consent;
pub mod csrf;
pub mod device;
pub mod error;
pub mod extract;
pub mod limits;
pub mod login;
pub mod logout;
pub mod passkeys;
pub mod password;
pub mod reset;
pub mod respond;
pub mod security;
pub mod session;
pub mod sessions;
pub mod sudo;
pub mod templates;
pub mod tokens;
pub mod when;

pub use error::PageError;
pub use respond::{
    PAGE_CSP, error_page, page_builder, post_only, query_config, render, render_with, see_other,
    stylesheet, too_many, with_script,
};
