//! `GET /openapi.json`: the hand-written OpenAPI 3.1 description of the admin API, compiled in
//! and tested against the route table so a route cannot ship undocumented.

use actix_web::HttpResponse;
use actix_web::http::header::ContentType;

/// The OpenAPI document.
const DOCUMENT: &str = include_str!("../openapi.json");

/// Serves the OpenAPI document; no authentication.
pub(crate) async fn document() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(ContentType::json())
        .body(DOCUMENT)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::Value;

    use super::DOCUMENT;
    use crate::{PREFIX, ROUTES};

    const METHODS: [&str; 8] = [
        "get", "put", "post", "delete", "options", "head", "patch", "trace",
    ];

    fn document() -> Value {
        serde_json::from_str(DOCUMENT).expect("openapi.json is valid JSON")
    }

    fn operations(doc: &Value) -> BTreeSet<(String, String)> {
        let paths = doc["paths"].as_object().expect("a paths object");
        paths
            .iter()
            .flat_map(|(path, item)| {
                METHODS
                    .iter()
                    .filter(|m| item.get(**m).is_some())
                    .map(move |m| ((*m).to_owned(), path.clone()))
            })
            .collect()
    }

    #[test]
    fn document_is_openapi_3_1_with_a_bearer_scheme() {
        let doc = document();
        assert!(
            doc["openapi"]
                .as_str()
                .expect("openapi version")
                .starts_with("3.1.")
        );
        let bearer = &doc["components"]["securitySchemes"]["bearer"];
        assert_eq!(bearer["type"], "http");
        assert_eq!(bearer["scheme"], "bearer");
        assert!(doc["security"][0].get("bearer").is_some());
    }

    #[test]
    fn every_route_is_documented_and_every_documented_route_exists() {
        let documented = operations(&document());
        let registered: BTreeSet<(String, String)> = ROUTES
            .iter()
            .map(|(m, p)| ((*m).to_owned(), format!("{PREFIX}{p}")))
            .collect();
        assert_eq!(
            registered.len(),
            ROUTES.len(),
            "a route is registered twice"
        );
        let undocumented: Vec<_> = registered.difference(&documented).collect();
        assert!(
            undocumented.is_empty(),
            "routes missing from openapi.json: {undocumented:?}"
        );
        let phantom: Vec<_> = documented.difference(&registered).collect();
        assert!(
            phantom.is_empty(),
            "openapi.json documents routes that do not exist: {phantom:?}"
        );
    }

    #[test]
    fn every_protected_operation_documents_its_errors() {
        let doc = document();
        for (method, path) in operations(&doc) {
            let op = &doc["paths"][&path][&method];
            let responses = op["responses"].as_object().expect("responses");
            if op.get("security") == Some(&Value::Array(vec![])) {
                assert!(
                    path.ends_with("/openapi.json"),
                    "{method} {path} is unauthenticated"
                );
                continue;
            }
            for code in ["401", "403", "500", "503"] {
                assert!(responses.contains_key(code), "{method} {path} lacks {code}");
            }
            if path.contains("{slug}") {
                assert!(responses.contains_key("404"), "{method} {path} lacks 404");
            }
            if op.get("requestBody").is_some() {
                for code in ["400", "413"] {
                    assert!(responses.contains_key(code), "{method} {path} lacks {code}");
                }
            }
            assert!(
                responses.keys().any(|c| c.starts_with('2')),
                "{method} {path} has no success response"
            );
        }
    }

    #[test]
    fn every_reference_resolves() {
        fn walk(doc: &Value, node: &Value, refs: &mut usize) {
            match node {
                Value::Object(map) => {
                    if let Some(Value::String(target)) = map.get("$ref") {
                        let pointer = target.strip_prefix('#').expect("a local reference");
                        assert!(doc.pointer(pointer).is_some(), "dangling $ref {target}");
                        *refs += 1;
                    }
                    map.values().for_each(|v| walk(doc, v, refs));
                }
                Value::Array(items) => items.iter().for_each(|v| walk(doc, v, refs)),
                _ => {}
            }
        }
        let doc = document();
        let mut refs = 0;
        walk(&doc, &doc, &mut refs);
        assert!(refs > 0);
    }
}
