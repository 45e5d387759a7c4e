//! The handlebars registry for HTML pages, built once at startup in strict mode from the
//! templates compiled into the binary (so it runs from any directory).

use handlebars::Handlebars;
use serde::Serialize;

/// The page templates.
#[derive(Debug)]
pub struct Templates {
    registry: Handlebars<'static>,
}

impl Templates {
    /// Builds the registry; `dev_mode` re-reads nothing (templates are embedded) but makes
    /// handlebars report errors verbosely.
    pub fn new(dev_mode: bool) -> Result<Self, handlebars::TemplateError> {
        let mut registry = Handlebars::new();
        registry.set_dev_mode(dev_mode);
        registry.set_strict_mode(true);
        registry.register_partial(
            "layout",
            include_str!("../../../templates/partials/layout.hbs"),
        )?;
        registry.register_template_string(
            "pages/error",
            include_str!("../../../templates/pages/error.hbs"),
        )?;
        Ok(Self { registry })
    }

    /// Renders a page; a render failure yields a plain fallback rather than a panic.
    pub fn render<T: Serialize>(&self, name: &str, data: &T) -> String {
        self.registry.render(name, data).unwrap_or_else(|e| {
            tracing::error!(template = name, error = %e, "template render failed");
            "<!doctype html><title>Error</title><p>Something went wrong.</p>".to_owned()
        })
    }
}
