//! How handlers render HTML pages: through the tenant's snapshot, whose page engine overlays the
//! tenant's template overrides on the built-in templates (`tessera_tenants::pages`), or, before a
//! tenant is known, through the built-in templates alone.

use serde::Serialize;
use serde_json::Value;
use tessera_tenants::TenantSnapshot;
use tessera_tenants::pages::{self, PageContext, PageEngine, TemplateProblem, TenantLook};

/// The page renderer handlers share (as `web::Data<Templates>`). It holds no templates itself:
/// the built-in ones are compiled once per process, each tenant's on its snapshot.
#[derive(Clone, Copy, Debug)]
pub struct Templates {
    _checked: (),
}

impl Templates {
    /// Checks that the built-in templates compile, so a broken one stops startup instead of
    /// failing pages. Templates are embedded and tenant overrides live in the database, so
    /// there is nothing to re-read: `_dev_mode` changes nothing.
    pub fn new(_dev_mode: bool) -> Result<Self, TemplateProblem> {
        PageEngine::defaults()?;
        Ok(Self { _checked: () })
    }

    /// Renders page `name` (`login`, `consent`, `error`, `form_post`, …) of the snapshot's
    /// tenant: `data` holds the page's own fields, and `page` (title, language, CSP nonce) and
    /// `tenant` (branding) are added beside them. Never fails: a broken template is logged and
    /// a fallback rendered.
    pub fn render_page(
        &self,
        snapshot: &TenantSnapshot,
        name: &str,
        title: &str,
        csp_nonce: &str,
        data: Value,
    ) -> String {
        let data = PageContext::new(snapshot.look(), title, csp_nonce).with(data);
        snapshot.render_page(name, &data)
    }

    /// Renders a built-in page with neutral branding, for requests whose tenant is unknown.
    pub fn render_neutral(&self, name: &str, title: &str, csp_nonce: &str, data: Value) -> String {
        let data = PageContext::new(TenantLook::neutral(), title, csp_nonce).with(data);
        pages::render_default(name, &data)
    }

    /// Renders built-in page `name` (`error` or `pages/error`) with neutral branding and no CSP
    /// nonce; the title is `data.title`. Prefer [`Self::render_page`].
    pub fn render<T: Serialize>(&self, name: &str, data: &T) -> String {
        let data = serde_json::to_value(data).unwrap_or(Value::Null);
        let title = data
            .get("title")
            .and_then(Value::as_str)
            .unwrap_or("Error")
            .to_owned();
        let name = name.strip_prefix("pages/").unwrap_or(name);
        self.render_neutral(name, &title, "", data)
    }
}
