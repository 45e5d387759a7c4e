//! Access tokens by value or by reference. Every grant ends here: [`resolve_target`] works out
//! whom the token is for — the resource servers (RFC 8707) it names, else the client's default
//! resource, else the client itself — and with that the format (RFC 9068 JWT or opaque), the
//! lifetime and the scopes; [`mint`] then signs the JWT or draws the opaque handle, whose record
//! ([`Minted::persist`]) carries what the JWT would, for introspection (RFC 7662 §2.2).

use serde_json::{Value, json};
use tessera_core::secret::{random_token, sha256_hex};
use tessera_core::{ClientId, STANDARD_SCOPE_CLAIMS, ScopeSet, TokenFormat, UserId};
use tessera_store::{AccessTokenRecord, ClientRecord, Store, access_tokens};
use tessera_tenants::TenantSnapshot;

use crate::TokenError;
use crate::client_credentials::{AccessTokenClaims, Audience, TokenResponse};

/// What an access token is bound to: a DPoP key (RFC 9449 §6) or a client certificate
/// (RFC 8705 §3). Unbound tokens are bearer tokens.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Binding {
    /// JWK SHA-256 thumbprint of the DPoP key (`cnf.jkt`).
    pub jkt: Option<String>,
    /// SHA-256 thumbprint of the client certificate (`cnf.x5t#S256`).
    pub x5t: Option<String>,
}

impl Binding {
    /// The `cnf` claim (RFC 7800 §3.1), when bound.
    pub fn cnf(&self) -> Option<Value> {
        match (&self.jkt, &self.x5t) {
            (None, None) => None,
            (jkt, x5t) => {
                let mut cnf = serde_json::Map::new();
                if let Some(jkt) = jkt {
                    cnf.insert("jkt".into(), Value::String(jkt.clone()));
                }
                if let Some(x5t) = x5t {
                    cnf.insert("x5t#S256".into(), Value::String(x5t.clone()));
                }
                Some(Value::Object(cnf))
            }
        }
    }

    /// `token_type` of the token response: `DPoP` for DPoP-bound tokens (RFC 9449 §5), else
    /// `Bearer` (a certificate-bound token is still presented as a bearer token, RFC 8705 §3).
    pub fn token_type(&self) -> &'static str {
        if self.jkt.is_some() { "DPoP" } else { "Bearer" }
    }
}

/// Whom a token is for and what follows from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// `aud`: the resource servers, or the default audience.
    pub audience: Vec<String>,
    /// By value or by reference.
    pub format: TokenFormat,
    /// Lifetime, seconds.
    pub ttl: i64,
    /// The scopes the token carries.
    pub scopes: ScopeSet,
}

/// Works out the target of a token with `scopes` for `resources` (already validated as absolute
/// URIs). Each resource must be a resource server of the tenant (RFC 8707 §2: else
/// `invalid_target`); several must agree on the token format. A token for resource servers
/// carries the scopes they own plus the OpenID Connect scopes (so the same token still unlocks
/// userinfo); with none named, the client's `default_resource` applies, and without one the token
/// is for `default_audience` in the client's format with the tenant's lifetime.
pub fn resolve_target(
    snapshot: &TenantSnapshot,
    client: &ClientRecord,
    resources: &[String],
    scopes: &ScopeSet,
    default_audience: &str,
) -> Result<Target, TokenError> {
    let asked = if resources.is_empty() {
        client.options.default_resource.as_slice()
    } else {
        resources
    };
    // A resource named twice is one audience (RFC 8707 §2 lets the parameter repeat).
    let mut named: Vec<String> = Vec::with_capacity(asked.len());
    for r in asked {
        if !named.contains(r) {
            named.push(r.clone());
        }
    }
    if named.is_empty() {
        return Ok(Target {
            audience: vec![default_audience.to_owned()],
            format: client.token_format,
            ttl: snapshot.tenant.access_token_ttl,
            scopes: scopes.clone(),
        });
    }
    let mut format = None;
    let mut ttl = i64::MAX;
    let mut owned = ScopeSet::default();
    let mut any_scoped = false;
    for id in &named {
        let server = snapshot.resource_server(id).ok_or_else(|| {
            TokenError::InvalidTarget(format!(
                "resource `{}` is not an API registered with this provider",
                id.chars().take(200).collect::<String>()
            ))
        })?;
        match format {
            None => format = Some(server.token_format),
            Some(f) if f != server.token_format => {
                return Err(TokenError::InvalidTarget(
                    "the requested resources take different token formats; ask for them in separate requests".into(),
                ));
            }
            Some(_) => {}
        }
        ttl = ttl.min(
            server
                .access_token_ttl
                .unwrap_or(snapshot.tenant.access_token_ttl),
        );
        if !server.scopes.is_empty() {
            any_scoped = true;
            for s in server.scopes.iter() {
                owned.insert(s.clone());
            }
        }
    }
    let scopes = if any_scoped {
        scopes
            .iter()
            .filter(|s| {
                owned.contains(s.as_ref())
                    || STANDARD_SCOPE_CLAIMS
                        .iter()
                        .any(|(name, _)| *name == s.as_ref())
            })
            .cloned()
            .collect()
    } else {
        scopes.clone()
    };
    Ok(Target {
        audience: named,
        format: format.unwrap_or(TokenFormat::Jwt),
        ttl,
        scopes,
    })
}

