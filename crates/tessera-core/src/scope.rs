//! Scopes (RFC 6749 §3.3): validated tokens and ordered, duplicate-free sets of them.

use serde::{Deserialize, Serialize};

/// Why a scope string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid scope token `{0}`")]
pub struct InvalidScope(pub String);

/// One scope token: `1*( %x21 / %x23-5B / %x5D-7E )` (RFC 6749 §3.3), at most 128 bytes.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Scope(String);

impl Scope {
    /// Parses one scope token.
    pub fn parse(raw: &str) -> Result<Self, InvalidScope> {
        let ok = !raw.is_empty()
            && raw.len() <= 128
            && raw
                .bytes()
                .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b));
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(InvalidScope(raw.chars().take(64).collect()))
        }
    }
}

impl AsRef<str> for Scope {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Scope {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// A set of scopes in first-seen order; the order is irrelevant to meaning (RFC 6749 §3.3).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ScopeSet(Vec<Scope>);

impl ScopeSet {
    /// Parses a space-delimited `scope` parameter; duplicates collapse.
    pub fn parse(raw: &str) -> Result<Self, InvalidScope> {
        let mut set = Self::default();
        for token in raw.split(' ').filter(|t| !t.is_empty()) {
            set.insert(Scope::parse(token)?);
        }
        Ok(set)
    }

    /// Adds a scope unless present.
    pub fn insert(&mut self, scope: Scope) {
        if !self.contains(scope.as_ref()) {
            self.0.push(scope);
        }
    }

    /// Whether the set holds this scope.
    pub fn contains(&self, scope: &str) -> bool {
        self.0.iter().any(|s| s.as_ref() == scope)
    }

    /// Whether every scope of `self` is in `other`.
    pub fn is_subset_of(&self, other: &ScopeSet) -> bool {
        self.0.iter().all(|s| other.contains(s.as_ref()))
    }

    /// The first scope of `self` missing from `other`.
    pub fn first_missing_from<'a>(&'a self, other: &ScopeSet) -> Option<&'a Scope> {
        self.0.iter().find(|s| !other.contains(s.as_ref()))
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Iterates in first-seen order.
    pub fn iter(&self) -> impl Iterator<Item = &Scope> {
        self.0.iter()
    }

    /// The space-delimited wire form.
    pub fn to_wire(&self) -> String {
        let mut out = String::new();
        for (i, s) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            out.push_str(s.as_ref());
        }
        out
    }
}

impl FromIterator<Scope> for ScopeSet {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        let mut set = Self::default();
        for s in iter {
            set.insert(s);
        }
        set
    }
}

/// The OpenID Connect standard scopes and the claims each releases (OIDC Core §5.4): `openid`
/// only `sub`, `offline_access` none.
pub const STANDARD_SCOPE_CLAIMS: &[(&str, &[&str])] = &[
    ("openid", &["sub"]),
    (
        "profile",
        &[
            "name",
            "family_name",
            "given_name",
            "middle_name",
            "nickname",
            "preferred_username",
            "profile",
            "picture",
            "website",
            "gender",
            "birthdate",
            "zoneinfo",
            "locale",
            "updated_at",
        ],
    ),
    ("email", &["email", "email_verified"]),
    ("address", &["address"]),
    ("phone", &["phone_number", "phone_number_verified"]),
    ("offline_access", &[]),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_tokens_follow_rfc_6749_section_3_3() {
        assert!(Scope::parse("read:orders").is_ok());
        assert!(Scope::parse("a!#[]~").is_ok());
        for bad in ["", "has\"quote", "back\\slash", "sp ace", "é"] {
            assert!(Scope::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sets_collapse_duplicates_and_ignore_repeated_spaces() {
        let set = ScopeSet::parse("b  a b ").unwrap();
        assert_eq!(set.to_wire(), "b a");
        let all = ScopeSet::parse("a b c").unwrap();
        assert!(set.is_subset_of(&all));
        assert!(!all.is_subset_of(&set));
        assert_eq!(all.first_missing_from(&set).unwrap().as_ref(), "c");
    }
}
