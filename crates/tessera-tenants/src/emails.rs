//! The e-mail templates: for each kind of mail (`test`, `verify_email`, `password_reset`,
//! `invitation`) a subject, an HTML body and a text body, handlebars in strict mode, the HTML
//! bodies wrapped in one HTML layout. Defaults are compiled into the binary from
//! `templates/email/`; a tenant overrides any part through the same template API as its pages
//! (names `email.{kind}.{subject|html|txt}` and `email.layout`), checked by the same policy.
//! HTML bodies are HTML-escaped; subjects and text bodies are not (they are not HTML), and a
//! subject is folded onto one line, so no value can add a mail header.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::LazyLock;

use handlebars::{Handlebars, Template};
use serde::Serialize;
use serde_json::Value;

use crate::pages::{self, TemplateName, TemplateProblem, TenantLook};

/// Largest rendered subject, in characters (RFC 5322 §2.1.1 advises 78 per line; a longer
/// subject is folded by the mail library, this only bounds a runaway template).
const MAX_SUBJECT_CHARS: usize = 200;
/// Largest rendered body, in bytes.
const MAX_BODY_BYTES: usize = 512 * 1024;

/// A kind of e-mail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EmailKind {
    /// "E-mail works": an administrator checking the mail settings.
    Test,
    /// Confirm an e-mail address.
    VerifyEmail,
    /// Reset a forgotten password.
    PasswordReset,
    /// Invitation to a new account.
    Invitation,
}

impl EmailKind {
    /// Every kind.
    pub const ALL: [EmailKind; 4] = [
        EmailKind::Test,
        EmailKind::VerifyEmail,
        EmailKind::PasswordReset,
        EmailKind::Invitation,
    ];

    /// The name in template names and the outbox.
    pub fn as_str(self) -> &'static str {
        match self {
            EmailKind::Test => "test",
            EmailKind::VerifyEmail => "verify_email",
            EmailKind::PasswordReset => "password_reset",
            EmailKind::Invitation => "invitation",
        }
    }
}

impl fmt::Display for EmailKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A part of an e-mail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EmailPart {
    /// The `Subject` header: text, one line.
    Subject,
    /// The `text/html` body, inside the layout.
    Html,
    /// The `text/plain` body.
    Text,
}

impl EmailPart {
    fn is_html(self) -> bool {
        self == EmailPart::Html
    }
}

/// An overridable e-mail template.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EmailTemplate {
    /// The HTML layout every HTML body is wrapped in (`{{#> layout}}…{{/layout}}`).
    Layout,
    /// One part of one kind.
    Part(EmailKind, EmailPart),
}

/// Every e-mail template: name, template and built-in source.
const DEFAULTS: [(&str, EmailTemplate, &str); 13] = {
    use EmailKind::*;
    use EmailPart::*;
    use EmailTemplate::Part;
    [
        (
            "email.layout",
            EmailTemplate::Layout,
            include_str!("../../../templates/email/layout.html.hbs"),
        ),
        (
            "email.test.subject",
            Part(Test, Subject),
            include_str!("../../../templates/email/test.subject.hbs"),
        ),
        (
            "email.test.html",
            Part(Test, Html),
            include_str!("../../../templates/email/test.html.hbs"),
        ),
        (
            "email.test.txt",
            Part(Test, Text),
            include_str!("../../../templates/email/test.txt.hbs"),
        ),
        (
            "email.verify_email.subject",
            Part(VerifyEmail, Subject),
            include_str!("../../../templates/email/verify_email.subject.hbs"),
        ),
        (
            "email.verify_email.html",
            Part(VerifyEmail, Html),
            include_str!("../../../templates/email/verify_email.html.hbs"),
        ),
        (
            "email.verify_email.txt",
            Part(VerifyEmail, Text),
            include_str!("../../../templates/email/verify_email.txt.hbs"),
        ),
        (
            "email.password_reset.subject",
            Part(PasswordReset, Subject),
            include_str!("../../../templates/email/password_reset.subject.hbs"),
        ),
        (
            "email.password_reset.html",
            Part(PasswordReset, Html),
            include_str!("../../../templates/email/password_reset.html.hbs"),
        ),
        (
            "email.password_reset.txt",
            Part(PasswordReset, Text),
            include_str!("../../../templates/email/password_reset.txt.hbs"),
        ),
        (
            "email.invitation.subject",
            Part(Invitation, Subject),
            include_str!("../../../templates/email/invitation.subject.hbs"),
        ),
        (
            "email.invitation.html",
            Part(Invitation, Html),
            include_str!("../../../templates/email/invitation.html.hbs"),
        ),
        (
            "email.invitation.txt",
            Part(Invitation, Text),
            include_str!("../../../templates/email/invitation.txt.hbs"),
        ),
    ]
};

