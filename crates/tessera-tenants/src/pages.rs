//! The page engine: every HTML page (login, consent, logout, error…) is a handlebars template
//! rendered in strict mode with HTML escaping, from the defaults compiled into the binary overlaid
//! with the tenant's own overrides. Each tenant gets its own registry, so one tenant's templates
//! can never reach another's pages, and a tenant template can neither read files nor call code:
//! only strings are registered, and only handlebars' built-in helpers (minus `log`) exist.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::LazyLock;

use handlebars::template::{Parameter, TemplateElement};
use handlebars::{Handlebars, RenderError, RenderErrorReason, Template, TemplateError};
use serde::Serialize;
use serde_json::Value;
use tessera_core::Branding;

use crate::TenantSnapshot;
use crate::emails::{self, EmailTemplate};

/// Largest template source a tenant may store, in bytes.
pub const MAX_SOURCE_BYTES: usize = 64 * 1024;

/// Deepest nesting of blocks (`{{#…}}`, `{{else if}}` links, `{{#> layout}}`) in a tenant
/// template: rendering recurses once per level, and must stay far from a worker's stack limit.
/// (The parser itself handles a hostile 64 KiB source within a 2 MiB stack; a test checks it.)
const MAX_BLOCK_DEPTH: usize = 24;
/// How often a page override may invoke the layout, or the layout the page body.
const MAX_PARTIAL_CALLS: usize = 4;
/// Largest page a template may produce from the sample data, in bytes.
const MAX_OUTPUT_BYTES: usize = 1024 * 1024;

/// Elements a tenant template may not write: they could run script on the origin every tenant
/// shares (the response's CSP nonce is visible to templates), load external documents, or
/// re-base URLs. Inline event handlers and `javascript:` URLs are left to the page's CSP, which
/// allows script only with the nonce.
const DENIED_ELEMENTS: [&str; 10] = [
    "script", "iframe", "frame", "frameset", "object", "embed", "applet", "base", "link", "portal",
];

/// The page served when even the default template fails (a bug, logged when it happens).
const FALLBACK_PAGE: &str = "<!doctype html>\n<html lang=\"en\"><meta charset=\"utf-8\">\
<title>Error</title><p>Something went wrong. Please try again later.</p></html>\n";

/// Colours and name used when the tenant's branding leaves them unset (or holds a value that
/// would not be safe inside the layout's `<style>` block).
const DEFAULT_PRIMARY_COLOR: &str = "#3056d3";
const DEFAULT_BACKGROUND_COLOR: &str = "#f5f7fb";
/// Name shown on pages rendered before any tenant is known.
const NEUTRAL_NAME: &str = "Tessera";

const LAYOUT_SOURCE: &str = include_str!("../../../templates/partials/layout.hbs");

/// Every page of the default set, by template name. `form_post` is ours alone: it carries the
/// authorization response and is not a tenant's to change; so are `frontchannel_logout`, whose
/// iframes and script tenant templates may not write, and `passkey`, whose script runs the
/// WebAuthn ceremony.
const DEFAULT_PAGES: [(&str, &str); 21] = [
    ("error", include_str!("../../../templates/pages/error.hbs")),
    ("login", include_str!("../../../templates/pages/login.hbs")),
    (
        "consent",
        include_str!("../../../templates/pages/consent.hbs"),
    ),
    (
        "logout_confirm",
        include_str!("../../../templates/pages/logout_confirm.hbs"),
    ),
    (
        "logged_out",
        include_str!("../../../templates/pages/logged_out.hbs"),
    ),
    (
        "account",
        include_str!("../../../templates/pages/account.hbs"),
    ),
    (
        "device",
        include_str!("../../../templates/pages/device.hbs"),
    ),
    (
        "device_confirm",
        include_str!("../../../templates/pages/device_confirm.hbs"),
    ),
    (
        "device_done",
        include_str!("../../../templates/pages/device_done.hbs"),
    ),
    ("mfa", include_str!("../../../templates/pages/mfa.hbs")),
    ("totp", include_str!("../../../templates/pages/totp.hbs")),
    (
        "invitation",
        include_str!("../../../templates/pages/invitation.hbs"),
    ),
    (
        "signup",
        include_str!("../../../templates/pages/signup.hbs"),
    ),
    (
        "signup_done",
        include_str!("../../../templates/pages/signup_done.hbs"),
    ),
    (
        "verify_email",
        include_str!("../../../templates/pages/verify_email.hbs"),
    ),
    (
        "forgot_password",
        include_str!("../../../templates/pages/forgot_password.hbs"),
    ),
    (
        "reset_password",
        include_str!("../../../templates/pages/reset_password.hbs"),
    ),
    (
        "change_password",
        include_str!("../../../templates/pages/change_password.hbs"),
    ),
    (
        "form_post",
        include_str!("../../../templates/pages/form_post.hbs"),
    ),
    (
        "frontchannel_logout",
        include_str!("../../../templates/pages/frontchannel_logout.hbs"),
    ),
    (
        "passkey",
        include_str!("../../../templates/pages/passkey.hbs"),
    ),
];

/// A template a tenant may override.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TemplateName {
    /// The partial every page is wrapped in (`{{#> layout}}…{{/layout}}`).
    Layout,
    /// An error that cannot be sent back to the client.
    Error,
    /// The sign-in form.
    Login,
    /// The consent form.
    Consent,
    /// "Sign out?" (RP-Initiated Logout 1.0 §2, when the request cannot be trusted).
    LogoutConfirm,
    /// "You are signed out".
    LoggedOut,
    /// The account page: the apps holding access, each with a revoke button.
    Account,
    /// The device user-code form (RFC 8628 §3.3).
    Device,
    /// Confirming the device's code and consenting to its scopes (RFC 8628 §3.3, §5.4).
    DeviceConfirm,
    /// The device authorization was approved or denied.
    DeviceDone,
    /// The second sign-in step: a code from the authenticator app or a recovery code.
    Mfa,
    /// Setting up, and turning off, the authenticator app (TOTP, RFC 6238); recovery codes.
    Totp,
    /// The self-registration form (`accounts.signup = open`).
    Signup,
    /// "Check your e-mail" after a sign-up.
    SignupDone,
    /// Confirming an e-mail address from its link, and the confirmation.
    VerifyEmail,
    /// "Forgot your password?": the form asking for a username or address, and "check your
    /// e-mail".
    ForgotPassword,
    /// Choosing a new password from a reset link, and "your password was changed".
    ResetPassword,
    /// Changing the password from the account page.
    ChangePassword,
    /// Accepting an invitation: choosing the password of an invited account, and the
    /// confirmation.
    Invitation,
    /// An e-mail template: `email.layout` or `email.{kind}.{subject|html|txt}`.
    Email(EmailTemplate),
}

impl TemplateName {
    /// The overridable pages, in listing order.
    const PAGES: [TemplateName; 19] = [
        TemplateName::Layout,
        TemplateName::Error,
        TemplateName::Login,
        TemplateName::Consent,
        TemplateName::LogoutConfirm,
        TemplateName::LoggedOut,
        TemplateName::Account,
        TemplateName::Device,
        TemplateName::DeviceConfirm,
        TemplateName::DeviceDone,
        TemplateName::Mfa,
        TemplateName::Totp,
        TemplateName::Signup,
        TemplateName::SignupDone,
        TemplateName::VerifyEmail,
        TemplateName::ForgotPassword,
        TemplateName::ResetPassword,
        TemplateName::ChangePassword,
        TemplateName::Invitation,
    ];

    /// Every overridable template, in listing order: the pages, then the e-mails.
    pub const ALL: [TemplateName; 19 + EmailTemplate::ALL.len()] = {
        let mut all = [TemplateName::Layout; 19 + EmailTemplate::ALL.len()];
        let mut i = 0;
        while i < Self::PAGES.len() {
            all[i] = Self::PAGES[i];
            i += 1;
        }
        let mut j = 0;
        while j < EmailTemplate::ALL.len() {
            all[i + j] = TemplateName::Email(EmailTemplate::ALL[j]);
            j += 1;
        }
        all
    };

