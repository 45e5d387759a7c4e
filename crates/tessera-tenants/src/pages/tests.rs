//! Unit tests of the page engine: validation, rendering, branding checks and tenant isolation.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use serde_json::json;

use super::*;

fn problem(name: &str, source: &str) -> TemplateProblem {
    validate(name, source).expect_err("the template should be refused")
}

fn overrides(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(n, s)| ((*n).to_owned(), (*s).to_owned()))
        .collect()
}

#[test]
fn every_default_template_compiles_and_passes_the_tenant_checks() {
    PageEngine::defaults().expect("the default templates compile");
    for name in TemplateName::ALL {
        assert!(!name.default_source().is_empty(), "{name} has a default");
        validate(name.as_str(), name.default_source())
            .unwrap_or_else(|p| panic!("default {name} refused: {p:?}"));
    }
}

#[test]
fn every_default_page_renders_both_sample_variants() {
    for (page, _) in DEFAULT_PAGES {
        for data in samples(page) {
            let html = render_default(page, &data);
            assert!(html.contains("Acme Corporation"), "{page}: {html}");
            assert!(!html.contains("Something went wrong"), "{page} fell back");
        }
    }
}

#[test]
fn names_outside_the_overridable_set_are_refused() {
    assert_eq!(TemplateName::parse("login"), Some(TemplateName::Login));
    assert_eq!(TemplateName::parse("form_post"), None);
    assert_eq!(TemplateName::parse("../etc/passwd"), None);
    let p = problem("form_post", "<p>hi</p>");
    assert!(p.message.contains("not a template name"), "{p:?}");
}

#[test]
fn syntax_errors_report_line_and_column() {
    let p = problem("error", "{{#> layout}}\n<p>{{message}</p>\n{{/layout}}");
    assert_eq!(p.line, Some(2), "{p:?}");
    assert!(p.column.is_some(), "{p:?}");
    let p = problem(
        "error",
        "{{#> layout}}\n{{#if code}}\n<p>x</p>\n{{/layout}}",
    );
    assert!(p.line.is_some(), "{p:?}");
}

#[test]
fn unknown_variables_are_refused_in_strict_mode() {
    let p = problem("login", "{{#> layout}}\n<p>{{usernme}}</p>\n{{/layout}}");
    assert!(p.message.contains("`usernme`"), "{p:?}");
    assert!(p.message.contains("strict"), "{p:?}");
    assert_eq!(p.line, Some(2), "{p:?}");
    // A variable reached only when an optional field is set is checked too.
    let p = problem(
        "login",
        "{{#> layout}}{{#if error}}{{error.text}}{{/if}}{{/layout}}",
    );
    assert!(p.message.contains("error.text"), "{p:?}");
    // A field of another page is not a field of this one.
    let p = problem("error", "{{#> layout}}{{csrf_token}}{{/layout}}");
    assert!(p.message.contains("csrf_token"), "{p:?}");
}

#[test]
fn optional_fields_may_be_null() {
    validate(
        "logged_out",
        "{{#> layout}}<p>{{message}}</p>{{#if return_uri}}<a href=\"{{return_uri}}\">Back</a>{{/if}}{{/layout}}",
    )
    .unwrap();
}

#[test]
fn unescaped_output_is_refused() {
    for source in [
        "{{#> layout}}{{{message}}}{{/layout}}",
        "{{#> layout}}{{&message}}{{/layout}}",
        "{{#> layout}}{{{{raw}}}}{{{message}}}{{{{/raw}}}}{{{tenant.name}}}{{/layout}}",
    ] {
        let p = problem("error", source);
        assert!(p.message.contains("unescaped"), "{source}: {p:?}");
    }
}