/// Shows a subject or text part in the preview (an HTML page that escapes it).
const PREVIEW_TEXT: &str = include_str!("../../../templates/email/preview_text.html.hbs");

impl EmailTemplate {
    /// Every e-mail template, in listing order.
    pub const ALL: [EmailTemplate; 13] = {
        let mut all = [EmailTemplate::Layout; 13];
        let mut i = 0;
        while i < DEFAULTS.len() {
            all[i] = DEFAULTS[i].1;
            i += 1;
        }
        all
    };

    /// The template name: `email.layout`, `email.{kind}.{subject|html|txt}`.
    pub fn as_str(self) -> &'static str {
        DEFAULTS
            .iter()
            .find(|(_, t, _)| *t == self)
            .map_or("", |(name, _, _)| name)
    }

    /// The e-mail template called `raw`, if any.
    pub fn parse(raw: &str) -> Option<Self> {
        DEFAULTS
            .iter()
            .find(|(name, _, _)| *name == raw)
            .map(|(_, t, _)| *t)
    }

    /// The built-in source.
    pub fn default_source(self) -> &'static str {
        DEFAULTS
            .iter()
            .find(|(_, t, _)| *t == self)
            .map_or("", |(_, _, source)| source)
    }

    /// Whether it produces HTML (escaped output, the layout).
    pub fn is_html(self) -> bool {
        match self {
            EmailTemplate::Layout => true,
            EmailTemplate::Part(_, part) => part.is_html(),
        }
    }

    /// The name it has inside an e-mail registry: the layout is the partial `layout`.
    fn registry_name(self) -> &'static str {
        match self {
            EmailTemplate::Layout => "layout",
            other => other.as_str(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The data every e-mail gets

/// `email`: about this message.
#[derive(Clone, Debug, Serialize)]
pub struct EmailMeta {
    /// Language of the message (BCP 47).
    pub lang: String,
    /// The rendered subject (bodies and the layout only; the subject itself has none yet).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
}

/// Fields of the `test` e-mail.
#[derive(Clone, Debug, Serialize)]
pub struct TestEmail {
    /// The address it was sent to.
    pub to: String,
    /// When it was requested, e.g. "2026-11-28 07:21 UTC".
    pub requested_at: String,
}

/// Fields of the `verify_email` e-mail.
#[derive(Clone, Debug, Serialize)]
pub struct VerifyEmail {
    /// The user's name as they sign in.
    pub username: String,
    /// The single-use confirmation link (an absolute https or http URL).
    pub link: String,
    /// How long the link works, e.g. "24 hours".
    pub expires_in: String,
}

/// Fields of the `password_reset` e-mail.
#[derive(Clone, Debug, Serialize)]
pub struct PasswordReset {
    /// The user's name as they sign in.
    pub username: String,
    /// The single-use reset link.
    pub link: String,
    /// How long the link works, e.g. "30 minutes".
    pub expires_in: String,
}

/// Fields of the `invitation` e-mail.
#[derive(Clone, Debug, Serialize)]
pub struct Invitation {
    /// The invited user's name.
    pub username: String,
    /// Who invited them, when known.
    pub inviter: Option<String>,
    /// The single-use link to accept (set a password).
    pub link: String,
    /// How long the link works, e.g. "7 days".
    pub expires_in: String,
}

/// What a mail says: its kind and that kind's fields.
#[derive(Clone, Debug)]
pub enum EmailContent {
    /// The `test` e-mail.
    Test(TestEmail),
    /// The `verify_email` e-mail.
    VerifyEmail(VerifyEmail),
    /// The `password_reset` e-mail.
    PasswordReset(PasswordReset),
    /// The `invitation` e-mail.
    Invitation(Invitation),
}

impl EmailContent {
    /// Its kind.
    pub fn kind(&self) -> EmailKind {
        match self {
            EmailContent::Test(_) => EmailKind::Test,
            EmailContent::VerifyEmail(_) => EmailKind::VerifyEmail,
            EmailContent::PasswordReset(_) => EmailKind::PasswordReset,
            EmailContent::Invitation(_) => EmailKind::Invitation,
        }
    }

    fn fields(&self) -> Value {
        let value = match self {
            EmailContent::Test(f) => serde_json::to_value(f),
            EmailContent::VerifyEmail(f) => serde_json::to_value(f),
            EmailContent::PasswordReset(f) => serde_json::to_value(f),
            EmailContent::Invitation(f) => serde_json::to_value(f),
        };
        // Serializing these plain structs cannot fail; Null would fail strict rendering visibly.
        value.unwrap_or(Value::Null)
    }

    /// The data of one part: the kind's fields beside `tenant` and `email`, which always win.
    fn data(&self, look: &TenantLook, subject: Option<&str>) -> Value {
        let mut data = match self.fields() {
            Value::Object(map) => map,
            _ => serde_json::Map::new(),
        };
        let meta = EmailMeta {
            lang: "en".into(),
            subject: subject.map(str::to_owned),
        };
        data.insert(
            "tenant".into(),
            serde_json::to_value(look).unwrap_or(Value::Null),
        );
        data.insert(
            "email".into(),
            serde_json::to_value(meta).unwrap_or(Value::Null),
        );
        Value::Object(data)
    }
}

/// A rendered e-mail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenderedEmail {
    /// One-line subject.
    pub subject: String,
    /// `text/plain` body.
    pub text: String,
    /// `text/html` body.
    pub html: String,
}

/// A subject on one line: control characters (CR and LF above all) become spaces, runs of
/// whitespace one space, and the length is bounded.
fn one_line(raw: &str) -> String {
    let spaced: String = raw
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    spaced
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(MAX_SUBJECT_CHARS)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Engines

/// Compiled e-mail templates: HTML parts in an escaping registry, subjects and text bodies in a
/// registry that escapes nothing; both strict, strings only, without the `log` helper.
#[derive(Clone, Debug)]
pub struct EmailEngine {
    html: Handlebars<'static>,
    text: Handlebars<'static>,
}

static ENGINE: LazyLock<Result<EmailEngine, TemplateProblem>> =
    LazyLock::new(EmailEngine::compile_defaults);

impl EmailEngine {
    fn registry(escape: bool) -> Handlebars<'static> {
        let mut registry = Handlebars::new();
        registry.set_strict_mode(true);
        registry.unregister_helper("log");
        if !escape {
            registry.register_escape_fn(handlebars::no_escape);
        }
        registry
    }

    fn compile_defaults() -> Result<Self, TemplateProblem> {
        let mut engine = Self {
            html: Self::registry(true),
            text: Self::registry(false),
        };
        for (name, template, source) in DEFAULTS {
            let compiled = Template::compile_with_name(source, template.registry_name().into())
                .map_err(|e| TemplateProblem {
                    message: format!("default template `{name}`: {e}"),
                    line: None,
                    column: None,
                })?;
            engine.register(template, compiled);
        }
        let preview =
            Template::compile_with_name(PREVIEW_TEXT, "preview_text".into()).map_err(|e| {
                TemplateProblem {
                    message: format!("default template `preview_text`: {e}"),
                    line: None,
                    column: None,
                }
            })?;
        engine.html.register_template("preview_text", preview);
        Ok(engine)
    }

    /// The defaults, compiled on first use; an error means a built-in template is broken.
    pub fn defaults() -> Result<&'static EmailEngine, TemplateProblem> {
        ENGINE.as_ref().map_err(Clone::clone)
    }

    fn register(&mut self, template: EmailTemplate, compiled: Template) {
        let registry = if template.is_html() {
            &mut self.html
        } else {
            &mut self.text
        };
        registry.register_template(template.registry_name(), compiled);
    }

    fn render_part(
        &self,
        kind: EmailKind,
        part: EmailPart,
        data: &Value,
    ) -> Result<String, handlebars::RenderError> {
        let name = EmailTemplate::Part(kind, part).as_str();
        match part {
            EmailPart::Html => self.html.render(name, data),
            EmailPart::Subject | EmailPart::Text => self.text.render(name, data),
        }
    }

    /// Renders `content` for a tenant with `look`: the subject first, then both bodies (which
    /// may show the subject).
    fn render(
        &self,
        content: &EmailContent,
        look: &TenantLook,
    ) -> Result<RenderedEmail, handlebars::RenderError> {
        let kind = content.kind();
        let subject =
            one_line(&self.render_part(kind, EmailPart::Subject, &content.data(look, None))?);
        let data = content.data(look, Some(&subject));
        Ok(RenderedEmail {
            text: self.render_part(kind, EmailPart::Text, &data)?,
            html: self.render_part(kind, EmailPart::Html, &data)?,
            subject,
        })
    }
}

