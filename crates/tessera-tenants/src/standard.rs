//! The OpenID Connect standard scopes (OIDC Core §5.4) that exist in every tenant.

use tessera_core::STANDARD_SCOPE_CLAIMS;

/// Consent-page description of each standard scope.
const DESCRIPTIONS: &[(&str, &str)] = &[
    ("openid", "Sign you in"),
    ("profile", "Your name and basic profile"),
    ("email", "Your e-mail address"),
    ("address", "Your postal address"),
    ("phone", "Your phone number"),
    ("offline_access", "Stay signed in while you are away"),
];

/// `(name, description, claims)` of each standard scope.
pub fn standard_scopes()
-> impl Iterator<Item = (&'static str, &'static str, &'static [&'static str])> {
    STANDARD_SCOPE_CLAIMS.iter().map(|(name, claims)| {
        let description = DESCRIPTIONS
            .iter()
            .find(|(n, _)| n == name)
            .map_or(*name, |(_, d)| *d);
        (*name, description, *claims)
    })
}