    /// The name in URLs and the registry.
    pub fn as_str(self) -> &'static str {
        match self {
            TemplateName::Layout => "layout",
            TemplateName::Error => "error",
            TemplateName::Login => "login",
            TemplateName::Consent => "consent",
            TemplateName::LogoutConfirm => "logout_confirm",
            TemplateName::LoggedOut => "logged_out",
            TemplateName::Account => "account",
            TemplateName::Device => "device",
            TemplateName::DeviceConfirm => "device_confirm",
            TemplateName::DeviceDone => "device_done",
            TemplateName::Mfa => "mfa",
            TemplateName::Totp => "totp",
            TemplateName::Signup => "signup",
            TemplateName::SignupDone => "signup_done",
            TemplateName::VerifyEmail => "verify_email",
            TemplateName::ForgotPassword => "forgot_password",
            TemplateName::ResetPassword => "reset_password",
            TemplateName::ChangePassword => "change_password",
            TemplateName::Invitation => "invitation",
            TemplateName::Email(email) => email.as_str(),
        }
    }

    /// The overridable template called `raw`, if any.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|n| n.as_str() == raw)
    }

    /// The built-in source of this template.
    pub fn default_source(self) -> &'static str {
        match self {
            TemplateName::Layout => LAYOUT_SOURCE,
            TemplateName::Email(email) => email.default_source(),
            page => DEFAULT_PAGES
                .iter()
                .find(|(name, _)| *name == page.as_str())
                .map_or("", |(_, source)| source),
        }
    }
}

impl fmt::Display for TemplateName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for TemplateName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Why a template was refused, with its position when the problem has one (1-based).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{message}")]
pub struct TemplateProblem {
    /// Line of the problem.
    pub line: Option<usize>,
    /// Column of the problem.
    pub column: Option<usize>,
    /// What is wrong, safe to show to the tenant admin.
    pub message: String,
}

impl TemplateProblem {
    fn general(message: impl Into<String>) -> Self {
        Self {
            line: None,
            column: None,
            message: message.into(),
        }
    }

    fn at(position: Option<(usize, usize)>, message: impl Into<String>) -> Self {
        Self {
            line: position.map(|p| p.0),
            column: position.map(|p| p.1),
            message: message.into(),
        }
    }

    fn from_compile(err: &TemplateError) -> Self {
        Self::at(err.pos(), err.reason().to_string())
    }

    fn from_render(template: TemplateName, err: &RenderError) -> Self {
        let position = err.line_no.zip(err.column_no);
        let message = match err.reason() {
            RenderErrorReason::MissingVariable(Some(path)) => match template {
                TemplateName::Email(email) => format!(
                    "`{path}` is not a variable of the `{email}` e-mail template (strict mode \
                     refuses unknown variables)",
                    email = email.as_str()
                ),
                page => format!(
                    "`{path}` is not a variable of the {} page (strict mode refuses unknown \
                     variables)",
                    sample_page(page)
                ),
            },
            RenderErrorReason::HelperNotFound(name) => {
                format!("`{name}` is not an available helper")
            }
            other => other.to_string(),
        };
        let message = match err.template_name.as_deref() {
            Some(t) if t != template.as_str() => format!("while rendering `{t}`: {message}"),
            _ => message,
        };
        Self::at(position, message)
    }
}

/// The problem a failed render of a checked `template` reports (for the e-mail templates).
pub(crate) fn problem_from_render(template: TemplateName, err: &RenderError) -> TemplateProblem {
    TemplateProblem::from_render(template, err)
}

// ---------------------------------------------------------------------------------------------
// The data every page gets

/// `page`: what the handler says about this response.
#[derive(Clone, Debug, Serialize)]
pub struct PageMeta {
    /// Title for `<title>` and headings.
    pub title: String,
    /// Language of the page (BCP 47).
    pub lang: String,
    /// This response's CSP nonce, for the layout's `<style>`.
    pub csp_nonce: String,
}

/// `tenant`: the tenant's branding, each value checked to be safe where the layout puts it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TenantLook {
    /// Display name.
    pub name: String,
    /// `https:` or `data:image/…;base64,` logo URL.
    pub logo_url: Option<String>,
    /// Primary (button) colour.
    pub primary_color: String,
    /// Page background colour.
    pub background_color: String,
    /// Extra CSS custom properties (`--name: value`).
    pub css_variables: Vec<CssVariable>,
}

/// One CSS custom property of a tenant's branding.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CssVariable {
    /// Name without the leading `--`.
    pub name: String,
    /// Value.
    pub value: String,
}

impl TenantLook {
    /// The look of a tenant named `tenant_name` with `branding`. A stored value that fails the
    /// checks of [`validate_branding`] (written before a rule tightened, or straight into the
    /// database) is replaced by the default rather than trusted.
    pub fn of(tenant_name: &str, branding: &Branding) -> Self {
        let name = branding
            .display_name
            .as_deref()
            .filter(|n| is_display_name(n))
            .unwrap_or(tenant_name);
        let color = |value: &Option<String>, default: &str| {
            value
                .as_deref()
                .filter(|v| is_css_value(v))
                .unwrap_or(default)
                .to_owned()
        };
        Self {
            name: name.to_owned(),
            logo_url: branding.logo_url.clone().filter(|u| is_logo_url(u)),
            primary_color: color(&branding.primary_color, DEFAULT_PRIMARY_COLOR),
            background_color: color(&branding.background_color, DEFAULT_BACKGROUND_COLOR),
            css_variables: branding
                .css_variables
                .iter()
                .filter(|(n, v)| is_css_name(n) && is_css_value(v))
                .map(|(n, v)| CssVariable {
                    name: n.clone(),
                    value: v.clone(),
                })
                .collect(),
        }
    }

    /// The look of pages rendered before a tenant is known.
    pub fn neutral() -> Self {
        Self::of(NEUTRAL_NAME, &Branding::default())
    }
}

/// The part of the data every page shares: `{ page, tenant }`.
#[derive(Clone, Debug, Serialize)]
pub struct PageContext {
    /// About this response.
    pub page: PageMeta,
    /// About the tenant.
    pub tenant: TenantLook,
}

impl PageContext {
    /// The context of a page titled `title` with the CSP nonce `csp_nonce`, in English.
    pub fn new(tenant: TenantLook, title: &str, csp_nonce: &str) -> Self {
        Self {
            page: PageMeta {
                title: title.to_owned(),
                lang: "en".to_owned(),
                csp_nonce: csp_nonce.to_owned(),
            },
            tenant,
        }
    }

    /// The full data of a page: `page_fields` (an object of the page's own fields) beside
    /// `page` and `tenant`, which always win over a page field of the same name.
    pub fn with(&self, page_fields: Value) -> Value {
        let mut data = match page_fields {
            Value::Object(map) => map,
            _ => serde_json::Map::new(),
        };
        data.insert("page".into(), to_value(&self.page));
        data.insert("tenant".into(), to_value(&self.tenant));
        Value::Object(data)
    }
}

/// The common part of every page of `snapshot`'s tenant, as `{ page, tenant }`; the handler adds
/// the page's own fields (or use [`PageContext::with`]).
pub fn page_context(snapshot: &TenantSnapshot, title: &str, csp_nonce: &str) -> Value {
    let context = PageContext::new(snapshot.look(), title, csp_nonce);
    to_value(&context)
}

