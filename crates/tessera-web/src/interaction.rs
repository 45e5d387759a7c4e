//! A validated authorization request carried across the login and consent pages. It travels in a
//! hidden form field sealed with the deployment's master key (AES-256-GCM, the tenant id as
//! associated data), so no server-side state is needed between pages, any node can continue the
//! flow, and a browser can neither read nor alter it. It expires after [`INTERACTION_TTL`].

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use tessera_core::TenantId;
use tessera_keys::MasterKey;

/// How long a user has to finish signing in and consenting, seconds.
pub const INTERACTION_TTL: i64 = 15 * 60;

/// Longest sealed request accepted from a form, in characters.
const MAX_SEALED_LEN: usize = 12 * 1024;

/// How the authorization response reaches the client (OAuth 2.0 Multiple Response Type Encoding
/// Practices §2.1, OAuth 2.0 Form Post Response Mode §2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseMode {
    /// Parameters in the redirect URI's query (the default for `code`).
    Query,
    /// Parameters in the redirect URI's fragment.
    Fragment,
    /// An auto-submitting HTML form POSTed to the redirect URI.
    FormPost,
    /// The device authorization grant (RFC 8628 §3.3): the outcome is recorded on the device
    /// code the device polls for, never sent to a redirect URI. `redirect_uri` is then the
    /// verification URI and `state` the user code. Internal: no request can ask for it.
    Device,
}

impl ResponseMode {
    /// Parses a `response_mode` value.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "query" => Some(Self::Query),
            "fragment" => Some(Self::Fragment),
            "form_post" => Some(Self::FormPost),
            _ => None,
        }
    }
}

/// Where and how to answer the client: enough to send an error or a code.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReturnTo {
    /// The registered redirect URI, exactly as matched.
    pub redirect_uri: String,
    /// Response mode.
    pub mode: ResponseMode,
    /// The client's `state`, echoed back.
    pub state: Option<String>,
}

/// A validated authorization request (OIDC Core §3.1.2.1).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PendingAuthorization {
    /// The tenant it belongs to; sealed as associated data as well.
    pub tenant_id: TenantId,
    /// Unix seconds after which it is refused.
    pub expires_at: i64,
    /// The client.
    pub client_id: String,
    /// Where to answer.
    pub return_to: ReturnTo,
    /// What to answer with: a code, and in the implicit and hybrid flows tokens too (OIDC Core
    /// §3.2–§3.3). Requests sealed before this field existed were `code` requests.
    #[serde(default = "code_response_type")]
    pub response_type: tessera_core::ResponseType,
    /// Whether `redirect_uri` was present in the request (then it is required at the token
    /// endpoint, RFC 6749 §4.1.3).
    pub redirect_uri_sent: bool,
    /// Requested scopes, space-delimited.
    pub scope: String,
    /// OIDC `nonce`.
    pub nonce: Option<String>,
    /// PKCE challenge (RFC 7636 §4.3), S256 only.
    pub code_challenge: Option<String>,
    /// `prompt` values.
    pub prompt: Vec<String>,
    /// `resource` indicators (RFC 8707 §2.1), each a resource server of the tenant.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
    /// `dpop_jkt` (RFC 9449 §10): the DPoP key the code will be bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_jkt: Option<String>,
    /// `max_age`, seconds.
    pub max_age: Option<i64>,
    /// `login_hint`, pre-fills the username.
    pub login_hint: Option<String>,
    /// `sub` of a verified `id_token_hint`.
    pub hint_sub: Option<String>,
    /// Requested `acr_values`.
    pub acr_values: Option<String>,
    /// The `claims` request parameter (OIDC Core §5.5).
    pub claims: Option<serde_json::Value>,
    /// `ui_locales`.
    pub ui_locales: Option<String>,
    /// Session the consent page was shown to; consent from any other session is refused.
    pub sid: Option<String>,
}

impl PendingAuthorization {
    /// Whether `prompt` contains `value`.
    pub fn prompts(&self, value: &str) -> bool {
        self.prompt.iter().any(|p| p == value)
    }

    /// Seals the request for a hidden form field.
    pub fn seal(&self, master: &MasterKey) -> Option<String> {
        let json = serde_json::to_vec(self).ok()?;
        let sealed = master.seal(&json, &aad(self.tenant_id)).ok()?;
        Some(URL_SAFE_NO_PAD.encode(sealed))
    }

    /// Opens a sealed request of `tenant`, refusing tampering, another tenant's request and
    /// expired ones.
    pub fn open(master: &MasterKey, tenant: TenantId, sealed: &str, now: i64) -> Option<Self> {
        if sealed.len() > MAX_SEALED_LEN {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(sealed).ok()?;
        let json = master.open(&bytes, &aad(tenant)).ok()?;
        let pending: Self = serde_json::from_slice(&json).ok()?;
        (pending.tenant_id == tenant && pending.expires_at > now).then_some(pending)
    }
}

fn code_response_type() -> tessera_core::ResponseType {
    tessera_core::ResponseType::CODE
}

fn aad(tenant: TenantId) -> Vec<u8> {
    format!("tessera-authorization|{tenant}").into_bytes()
}
