//! Claims release: which of a user's claims the granted scopes (and a `claims` request, OIDC
//! Core §5.5) release to a client, for the ID token and the userinfo endpoint.
//!
//! The rules are OIDC Core §5.4: `profile`, `email`, `address` and `phone` each release a fixed
//! set of standard claims, and with an access token those go to userinfo, not the ID token. A
//! `claims` request names individual claims for one destination (`userinfo` or `id_token`); they
//! are released in addition to the scope claims. A claim the user has no value for is omitted
//! (OIDC Core §5.3.2), never sent as `null`.

pub mod request;

use serde_json::{Map, Value};
use tessera_core::{STANDARD_SCOPE_CLAIMS, ScopeSet};
use tessera_store::UserRecord;

pub use request::{acr_satisfies, requested_sub, subject_matches};

/// The claims released at the userinfo endpoint: `sub`, the claims of every granted standard
/// scope, and the claims named in `requested` — the `userinfo` member of the `claims` request
/// (OIDC Core §5.5), an object whose keys are claim names — as far as the granted scopes cover
/// them (see [`requested_names`]).
pub fn claims_for(
    user: &UserRecord,
    scopes: &ScopeSet,
    requested: Option<&Value>,
) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("sub".to_owned(), Value::String(user.id.to_string()));
    for (scope, names) in STANDARD_SCOPE_CLAIMS {
        if scopes.contains(scope) {
            for name in *names {
                release(user, name, &mut out);
            }
        }
    }
    for name in requested_names(requested, scopes) {
        release(user, name, &mut out);
    }
    out
}

/// The claims an ID token carries beyond the protocol claims when an access token is issued
/// too: only those named in `requested` — the `id_token` member of the `claims` request (OIDC
/// Core §5.5). `sub` is the caller's (it is always in an ID token).
pub fn id_token_claims(
    user: &UserRecord,
    scopes: &ScopeSet,
    requested: Option<&Value>,
) -> Map<String, Value> {
    let mut out = Map::new();
    for name in requested_names(requested, scopes) {
        if name != "sub" {
            release(user, name, &mut out);
        }
    }
    out
}

/// The claims an ID token carries when no access token is issued (OIDC Core §5.4): the scope
/// claims as well as the requested ones.
pub fn id_token_claims_without_access_token(
    user: &UserRecord,
    scopes: &ScopeSet,
    requested: Option<&Value>,
) -> Map<String, Value> {
    let mut out = claims_for(user, scopes, requested);
    out.remove("sub");
    out
}

/// The claim names of one member of a `claims` request (the keys of its object) that the
/// user's consent covers: a `claims` request may say where a claim goes (ID token or userinfo)
/// and ask for single claims of a scope, but it never releases a claim whose scope the user did
/// not grant — the consent page shows scopes, and what it did not show was not consented to
/// (OIDC Core §5.5: the OP releases claims per its policy and the user's consent). Anything
/// malformed names nothing.
pub fn requested_names<'a>(
    requested: Option<&'a Value>,
    granted: &'a ScopeSet,
) -> impl Iterator<Item = &'a str> {
    requested
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|o| o.keys().map(String::as_str))
        .filter(move |name| {
            STANDARD_SCOPE_CLAIMS
                .iter()
                .any(|(scope, claims)| granted.contains(scope) && claims.contains(name))
        })
}

