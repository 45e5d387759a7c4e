//! End-to-end tests: the real server on a random port with a fresh database (SQLite, or
//! PostgreSQL when `TESSERA_TEST_DATABASE_URL` names a server), driven over HTTP and through the
//! real `tessera` binary. One file per feature; all build into one test binary.

// Test code may panic on the unexpected: that is how a test fails.
#![allow(clippy::unwrap_used)]

mod agent;
mod browser;
mod helpers;
mod pages;
mod process;
mod smtp;

mod account;
mod admin;
mod admin_sessions;
mod audit;
mod branding;
mod branding_versions;
mod claims;
mod cli;
mod client_metadata;
mod cluster;
mod code_flow;
mod console;
mod console_auth;
mod console_pages;
mod device;
mod discovery;
mod domains;
mod dpop;
mod encryption;
mod exchange;
mod implicit;
mod introspection;
mod journey;
mod jwt_auth;
mod lifecycle_admin;
mod logout_channels;
mod mail;
mod mfa;
mod migrations;
mod mtls;
mod opaque;
mod operations;
mod pairwise;
mod par;
mod passkeys;
mod password_grant;
mod password_reset;
mod redis;
mod registration;
mod resources;
mod revocation;
mod signin;
mod signup;
mod template_versions;
mod token;
mod users;
