//! sea-orm entities, one file per table. They stay inside this crate: callers get typed records.

pub mod change_feed;
pub mod client;
pub mod scope;
pub mod signing_key;
pub mod tenant;
