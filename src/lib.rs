//! Portcullis: an OAuth 2.0 and OpenID Connect authorization server.

pub mod accounts;
pub mod audit;
pub mod cli;
pub mod clock;
pub mod config;
pub mod credential;
pub mod domain;
pub mod endpoints;
pub mod escape;
pub mod keys;
pub mod logs;
pub mod metrics;
pub mod mfa;
pub mod oauth;
pub mod pages;
pub mod password;
pub mod sealed;
pub mod secret;
pub mod server;
pub mod state;
pub mod store;
pub mod throttle;
pub mod web;