/// The facts an access token states, whatever its format.
#[derive(Clone, Debug)]
pub struct AccessToken {
    /// `sub`: the user id, or the client id for tokens a client got for itself.
    pub subject: String,
    /// The client it is issued to.
    pub client_id: ClientId,
    /// The user, for user tokens.
    pub user: Option<UserId>,
    /// The grant (token family) it descends from.
    pub family_id: Option<String>,
    /// Audience, format, lifetime and scopes.
    pub target: Target,
    /// When the user authenticated.
    pub auth_time: Option<i64>,
    /// Authentication context class.
    pub acr: Option<String>,
    /// Authentication methods.
    pub amr: Vec<String>,
    /// SSO session.
    pub sid: Option<String>,
    /// Claim names the `claims` request asked userinfo to release.
    pub userinfo_claims: Vec<String>,
    /// `act` (RFC 8693 §4.1) of a delegated token.
    pub act: Option<Value>,
    /// Holder-of-key binding.
    pub binding: Binding,
}

/// A minted access token: the string for the client and, for an opaque token, the record that
/// must be stored before the client gets it.
#[derive(Debug)]
pub struct MintedAccessToken {
    /// What the client receives.
    pub token: String,
    /// The record of an opaque token.
    pub record: Option<AccessTokenRecord>,
}

/// Signs the RFC 9068 JWT, or draws an opaque handle of 256 random bits and its record.
pub fn mint(
    snapshot: &TenantSnapshot,
    token: &AccessToken,
    now: i64,
) -> Result<MintedAccessToken, TokenError> {
    let jti = random_token(16);
    match token.target.format {
        TokenFormat::Jwt => {
            let signer = snapshot.keys.signer().ok_or(TokenError::NoSigningKey)?;
            let scope = token.target.scopes.to_wire();
            let family = token.family_id.as_deref();
            let claims = AccessTokenClaims {
                iss: &snapshot.issuer,
                sub: &token.subject,
                aud: match token.target.audience.as_slice() {
                    [one] => Audience::One(one),
                    many => Audience::Many(many),
                },
                client_id: token.client_id.as_ref(),
                scope: &scope,
                jti,
                iat: now,
                exp: now + token.target.ttl,
                auth_time: token.auth_time,
                acr: token.acr.as_deref(),
                amr: (!token.amr.is_empty()).then_some(token.amr.as_slice()),
                sid: token.sid.as_deref(),
                gid: family,
                userinfo_claims: (!token.userinfo_claims.is_empty())
                    .then(|| token.userinfo_claims.iter().map(String::as_str).collect()),
                cnf: token.binding.cnf(),
                act: token.act.clone(),
            };
            let payload = serde_json::to_vec(&claims).map_err(anyhow::Error::from)?;
            // RFC 9068 §2.1: typ "at+jwt" keeps access tokens from being replayed as ID tokens.
            let jws = signer
                .sign_jws("at+jwt", &payload)
                .map_err(|e| anyhow::Error::new(e).context("signing an access token"))?;
            Ok(MintedAccessToken {
                token: jws,
                record: None,
            })
        }
        TokenFormat::Opaque => {
            // 256 bits of randomness; only the SHA-256 is stored.
            let handle = random_token(32);
            let record = AccessTokenRecord {
                tenant_id: snapshot.tenant.id,
                token_hash: sha256_hex(&handle),
                jti,
                client_id: token.client_id.clone(),
                subject: token.subject.clone(),
                user_id: token.user,
                family_id: token.family_id.clone(),
                scopes: token.target.scopes.clone(),
                audience: token.target.audience.clone(),
                issued_at: now,
                expires_at: now + token.target.ttl,
                revoked_at: None,
                jkt: token.binding.jkt.clone(),
                x5t: token.binding.x5t.clone(),
                auth_time: token.auth_time,
                acr: token.acr.clone(),
                amr: token.amr.clone(),
                sid: token.sid.clone(),
                act: token.act.clone(),
                userinfo_claims: token.userinfo_claims.clone(),
            };
            Ok(MintedAccessToken {
                token: handle,
                record: Some(record),
            })
        }
    }
}

