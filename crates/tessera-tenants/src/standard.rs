//! The OpenID Connect standard scopes (OIDC Core §5.4) that exist in every tenant.

/// `(name, description, claims)` of each standard scope.
pub const STANDARD_SCOPES: &[(&str, &str, &[&str])] = &[
    ("openid", "Sign you in", &["sub"]),
    (
        "profile",
        "Your name and basic profile",
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
    ("email", "Your e-mail address", &["email", "email_verified"]),
    ("address", "Your postal address", &["address"]),
    (
        "phone",
        "Your phone number",
        &["phone_number", "phone_number_verified"],
    ),
    ("offline_access", "Stay signed in while you are away", &[]),
];
