//! Shared vocabulary of every Tessera crate: typed identifiers, scopes, the OAuth error codes,
//! the clock, and generation and hashing of high-entropy secrets. It knows nothing of HTTP or SQL.

pub mod client;
pub mod clock;
pub mod encryption;
pub mod error;
pub mod ids;
pub mod protocol;
pub mod redirect;
pub mod response_type;
pub mod scope;
pub mod secret;
pub mod settings;
pub mod subject;

pub use client::{AuthMethod, ClientOptions, ExchangePolicy};
pub use clock::Clock;
pub use encryption::{EncryptedResponse, Encryption, JweAlg, JweEnc};
pub use error::OAuthErrorCode;
pub use ids::{ClientId, InvalidSlug, Kid, PasskeyId, TenantId, TenantSlug, UserId};
pub use protocol::{
    AdminRole, ClientType, GrantType, KeyState, SigningAlg, TenantStatus, TokenFormat,
    UnknownValue, UserStatus,
};
pub use redirect::{InvalidRedirectUri, RedirectUri};
pub use response_type::ResponseType;
pub use scope::{InvalidScope, STANDARD_SCOPE_CLAIMS, Scope, ScopeSet};
pub use settings::{
    Branding, LockoutPolicy, PasswordPolicy, RefreshPolicy, RegistrationMode, RegistrationPolicy,
    SessionPolicy, TenantSettings,
};
pub use subject::SubjectType;
