//! Enumerations of the protocol vocabulary that tenants and clients are configured with.

use serde::{Deserialize, Serialize};

/// A value outside an enumeration's vocabulary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{value}`")]
pub struct UnknownValue {
    /// What was being parsed.
    pub what: &'static str,
    /// The refused input, truncated.
    pub value: String,
}

fn unknown(what: &'static str, value: &str) -> UnknownValue {
    UnknownValue {
        what,
        value: value.chars().take(64).collect(),
    }
}

macro_rules! wire_enum {
    ($(#[$m:meta])* $name:ident, $what:literal, { $($(#[$vm:meta])* $variant:ident => $wire:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vm])* #[serde(rename = $wire)] $variant),+
        }

        impl $name {
            /// Every variant.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire (and database) spelling.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire),+ }
            }
        }

        impl std::str::FromStr for $name {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s { $($wire => Ok($name::$variant),)+ _ => Err(unknown($what, s)) }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

wire_enum!(
    /// JWS algorithm of a tenant's signing keys (RFC 7518 §3.1, RFC 8037 §3.1).
    SigningAlg, "signing algorithm", {
        /// RSASSA-PKCS1-v1_5 with SHA-256 over RSA-2048.
        Rs256 => "RS256",
        /// ECDSA over P-256 with SHA-256.
        Es256 => "ES256",
        /// Ed25519.
        EdDsa => "EdDSA",
    }
);

wire_enum!(
    /// OAuth grant types a client may be allowed (RFC 6749 §4, RFC 8628, RFC 8693).
    GrantType, "grant type", {
        /// RFC 6749 §4.1.
        AuthorizationCode => "authorization_code",
        /// RFC 6749 §4.4.
        ClientCredentials => "client_credentials",
        /// RFC 6749 §6.
        RefreshToken => "refresh_token",
        /// RFC 8628 §3.4: the device authorization grant.
        DeviceCode => "urn:ietf:params:oauth:grant-type:device_code",
        /// RFC 6749 §4.3: resource owner password credentials. Never granted by default (RFC
        /// 9700 §2.4: MUST NOT be used); only for clients explicitly registered with it.
        Password => "password",
        /// RFC 6749 §4.2, OIDC Core §3.2–§3.3: tokens returned by the authorization endpoint
        /// (the implicit and hybrid flows). Never granted by default (RFC 9700 §2.1.2); only
        /// for legacy clients explicitly registered with it.
        Implicit => "implicit",
    }
);

wire_enum!(
    /// Client type (RFC 6749 §2.1).
    ClientType, "client type", {
        /// Can keep a secret; authenticates at the token endpoint.
        Confidential => "confidential",
        /// Cannot keep a secret (browser and native apps).
        Public => "public",
    }
);

wire_enum!(
    /// How access tokens travel: by value (RFC 9068 JWT) or by reference (opaque, RFC 7662).
    TokenFormat, "token format", {
        /// Signed JWT access token (RFC 9068).
        Jwt => "jwt",
        /// Random handle dereferenced by introspection.
        Opaque => "opaque",
    }
);

wire_enum!(
    /// Lifecycle state of a tenant.
    TenantStatus, "tenant status", {
        /// Serves every endpoint.
        Active => "active",
        /// Answers every protocol endpoint with an error.
        Disabled => "disabled",
    }
);

wire_enum!(
    /// Lifecycle state of a signing key: published ahead of use, signing, or kept for verification.
    KeyState, "key state", {
        /// Published in JWKS, not yet signing (so caches learn it before first use).
        Next => "next",
        /// The one key that signs new tokens.
        Active => "active",
        /// No longer signs; stays in JWKS until every token it signed has expired.
        Retired => "retired",
    }
);

wire_enum!(
    /// Administrative role a client of the system tenant holds at the admin API.
    AdminRole, "admin role", {
        /// Operator: every tenant.
        Operator => "operator",
        /// Tenant admin: exactly one tenant.
        TenantAdmin => "tenant_admin",
        /// Auditor: reads (GET/HEAD only) one tenant, or every tenant when held in the system
        /// tenant.
        Auditor => "auditor",
    }
);

wire_enum!(
    /// Lifecycle state of a user account.
    UserStatus, "user status", {
        /// May sign in.
        Active => "active",
        /// Refused at sign-in by an administrator; existing sessions end.
        Disabled => "disabled",
        /// Locked by an administrator (throttling locks are temporary and kept apart).
        Locked => "locked",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip() {
        for alg in SigningAlg::ALL {
            assert_eq!(alg.as_str().parse::<SigningAlg>().unwrap(), *alg);
            assert_eq!(serde_json::to_string(alg).unwrap(), format!("\"{alg}\""));
        }
        for g in GrantType::ALL {
            assert_eq!(g.as_str().parse::<GrantType>().unwrap(), *g);
        }
        assert!("urn:example:unknown".parse::<GrantType>().is_err());
        assert!("rs256".parse::<SigningAlg>().is_err());
    }
}
