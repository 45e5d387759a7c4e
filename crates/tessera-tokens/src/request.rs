//! Parsing of the token request body (`application/x-www-form-urlencoded`, RFC 6749 §3.2).

use crate::TokenError;

/// Largest accepted token request body; the endpoint refuses larger ones before parsing.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// The parameters of a token request, each present at most once (RFC 6749 §3.2), except
/// `resource`, which RFC 8707 §2 allows to repeat. Empty values count as absent (OAuth 2.1 §3.1).
#[derive(Debug, Default)]
pub struct TokenRequest {
    /// `grant_type`.
    pub grant_type: Option<String>,
    /// `scope`.
    pub scope: Option<String>,
    /// `resource` indicators.
    pub resource: Vec<String>,
    /// `client_id` in the body.
    pub client_id: Option<String>,
    /// `client_secret` in the body.
    pub client_secret: Option<secrecy::SecretString>,
    /// `client_assertion_type` (RFC 7521 §4.2).
    pub client_assertion_type: Option<String>,
    /// `client_assertion`, a JWT for `jwt-bearer` (RFC 7521 §4.2, RFC 7523 §2.2).
    pub client_assertion: Option<secrecy::SecretString>,
    /// `code` (authorization code grant, RFC 6749 §4.1.3).
    pub code: Option<secrecy::SecretString>,
    /// `redirect_uri` (RFC 6749 §4.1.3).
    pub redirect_uri: Option<String>,
    /// `code_verifier` (RFC 7636 §4.5).
    pub code_verifier: Option<secrecy::SecretString>,
    /// `refresh_token` (RFC 6749 §6).
    pub refresh_token: Option<secrecy::SecretString>,
    /// `subject_token` (RFC 8693 §2.1).
    pub subject_token: Option<secrecy::SecretString>,
    /// `subject_token_type` (RFC 8693 §2.1).
    pub subject_token_type: Option<String>,
    /// `actor_token` (RFC 8693 §2.1).
    pub actor_token: Option<secrecy::SecretString>,
    /// `actor_token_type` (RFC 8693 §2.1).
    pub actor_token_type: Option<String>,
    /// `requested_token_type` (RFC 8693 §2.1).
    pub requested_token_type: Option<String>,
    /// `audience` values (RFC 8693 §2.1: it may repeat).
    pub audience: Vec<String>,
    /// `device_code` (device authorization grant, RFC 8628 §3.4).
    pub device_code: Option<secrecy::SecretString>,
    /// `username` (resource owner password credentials grant, RFC 6749 §4.3.2).
    pub username: Option<String>,
    /// `password` (RFC 6749 §4.3.2).
    pub password: Option<secrecy::SecretString>,
}

/// Parses a form body; unknown parameters are ignored (RFC 6749 §3.2), repeated ones refused.
pub fn parse_token_form(body: &[u8]) -> Result<TokenRequest, TokenError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
        .map_err(|_| TokenError::InvalidRequest("the body is not valid form encoding".into()))?;
    let mut req = TokenRequest::default();
    let mut seen: Vec<&str> = Vec::new();
    for (name, value) in &pairs {
        if value.is_empty() {
            continue;
        }
        let single = match name.as_str() {
            "resource" => {
                req.resource.push(value.clone());
                continue;
            }
            "audience" => {
                req.audience.push(value.clone());
                continue;
            }
            n @ ("grant_type"
            | "scope"
            | "client_id"
            | "client_secret"
            | "client_assertion_type"
            | "client_assertion"
            | "code"
            | "redirect_uri"
            | "code_verifier"
            | "refresh_token"
            | "subject_token"
            | "subject_token_type"
            | "actor_token"
            | "actor_token_type"
            | "requested_token_type"
            | "device_code"
            | "username"
            | "password") => n,
            _ => continue,
        };
        if seen.contains(&single) {
            return Err(TokenError::InvalidRequest(format!(
                "parameter `{single}` is repeated"
            )));
        }
        seen.push(single);
        match single {
            "grant_type" => req.grant_type = Some(value.clone()),
            "scope" => req.scope = Some(value.clone()),
            "client_id" => req.client_id = Some(value.clone()),
            "client_assertion_type" => req.client_assertion_type = Some(value.clone()),
            "client_assertion" => {
                req.client_assertion = Some(secrecy::SecretString::from(value.clone()))
            }
            "redirect_uri" => req.redirect_uri = Some(value.clone()),
            "code" => req.code = Some(secrecy::SecretString::from(value.clone())),
            "code_verifier" => req.code_verifier = Some(secrecy::SecretString::from(value.clone())),
            "refresh_token" => req.refresh_token = Some(secrecy::SecretString::from(value.clone())),
            "subject_token" => req.subject_token = Some(secrecy::SecretString::from(value.clone())),
            "subject_token_type" => req.subject_token_type = Some(value.clone()),
            "actor_token" => req.actor_token = Some(secrecy::SecretString::from(value.clone())),
            "actor_token_type" => req.actor_token_type = Some(value.clone()),
            "requested_token_type" => req.requested_token_type = Some(value.clone()),
            "device_code" => req.device_code = Some(secrecy::SecretString::from(value.clone())),
            "username" => req.username = Some(value.clone()),
            "password" => req.password = Some(secrecy::SecretString::from(value.clone())),
            _ => req.client_secret = Some(secrecy::SecretString::from(value.clone())),
        }
    }
    Ok(req)
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn repeated_parameters_are_refused_but_resource_may_repeat() {
        assert!(matches!(
            parse_token_form(b"grant_type=client_credentials&grant_type=x"),
            Err(TokenError::InvalidRequest(_))
        ));
        let req = parse_token_form(b"grant_type=client_credentials&resource=https%3A%2F%2Fa&resource=https%3A%2F%2Fb&foo=bar&scope=").unwrap();
        assert_eq!(req.resource, vec!["https://a", "https://b"]);
        assert_eq!(req.scope, None, "empty values count as absent");
    }

    #[test]
    fn secrets_are_decoded_but_kept_secret() {
        let req = parse_token_form(b"client_id=a&client_secret=p%2Bq").unwrap();
        assert_eq!(req.client_secret.unwrap().expose_secret(), "p+q");
        assert!(parse_token_form(b"%zz=1").is_err() || parse_token_form(b"%zz=1").is_ok());
    }

    #[test]
    fn code_grant_parameters_are_parsed_and_may_not_repeat() {
        let req = parse_token_form(
            b"grant_type=authorization_code&code=abc&redirect_uri=https%3A%2F%2Frp%2Fcb&code_verifier=v",
        )
        .unwrap();
        assert_eq!(req.code.unwrap().expose_secret(), "abc");
        assert_eq!(req.redirect_uri.as_deref(), Some("https://rp/cb"));
        assert_eq!(req.code_verifier.unwrap().expose_secret(), "v");
        assert!(matches!(
            parse_token_form(b"code=a&code=b"),
            Err(TokenError::InvalidRequest(_))
        ));
        let req = parse_token_form(b"grant_type=refresh_token&refresh_token=r").unwrap();
        assert_eq!(req.refresh_token.unwrap().expose_secret(), "r");
    }
}
