//! The `response_type` of an authorization request: which of a code, an ID token and an access
//! token the authorization endpoint returns (RFC 6749 §3.1.1, OAuth 2.0 Multiple Response Type
//! Encoding Practices §3–§5, OIDC Core §3).

use serde::{Deserialize, Serialize};

/// A supported `response_type`: `code` (the authorization code flow), `id_token` and
/// `id_token token` (the implicit flow, OIDC Core §3.2), and `code id_token`, `code token` and
/// `code id_token token` (the hybrid flow, OIDC Core §3.3). Bare `token` (the OAuth implicit
/// grant) is not supported: RFC 9700 §2.1.2 says it SHOULD NOT be used and nothing in it signs
/// the user in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ResponseType {
    /// An authorization code.
    pub code: bool,
    /// An ID token.
    pub id_token: bool,
    /// An access token.
    pub token: bool,
}

impl ResponseType {
    /// `code`.
    pub const CODE: Self = Self {
        code: true,
        id_token: false,
        token: false,
    };

    /// Parses a `response_type`: space-delimited values in any order, each at most once
    /// (Multiple Response Type Encoding Practices §3). `None` for anything unsupported.
    pub fn parse(raw: &str) -> Option<Self> {
        let mut rt = Self::default();
        for value in raw.split(' ') {
            let seen = match value {
                "code" => &mut rt.code,
                "id_token" => &mut rt.id_token,
                "token" => &mut rt.token,
                _ => return None,
            };
            if *seen {
                return None;
            }
            *seen = true;
        }
        (rt.code || rt.id_token).then_some(rt)
    }

    /// Whether the authorization endpoint itself returns a token (an ID token or an access
    /// token): the implicit and hybrid flows, which a client must be allowed the `implicit`
    /// grant for.
    pub fn has_front_channel_token(self) -> bool {
        self.id_token || self.token
    }

    /// Whether `nonce` is required: whenever the authorization endpoint returns an ID token
    /// (OIDC Core §3.2.2.1, §3.3.2.11).
    pub fn requires_nonce(self) -> bool {
        self.id_token
    }

    /// The canonical spelling, in the order OIDC Core uses.
    pub fn as_str(self) -> &'static str {
        match (self.code, self.id_token, self.token) {
            (true, false, false) => "code",
            (false, true, false) => "id_token",
            (false, true, true) => "id_token token",
            (true, true, false) => "code id_token",
            (true, false, true) => "code token",
            (true, true, true) => "code id_token token",
            (false, false, _) => "none",
        }
    }

    /// Every supported value, as discovery lists them (OIDC Discovery §3
    /// `response_types_supported`).
    pub const SUPPORTED: [&'static str; 6] = [
        "code",
        "id_token",
        "id_token token",
        "code id_token",
        "code token",
        "code id_token token",
    ];
}

impl std::fmt::Display for ResponseType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_supported_value_in_any_order() {
        for wire in ResponseType::SUPPORTED {
            let rt = ResponseType::parse(wire).unwrap();
            assert_eq!(rt.as_str(), wire);
            let reversed: Vec<&str> = wire.split(' ').rev().collect();
            assert_eq!(ResponseType::parse(&reversed.join(" ")), Some(rt));
        }
        assert_eq!(ResponseType::parse("code"), Some(ResponseType::CODE));
    }

    #[test]
    fn refuses_bare_token_repeats_unknown_and_empty_values() {
        for bad in [
            "token",
            "code code",
            "id_token  token",
            "none",
            "",
            "code id_token token x",
            "Code",
        ] {
            assert_eq!(ResponseType::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn nonce_and_front_channel_follow_the_id_token_and_token() {
        let hybrid = ResponseType::parse("code token").unwrap();
        assert!(hybrid.has_front_channel_token());
        assert!(!hybrid.requires_nonce());
        assert!(
            ResponseType::parse("code id_token")
                .unwrap()
                .requires_nonce()
        );
        assert!(!ResponseType::CODE.has_front_channel_token());
    }
}