/// Copies one standard claim of `user` into `out`, if the user has a value for it. Unknown
/// claim names release nothing.
fn release(user: &UserRecord, name: &str, out: &mut Map<String, Value>) {
    let c = &user.claims;
    let text = |v: &Option<String>| v.as_ref().map(|s| Value::String(s.clone()));
    let value = match name {
        "sub" => Some(Value::String(user.id.to_string())),
        "name" => text(&c.name),
        "given_name" => text(&c.given_name),
        "family_name" => text(&c.family_name),
        "middle_name" => text(&c.middle_name),
        "nickname" => text(&c.nickname),
        // OIDC Core §5.1: the shorthand name; the username when the user set none.
        "preferred_username" => Some(Value::String(
            c.preferred_username
                .clone()
                .unwrap_or_else(|| user.username.clone()),
        )),
        "profile" => text(&c.profile),
        "picture" => text(&c.picture),
        "website" => text(&c.website),
        "gender" => text(&c.gender),
        "birthdate" => text(&c.birthdate),
        "zoneinfo" => text(&c.zoneinfo),
        "locale" => text(&c.locale),
        // OIDC Core §5.1: seconds since the epoch, a JSON number.
        "updated_at" => Some(Value::from(user.updated_at)),
        "email" => text(&user.email),
        // Meaningless without an address.
        "email_verified" => user
            .email
            .as_ref()
            .map(|_| Value::Bool(user.email_verified)),
        "phone_number" => text(&c.phone_number),
        "phone_number_verified" => c
            .phone_number
            .as_ref()
            .map(|_| Value::Bool(c.phone_number_verified.unwrap_or(false))),
        "address" => c
            .address
            .as_ref()
            .and_then(|a| serde_json::to_value(a).ok())
            .filter(|v| v.as_object().is_some_and(|o| !o.is_empty())),
        _ => None,
    };
    if let Some(value) = value {
        out.insert(name.to_owned(), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tessera_core::{TenantId, UserId, UserStatus};
    use tessera_store::{Address, StandardClaims};

    fn user() -> UserRecord {
        UserRecord {
            tenant_id: TenantId::new(),
            id: UserId::new(),
            username: "ada".to_owned(),
            email: Some("ada@example.com".to_owned()),
            email_verified: true,
            claims: StandardClaims {
                name: Some("Ada Lovelace".to_owned()),
                given_name: Some("Ada".to_owned()),
                family_name: Some("Lovelace".to_owned()),
                locale: Some("en-GB".to_owned()),
                phone_number: Some("+441234567890".to_owned()),
                address: Some(Address {
                    locality: Some("London".to_owned()),
                    country: Some("UK".to_owned()),
                    ..Address::default()
                }),
                ..StandardClaims::default()
            },
            password_hash: None,
            status: UserStatus::Active,
            created_at: 1,
            updated_at: 1_700_000_000,
        }
    }

    fn scopes(raw: &str) -> ScopeSet {
        ScopeSet::parse(raw).unwrap()
    }

    #[test]
    fn openid_alone_releases_only_sub() {
        let u = user();
        let claims = claims_for(&u, &scopes("openid"), None);
        assert_eq!(Value::Object(claims), json!({ "sub": u.id.to_string() }));
    }

    #[test]
    fn each_scope_releases_its_claims_and_no_others() {
        let u = user();
        let profile = claims_for(&u, &scopes("openid profile"), None);
        assert_eq!(profile["name"], "Ada Lovelace");
        assert_eq!(profile["given_name"], "Ada");
        assert_eq!(profile["preferred_username"], "ada");
        assert_eq!(profile["updated_at"], 1_700_000_000);
        assert!(!profile.contains_key("email"));
        assert!(!profile.contains_key("phone_number"));
        assert!(
            !profile.contains_key("nickname"),
            "absent values are omitted, not null"
        );

        let email = claims_for(&u, &scopes("openid email"), None);
        assert_eq!(email["email"], "ada@example.com");
        assert_eq!(email["email_verified"], true);
        assert!(!email.contains_key("name"));

        let address = claims_for(&u, &scopes("openid address"), None);
        assert_eq!(
            address["address"],
            json!({"locality": "London", "country": "UK"})
        );

        let phone = claims_for(&u, &scopes("openid phone"), None);
        assert_eq!(phone["phone_number"], "+441234567890");
        assert_eq!(phone["phone_number_verified"], false);
        assert_eq!(phone.len(), 3);
    }

    #[test]
    fn email_verified_is_not_released_without_an_email() {
        let mut u = user();
        u.email = None;
        let claims = claims_for(&u, &scopes("openid email"), None);
        assert_eq!(claims.len(), 1);
    }

    #[test]
    fn claims_request_places_consented_claims_and_releases_nothing_beyond_consent() {
        let u = user();
        let request = json!({
            "userinfo": { "email": { "essential": true }, "nickname": null, "unknown": null },
            "id_token": { "name": null, "sub": { "value": "x" } }
        });
        let granted = scopes("openid email profile");
        let userinfo = claims_for(&u, &scopes("openid email"), request.get("userinfo"));
        assert_eq!(userinfo["email"], "ada@example.com");
        assert!(!userinfo.contains_key("unknown"));
        assert!(!userinfo.contains_key("nickname"));
        assert!(
            !userinfo.contains_key("name"),
            "id_token claims stay out of userinfo"
        );
        // Without the email scope, asking for the claim releases nothing.
        let only_openid = claims_for(&u, &scopes("openid"), request.get("userinfo"));
        assert!(!only_openid.contains_key("email"));

        let id_token = id_token_claims(&u, &granted, request.get("id_token"));
        assert_eq!(Value::Object(id_token), json!({ "name": "Ada Lovelace" }));
        assert!(id_token_claims(&u, &scopes("openid"), request.get("id_token")).is_empty());
        assert!(id_token_claims(&u, &granted, Some(&json!(["name"]))).is_empty());
        assert!(id_token_claims(&u, &granted, None).is_empty());
    }

    #[test]
    fn without_an_access_token_the_id_token_gets_the_scope_claims() {
        let u = user();
        let claims = id_token_claims_without_access_token(&u, &scopes("openid email"), None);
        assert_eq!(claims["email"], "ada@example.com");
        assert!(!claims.contains_key("sub"));
    }
}