#[test]
fn script_frames_and_base_are_refused_however_written() {
    for source in [
        "{{#> layout}}<script nonce=\"{{page.csp_nonce}}\">alert(1)</script>{{/layout}}",
        "{{#> layout}}<SCRIPT>alert(1)</SCRIPT>{{/layout}}",
        "{{#> layout}}<scr{{!-- split --}}ipt>alert(1)</script>{{/layout}}",
        "{{#> layout}}<{{{{raw}}}}{{{{/raw}}}}script>x</script>{{/layout}}",
        "{{#> layout}}<svg><script>x</script></svg>{{/layout}}",
        "{{#> layout}}<iframe src=\"https://evil.example\"></iframe>{{/layout}}",
        "{{#> layout}}<base href=\"https://evil.example/\">{{/layout}}",
        "{{#> layout}}<link rel=\"stylesheet\" href=\"https://evil.example/x.css\">{{/layout}}",
        "{{#> layout}}<meta http-equiv=\"refresh\" content=\"0;url=https://evil.example\">{{/layout}}",
    ] {
        let p = problem("error", source);
        assert!(
            p.message.contains("not allowed"),
            "{source} accepted or wrong reason: {p:?}"
        );
    }
    let p = problem(
        "error",
        "{{#> layout}}\n<p>ok</p>\n  <script>x</script>{{/layout}}",
    );
    assert_eq!((p.line, p.column), (Some(3), Some(3)), "{p:?}");
}

#[test]
fn element_names_cannot_be_computed() {
    for source in [
        "{{#> layout}}<{{code}}>x{{/layout}}",
        "{{#> layout}}<scr{{code}}>x{{/layout}}",
        "{{#> layout}}<{{#if code}}script{{/if}}>x{{/layout}}",
        "{{#> layout}}{{#if code}}<{{/if}}script>x{{/layout}}",
    ] {
        let p = problem("error", source);
        assert!(p.message.contains("element name"), "{source}: {p:?}");
    }
    // Attribute values and text may be computed.
    validate(
        "error",
        "{{#> layout}}<p class=\"{{code}}\" title={{code}}>{{message}}</p>{{/layout}}",
    )
    .unwrap();
}

#[test]
fn partials_other_than_the_layout_and_decorators_are_refused() {
    for (name, source) in [
        ("error", "{{#> layout}}{{> login}}{{/layout}}"),
        ("error", "{{#> layout}}{{> (lookup . \"x\")}}{{/layout}}"),
        ("layout", "<main>{{> layout}}{{> @partial-block}}</main>"),
        ("layout", "<main>{{> error}}</main>"),
        (
            "error",
            "{{#*inline \"x\"}}{{> x}}{{/inline}}{{#> layout}}{{> x}}{{/layout}}",
        ),
    ] {
        let p = problem(name, source);
        assert!(
            ["only", "decorators", "syntax"]
                .iter()
                .any(|m| p.message.contains(m)),
            "{name}: {source}: {p:?}"
        );
    }
    let p = problem(
        "error",
        "{{#> layout}}1{{/layout}}{{#> layout}}2{{/layout}}{{#> layout}}3{{/layout}}\
         {{#> layout}}4{{/layout}}{{#> layout}}5{{/layout}}",
    );
    assert!(p.message.contains("at most"), "{p:?}");
}

#[test]
fn nested_each_and_deep_nesting_are_refused() {
    let p = problem(
        "consent",
        "{{#> layout}}{{#each scopes}}{{#each @root.scopes}}x{{/each}}{{/each}}{{/layout}}",
    );
    assert!(p.message.contains("nested"), "{p:?}");
    let deep = format!(
        "{{{{#> layout}}}}{}x{}{{{{/layout}}}}",
        "{{#if code}}".repeat(40),
        "{{/if}}".repeat(40)
    );
    let p = problem("error", &deep);
    assert!(p.message.contains("nest at most"), "{p:?}");
    let chain = format!(
        "{{{{#> layout}}}}{{{{#if code}}}}a{}{{{{/if}}}}{{{{/layout}}}}",
        "{{else if code}}b".repeat(40)
    );
    assert!(problem("error", &chain).message.contains("nest at most"));
    let parens = format!(
        "{{{{#> layout}}}}{{{{lookup {}code{}}}}}{{{{/layout}}}}",
        "(lookup ".repeat(12),
        ")".repeat(12)
    );
    problem("error", &parens);
}