/// Failures of rendering an e-mail.
#[derive(Debug, thiserror::Error)]
pub enum EmailRenderError {
    /// Even the built-in templates failed (a bug).
    #[error("the built-in e-mail template failed: {0}")]
    Broken(String),
}

/// One tenant's e-mails: the defaults with its overrides, in registries of its own.
#[derive(Debug)]
pub struct TenantEmails {
    slug: String,
    /// `None` when the tenant overrides no e-mail template.
    custom: Option<EmailEngine>,
}

impl TenantEmails {
    /// Compiles the e-mail overrides among `overrides` (a tenant's template overrides, pages
    /// included). An override that no longer passes the checks is skipped with a warning.
    pub fn build(slug: &str, overrides: &BTreeMap<String, String>) -> Self {
        let mut custom: Option<EmailEngine> = None;
        for (name, source) in overrides {
            let Some(TemplateName::Email(template)) = TemplateName::parse(name) else {
                continue;
            };
            let compiled = match pages::compile_checked(TemplateName::Email(template), source) {
                Ok(compiled) => compiled,
                Err(problem) => {
                    tracing::warn!(tenant = %slug, template = %name, problem = %problem, "ignoring an e-mail template override that fails its checks");
                    continue;
                }
            };
            if custom.is_none() {
                match EmailEngine::defaults() {
                    Ok(defaults) => custom = Some(defaults.clone()),
                    Err(_) => break,
                }
            }
            if let Some(engine) = custom.as_mut() {
                engine.register(template, compiled);
            }
        }
        Self {
            slug: slug.to_owned(),
            custom,
        }
    }

