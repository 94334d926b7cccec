//! docs/openapi.yaml against the code: the same routes as the functions declare (method, path and
//! operationId), a valid OpenAPI 3.1 document whose examples match its schemas, exactly
//! the error codes the code can answer, and the failures each operation can meet. (The
//! events test also checks real handler responses against the document's schemas.)

use crate::support::{load_yaml, root, yaml_tool};
use crm_shared::ErrorCode;
use serde_json::Value;
use std::collections::BTreeSet;

const DOC: &str = "docs/openapi.yaml";
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "patch", "head", "options", "trace",
];

fn doc() -> &'static Value {
    static D: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    D.get_or_init(|| load_yaml(DOC))
}

/// Every operation: (METHOD, path, operationId, operation).
fn operations(d: &Value) -> Vec<(String, String, String, &Value)> {
    let mut out = Vec::new();
    for (path, item) in d["paths"].as_object().expect("paths") {
        for m in METHODS {
            if let Some(op) = item.get(m) {
                out.push((
                    m.to_uppercase(),
                    path.clone(),
                    op["operationId"].as_str().unwrap_or_default().to_owned(),
                    op,
                ));
            }
        }
    }
    out
}

#[test]
fn openapi_paths_match_the_route_table() {
    let d = doc();
    // (method, path, operationId, public): who may call it is part of the declaration.
    let documented: BTreeSet<(String, String, String, bool)> = operations(d)
        .into_iter()
        .map(|(m, p, id, op)| {
            let public = op.get("security") == Some(&Value::Array(vec![]));
            (m, p, id, public)
        })
        .collect();
    let routes: BTreeSet<(String, String, String, bool)> = crm::router()
        .routes()
        .iter()
        .map(|r| {
            let public = r.access == crm_shared::http::Access::Public;
            (
                r.method.to_string(),
                r.path.to_owned(),
                r.name.to_owned(),
                public,
            )
        })
        .collect();
    let missing: Vec<_> = routes.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&routes).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{DOC} and the routes differ: missing from the document {missing:?}; not a route {extra:?}"
    );
    let server = d["servers"][0]["url"].as_str().unwrap();
    assert!(
        server.ends_with(crm_shared::http::BASE_PATH),
        "the server URL carries the base path: {server}"
    );
}

#[test]
fn openapi_is_a_valid_3_1_document_whose_examples_match_its_schemas() {
    let d = doc();
    assert!(d["openapi"].as_str().unwrap().starts_with("3.1."));
    let path = root().join(DOC);
    let path = path.to_str().unwrap();
    yaml_tool(&["openapi", path]).unwrap_or_else(|e| panic!("{DOC} is not valid: {e}"));
    let count = yaml_tool(&["examples", path]).unwrap_or_else(|e| panic!("{DOC}: {e}"));
    assert!(
        count.trim().parse::<u32>().unwrap() > 20,
        "examples: {count}"
    );
}

#[test]
fn openapi_error_codes_are_exactly_the_codes_the_code_answers() {
    let answered: BTreeSet<String> = ErrorCode::ALL
        .iter()
        .map(|c| c.as_str().to_owned())
        .collect();
    let documented: BTreeSet<String> = doc()["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    let undocumented: Vec<_> = answered.difference(&documented).collect();
    let unknown: Vec<_> = documented.difference(&answered).collect();
    assert!(
        undocumented.is_empty() && unknown.is_empty(),
        "ErrorCode in {DOC} differs from crm_shared::ErrorCode: not documented {undocumented:?}; not in the code {unknown:?}"
    );
}

/// The `code` of every error body found under `v` (examples of the error envelope).
fn example_codes<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::Object(m) => {
            if m.get("success") == Some(&Value::Bool(false))
                && let Some(c) = m.get("code").and_then(Value::as_str)
            {
                out.push(c);
            }
            m.values().for_each(|v| example_codes(v, out));
        }
        Value::Array(a) => a.iter().for_each(|v| example_codes(v, out)),
        _ => {}
    }
}

/// Each operation's error examples name only codes that are sent with that response's status.
#[test]
fn openapi_error_examples_pair_each_code_with_its_status() {
    let mut checked = 0;
    for (method, path, _, op) in operations(doc()) {
        for (status, resp) in op["responses"].as_object().unwrap() {
            let mut codes = Vec::new();
            example_codes(resp, &mut codes);
            for code in codes {
                let c = ErrorCode::ALL
                    .iter()
                    .find(|c| c.as_str() == code)
                    .unwrap_or_else(|| panic!("{method} {path}: unknown code {code}"));
                assert_eq!(
                    status,
                    &c.status().to_string(),
                    "{method} {path}: {code} is sent with {}",
                    c.status()
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 20, "only {checked} error examples name a code");
}

#[test]
fn every_operation_documents_the_failures_it_can_meet() {
    let d = doc();
    for (method, path, id, op) in operations(d) {
        let statuses: BTreeSet<&str> = op["responses"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let public = op.get("security") == Some(&Value::Array(vec![]));
        let mut want = vec!["500", "503"];
        // Input that can be bad: a body, or a path parameter or query.
        if op.get("requestBody").is_some() || path.contains('{') || op.get("parameters").is_some() {
            want.push("400");
        }
        if public {
            assert!(
                path.starts_with("/auth/"),
                "{method} {path}: only auth is public"
            );
        } else {
            want.extend(["401", "403"]);
        }
        if op.get("requestBody").is_some() {
            want.extend(["413", "415"]);
        }
        if path.contains("{ticketId}") || (path.contains("{userId}")) {
            want.push("404");
        }
        for s in want {
            assert!(statuses.contains(s), "{id} ({method} {path}) lacks {s}");
        }
        // A download's success is its redirect (SPEC §13).
        let success = statuses
            .iter()
            .find(|s| s.starts_with('2') || **s == "302")
            .copied();
        assert!(success.is_some(), "{id}: no success response");
    }
}
