//! What the deploy tests share: the workspace root, the test venv's Python (PyYAML,
//! openapi-spec-validator and cfn-lint come with moto[server]) and YAML documents read
//! through it. A missing venv fails the test, it never skips it.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root (template.yaml, events/, docs/).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The venv's python (see `crm_tests::venv_python`).
pub fn python() -> PathBuf {
    crm_tests::venv_python()
}

/// Runs tests/tests/deploy/yaml_tool.py with `args`: its stdout, or Err with its stderr.
pub fn yaml_tool(args: &[&str]) -> Result<String, String> {
    yaml_tool_with_input(args, "")
}

/// Like `yaml_tool`, writing `input` to the script's standard input.
pub fn yaml_tool_with_input(args: &[&str], input: &str) -> Result<String, String> {
    use std::io::Write;
    use std::process::Stdio;
    let script = root().join("tests/tests/deploy/yaml_tool.py");
    let mut child = Command::new(python())
        .arg(&script)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("running {}: {e}", script.display()));
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("writing to yaml_tool.py");
    let out = child.wait_with_output().expect("waiting for yaml_tool.py");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// A YAML file of the workspace (CloudFormation tags allowed) as JSON.
pub fn load_yaml(rel: &str) -> Value {
    let path = root().join(rel);
    let json = yaml_tool(&["json", path.to_str().expect("utf-8 path")])
        .unwrap_or_else(|e| panic!("reading {rel}: {e}"));
    serde_json::from_str(&json).unwrap_or_else(|e| panic!("{rel} as JSON: {e}"))
}

/// template.yaml as JSON, read once per test binary.
pub fn template() -> &'static Value {
    static T: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    T.get_or_init(|| load_yaml("template.yaml"))
}

/// A resource of the template (fails the test when missing).
pub fn resource<'a>(t: &'a Value, name: &str) -> &'a Value {
    t["Resources"]
        .get(name)
        .unwrap_or_else(|| panic!("template.yaml has no resource {name}"))
}

/// The logical id of the function whose folder (under functions/ and events/) is `name`.
pub fn logical_id(name: &str) -> &'static str {
    FUNCTIONS
        .iter()
        .find(|f| f.1 == name)
        .map(|f| f.0)
        .unwrap_or_else(|| panic!("no function {name} in FUNCTIONS"))
}

/// Every route of the API, as its function declares it (crm::FUNCTIONS), with the logical
/// id of that function.
pub fn api_routes() -> Vec<(&'static str, crm_shared::http::Router)> {
    crm::FUNCTIONS
        .iter()
        .map(|(name, routes)| (logical_id(name), routes()))
        .collect()
}

/// The functions: logical id, events/ folder, cargo package dir, binary name.
pub const FUNCTIONS: [(&str, &str, &str, &str); 7] = [
    ("AuthFunction", "auth", "functions/auth", "crm-auth"),
    ("UsersFunction", "users", "functions/users", "crm-users"),
    (
        "TicketsFunction",
        "tickets",
        "functions/tickets",
        "crm-tickets",
    ),
    (
        "NotifierFunction",
        "notifier",
        "functions/notifier",
        "crm-notifier",
    ),
    (
        "IntegrationsFunction",
        "integrations",
        "functions/integrations",
        "crm-integrations",
    ),
    (
        "DispatcherFunction",
        "dispatcher",
        "functions/dispatcher",
        "crm-dispatcher",
    ),
    ("IntakeFunction", "intake", "functions/intake", "crm-intake"),
];

/// Every HttpApi route of the template: (route key, function logical id), e.g.
/// ("GET /{service}/{api}/{version}/users", "UsersFunction") or ("$default", "AuthFunction").
pub fn template_routes(t: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (name, res) in t["Resources"].as_object().expect("Resources") {
        if res["Type"] != "AWS::Serverless::Function" {
            continue;
        }
        let Some(events) = res["Properties"]["Events"].as_object() else {
            continue;
        };
        for ev in events.values() {
            if ev["Type"] != "HttpApi" {
                continue;
            }
            let p = &ev["Properties"];
            assert_eq!(
                p["ApiId"],
                serde_json::json!({"Ref": "HttpApi"}),
                "{name}: every route belongs to the one HttpApi"
            );
            let path = p["Path"].as_str().expect("Path");
            let key = if path == "$default" {
                "$default".to_owned()
            } else {
                format!("{} {path}", p["Method"].as_str().expect("Method"))
            };
            out.push((key, name.clone()));
        }
    }
    out.sort();
    out
}

/// The route key the template must have for a route.
pub fn route_key(r: &crm_shared::http::Route) -> String {
    format!("{} /{{service}}/{{api}}/{{version}}{}", r.method, r.path)
}
