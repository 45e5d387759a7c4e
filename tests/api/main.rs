//! End-to-end tests: the real server on a random port with a fresh database (SQLite, or
//! PostgreSQL when `TESSERA_TEST_DATABASE_URL` names a server), driven over HTTP and through the
//! real `tessera` binary. One file per feature; all build into one test binary.

// Test code may panic on the unexpected: that is how a test fails.
#![allow(clippy::unwrap_used)]

mod helpers;

mod admin;
mod cli;
mod discovery;
mod operations;
mod token;