/// Hostile sources of the largest accepted size: every one is refused, none overflows the stack
/// of a worker thread.
#[test]
fn hostile_nesting_is_refused_within_a_small_stack() {
    let n = MAX_SOURCE_BYTES;
    let sources = [
        "{{#a}}".repeat(n / 6),
        format!("{}{}", "{{#if a}}".repeat(n / 16), "{{/if}}".repeat(n / 16)),
        format!("{{{{#if a}}}}{}{{{{/if}}}}", "{{else if a}}".repeat(n / 14)),
        format!("{{{{a {}", "(a ".repeat(n / 3 - 2)),
        "{{#>layout}}".repeat(n / 12),
        "{{#*inline \"a\"}}".repeat(n / 18),
        "{{{{raw}}}}".repeat(n / 11),
        format!("{{{{{}}}}}", "[".repeat(n - 4)),
    ];
    for source in sources {
        assert!(source.len() <= MAX_SOURCE_BYTES);
        let refused = std::thread::Builder::new()
            .stack_size(2 * 1024 * 1024)
            .spawn(move || validate("error", &source).is_err())
            .unwrap()
            .join()
            .expect("validation must not overflow the stack");
        assert!(refused);
    }
}

#[test]
fn the_deepest_allowed_nesting_fits_a_small_stack() {
    let source = format!(
        "{{{{#> layout}}}}{}x{}{{{{/layout}}}}",
        "{{#if code}}".repeat(MAX_BLOCK_DEPTH - 1),
        "{{/if}}".repeat(MAX_BLOCK_DEPTH - 1)
    );
    let result = std::thread::Builder::new()
        .stack_size(1024 * 1024)
        .spawn(move || validate("error", &source))
        .unwrap()
        .join()
        .expect("validation must not overflow the stack");
    result.unwrap();
}

#[test]
fn oversized_and_empty_sources_are_refused() {
    let big = format!(
        "{{{{#> layout}}}}{}{{{{/layout}}}}",
        "x".repeat(MAX_SOURCE_BYTES)
    );
    assert!(problem("error", &big).message.contains("at most"));
    assert!(problem("error", "  \n").message.contains("empty"));
}

#[test]
fn the_log_helper_is_not_available() {
    let p = problem("login", "{{#> layout}}{{log csrf_token}}{{/layout}}");
    assert!(p.message.contains("log"), "{p:?}");
}

#[test]
fn values_are_html_escaped() {
    let mut data = sample_data(TemplateName::Login);
    data["username"] = json!("<b onmouseover=\"x\">alice</b>");
    let html = render_default("login", &data);
    assert!(html.contains("&lt;b onmouseover&#x3D;&quot;x&quot;&gt;alice&lt;/b&gt;"));
    assert!(!html.contains("<b onmouseover"));
}

#[test]
fn overrides_apply_to_their_tenant_only() {
    let acme = TenantPages::build(
        "acme",
        &overrides(&[(
            "error",
            "{{#> layout}}<p class=\"acme\">ACME-ERROR {{message}}</p>{{/layout}}",
        )]),
    );
    let globex = TenantPages::build("globex", &BTreeMap::new());
    assert!(acme.is_customized());
    assert!(!globex.is_customized());
    let data = sample_data(TemplateName::Error);
    let mine = acme.render("error", &data);
    assert!(mine.contains("ACME-ERROR"), "{mine}");
    assert!(
        mine.contains("Acme Corporation"),
        "the default layout still wraps it"
    );
    let theirs = globex.render("error", &data);
    assert!(!theirs.contains("ACME-ERROR"));
    assert!(theirs.contains("Error code"), "{theirs}");
    // The override leaves the other pages alone.
    assert!(
        acme.render("login", &sample_data(TemplateName::Login))
            .contains("password")
    );
}

#[test]
fn a_layout_override_wraps_every_page() {
    let pages = TenantPages::build(
        "acme",
        &overrides(&[(
            "layout",
            "<!doctype html><title>{{page.title}}</title><div id=\"brand\">{{tenant.name}}</div>{{> @partial-block}}",
        )]),
    );
    for name in [
        TemplateName::Login,
        TemplateName::Consent,
        TemplateName::Error,
    ] {
        let html = pages.render(name.as_str(), &sample_data(name));
        assert!(
            html.contains("<div id=\"brand\">Acme Corporation</div>"),
            "{html}"
        );
    }
}

#[test]
fn a_template_failing_at_render_time_falls_back_to_the_default() {
    // Stored without validation (straight into the database): `nope` does not exist.
    let pages = TenantPages::build(
        "acme",
        &overrides(&[("error", "{{#> layout}}<p>BROKEN {{nope}}</p>{{/layout}}")]),
    );
    let html = pages.render("error", &sample_data(TemplateName::Error));
    assert!(!html.contains("BROKEN"));
    assert!(html.contains("Error code"), "{html}");
}