fn to_value<T: Serialize>(value: &T) -> Value {
    // Serializing these plain structs cannot fail; Null would fail strict rendering visibly.
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// Fields of the `error` page.
#[derive(Clone, Debug, Serialize)]
pub struct ErrorPage {
    /// Heading.
    pub title: String,
    /// What went wrong, for the user.
    pub message: String,
    /// The OAuth error code.
    pub code: String,
}

/// Fields of the `login` page.
#[derive(Clone, Debug, Serialize)]
pub struct LoginPage {
    /// Form action URL.
    pub action: String,
    /// CSRF token of the form.
    pub csrf_token: String,
    /// Opaque handle of the pending authorization request.
    pub request: String,
    /// Username to prefill (`login_hint`, or the last attempt).
    pub username: Option<String>,
    /// Why the last attempt failed.
    pub error: Option<String>,
    /// Name of the client asking.
    pub client_name: String,
    /// Where "Sign in with a passkey" posts, when passkeys work at this issuer.
    pub passkey_action: Option<String>,
    /// The sign-up page ("Create an account"), when the tenant's sign-up is open.
    pub signup_url: Option<String>,
    /// The "Forgot your password?" page, when the tenant allows password resets.
    pub forgot_url: Option<String>,
}

/// Fields of the `signup` page: the self-registration form.
#[derive(Clone, Debug, Serialize)]
pub struct SignupPage {
    /// Form action URL.
    pub action: String,
    /// CSRF token of the form.
    pub csrf_token: String,
    /// Opaque handle of the pending authorization request (empty when there is none).
    pub request: String,
    /// Name of the client asking, when a request is pending.
    pub client_name: Option<String>,
    /// Username to prefill (the last attempt).
    pub username: Option<String>,
    /// E-mail address to prefill (the last attempt).
    pub email: Option<String>,
    /// Why the last attempt failed.
    pub error: Option<String>,
    /// The sign-in page ("Already have an account?").
    pub sign_in_url: String,
}

/// Fields of the `signup_done` page: "check your e-mail".
#[derive(Clone, Debug, Serialize)]
pub struct SignupDonePage {
    /// What happens next.
    pub message: String,
    /// How long the confirmation link works, e.g. "24 hours".
    pub expires_in: String,
}

/// Fields of the `verify_email` page: the confirm button a mailed link opens (a POST, so mail
/// scanners that fetch links do not spend them), then the confirmation.
#[derive(Clone, Debug, Serialize)]
pub struct VerifyEmailPage {
    /// Whether the address was just confirmed (else the confirm form is shown).
    pub confirmed: bool,
    /// The address being confirmed.
    pub email: String,
    /// Form action URL.
    pub action: String,
    /// CSRF token of the form.
    pub csrf_token: String,
    /// The link's token, posted back.
    pub token: String,
    /// Where to sign in afterwards (the account page).
    pub sign_in_url: String,
}

/// One requested scope on the `consent` page.
#[derive(Clone, Debug, Serialize)]
pub struct ConsentScope {
    /// Scope token.
    pub name: String,
    /// Its description from the tenant's scope definitions.
    pub description: String,
    /// Whether the user cannot untick it.
    pub required: bool,
}

/// Fields of the `consent` page.
#[derive(Clone, Debug, Serialize)]
pub struct ConsentPage {
    /// Form action URL.
    pub action: String,
    /// CSRF token of the form.
    pub csrf_token: String,
    /// Opaque handle of the pending authorization request.
    pub request: String,
    /// Name of the client asking.
    pub client_name: String,
    /// The signed-in user.
    pub username: String,
    /// The requested scopes.
    pub scopes: Vec<ConsentScope>,
}

/// Fields of the `logout_confirm` page.
#[derive(Clone, Debug, Serialize)]
pub struct LogoutConfirmPage {
    /// Form action URL.
    pub action: String,
    /// CSRF token of the form.
    pub csrf_token: String,
    /// Opaque handle of the pending logout request.
    pub request: String,
    /// Name of the client asking, when it is known.
    pub client_name: Option<String>,
}

/// Fields of the `logged_out` page.
#[derive(Clone, Debug, Serialize)]
pub struct LoggedOutPage {
    /// What happened.
    pub message: String,
    /// Registered post-logout redirect URI to continue to.
    pub return_uri: Option<String>,
}

/// Fields of the `frontchannel_logout` page: the signed-out page that loads the clients'
/// front-channel logout URIs in hidden iframes (OpenID Connect Front-Channel Logout 1.0 §3),
/// then continues to `return_uri`. Ours alone, like `form_post`: tenant templates may not write
/// frames or script.
#[derive(Clone, Debug, Serialize)]
pub struct FrontChannelLogoutPage {
    /// What happened.
    pub message: String,
    /// Registered post-logout redirect URI to continue to once the frames loaded.
    pub return_uri: Option<String>,
    /// The iframes.
    pub frames: Vec<LogoutFrame>,
}

/// One front-channel logout iframe.
#[derive(Clone, Debug, Serialize)]
pub struct LogoutFrame {
    /// The client's `frontchannel_logout_uri`, with `iss` and `sid` when it requires them.
    pub url: String,
}

/// One app holding access, on the `account` page. Its scopes come pre-joined: tenant templates
/// cannot nest `{{#each}}` blocks.
#[derive(Clone, Debug, Serialize)]
pub struct AccountApp {
    /// The client's id.
    pub client_id: String,
    /// The client's name.
    pub name: String,
    /// The granted scope tokens, space-delimited.
    pub scopes: String,
    /// What the granted scopes allow, from the tenant's scope descriptions, joined with "; ".
    pub scope_descriptions: String,
    /// When access was granted, e.g. "2026-11-28 01:23 UTC".
    pub granted_at: String,
    /// When the grant last changed, when it did after it was first given.
    pub updated_at: Option<String>,
    /// When the app last received tokens, if ever.
    pub last_used_at: Option<String>,
    /// URL the revoke form posts to.
    pub revoke_action: String,
}

/// Fields of the `account` page.
#[derive(Clone, Debug, Serialize)]
pub struct AccountPage {
    /// The signed-in user.
    pub username: String,
    /// The apps holding access to the account.
    pub apps: Vec<AccountApp>,
    /// CSRF token of the revoke forms.
    pub csrf_token: String,
    /// A confirmation of what was just done, if anything.
    pub notice: Option<String>,
    /// The sign-out URL (RP-Initiated Logout, which asks the user to confirm).
    pub logout_url: String,
    /// The authenticator-app page, unless the tenant turned two-step verification off.
    pub mfa_url: Option<String>,
    /// Whether the user has an authenticator app.
    pub mfa_on: bool,
    /// The user's passkeys.
    pub passkeys: Vec<AccountPasskey>,
    /// Where "Add a passkey" posts, when passkeys work at this issuer.
    pub passkey_action: Option<String>,
    /// The change-password page, when the user has a password.
    pub password_url: Option<String>,
}

/// One passkey on the `account` page.
#[derive(Clone, Debug, Serialize)]
pub struct AccountPasskey {
    /// Its id.
    pub id: String,
    /// The name the user gave it.
    pub name: String,
    /// Whether it may be synced to other devices (backup-eligible).
    pub synced: bool,
    /// When it was added, e.g. "2026-11-28 01:23 UTC".
    pub created_at: String,
    /// When it last signed in, if ever.
    pub last_used_at: Option<String>,
    /// URL the remove form posts to.
    pub remove_action: String,
}

/// Fields of the `device` page: the user-code form (RFC 8628 §3.3).
#[derive(Clone, Debug, Serialize)]
pub struct DevicePage {
    /// Form action URL.
    pub action: String,
    /// CSRF token of the form.
    pub csrf_token: String,
    /// The code to prefill (from `verification_uri_complete`, or the last attempt).
    pub user_code: Option<String>,
    /// Why the last attempt failed.
    pub error: Option<String>,
}

/// Fields of the `device_confirm` page: the device's code to compare (RFC 8628 §5.4) and the
/// consent to its scopes.
#[derive(Clone, Debug, Serialize)]
pub struct DeviceConfirmPage {
    /// Form action URL.
    pub action: String,
    /// CSRF token of the form.
    pub csrf_token: String,
    /// Opaque handle of the pending device authorization.
    pub request: String,
    /// The user code, `XXXX-XXXX`, for the user to compare with the device's.
    pub user_code: String,
    /// Name of the client asking.
    pub client_name: String,
    /// The signed-in user.
    pub username: String,
    /// The requested scopes.
    pub scopes: Vec<ConsentScope>,
}

/// Fields of the `device_done` page.
#[derive(Clone, Debug, Serialize)]
pub struct DeviceDonePage {
    /// Whether the device was given access.
    pub approved: bool,
    /// What happened.
    pub message: String,
}

/// Fields of the `mfa` page: the second sign-in step.
#[derive(Clone, Debug, Serialize)]
pub struct MfaPage {
    /// Form action URL.
    pub action: String,
    /// CSRF token of the form.
    pub csrf_token: String,
    /// Opaque handle of the pending authorization request (empty for the account page).
    pub request: String,
    /// Opaque proof that the first factor passed, short-lived.
    pub ticket: String,
    /// The user signing in.
    pub username: String,
    /// Name of the client asking.
    pub client_name: String,
    /// Why the last attempt failed.
    pub error: Option<String>,
    /// Whether the code form is shown (the user has an authenticator app).
    pub code_form: bool,
    /// Where "Use a passkey" posts, when the user has a passkey.
    pub passkey_action: Option<String>,
}

/// Fields of the `totp` page: enrolling an authenticator app (QR code, key, first code), the
/// recovery codes shown once, and turning it off or renewing the codes.
#[derive(Clone, Debug, Serialize)]
pub struct TotpPage {
    /// The user.
    pub username: String,
    /// CSRF token of the forms.
    pub csrf_token: String,
    /// Opaque handle of the pending authorization request, during sign-in (else empty).
    pub request: String,
    /// Opaque proof that the first factor passed, during sign-in (else empty).
    pub ticket: String,
    /// Whether the enrolment form is shown.
    pub enrolling: bool,
    /// The QR code of the `otpauth://` URI, an SVG `data:` URL.
    pub qr_image: Option<String>,
    /// The key in base32, for typing in by hand.
    pub secret: Option<String>,
    /// Where the enrolment form posts.
    pub confirm_action: String,
    /// Fresh recovery codes, shown once.
    pub recovery_codes: Vec<String>,
    /// Where the "continue" form posts (the authorization flow after enrolling at sign-in).
    pub continue_action: Option<String>,
    /// Where the "turn off" form posts, when an authenticator is enrolled.
    pub remove_action: Option<String>,
    /// Where the "new recovery codes" form posts, when an authenticator is enrolled.
    pub regenerate_action: Option<String>,
    /// Unused recovery codes, when an authenticator is enrolled.
    pub recovery_codes_left: Option<u64>,
    /// The account page.
    pub account_url: String,
    /// A confirmation of what was just done.
    pub notice: Option<String>,
    /// Why the last attempt failed.
    pub error: Option<String>,
}

/// One hidden field of the `form_post` page.
#[derive(Clone, Debug, Serialize)]
pub struct FormField {
    /// Parameter name.
    pub name: String,
    /// Parameter value.
    pub value: String,
}

/// Fields of the `form_post` page (OAuth 2.0 Form Post Response Mode §2).
#[derive(Clone, Debug, Serialize)]
pub struct FormPostPage {
    /// The client's redirect URI.
    pub action: String,
    /// The authorization response parameters.
    pub fields: Vec<FormField>,
}

/// Fields of the `passkey` page: runs one WebAuthn ceremony in the browser and posts the
/// authenticator's answer. Ours alone, like `form_post`: it carries script.
#[derive(Clone, Debug, Serialize)]
pub struct PasskeyPage {
    /// Heading.
    pub heading: String,
    /// What the user is asked to do.
    pub message: String,
    /// `create` (registration) or `get` (sign-in).
    pub mode: String,
    /// The options for `navigator.credentials`, JSON.
    pub options: String,
    /// Where the answer is posted.
    pub action: String,
    /// CSRF token of the form.
    pub csrf_token: String,
    /// Opaque handle of the pending authorization request (may be empty).
    pub request: String,
    /// Opaque proof that the first factor passed (second factor only, else empty).
    pub ticket: String,
    /// The sealed ceremony state.
    pub state: String,
}

/// Fields of the `forgot_password` page: the form, or (`sent`) the same "check your e-mail"
/// answer whether or not an account matched.
#[derive(Clone, Debug, Serialize)]
pub struct ForgotPasswordPage {
    /// Form action URL.
    pub action: String,
    /// CSRF token of the form.
    pub csrf_token: String,
    /// Opaque handle of the pending authorization request, when one rides along (else empty).
    pub request: String,
    /// Whether the request was taken (the answer page).
    pub sent: bool,
    /// How long a link works, e.g. "1 hour".
    pub expires_in: String,
    /// Why the form was refused.
    pub error: Option<String>,
    /// Where "Back to sign in" posts the pending request, when there is one.
    pub continue_action: Option<String>,
    /// The sign-in page otherwise (the account page's).
    pub sign_in_url: String,
}

/// Fields of the `reset_password` page: the new-password form of a live link, or (`done`) the
/// confirmation.
#[derive(Clone, Debug, Serialize)]
pub struct ResetPasswordPage {
    /// Form action URL.
    pub action: String,
    /// CSRF token of the form.
    pub csrf_token: String,
    /// The link's token, posted back with the form.
    pub token: String,
    /// The account the link is for.
    pub username: Option<String>,
    /// Why the last attempt was refused.
    pub error: Option<String>,
    /// Whether the password was changed (the confirmation page).
    pub done: bool,
    /// Where to sign in.
    pub sign_in_url: String,
}

/// Fields of the `change_password` page (signed in, from the account page).
#[derive(Clone, Debug, Serialize)]
pub struct ChangePasswordPage {
    /// Form action URL.
    pub action: String,
    /// CSRF token of the form.
    pub csrf_token: String,
    /// The signed-in user.
    pub username: String,
    /// Why the last attempt was refused.
    pub error: Option<String>,
    /// The account page.
    pub account_url: String,
}

/// Fields of the `invitation` page: the password form of a live invitation link, or (`done`)
/// the confirmation with the way to sign in.
#[derive(Clone, Debug, Serialize)]
pub struct InvitationPage {
    /// Form action URL.
    pub action: String,
    /// CSRF token of the form.
    pub csrf_token: String,
    /// The link's token, posted back with the form.
    pub token: String,
    /// The invited account's sign-in name.
    pub username: String,
    /// The address the invitation was sent to.
    pub email: Option<String>,
    /// Why the last attempt was refused.
    pub error: Option<String>,
    /// Whether the password was set (the confirmation page).
    pub done: bool,
    /// Where to sign in (the account page).
    pub sign_in_url: String,
}

// ---------------------------------------------------------------------------------------------
// Sample data

/// The page whose sample data exercises `template` (the layout is shown around the login page).
fn sample_page(template: TemplateName) -> &'static str {
    match template {
        TemplateName::Layout => "login",
        page => page.as_str(),
    }
}

