//! What a `claims` request (OIDC Core §5.5) demands beyond naming claims: a `sub` asked for by
//! value (§5.5.1), which only that user may satisfy, and an essential `acr` (§5.5.1.1), which
//! the authentication must meet or the request fails.

use serde_json::Value;

/// The `sub` value the `claims` request asks for, in its `id_token` or `userinfo` member
/// (OIDC Core §5.5.1: "If the sub (subject) Claim is requested with a specific value for the ID
/// Token, the Authorization Server MUST only send a positive response if the End-User
/// identified by that sub value has an active session"). Two different values can never both
/// be met; the first found is returned and the other compared by the caller through
/// [`requested_subs`].
pub fn requested_sub(claims: Option<&Value>) -> Option<&str> {
    requested_subs(claims).next()
}

/// Every `sub` value the `claims` request asks for (`id_token` then `userinfo` member).
pub fn requested_subs(claims: Option<&Value>) -> impl Iterator<Item = &str> {
    ["id_token", "userinfo"]
        .into_iter()
        .filter_map(move |member| claims?.get(member)?.get("sub")?.get("value")?.as_str())
}

/// Whether the `claims` request's `sub` values (if any) are all `sub`.
pub fn subject_matches(claims: Option<&Value>, sub: &str) -> bool {
    requested_subs(claims).all(|wanted| wanted == sub)
}

/// The `acr` values the `id_token` member of the `claims` request requires, when it marks
/// `acr` essential (OIDC Core §5.5.1.1) with `value` or `values`; `None` when it requires
/// none (not essential, or no values: any `acr` will do).
pub fn essential_acr_values(claims: Option<&Value>) -> Option<Vec<&str>> {
    let acr = claims?.get("id_token")?.get("acr")?;
    if acr.get("essential").and_then(Value::as_bool) != Some(true) {
        return None;
    }
    let mut values: Vec<&str> = acr
        .get("values")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if let Some(v) = acr.get("value").and_then(Value::as_str) {
        values.push(v);
    }
    (!values.is_empty()).then_some(values)
}

/// Whether an authentication of class `acr` meets the `claims` request: OIDC Core §5.5.1.1
/// "If this is an Essential Claim and the requirement cannot be met, then the Authorization
/// Server MUST treat that outcome as a failed authentication attempt."
pub fn acr_satisfies(claims: Option<&Value>, acr: Option<&str>) -> bool {
    match essential_acr_values(claims) {
        None => true,
        Some(values) => acr.is_some_and(|acr| values.contains(&acr)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_sub_asked_by_value_must_be_the_users() {
        let request = json!({ "id_token": { "sub": { "value": "abc" } } });
        assert_eq!(requested_sub(Some(&request)), Some("abc"));
        assert!(subject_matches(Some(&request), "abc"));
        assert!(!subject_matches(Some(&request), "xyz"));
        let both = json!({
            "id_token": { "sub": { "value": "abc" } },
            "userinfo": { "sub": { "value": "xyz" } }
        });
        assert!(!subject_matches(Some(&both), "abc"));
        assert!(!subject_matches(Some(&both), "xyz"));
        let no_value = json!({ "id_token": { "sub": null, "name": { "essential": true } } });
        assert_eq!(requested_sub(Some(&no_value)), None);
        assert!(subject_matches(Some(&no_value), "anyone"));
        assert!(subject_matches(None, "anyone"));
        assert!(subject_matches(Some(&json!({ "id_token": [1] })), "anyone"));
    }

    #[test]
    fn only_an_essential_acr_with_values_is_required() {
        let essential =
            json!({ "id_token": { "acr": { "essential": true, "values": ["2", "1"] } } });
        assert_eq!(essential_acr_values(Some(&essential)), Some(vec!["2", "1"]));
        assert!(acr_satisfies(Some(&essential), Some("1")));
        assert!(!acr_satisfies(Some(&essential), Some("0")));
        assert!(!acr_satisfies(Some(&essential), None));

        let single = json!({ "id_token": { "acr": { "essential": true, "value": "urn:mfa" } } });
        assert!(!acr_satisfies(Some(&single), Some("1")));
        assert!(acr_satisfies(Some(&single), Some("urn:mfa")));

        let voluntary = json!({ "id_token": { "acr": { "values": ["urn:mfa"] } } });
        assert_eq!(essential_acr_values(Some(&voluntary)), None);
        assert!(acr_satisfies(Some(&voluntary), Some("1")));
        let no_values = json!({ "id_token": { "acr": { "essential": true } } });
        assert!(acr_satisfies(Some(&no_values), Some("1")));
        // In userinfo it says nothing of the authentication.
        let userinfo = json!({ "userinfo": { "acr": { "essential": true, "value": "x" } } });
        assert!(acr_satisfies(Some(&userinfo), Some("1")));
        assert!(acr_satisfies(None, None));
    }
}
