//! Typed identifiers. A tenant-owned query takes a [`TenantId`], never a bare `Uuid`.

use sea_orm::DeriveValueType;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Declares a UUID-v7 primary-key newtype usable as a sea-orm column.
macro_rules! uuid_id {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(
            Clone,
            Copy,
            Debug,
            PartialEq,
            Eq,
            Hash,
            PartialOrd,
            Ord,
            Serialize,
            Deserialize,
            DeriveValueType,
        )]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh, time-ordered id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
        }

        // Primary keys must claim conversion from an auto-increment value; a UUID never is one.
        impl sea_orm::TryFromU64 for $name {
            fn try_from_u64(_: u64) -> Result<Self, sea_orm::DbErr> {
                Err(sea_orm::DbErr::ConvertFromU64(stringify!($name)))
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

uuid_id!(
    /// Primary key of a tenant. Every tenant-owned query takes one.
    TenantId
);

uuid_id!(
    /// Primary key of a user, unique within its tenant; the `sub` claim is its string form.
    UserId
);

uuid_id!(
    /// Primary key of a user's passkey (a WebAuthn credential), unique within its tenant.
    PasskeyId
);

/// Why a tenant slug was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid tenant slug `{0}`: use 2 to 63 lowercase letters, digits or '-', starting with a letter and not ending with '-'"
)]
pub struct InvalidSlug(pub String);

/// The URL name of a tenant: the `{tenant}` in `/t/{tenant}` and in the issuer.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct TenantSlug(String);

impl TenantSlug {
    /// Parses a slug: `[a-z][a-z0-9-]{1,62}`, not ending with `-` (safe as a DNS label and a path segment).
    pub fn parse(raw: &str) -> Result<Self, InvalidSlug> {
        let bytes = raw.as_bytes();
        let ok = (2..=63).contains(&bytes.len())
            && bytes[0].is_ascii_lowercase()
            && bytes[bytes.len() - 1] != b'-'
            && bytes
                .iter()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-');
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(InvalidSlug(raw.chars().take(80).collect()))
        }
    }

    /// The slug of the system tenant that issues admin API tokens.
    pub fn system() -> Self {
        Self("system".to_owned())
    }
}

impl AsRef<str> for TenantSlug {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for TenantSlug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for TenantSlug {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// The public identifier of a client within its tenant (RFC 6749 §2.2). Unique per tenant only.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ClientId(String);

impl ClientId {
    /// A fresh random client id (128 bits, URL-safe). Never starts with `-`, so it can be
    /// passed as a command-line argument.
    pub fn generate() -> Self {
        loop {
            let id = crate::secret::random_token(16);
            if !id.starts_with('-') {
                return Self(id);
            }
        }
    }

    /// Wraps an id read from a request or the database; ids are opaque strings of printable ASCII.
    pub fn parse(raw: &str) -> Option<Self> {
        let ok =
            !raw.is_empty() && raw.len() <= 255 && raw.bytes().all(|b| (0x21..0x7f).contains(&b));
        ok.then(|| Self(raw.to_owned()))
    }
}

impl AsRef<str> for ClientId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ClientId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The `kid` of a signing key, unique within its tenant's key ring.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Kid(pub String);

impl AsRef<str> for Kid {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Kid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_follow_the_dns_label_rule() {
        for good in ["acme", "a1", "acme-corp", "x-2-y"] {
            assert!(TenantSlug::parse(good).is_ok(), "{good}");
        }
        let long = "a".repeat(64);
        for bad in [
            "",
            "a",
            "Acme",
            "1acme",
            "acme-",
            "ac_me",
            "ac.me",
            "ac/me",
            long.as_str(),
        ] {
            assert!(TenantSlug::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn client_ids_are_printable_ascii() {
        assert!(ClientId::parse("abc-123_XY").is_some());
        assert!(ClientId::parse("").is_none());
        assert!(ClientId::parse("has space").is_none());
        assert!(ClientId::parse("é").is_none());
        for _ in 0..1000 {
            let id = ClientId::generate();
            assert_eq!(id.as_ref().len(), 22);
            assert!(!id.as_ref().starts_with('-'));
        }
    }
}