/// The title a page of this name usually has.
fn sample_title(page: &str) -> &'static str {
    match page {
        "error" => "This sign-in request cannot be completed",
        "login" => "Sign in",
        "consent" => "Allow access",
        "logout_confirm" => "Sign out",
        "logged_out" => "Signed out",
        "frontchannel_logout" => "Signed out",
        "account" => "Your account",
        "device" => "Connect a device",
        "device_confirm" => "Connect a device",
        "device_done" => "Device connected",
        "mfa" => "Two-step verification",
        "totp" => "Authenticator app",
        "invitation" => "Welcome, set your password",
        "signup" => "Create an account",
        "signup_done" => "Check your e-mail",
        "verify_email" => "Confirm your e-mail address",
        "forgot_password" => "Forgot your password?",
        "reset_password" => "Choose a new password",
        "change_password" => "Change your password",
        "passkey" => "Sign in with a passkey",
        _ => "Returning to the application",
    }
}

/// The sample look the e-mail templates are checked and previewed with.
pub(crate) fn sample_look_for_email() -> TenantLook {
    sample_look()
}

/// The sample look: a tenant with a logo, its colours and one CSS variable.
fn sample_look() -> TenantLook {
    TenantLook {
        name: "Acme Corporation".into(),
        logo_url: Some(
            "data:image/svg+xml;base64,PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciIHdpZHRoPSI0MCIgaGVpZ2h0PSI0MCI+PGNpcmNsZSBjeD0iMjAiIGN5PSIyMCIgcj0iMTgiIGZpbGw9IiMxZjZmZWIiLz48L3N2Zz4=".into(),
        ),
        primary_color: "#1f6feb".into(),
        background_color: "#f6f8fa".into(),
        css_variables: vec![CssVariable {
            name: "radius".into(),
            value: "8px".into(),
        }],
    }
}