    /// Renders `content` with the tenant's branding `look`. If the tenant's templates fail on
    /// this data, the failure is logged and the defaults render the mail instead.
    pub fn render(
        &self,
        content: &EmailContent,
        look: &TenantLook,
    ) -> Result<RenderedEmail, EmailRenderError> {
        if let Some(engine) = &self.custom {
            match engine.render(content, look) {
                Ok(mail) => return Self::bounded(mail),
                Err(e) => {
                    tracing::warn!(tenant = %self.slug, email = %content.kind(), error = %e, "tenant e-mail template failed; rendering the default")
                }
            }
        }
        let engine =
            EmailEngine::defaults().map_err(|e| EmailRenderError::Broken(e.message.clone()))?;
        let mail = engine
            .render(content, look)
            .map_err(|e| EmailRenderError::Broken(e.to_string()))?;
        Self::bounded(mail)
    }

    fn bounded(mail: RenderedEmail) -> Result<RenderedEmail, EmailRenderError> {
        if mail.html.len() > MAX_BODY_BYTES || mail.text.len() > MAX_BODY_BYTES {
            return Err(EmailRenderError::Broken(format!(
                "the e-mail renders to more than {MAX_BODY_BYTES} bytes"
            )));
        }
        Ok(mail)
    }
}

// ---------------------------------------------------------------------------------------------
// Sample data, validation and preview

/// The sample content of `kind`; `full` sets every optional field.
pub fn sample_content(kind: EmailKind, full: bool) -> EmailContent {
    let link = |path: &str| format!("https://id.example.com/t/acme/{path}?token=c2FtcGxlLXRva2Vu");
    match kind {
        EmailKind::Test => EmailContent::Test(TestEmail {
            to: "alice@example.com".into(),
            requested_at: "2026-11-28 07:21 UTC".into(),
        }),
        EmailKind::VerifyEmail => EmailContent::VerifyEmail(VerifyEmail {
            username: "alice".into(),
            link: link("verify-email"),
            expires_in: "24 hours".into(),
        }),
        EmailKind::PasswordReset => EmailContent::PasswordReset(PasswordReset {
            username: "alice".into(),
            link: link("password-reset"),
            expires_in: "30 minutes".into(),
        }),
        EmailKind::Invitation => EmailContent::Invitation(Invitation {
            username: "alice".into(),
            inviter: full.then(|| "Bob Example".to_owned()),
            link: link("invitation"),
            expires_in: "7 days".into(),
        }),
    }
}

/// The kinds whose mails `template` takes part in.
fn kinds_of(template: EmailTemplate) -> Vec<EmailKind> {
    match template {
        EmailTemplate::Layout => EmailKind::ALL.to_vec(),
        EmailTemplate::Part(kind, _) => vec![kind],
    }
}

