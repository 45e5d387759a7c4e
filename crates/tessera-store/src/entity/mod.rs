//! sea-orm entities, one file per table. They stay inside this crate: callers get typed records.

pub mod access_token;
pub mod audit_event;
pub mod authorization_code;
pub mod change_feed;
pub mod client;
pub mod consent_grant;
pub mod device_code;
pub mod initial_access_token;
pub mod login_throttle;
pub mod logout_notice;
pub mod mail_message;
pub mod pushed_request;
pub mod recovery_code;
pub mod refresh_token;
pub mod registration_access_token;
pub mod replay_cache;
pub mod resource_server;
pub mod revoked_jti;
pub mod scope;
pub mod session;
pub mod signing_key;
pub mod tenant;
pub mod tenant_template;
pub mod token_family;
pub mod user;
pub mod user_totp;