/// The page-specific sample fields of `page`; `full` fills every optional field, otherwise
/// every optional field is `null`.
fn sample_fields(page: &str, full: bool) -> Value {
    let some = |s: &str| full.then(|| s.to_owned());
    let action = |path: &str| format!("https://id.example.com/t/acme/{path}");
    match page {
        "error" => to_value(&ErrorPage {
            title: sample_title(page).into(),
            message: "The application that sent you here is not registered with this provider."
                .into(),
            code: "invalid_request".into(),
        }),
        "login" => to_value(&LoginPage {
            action: action("login"),
            csrf_token: "c2FtcGxlLWNzcmYtdG9rZW4".into(),
            request: "c2FtcGxlLXJlcXVlc3Q".into(),
            username: some("alice"),
            error: some("The username or password is wrong."),
            client_name: "Acme Wiki".into(),
            passkey_action: some(&action("login/passkey")),
            signup_url: some(&action("signup?request=c2FtcGxlLXJlcXVlc3Q")),
            forgot_url: some(&action("password/forgot?request=c2FtcGxlLXJlcXVlc3Q")),
        }),
        "signup" => to_value(&SignupPage {
            action: action("signup"),
            csrf_token: "c2FtcGxlLWNzcmYtdG9rZW4".into(),
            request: "c2FtcGxlLXJlcXVlc3Q".into(),
            client_name: some("Acme Wiki"),
            username: some("alice"),
            email: some("alice@example.com"),
            error: some("The two passwords do not match."),
            sign_in_url: action("account"),
        }),
        "signup_done" => to_value(&SignupDonePage {
            message: "We sent a link to alice@example.com. Open it to confirm your address."
                .into(),
            expires_in: "24 hours".into(),
        }),
        // The full variant is the confirmation, the sparse one the confirm form.
        "verify_email" => to_value(&VerifyEmailPage {
            confirmed: full,
            email: "alice@example.com".into(),
            action: action("verify-email"),
            csrf_token: "c2FtcGxlLWNzcmYtdG9rZW4".into(),
            token: "c2FtcGxlLXRva2Vu".into(),
            sign_in_url: action("account"),
        }),
        "consent" => to_value(&ConsentPage {
            action: action("consent"),
            csrf_token: "c2FtcGxlLWNzcmYtdG9rZW4".into(),
            request: "c2FtcGxlLXJlcXVlc3Q".into(),
            client_name: "Acme Wiki".into(),
            username: "alice".into(),
            scopes: vec![
                ConsentScope {
                    name: "openid".into(),
                    description: "Sign you in".into(),
                    required: true,
                },
                ConsentScope {
                    name: "profile".into(),
                    description: "See your name, picture and profile details".into(),
                    required: false,
                },
            ],
        }),
        "logout_confirm" => to_value(&LogoutConfirmPage {
            action: action("logout"),
            csrf_token: "c2FtcGxlLWNzcmYtdG9rZW4".into(),
            request: "c2FtcGxlLXJlcXVlc3Q".into(),
            client_name: some("Acme Wiki"),
        }),
        "logged_out" => to_value(&LoggedOutPage {
            message: "You have been signed out.".into(),
            return_uri: some("https://wiki.example.com/"),
        }),
        "frontchannel_logout" => to_value(&FrontChannelLogoutPage {
            message: "You have been signed out.".into(),
            return_uri: some("https://wiki.example.com/?state=s"),
            frames: vec![LogoutFrame {
                url: "https://wiki.example.com/logout?iss=https%3A%2F%2Fid.example.com%2Ft%2Facme&sid=c2FtcGxl".into(),
            }],
        }),
        // The sparse variant has no apps at all: the page's "no apps" branch is checked too.
        "account" => to_value(&AccountPage {
            username: "alice".into(),
            apps: if full {
                vec![AccountApp {
                    client_id: "wiki-7Hq2".into(),
                    name: "Acme Wiki".into(),
                    scopes: "openid profile".into(),
                    scope_descriptions: "Sign you in; See your name, picture and profile details"
                        .into(),
                    granted_at: "2026-11-28 01:23 UTC".into(),
                    updated_at: some("2026-11-30 09:05 UTC"),
                    last_used_at: some("2026-12-01 17:42 UTC"),
                    revoke_action: action("account/grants/wiki-7Hq2/revoke"),
                }]
            } else {
                vec![]
            },
            csrf_token: "c2FtcGxlLWNzcmYtdG9rZW4".into(),
            notice: some("Acme Mail no longer has access to your account."),
            logout_url: action("logout"),
            mfa_url: some(&action("account/mfa")),
            mfa_on: full,
            passkeys: if full {
                vec![AccountPasskey {
                    id: "0193f5c2-7a4e-7c1e-9a43-1d2b3c4d5e6f".into(),
                    name: "Work laptop".into(),
                    synced: false,
                    created_at: "2026-11-28 01:23 UTC".into(),
                    last_used_at: some("2026-12-01 17:42 UTC"),
                    remove_action: action(
                        "account/passkeys/0193f5c2-7a4e-7c1e-9a43-1d2b3c4d5e6f/remove",
                    ),
                }]
            } else {
                vec![]
            },
            passkey_action: some(&action("account/passkeys")),
            password_url: some(&action("account/password")),
        }),
        "device" => to_value(&DevicePage {
            action: action("device"),
            csrf_token: "c2FtcGxlLWNzcmYtdG9rZW4".into(),
            user_code: some("WDJB-MJHT"),
            error: some("That code is not valid or has expired."),
        }),
        "device_confirm" => to_value(&DeviceConfirmPage {
            action: action("device/confirm"),
            csrf_token: "c2FtcGxlLWNzcmYtdG9rZW4".into(),
            request: "c2FtcGxlLXJlcXVlc3Q".into(),
            user_code: "WDJB-MJHT".into(),
            client_name: "Acme TV".into(),
            username: "alice".into(),
            scopes: vec![
                ConsentScope {
                    name: "openid".into(),
                    description: "Sign you in".into(),
                    required: true,
                },
                ConsentScope {
                    name: "profile".into(),
                    description: "See your name, picture and profile details".into(),
                    required: false,
                },
            ],
        }),
        "device_done" => to_value(&DeviceDonePage {
            approved: full,
            message: if full {
                "Acme TV can now access your account.".into()
            } else {
                "Acme TV was not given access to your account.".into()
            },
        }),
        "mfa" => to_value(&MfaPage {
            action: action("login/mfa"),
            csrf_token: "c2FtcGxlLWNzcmYtdG9rZW4".into(),
            request: "c2FtcGxlLXJlcXVlc3Q".into(),
            ticket: "c2FtcGxlLXRpY2tldA".into(),
            username: "alice".into(),
            client_name: "Acme Wiki".into(),
            error: some("That code is not valid. Try again."),
            code_form: true,
            passkey_action: some(&action("login/mfa/passkey")),
        }),
        // The full variant is an enrolment just confirmed during sign-in (codes shown, continue);
        // the sparse one the management form of an enrolled account.
        // The full variant is the form after a refused attempt, the sparse one the
        // confirmation.
        "invitation" => to_value(&InvitationPage {
            action: action("invitation"),
            csrf_token: "c2FtcGxlLWNzcmYtdG9rZW4".into(),
            token: "c2FtcGxlLXRva2Vu".into(),
            username: "alice".into(),
            email: some("alice@example.com"),
            error: some("The two passwords do not match."),
            done: !full,
            sign_in_url: action("account"),
        }),
        "totp" => to_value(&TotpPage {
            username: "alice".into(),
            csrf_token: "c2FtcGxlLWNzcmYtdG9rZW4".into(),
            request: "c2FtcGxlLXJlcXVlc3Q".into(),
            ticket: "c2FtcGxlLXRpY2tldA".into(),
            enrolling: full,
            qr_image: some("data:image/svg+xml;base64,PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciLz4="),
            secret: some("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"),
            confirm_action: action("login/mfa/enrol"),
            recovery_codes: if full {
                vec!["ABCDE-FGH23".into(), "KLMNO-PQR45".into()]
            } else {
                vec![]
            },
            continue_action: some(&action("login/continue")),
            remove_action: (!full).then(|| action("account/mfa/remove")),
            regenerate_action: (!full).then(|| action("account/mfa/recovery-codes")),
            recovery_codes_left: (!full).then_some(7),
            account_url: action("account"),
            notice: some("Two-step verification is on."),
            error: some("That code is not valid. Try again."),
        }),
        // The full variant is the answer page with a pending request riding along; the sparse
        // one the empty form.
        "forgot_password" => to_value(&ForgotPasswordPage {
            action: action("password/forgot"),
            csrf_token: "c2FtcGxlLWNzcmYtdG9rZW4".into(),
            request: if full { "c2FtcGxlLXJlcXVlc3Q" } else { "" }.into(),
            sent: full,
            expires_in: "1 hour".into(),
            error: some("Enter your username or e-mail address."),
            continue_action: some(&action("login/continue")),
            sign_in_url: action("account"),
        }),
        "reset_password" => to_value(&ResetPasswordPage {
            action: action("password/reset"),
            csrf_token: "c2FtcGxlLWNzcmYtdG9rZW4".into(),
            token: "c2FtcGxlLWxpbmstdG9rZW4".into(),
            username: some("alice"),
            error: some("The password must be at least 10 characters long."),
            // The sparse variant is the confirmation: both branches are checked.
            done: !full,
            sign_in_url: action("account"),
        }),
        "change_password" => to_value(&ChangePasswordPage {
            action: action("account/password"),
            csrf_token: "c2FtcGxlLWNzcmYtdG9rZW4".into(),
            username: "alice".into(),
            error: some("The current password is not right."),
            account_url: action("account"),
        }),
        "passkey" => to_value(&PasskeyPage {
            heading: sample_title(page).into(),
            message: "Follow your browser's prompt to use your passkey.".into(),
            mode: if full { "get" } else { "create" }.into(),
            options: r#"{"publicKey":{"challenge":"c2FtcGxlLWNoYWxsZW5nZQ","rpId":"id.example.com","userVerification":"required"}}"#.into(),
            action: action("login/passkey/finish"),
            csrf_token: "c2FtcGxlLWNzcmYtdG9rZW4".into(),
            request: "c2FtcGxlLXJlcXVlc3Q".into(),
            ticket: String::new(),
            state: "c2FtcGxlLXN0YXRl".into(),
        }),
        _ => to_value(&FormPostPage {
            action: "https://wiki.example.com/callback".into(),
            fields: vec![
                FormField {
                    name: "code".into(),
                    value: "c2FtcGxlLWNvZGU".into(),
                },
                FormField {
                    name: "state".into(),
                    value: "af0ifjsldkj".into(),
                },
            ],
        }),
    }
}