#[test]
fn stored_overrides_failing_the_checks_are_ignored() {
    let pages = TenantPages::build(
        "acme",
        &overrides(&[
            ("error", "{{#> layout}}<script>alert(1)</script>{{/layout}}"),
            ("unknown", "<p>x</p>"),
        ]),
    );
    assert!(!pages.is_customized());
    let html = pages.render("error", &sample_data(TemplateName::Error));
    assert!(!html.contains("alert(1)"));
}

#[test]
fn an_unknown_page_renders_the_fallback() {
    let html = render_default("nope", &json!({}));
    assert_eq!(html, FALLBACK_PAGE);
}

#[test]
fn branding_values_that_could_leave_the_style_block_are_refused() {
    let ok = Branding {
        display_name: Some("Acme".into()),
        logo_url: Some("https://cdn.example.com/logo.png?v=2".into()),
        primary_color: Some("#1f6feb".into()),
        background_color: Some("rgba(246, 248, 250, .9)".into()),
        css_variables: [("radius".to_owned(), "calc(100% - 4px)".to_owned())]
            .into_iter()
            .collect(),
    };
    validate_branding(&ok).unwrap();
    for color in [
        "red;}</style><script>alert(1)</script>",
        "{{{x}}}",
        "red; background: url(https://evil)",
        "\"red\"",
        "",
        "red\\9",
    ] {
        let b = Branding {
            primary_color: Some(color.into()),
            ..ok.clone()
        };
        let e = validate_branding(&b).expect_err(color);
        assert!(e.contains("primary_color"), "{e}");
    }
    for url in [
        "http://cdn.example.com/logo.png",
        "javascript:alert(1)",
        "https://x.example/a\"onerror=\"alert(1)",
        "https://x.example/a)b",
        "data:text/html;base64,PHNjcmlwdD4=",
        "data:image/png,notbase64",
    ] {
        let b = Branding {
            logo_url: Some(url.into()),
            ..ok.clone()
        };
        assert!(validate_branding(&b).is_err(), "{url}");
    }
    let b = Branding {
        logo_url: Some("data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=".into()),
        ..ok.clone()
    };
    validate_branding(&b).unwrap();
    for name in ["Upper", "-x", "a;b", "a b", ""] {
        let b = Branding {
            css_variables: [(name.to_owned(), "1px".to_owned())].into_iter().collect(),
            ..ok.clone()
        };
        assert!(validate_branding(&b).is_err(), "{name}");
    }
}

#[test]
fn the_look_drops_unsafe_stored_values() {
    let branding = Branding {
        display_name: None,
        logo_url: Some("javascript:alert(1)".into()),
        primary_color: Some("red;}</style>".into()),
        background_color: Some("#fff".into()),
        css_variables: [
            ("ok".to_owned(), "2px".to_owned()),
            ("bad".to_owned(), "}".to_owned()),
        ]
        .into_iter()
        .collect(),
    };
    let look = TenantLook::of("Acme", &branding);
    assert_eq!(look.name, "Acme");
    assert_eq!(look.logo_url, None);
    assert_eq!(look.primary_color, DEFAULT_PRIMARY_COLOR);
    assert_eq!(look.background_color, "#fff");
    assert_eq!(
        look.css_variables,
        vec![CssVariable {
            name: "ok".into(),
            value: "2px".into()
        }]
    );
}

#[test]
fn page_context_fields_win_over_page_fields() {
    let context = PageContext::new(TenantLook::neutral(), "Sign in", "n0nce");
    let data = context.with(json!({ "page": "spoofed", "username": "alice" }));
    assert_eq!(data["page"]["title"], "Sign in");
    assert_eq!(data["page"]["csp_nonce"], "n0nce");
    assert_eq!(data["tenant"]["name"], "Tessera");
    assert_eq!(data["username"], "alice");
    assert_eq!(data["tenant"]["logo_url"], Value::Null);
}

#[test]
fn samples_carry_two_scopes_and_the_layout_previews_the_login_page() {
    let consent = sample_data(TemplateName::Consent);
    assert_eq!(consent["scopes"].as_array().unwrap().len(), 2);
    assert_eq!(consent["tenant"]["name"], "Acme Corporation");
    let layout = sample_data(TemplateName::Layout);
    assert!(layout.get("csrf_token").is_some());
}