/// A token response whose opaque access token, if any, still has to be stored.
#[derive(Debug)]
pub struct Minted {
    /// The response for the client.
    pub response: TokenResponse,
    /// The record of an opaque access token.
    pub opaque: Option<AccessTokenRecord>,
}

impl Minted {
    /// Stores the opaque token's record (a JWT needs nothing) and hands out the response: the
    /// client never holds a handle the database does not know.
    pub async fn persist(self, store: &Store) -> Result<TokenResponse, TokenError> {
        if let Some(record) = self.opaque {
            let work = {
                let store = store.clone();
                async move { access_tokens::insert(store.conn(), &record).await }
            };
            store.write(work).await?;
        }
        Ok(self.response)
    }
}

/// The JSON an introspection (RFC 7662 §2.2) or a JWT would state about an opaque token.
pub fn opaque_claims(snapshot: &TenantSnapshot, t: &AccessTokenRecord) -> Value {
    let mut claims = json!({
        "iss": snapshot.issuer,
        "sub": t.subject,
        "client_id": t.client_id.as_ref(),
        "aud": match t.audience.as_slice() {
            [one] => Value::String(one.clone()),
            many => json!(many),
        },
        "jti": t.jti,
        "iat": t.issued_at,
        "exp": t.expires_at,
    });
    let obj = claims.as_object_mut().map(|o| {
        if !t.scopes.is_empty() {
            o.insert("scope".into(), Value::String(t.scopes.to_wire()));
        }
        if let Some(v) = t.auth_time {
            o.insert("auth_time".into(), json!(v));
        }
        if let Some(v) = &t.acr {
            o.insert("acr".into(), json!(v));
        }
        if !t.amr.is_empty() {
            o.insert("amr".into(), json!(t.amr));
        }
        if let Some(v) = &t.sid {
            o.insert("sid".into(), json!(v));
        }
        if let Some(v) = &t.act {
            o.insert("act".into(), v.clone());
        }
        let binding = Binding {
            jkt: t.jkt.clone(),
            x5t: t.x5t.clone(),
        };
        if let Some(cnf) = binding.cnf() {
            o.insert("cnf".into(), cnf);
        }
    });
    debug_assert!(obj.is_some());
    claims
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binding_sets_cnf_and_token_type() {
        let none = Binding::default();
        assert_eq!(none.cnf(), None);
        assert_eq!(none.token_type(), "Bearer");
        let dpop = Binding {
            jkt: Some("abc".into()),
            x5t: None,
        };
        assert_eq!(dpop.cnf(), Some(json!({"jkt": "abc"})));
        assert_eq!(dpop.token_type(), "DPoP");
        let mtls = Binding {
            jkt: None,
            x5t: Some("xyz".into()),
        };
        assert_eq!(mtls.cnf(), Some(json!({"x5t#S256": "xyz"})));
        assert_eq!(mtls.token_type(), "Bearer");
    }
}