/// Realistic data for previewing `template` (the layout is previewed around the login page):
/// the tenant "Acme Corporation" with a logo and colours, a client, a user, two scopes.
pub fn sample_data(template: TemplateName) -> Value {
    sample_data_with(template, sample_look(), "c2FtcGxlLW5vbmNl")
}

/// Sample data for `template` with a given look (a tenant's real branding) and CSP nonce.
pub fn sample_data_with(template: TemplateName, look: TenantLook, csp_nonce: &str) -> Value {
    let page = sample_page(template);
    PageContext::new(look, sample_title(page), csp_nonce).with(sample_fields(page, true))
}

/// Both sample variants of `page`: every optional value set, and every one `null`.
fn samples(page: &str) -> [Value; 2] {
    let full = PageContext::new(sample_look(), sample_title(page), "c2FtcGxlLW5vbmNl");
    let sparse = PageContext::new(
        TenantLook {
            logo_url: None,
            css_variables: vec![],
            ..sample_look()
        },
        sample_title(page),
        "c2FtcGxlLW5vbmNl",
    );
    [
        full.with(sample_fields(page, true)),
        sparse.with(sample_fields(page, false)),
    ]
}

// ---------------------------------------------------------------------------------------------
// Branding checks

/// A colour or CSS value that cannot leave the declaration it is written into: no `;`, braces,
/// quotes, `<`, `/` or backslash.
fn is_css_value(value: &str) -> bool {
    !value.trim().is_empty()
        && value.len() <= 100
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "#(),.% -".contains(c))
}

/// A custom-property name (written after `--`).
fn is_css_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn is_display_name(name: &str) -> bool {
    !name.trim().is_empty() && name.chars().count() <= 200 && !name.chars().any(char::is_control)
}

/// An `https:` URL (characters that could end an attribute or a CSS `url()` refused) or a
/// base64 `data:` URL of a raster or SVG image, which an `<img>` never runs script from.
fn is_logo_url(url: &str) -> bool {
    if let Some(rest) = url.strip_prefix("https://") {
        return url.len() <= 2048
            && rest.starts_with(|c: char| c.is_ascii_alphanumeric())
            && rest
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._~:/?#[]@!$&*+,;=%".contains(c));
    }
    let Some(rest) = url.strip_prefix("data:image/") else {
        return false;
    };
    let Some((kind, data)) = rest.split_once(";base64,") else {
        return false;
    };
    ["png", "svg+xml", "jpeg", "gif", "webp"].contains(&kind)
        && url.len() <= 48 * 1024
        && !data.is_empty()
        && data
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+/=".contains(c))
}

