//! docs/openapi.yaml against the code: the same routes as ROUTES (method, path and
//! operationId), a valid OpenAPI 3.1 document whose examples match its schemas, exactly
//! the error codes the code can answer, and the failures each operation can meet. (The
//! events test also checks real handler responses against the document's schemas.)

use crate::support::{load_yaml, root, yaml_tool};
use crm_shared::http::ROUTES;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

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
    let documented: BTreeSet<(String, String, String)> = operations(d)
        .into_iter()
        .map(|(m, p, id, _)| (m, p, id))
        .collect();
    let routes: BTreeSet<(String, String, String)> = ROUTES
        .iter()
        .map(|r| (r.method.to_owned(), r.path.to_owned(), r.name.to_owned()))
        .collect();
    let missing: Vec<_> = routes.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&routes).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{DOC} and ROUTES differ: missing from the document {missing:?}; not in ROUTES {extra:?}"
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

/// The error codes the code can answer: string literals given as the code of an ApiError
/// (`ApiError::conflict("EMAIL_TAKEN", ...)`, `Self::new(404, "NOT_FOUND", ...)`,
/// `self.code = "INVALID_QUERY"`).
fn codes_in(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let b = text.as_bytes();
    for (i, _) in text.match_indices('"') {
        let mut j = i + 1;
        while j < b.len() && (b[j].is_ascii_uppercase() || b[j].is_ascii_digit() || b[j] == b'_') {
            j += 1;
        }
        if j >= b.len() || b[j] != b'"' || j - i - 1 < 4 || !b[i + 1].is_ascii_uppercase() {
            continue;
        }
        let mut pre = text[..i].trim_end();
        // `Self::new(404, "CODE"`: skip the status argument.
        if let Some(p) = pre.strip_suffix(',') {
            let p = p.trim_end();
            let q = p.trim_end_matches(|c: char| c.is_ascii_digit());
            if q.len() < p.len() {
                pre = q.trim_end();
            }
        }
        let is_code = pre.ends_with("self.code =")
            || pre.strip_suffix('(').is_some_and(|head| {
                let before_ident =
                    head.trim_end_matches(|c: char| c.is_ascii_alphanumeric() || c == '_');
                before_ident.ends_with("ApiError::")
                    || (before_ident.ends_with("Self::") && head.ends_with("new"))
            });
        if is_code {
            out.insert(text[i + 1..j].to_owned());
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn openapi_error_codes_are_exactly_the_codes_the_code_answers() {
    let mut files = Vec::new();
    rust_files(&root().join("shared/src"), &mut files);
    for f in ["auth", "users", "tickets", "notifier"] {
        rust_files(&root().join("functions").join(f).join("src"), &mut files);
    }
    let mut used = BTreeSet::new();
    for f in &files {
        used.extend(codes_in(&std::fs::read_to_string(f).unwrap()));
    }
    assert!(used.contains("NOT_FOUND") && used.contains("EMAIL_TAKEN"));
    let documented: BTreeSet<String> = doc()["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    let undocumented: Vec<_> = used.difference(&documented).collect();
    let unused: Vec<_> = documented.difference(&used).collect();
    assert!(
        undocumented.is_empty() && unused.is_empty(),
        "ErrorCode in {DOC} differs from the code: not documented {undocumented:?}; no longer used {unused:?}"
    );
}

#[test]
fn the_code_scan_finds_codes_in_every_form() {
    let src = r#"
        ApiError::conflict("EMAIL_TAKEN", "x");
        ApiError::forbidden(
            "FORBIDDEN",
            "y",
        );
        ..Self::new(404, "NOT_FOUND", NOT_FOUND_MESSAGE)
        self.code = "INVALID_QUERY";
        UserType, "userType" { Admin = "ADMIN" }
        #[serde(rename = "TICKET_CREATED")]
    "#;
    assert_eq!(
        codes_in(src),
        ["EMAIL_TAKEN", "FORBIDDEN", "NOT_FOUND", "INVALID_QUERY"]
            .map(String::from)
            .into()
    );
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
        let success = statuses.iter().find(|s| s.starts_with('2')).copied();
        assert!(success.is_some(), "{id}: no success response");
    }
}