/// Checks a tenant's e-mail template (already compiled by the page policy): it renders in
/// strict mode, with every kind it is used by, against both sample variants.
pub(crate) fn validate(template: EmailTemplate, compiled: Template) -> Result<(), TemplateProblem> {
    let mut engine = EmailEngine::defaults()?.clone();
    engine.register(template, compiled);
    for kind in kinds_of(template) {
        for full in [true, false] {
            let look = if full {
                pages::sample_look_for_email()
            } else {
                TenantLook {
                    logo_url: None,
                    css_variables: vec![],
                    ..pages::sample_look_for_email()
                }
            };
            let mail = engine
                .render(&sample_content(kind, full), &look)
                .map_err(|e| pages::problem_from_render(TemplateName::Email(template), &e))?;
            if mail.html.len() > MAX_BODY_BYTES || mail.text.len() > MAX_BODY_BYTES {
                return Err(TemplateProblem {
                    line: None,
                    column: None,
                    message: format!(
                        "the {kind} e-mail renders to more than {MAX_BODY_BYTES} bytes"
                    ),
                });
            }
        }
    }
    Ok(())
}

/// The preview of `template` for a tenant: the sample mail of its kind (the test mail for the
/// layout) rendered with `compiled` in place of the tenant's version and the tenant's `look`.
/// An HTML part or the layout previews as the HTML body; a subject or text part as an HTML page
/// showing that text.
pub(crate) fn preview(
    tenant_emails: &TenantEmails,
    template: EmailTemplate,
    compiled: Template,
    look: &TenantLook,
) -> Result<String, TemplateProblem> {
    let mut engine = match &tenant_emails.custom {
        Some(custom) => custom.clone(),
        None => EmailEngine::defaults()?.clone(),
    };
    engine.register(template, compiled);
    let (kind, part) = match template {
        EmailTemplate::Layout => (EmailKind::Test, EmailPart::Html),
        EmailTemplate::Part(kind, part) => (kind, part),
    };
    let problem =
        |e: handlebars::RenderError| pages::problem_from_render(TemplateName::Email(template), &e);
    let mail = engine
        .render(&sample_content(kind, true), look)
        .map_err(problem)?;
    let text = match part {
        EmailPart::Html => return Ok(mail.html),
        EmailPart::Subject => mail.subject,
        EmailPart::Text => mail.text,
    };
    #[derive(Serialize)]
    struct PreviewText<'a> {
        part: &'a str,
        text: String,
    }
    engine
        .html
        .render(
            "preview_text",
            &PreviewText {
                part: template.as_str(),
                text,
            },
        )
        .map_err(problem)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn look() -> TenantLook {
        pages::sample_look_for_email()
    }

    #[test]
    fn every_default_email_renders_with_its_sample_data() {
        let emails = TenantEmails::build("acme", &BTreeMap::new());
        for kind in EmailKind::ALL {
            for full in [true, false] {
                let mail = emails.render(&sample_content(kind, full), &look()).unwrap();
                assert!(!mail.subject.is_empty() && !mail.subject.contains('\n'));
                assert!(mail.html.contains("Acme Corporation"), "{kind}");
                assert!(mail.text.contains("Acme Corporation"), "{kind}");
            }
        }
    }

    #[test]
    fn html_is_escaped_text_is_not_and_the_subject_stays_on_one_line() {
        let emails = TenantEmails::build("acme", &BTreeMap::new());
        let content = EmailContent::PasswordReset(PasswordReset {
            username: "<b>al&ce</b>\r\nBcc: eve@example.com".into(),
            link: "https://id.example.com/r?a=1&b=2".into(),
            expires_in: "30 minutes".into(),
        });
        let mut overrides = BTreeMap::new();
        overrides.insert(
            "email.password_reset.subject".to_owned(),
            "Reset for {{username}}".to_owned(),
        );
        let custom = TenantEmails::build("acme", &overrides);
        let mail = emails.render(&content, &look()).unwrap();
        assert!(mail.html.contains("&lt;b&gt;al&amp;ce&lt;/b&gt;"));
        // handlebars escapes `=` too; a browser decodes both in the attribute.
        assert!(
            mail.html
                .contains("https://id.example.com/r?a&#x3D;1&amp;b&#x3D;2")
        );
        assert!(mail.text.contains("<b>al&ce</b>"));
        assert!(mail.text.contains("https://id.example.com/r?a=1&b=2"));
        let subject = custom.render(&content, &look()).unwrap().subject;
        assert_eq!(subject, "Reset for <b>al&ce</b> Bcc: eve@example.com");
    }

    #[test]
    fn names_round_trip() {
        for template in EmailTemplate::ALL {
            assert_eq!(EmailTemplate::parse(template.as_str()), Some(template));
            assert!(!template.default_source().is_empty());
        }
        assert_eq!(EmailTemplate::parse("email.nope.html"), None);
    }
}