/// Checks a tenant's branding: display name, logo URL, colours and CSS variables must be safe
/// where the layout writes them (inside `<style>` and attributes). The message names the field.
pub fn validate_branding(branding: &Branding) -> Result<(), String> {
    if let Some(name) = &branding.display_name
        && !is_display_name(name)
    {
        return Err("branding.display_name needs 1 to 200 printable characters".into());
    }
    if let Some(url) = &branding.logo_url
        && !is_logo_url(url)
    {
        return Err(
            "branding.logo_url must be an https: URL (at most 2048 characters) or a \
             data:image/(png|svg+xml|jpeg|gif|webp);base64, URL of at most 48 KiB"
                .into(),
        );
    }
    for (field, value) in [
        ("primary_color", &branding.primary_color),
        ("background_color", &branding.background_color),
    ] {
        if let Some(value) = value
            && !is_css_value(value)
        {
            return Err(format!(
                "branding.{field} may hold only letters, digits, spaces and # ( ) , . % - \
                 (at most 100 characters)"
            ));
        }
    }
    if branding.css_variables.len() > 32 {
        return Err("branding.css_variables holds at most 32 variables".into());
    }
    for (name, value) in &branding.css_variables {
        if !is_css_name(name) {
            return Err(format!(
                "branding.css_variables: `{}` is not a name of lowercase letters, digits and - \
                 starting with a letter (written without the leading --)",
                name.chars().take(64).collect::<String>()
            ));
        }
        if !is_css_value(value) {
            return Err(format!(
                "branding.css_variables.{name} may hold only letters, digits, spaces and \
                 # ( ) , . % - (at most 100 characters)"
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Checking a tenant's template

/// Refuses blocks nested deeper than [`MAX_BLOCK_DEPTH`], before anything else recurses over
/// the template. The check's own recursion stops at the limit.
fn check_depth(template: &Template, depth: usize) -> Result<(), TemplateProblem> {
    for (index, element) in template.elements.iter().enumerate() {
        let inner: [Option<&Template>; 2] = match element {
            TemplateElement::HelperBlock(block) => {
                [block.template.as_ref(), block.inverse.as_ref()]
            }
            TemplateElement::PartialBlock(block) | TemplateElement::DecoratorBlock(block) => {
                [block.template.as_ref(), None]
            }
            _ => [None, None],
        };
        for nested in inner.into_iter().flatten() {
            if depth >= MAX_BLOCK_DEPTH {
                let at = template.mapping.get(index).map(|m| (m.0, m.1));
                return Err(TemplateProblem::at(
                    at,
                    format!(
                        "blocks may nest at most {MAX_BLOCK_DEPTH} deep (an {{{{else if}}}} counts as one more level)"
                    ),
                ));
            }
            check_depth(nested, depth + 1)?;
        }
    }
    Ok(())
}

/// Stands in the markup skeleton for anything computed at render time.
const COMPUTED: char = '\u{1}';

/// Walks a compiled tenant template and enforces what the parser alone does not.
struct Policy {
    template: TemplateName,
    /// The literal markup with every computed value replaced by [`COMPUTED`].
    skeleton: String,
    partial_calls: usize,
    each_depth: usize,
}

impl Policy {
    fn check(
        template: TemplateName,
        compiled: &Template,
        source: &str,
    ) -> Result<(), TemplateProblem> {
        let mut policy = Policy {
            template,
            skeleton: String::new(),
            partial_calls: 0,
            each_depth: 0,
        };
        policy.walk(compiled)?;
        if policy.is_text() {
            return Ok(());
        }
        policy.check_elements(source)
    }

    /// An e-mail subject or text body: not HTML, so neither escaped nor checked as markup
    /// (`<{{link}}>` is how a text mail writes a link).
    fn is_text(&self) -> bool {
        matches!(self.template, TemplateName::Email(email) if !email.is_html())
    }

    fn walk(&mut self, template: &Template) -> Result<(), TemplateProblem> {
        for (index, element) in template.elements.iter().enumerate() {
            let at = template.mapping.get(index).map(|m| (m.0, m.1));
            match element {
                TemplateElement::RawString(text) => self.skeleton.push_str(text),
                TemplateElement::Comment(_) => {}
                TemplateElement::Expression(_) => self.computed(at)?,
                TemplateElement::HtmlExpression(_) if self.is_text() => {}
                TemplateElement::HtmlExpression(_) => {
                    return Err(TemplateProblem::at(
                        at,
                        "unescaped output ({{{…}}} or {{&…}}) is not allowed: every value is \
                         HTML-escaped",
                    ));
                }
                TemplateElement::HelperBlock(block) => {
                    let name = block.name.as_name().unwrap_or_default();
                    // `raw` emits its body as written: it is literal markup, not a value.
                    let literal = name == "raw";
                    let each = name == "each";
                    if each && self.each_depth > 0 {
                        return Err(TemplateProblem::at(at, "{{#each}} blocks cannot be nested"));
                    }
                    if !literal {
                        self.computed(at)?;
                    }
                    self.each_depth += usize::from(each);
                    for inner in [&block.template, &block.inverse].into_iter().flatten() {
                        self.walk(inner)?;
                        if !literal {
                            self.computed(at)?;
                        }
                    }
                    self.each_depth -= usize::from(each);
                }
                TemplateElement::PartialExpression(partial)
                | TemplateElement::PartialBlock(partial) => {
                    self.partial(&partial.name, at)?;
                    self.computed(at)?;
                    if let Some(inner) = &partial.template {
                        self.walk(inner)?;
                        self.computed(at)?;
                    }
                }
                TemplateElement::DecoratorExpression(_) | TemplateElement::DecoratorBlock(_) => {
                    return Err(TemplateProblem::at(
                        at,
                        "inline partials and decorators ({{* …}}, {{#* …}}) are not allowed",
                    ));
                }
                // A construct a newer handlebars adds is refused until it has been reviewed.
                _ => {
                    return Err(TemplateProblem::at(
                        at,
                        "this handlebars construct is not allowed",
                    ));
                }
            }
        }
        Ok(())
    }

    /// A value computed at render time follows: it may not complete a tag name.
    fn computed(&mut self, at: Option<(usize, usize)>) -> Result<(), TemplateProblem> {
        if self.is_text() {
            return Ok(());
        }
        let open = self
            .skeleton
            .trim_end_matches(|c: char| c.is_ascii_alphanumeric() || c == '-' || c == ':');
        if open.ends_with('<') || open.ends_with("</") {
            return Err(TemplateProblem::at(
                at,
                "an element name must be written out, not computed",
            ));
        }
        self.skeleton.push(COMPUTED);
        Ok(())
    }

    /// Only the layout, called from a page, and the page body, called from the layout: no
    /// other partial exists for a tenant, and no partial can reach itself.
    fn partial(
        &mut self,
        name: &Parameter,
        at: Option<(usize, usize)>,
    ) -> Result<(), TemplateProblem> {
        let allowed = match self.template {
            TemplateName::Layout | TemplateName::Email(EmailTemplate::Layout) => "@partial-block",
            TemplateName::Email(email) if !email.is_html() => {
                return Err(TemplateProblem::at(
                    at,
                    "an e-mail subject or text body may include no partial",
                ));
            }
            _ => "layout",
        };
        let literal = matches!(name, Parameter::Name(_) | Parameter::Path(_));
        if !literal || name.as_name() != Some(allowed) {
            let what = match self.template {
                TemplateName::Layout => {
                    "the layout may include only the page ({{> @partial-block}})"
                }
                TemplateName::Email(EmailTemplate::Layout) => {
                    "the e-mail layout may include only the message ({{> @partial-block}})"
                }
                TemplateName::Email(_) => {
                    "an HTML e-mail may include only the e-mail layout ({{#> layout}}…{{/layout}})"
                }
                _ => "a page may include only the layout ({{#> layout}}…{{/layout}})",
            };
            return Err(TemplateProblem::at(at, what));
        }
        if self.each_depth > 0 {
            return Err(TemplateProblem::at(
                at,
                "a partial cannot be called inside {{#each}}",
            ));
        }
        self.partial_calls += 1;
        if self.partial_calls > MAX_PARTIAL_CALLS {
            return Err(TemplateProblem::at(
                at,
                format!("`{allowed}` may be called at most {MAX_PARTIAL_CALLS} times"),
            ));
        }
        Ok(())
    }

    /// Refuses the elements of [`DENIED_ELEMENTS`] and `http-equiv`, wherever they appear in the
    /// literal markup (comments and raw blocks cannot split them: the skeleton joins the text).
    fn check_elements(&self, source: &str) -> Result<(), TemplateProblem> {
        let markup = self.skeleton.to_ascii_lowercase();
        let locate = |needle: &str| {
            let source = source.to_ascii_lowercase();
            source.find(needle).map(|offset| position(&source, offset))
        };
        if markup.contains("http-equiv") {
            return Err(TemplateProblem::at(
                locate("http-equiv"),
                "http-equiv is not allowed",
            ));
        }
        for (offset, _) in markup.match_indices('<') {
            let name: String = markup[offset + 1..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            if DENIED_ELEMENTS.contains(&name.as_str()) {
                return Err(TemplateProblem::at(
                    locate(&format!("<{name}")),
                    format!(
                        "<{name}> is not allowed in a tenant template (no script, frames, \
                         plug-ins, links or <base>)"
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// 1-based line and column of byte `offset` in `text`.
fn position(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// Size, nesting, syntax and policy: everything that can be judged without rendering.
pub(crate) fn compile_checked(
    template: TemplateName,
    source: &str,
) -> Result<Template, TemplateProblem> {
    if source.len() > MAX_SOURCE_BYTES {
        return Err(TemplateProblem::general(format!(
            "a template may be at most {MAX_SOURCE_BYTES} bytes"
        )));
    }
    if source.trim().is_empty() {
        return Err(TemplateProblem::general("the template is empty"));
    }
    let compiled = Template::compile_with_name(source, template.as_str().to_owned())
        .map_err(|e| TemplateProblem::from_compile(&e))?;
    check_depth(&compiled, 0)?;
    Policy::check(template, &compiled, source)?;
    Ok(compiled)
}

/// Checks a tenant's template before it is stored: a known name, at most 64 KiB, valid
/// handlebars (a syntax error reports its line and column), within the tenant policy (escaped
/// output only, no decorators, no partials but the layout, no script or frame elements), and it
/// renders in strict mode against both sample variants of every page it is used by, so a
/// reference to a variable the page does not have is refused before any user sees it.
pub fn validate(name: &str, source: &str) -> Result<(), TemplateProblem> {
    let template = TemplateName::parse(name).ok_or_else(|| {
        TemplateProblem::general(format!(
            "`{}` is not a template name; one of: {}",
            name.chars().take(64).collect::<String>(),
            TemplateName::ALL.map(TemplateName::as_str).join(", ")
        ))
    })?;
    let compiled = compile_checked(template, source)?;
    if let TemplateName::Email(email) = template {
        return emails::validate(email, compiled);
    }
    let mut engine = PageEngine::defaults()?.clone();
    engine
        .registry
        .register_template(template.as_str(), compiled);
    let pages: Vec<&str> = match template {
        TemplateName::Layout => DEFAULT_PAGES.iter().map(|(page, _)| *page).collect(),
        page => vec![page.as_str()],
    };
    for page in pages {
        for data in samples(page) {
            let html = engine
                .registry
                .render(page, &data)
                .map_err(|e| TemplateProblem::from_render(template, &e))?;
            if html.len() > MAX_OUTPUT_BYTES {
                return Err(TemplateProblem::general(format!(
                    "the {page} page renders to more than {MAX_OUTPUT_BYTES} bytes"
                )));
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Rendering

/// A compiled set of page templates: strict mode, HTML escaping, strings only.
#[derive(Clone, Debug)]
pub struct PageEngine {
    registry: Handlebars<'static>,
}

/// The defaults, compiled once per process from the sources embedded in the binary.
static DEFAULTS: LazyLock<Result<PageEngine, TemplateProblem>> =
    LazyLock::new(PageEngine::compile_defaults);

impl PageEngine {
    fn empty() -> Handlebars<'static> {
        let mut registry = Handlebars::new();
        registry.set_strict_mode(true);
        // `log` would let a template write request data (a CSRF token) into the server log.
        registry.unregister_helper("log");
        registry
    }

    fn compile_defaults() -> Result<Self, TemplateProblem> {
        let mut registry = Self::empty();
        let named = |name: &str, e: TemplateError| {
            let problem = TemplateProblem::from_compile(&e);
            TemplateProblem {
                message: format!("default template `{name}`: {}", problem.message),
                ..problem
            }
        };
        registry
            .register_partial("layout", LAYOUT_SOURCE)
            .map_err(|e| named("layout", e))?;
        for (name, source) in DEFAULT_PAGES {
            registry
                .register_template_string(name, source)
                .map_err(|e| named(name, e))?;
        }
        Ok(Self { registry })
    }

    /// The default templates, compiled on first use; an error means a built-in template is
    /// broken, which startup reports.
    pub fn defaults() -> Result<&'static PageEngine, TemplateProblem> {
        DEFAULTS.as_ref().map_err(Clone::clone)
    }

    /// Renders `page` (`login`, `error`, …) with `data`; a failure is logged and answered with
    /// a plain page, never a panic.
    fn render_or_fallback(&self, page: &str, data: &Value) -> String {
        self.registry.render(page, data).unwrap_or_else(|e| {
            tracing::error!(template = page, error = %e, "default page template failed");
            FALLBACK_PAGE.to_owned()
        })
    }
}

/// Renders `page` from the default templates only: pages shown before a tenant is known.
pub fn render_default(page: &str, data: &Value) -> String {
    match PageEngine::defaults() {
        Ok(engine) => engine.render_or_fallback(page, data),
        Err(e) => {
            tracing::error!(template = page, error = %e, "default page templates do not compile");
            FALLBACK_PAGE.to_owned()
        }
    }
}

/// One tenant's pages: the defaults with its overrides on top, in a registry of its own.
#[derive(Debug)]
pub struct TenantPages {
    slug: String,
    /// `None` when the tenant overrides nothing: the shared defaults serve it.
    custom: Option<PageEngine>,
}

impl TenantPages {
    /// Compiles the overrides of tenant `slug`. An override that no longer passes the checks
    /// (stored before a rule tightened, or written straight into the database) is skipped with
    /// a warning, and the default serves in its place.
    pub fn build(slug: &str, overrides: &BTreeMap<String, String>) -> Self {
        let mut custom: Option<PageEngine> = None;
        for (name, source) in overrides {
            let Some(template) = TemplateName::parse(name) else {
                tracing::warn!(tenant = %slug, template = %name, "ignoring an unknown template override");
                continue;
            };
            // E-mail overrides are compiled by `TenantEmails`.
            if matches!(template, TemplateName::Email(_)) {
                continue;
            }
            let compiled = match compile_checked(template, source) {
                Ok(compiled) => compiled,
                Err(problem) => {
                    tracing::warn!(tenant = %slug, template = %name, problem = %problem, "ignoring a template override that fails its checks");
                    continue;
                }
            };
            if custom.is_none() {
                match PageEngine::defaults() {
                    Ok(defaults) => custom = Some(defaults.clone()),
                    Err(_) => break,
                }
            }
            if let Some(engine) = custom.as_mut() {
                engine
                    .registry
                    .register_template(template.as_str(), compiled);
            }
        }
        Self {
            slug: slug.to_owned(),
            custom,
        }
    }

    /// Whether any override is in effect.
    pub fn is_customized(&self) -> bool {
        self.custom.is_some()
    }

    /// Renders `page` with `data` (see [`PageContext::with`]). If the tenant's template fails on
    /// this data, the failure is logged and the default page is rendered instead; if that fails
    /// too, a plain page. Never panics.
    pub fn render(&self, page: &str, data: &Value) -> String {
        if let Some(engine) = &self.custom {
            match engine.registry.render(page, data) {
                Ok(html) => return html,
                Err(e) => {
                    tracing::warn!(tenant = %self.slug, template = page, error = %e, "tenant template failed; rendering the default")
                }
            }
        }
        render_default(page, data)
    }
}

/// Renders `template`'s preview for a tenant: `source` (already validated) in place of the
/// tenant's own version of that template, the tenant's other overrides and branding, and sample
/// data. The layout is previewed around the login page.
pub fn preview(
    snapshot: &TenantSnapshot,
    template: TemplateName,
    source: &str,
    csp_nonce: &str,
) -> Result<String, TemplateProblem> {
    preview_with_look(snapshot, template, source, snapshot.look(), csp_nonce)
}

/// [`preview`] with `look` in place of the tenant's stored branding, so a branding change can
/// be seen before it is saved.
pub fn preview_with_look(
    snapshot: &TenantSnapshot,
    template: TemplateName,
    source: &str,
    look: TenantLook,
    csp_nonce: &str,
) -> Result<String, TemplateProblem> {
    let compiled = compile_checked(template, source)?;
    if let TemplateName::Email(email) = template {
        return emails::preview(snapshot.emails(), email, compiled, &look);
    }
    let mut engine = match &snapshot.pages().custom {
        Some(custom) => custom.clone(),
        None => PageEngine::defaults()?.clone(),
    };
    engine
        .registry
        .register_template(template.as_str(), compiled);
    let data = sample_data_with(template, look, csp_nonce);
    engine
        .registry
        .render(sample_page(template), &data)
        .map_err(|e| TemplateProblem::from_render(template, &e))
}

#[cfg(test)]
mod tests;
