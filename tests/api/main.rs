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
mod cli;
mod code_flow;
mod discovery;
mod dpop;
mod exchange;
mod introspection;
mod mtls;
mod opaque;
mod operations;
mod resources;
mod revocation;
mod signin;
mod token;
mod users;
