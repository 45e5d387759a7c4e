//! The Tessera server and CLI: configuration, startup ([`Application::build`] is the one way to
//! start the server, for `tessera serve` and for every test alike), and the management commands.

pub mod commands;
pub mod janitor;
pub mod logout_worker;
pub mod settings;
pub mod startup;
pub mod telemetry;

pub use settings::{Overrides, Settings};
pub use startup::{Application, OperatorCredentials, Services};
