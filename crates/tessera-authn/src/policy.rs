//! The rules for what a user may be called and which passwords a tenant accepts: usernames are
//! trimmed, case-folded and free of whitespace; e-mail addresses get a basic syntax check; a
//! password must fit the tenant's length bounds and, optionally, not be a common breached one.

use tessera_core::PasswordPolicy;
use tessera_store::StandardClaims;

use crate::{AuthnError, breached};

/// Longest username, in characters (the column holds 255).
pub const MAX_USERNAME_CHARS: usize = 255;
/// Longest e-mail address (RFC 5321 §4.5.3.1: 64 for the local part, 255 for the domain,
/// 320 in all with the `@`).
pub const MAX_EMAIL_CHARS: usize = 320;
/// Largest standard-claims document, in bytes of JSON.
pub const MAX_CLAIMS_BYTES: usize = 16 * 1024;

fn invalid(message: impl Into<String>) -> AuthnError {
    AuthnError::Invalid(message.into())
}

/// The stored form of a username: trimmed and lowercased, so sign-in is case-insensitive.
/// Refuses an empty name, more than 255 characters, and any whitespace or control character.
pub fn normalize_username(raw: &str) -> Result<String, AuthnError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(invalid("username must not be empty"));
    }
    if trimmed.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid(
            "username must not contain spaces or control characters",
        ));
    }
    let lower = trimmed.to_lowercase();
    if lower.chars().count() > MAX_USERNAME_CHARS {
        return Err(invalid(format!(
            "username must be at most {MAX_USERNAME_CHARS} characters"
        )));
    }
    Ok(lower)
}

/// A trimmed e-mail address that passes a basic syntax check: one `@` between a non-empty local
/// part (at most 64 characters) and a non-empty domain with no empty labels, no whitespace or
/// control characters, at most 320 characters in all.
pub fn normalize_email(raw: &str) -> Result<String, AuthnError> {
    let email = raw.trim();
    let refuse = || invalid("email must be an address like name@example.com");
    if email.chars().count() > MAX_EMAIL_CHARS {
        return Err(invalid(format!(
            "email must be at most {MAX_EMAIL_CHARS} characters"
        )));
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(refuse());
    }
    let (local, domain) = email.split_once('@').ok_or_else(refuse)?;
    if local.is_empty()
        || local.chars().count() > 64
        || domain.is_empty()
        || domain.contains('@')
        || domain.split('.').any(str::is_empty)
    {
        return Err(refuse());
    }
    Ok(email.to_owned())
}

/// Checks a new password against the tenant's policy; the error says which rule it breaks.
/// Lengths count characters, not bytes (NIST SP 800-63B §5.1.1.2).
pub fn check_password(
    policy: &PasswordPolicy,
    password: &str,
    username: &str,
) -> Result<(), AuthnError> {
    let chars = password.chars().count();
    if chars < policy.min_length {
        return Err(invalid(format!(
            "password must be at least {} characters",
            policy.min_length
        )));
    }
    if chars > policy.max_length {
        return Err(invalid(format!(
            "password must be at most {} characters",
            policy.max_length
        )));
    }
    if policy.check_breached && breached::is_common(password) {
        return Err(invalid(
            "this password is too common: it appears in lists of breached passwords",
        ));
    }
    if password.to_lowercase() == username.to_lowercase() {
        return Err(invalid("password must not be the username"));
    }
    Ok(())
}

/// Bounds the size of a user's standard claims.
pub fn check_claims(claims: &StandardClaims) -> Result<(), AuthnError> {
    let size = serde_json::to_vec(claims)
        .map_err(|e| AuthnError::Unexpected(e.into()))?
        .len();
    if size > MAX_CLAIMS_BYTES {
        return Err(invalid(format!(
            "claims must be at most {MAX_CLAIMS_BYTES} bytes of JSON"
        )));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn message(err: AuthnError) -> String {
        match err {
            AuthnError::Invalid(m) => m,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn usernames_are_trimmed_lowercased_and_without_whitespace() {
        assert_eq!(normalize_username("  Alice ").unwrap(), "alice");
        assert_eq!(
            normalize_username("Bob.Smith@Example").unwrap(),
            "bob.smith@example"
        );
        assert_eq!(normalize_username("ÉLODIE").unwrap(), "élodie");
        assert_eq!(normalize_username(&"a".repeat(255)).unwrap().len(), 255);
        assert!(message(normalize_username("   ").unwrap_err()).contains("empty"));
        for bad in ["al ice", "al\tice", "al\u{0}ice", "a\u{202f}b"] {
            assert!(
                message(normalize_username(bad).unwrap_err()).contains("spaces"),
                "{bad:?}"
            );
        }
        assert!(message(normalize_username(&"a".repeat(256)).unwrap_err()).contains("255"));
    }

    #[test]
    fn emails_get_a_basic_syntax_check() {
        assert_eq!(normalize_email(" a@example.com ").unwrap(), "a@example.com");
        assert!(normalize_email("A.B+tag@sub.example.org").is_ok());
        let long_domain = format!("a@{}.com", "d".repeat(316));
        for bad in [
            "",
            "plain",
            "@example.com",
            "a@",
            "a@@b.com",
            "a@b@c.com",
            "a b@c.com",
            "a@b..com",
            "a@.com",
            long_domain.as_str(),
        ] {
            assert!(normalize_email(bad).is_err(), "{bad:?}");
        }
        let long_local = format!("{}@example.com", "l".repeat(65));
        assert!(normalize_email(&long_local).is_err());
    }

    #[test]
    fn passwords_follow_the_tenant_policy() {
        let mut policy = PasswordPolicy::default();
        assert!(check_password(&policy, "a-long-passphrase", "alice").is_ok());
        assert!(
            message(check_password(&policy, "short", "alice").unwrap_err()).contains("at least 8")
        );
        // Eight characters, twelve bytes: lengths count characters.
        assert!(check_password(&policy, "ééééé-pw", "alice").is_ok());
        assert!(
            message(check_password(&policy, &"x".repeat(257), "alice").unwrap_err())
                .contains("at most 256")
        );
        assert!(
            message(check_password(&policy, "Password123", "alice").unwrap_err())
                .contains("too common")
        );
        assert!(
            message(check_password(&policy, "Alice-the-user", "alice-the-user").unwrap_err())
                .contains("username")
        );
        policy.check_breached = false;
        assert!(check_password(&policy, "Password123", "alice").is_ok());
        policy.min_length = 20;
        assert!(check_password(&policy, "a-long-passphrase", "alice").is_err());
    }

    #[test]
    fn oversized_claims_are_refused() {
        let mut claims = StandardClaims {
            name: Some("Alice".into()),
            ..Default::default()
        };
        assert!(check_claims(&claims).is_ok());
        claims.profile = Some("x".repeat(MAX_CLAIMS_BYTES));
        assert!(check_claims(&claims).is_err());
    }
}
