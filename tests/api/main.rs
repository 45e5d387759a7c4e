//! End-to-end tests: the real server on a random port with a fresh database (SQLite, or
//! PostgreSQL when `TESSERA_TEST_DATABASE_URL` names a server), driven over HTTP and through the
//! real `tessera` binary. One file per feature; all build into one test binary.

// Test code may panic on the unexpected: that is how a test fails.
#![allow(clippy::unwrap_used)]

mod agent;
mod browser;
mod helpers;
mod pages;

mod account;
mod admin;
mod branding;
mod claims;
mod cli;
mod code_flow;
mod device;
mod discovery;
mod dpop;
mod exchange;
mod introspection;
mod jwt_auth;
mod logout_channels;
mod mtls;
mod opaque;
mod operations;
mod pairwise;
mod par;
mod password_grant;
mod registration;
mod resources;
mod revocation;
mod signin;
mod token;
mod users;
