//! The mails carrying the account lifecycle's links (`tessera_authn::links`): where each kind of
//! link points under the tenant's issuer, and the mail that carries it.

use tessera_store::UserRecord;
use tessera_store::account_links::LinkKind;

use crate::{EmailContent, Invitation, Mail, PasswordReset, VerifyEmail};

/// The path, under the tenant's issuer, that a link of `kind` opens.
pub fn link_path(kind: LinkKind) -> &'static str {
    match kind {
        LinkKind::VerifyEmail => "/verify-email",
        LinkKind::PasswordReset => "/password/reset",
        LinkKind::Invitation => "/invitation",
    }
}

/// The absolute URL of a link: `{issuer}{path}?token={token}` (the token is base64url, safe in a
/// query as it is).
pub fn link_url(issuer: &str, kind: LinkKind, token: &str) -> String {
    format!("{issuer}{}?token={token}", link_path(kind))
}

/// "24 hours", "30 minutes", "7 days": how long a link works, for the mail's text.
pub fn human_duration(secs: i64) -> String {
    let plural = |n: i64, unit: &str| {
        if n == 1 {
            format!("1 {unit}")
        } else {
            format!("{n} {unit}s")
        }
    };
    if secs >= 2 * 86_400 && secs % 86_400 == 0 {
        plural(secs / 86_400, "day")
    } else if secs >= 3_600 && secs % 3_600 == 0 {
        plural(secs / 3_600, "hour")
    } else {
        plural((secs + 59) / 60, "minute")
    }
}

/// The mail carrying a link of `kind` to `user`'s address; `None` when the user has none.
/// `inviter` is named in invitations.
pub fn link_mail(
    kind: LinkKind,
    user: &UserRecord,
    issuer: &str,
    token: &str,
    ttl_secs: i64,
    inviter: Option<String>,
) -> Option<Mail> {
    let to = user.email.clone()?;
    let link = link_url(issuer, kind, token);
    let expires_in = human_duration(ttl_secs);
    let username = user.username.clone();
    let content = match kind {
        LinkKind::VerifyEmail => EmailContent::VerifyEmail(VerifyEmail {
            username,
            link,
            expires_in,
        }),
        LinkKind::PasswordReset => EmailContent::PasswordReset(PasswordReset {
            username,
            link,
            expires_in,
        }),
        LinkKind::Invitation => EmailContent::Invitation(Invitation {
            username,
            inviter,
            link,
            expires_in,
        }),
    };
    Some(Mail { to, content })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_duration(86_400), "24 hours");
        assert_eq!(human_duration(7 * 86_400), "7 days");
        assert_eq!(human_duration(3_600), "1 hour");
        assert_eq!(human_duration(1_800), "30 minutes");
        assert_eq!(human_duration(61), "2 minutes");
    }

    #[test]
    fn links_live_under_the_issuer() {
        assert_eq!(
            link_url("https://id.example/t/acme", LinkKind::PasswordReset, "abc"),
            "https://id.example/t/acme/password/reset?token=abc"
        );
    }
}
