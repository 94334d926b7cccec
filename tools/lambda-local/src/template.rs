//! template.yaml as this tool reads it: loaded with CloudFormation's short tags in their long
//! form (PyYAML through a small inline script; the workspace has no YAML crate), parameters
//! with their defaults and overrides, and the few intrinsic functions the template uses (Ref,
//! Fn::Sub, Fn::GetAtt) resolved to the names this one-machine stack gives its resources.

use anyhow::{Context, bail};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const LOADER: &str = r#"
import json, sys, yaml
class L(yaml.SafeLoader):
    pass
def tag(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        v = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        v = loader.construct_sequence(node, deep=True)
    else:
        v = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": v}
    if suffix == "GetAtt" and isinstance(v, str):
        return {"Fn::GetAtt": v.split(".", 1)}
    return {"Fn::" + suffix: v}
L.add_multi_constructor("!", tag)
with open(sys.argv[1], encoding="utf-8") as f:
    json.dump(yaml.load(f, Loader=L), sys.stdout)
"#;

/// Loads `path` (YAML with CloudFormation tags) as JSON with `python` (which must have PyYAML).
pub fn load(python: &str, path: &Path) -> anyhow::Result<Value> {
    let out = Command::new(python)
        .arg("-c")
        .arg(LOADER)
        .arg(path)
        .output()
        .with_context(|| format!("running {python} to read {}", path.display()))?;
    if !out.status.success() {
        bail!(
            "reading {} with {python} failed: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    serde_json::from_slice(&out.stdout).context("the template as JSON")
}

/// The values intrinsic functions resolve to in this stack.
#[derive(Debug, Default)]
pub struct Names {
    pub stack: String,
    pub region: String,
    pub params: BTreeMap<String, String>,
    /// Ref of a resource (a table's name, a queue's URL).
    pub refs: BTreeMap<String, String>,
    /// Fn::GetAtt of a resource (a queue's Arn and QueueName).
    pub atts: BTreeMap<(String, String), String>,
}

impl Names {
    /// The template's parameter defaults with `overrides` (Key=Value) on top; an override of
    /// an unknown parameter is an error, as in `sam deploy --parameter-overrides`.
    pub fn new(
        doc: &Value,
        stack: &str,
        region: &str,
        overrides: &[(String, String)],
    ) -> anyhow::Result<Self> {
        let mut params = BTreeMap::new();
        if let Some(ps) = doc["Parameters"].as_object() {
            for (k, p) in ps {
                if let Some(d) = scalar(&p["Default"]) {
                    params.insert(k.clone(), d);
                }
            }
        }
        for (k, v) in overrides {
            if doc["Parameters"].get(k).is_none() {
                bail!("--parameter {k}: the template has no such parameter");
            }
            params.insert(k.clone(), v.clone());
        }
        Ok(Self {
            stack: stack.to_owned(),
            region: region.to_owned(),
            params,
            ..Default::default()
        })
    }

    fn pseudo(&self, name: &str) -> Option<String> {
        Some(match name {
            "AWS::StackName" => self.stack.clone(),
            "AWS::Region" => self.region.clone(),
            "AWS::AccountId" => "123456789012".into(),
            "AWS::Partition" => "aws".into(),
            "AWS::URLSuffix" => "amazonaws.com".into(),
            _ => return None,
        })
    }

    fn reference(&self, name: &str) -> anyhow::Result<String> {
        if let Some(v) = self.params.get(name).or_else(|| self.refs.get(name)) {
            return Ok(v.clone());
        }
        self.pseudo(name)
            .with_context(|| format!("Ref {name}: no parameter or resource of that name here"))
    }

    fn att(&self, res: &str, att: &str) -> anyhow::Result<String> {
        self.atts
            .get(&(res.to_owned(), att.to_owned()))
            .cloned()
            .with_context(|| format!("Fn::GetAtt {res}.{att}: not known here"))
    }

    /// A value as a string, intrinsic functions resolved.
    pub fn resolve(&self, v: &Value) -> anyhow::Result<String> {
        if let Some(s) = scalar(v) {
            return Ok(s);
        }
        if let Some(name) = v.get("Ref").and_then(Value::as_str) {
            return self.reference(name);
        }
        if let Some(s) = v.get("Fn::Sub").and_then(Value::as_str) {
            return self.sub(s);
        }
        if let Some([res, att]) = v
            .get("Fn::GetAtt")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            && let (Some(res), Some(att)) = (res.as_str(), att.as_str())
        {
            return self.att(res, att);
        }
        bail!("unsupported template value {v}")
    }

    fn sub(&self, s: &str) -> anyhow::Result<String> {
        let mut out = String::new();
        let mut rest = s;
        while let Some(i) = rest.find("${") {
            out.push_str(&rest[..i]);
            let after = &rest[i + 2..];
            let end = after
                .find('}')
                .with_context(|| format!("Fn::Sub {s:?}: unclosed ${{"))?;
            let name = &after[..end];
            let value = match name.split_once('.') {
                Some((res, att)) if !name.starts_with("AWS::") => self.att(res, att)?,
                _ => self.reference(name)?,
            };
            out.push_str(&value);
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

/// A string, number or boolean as CloudFormation passes it on (a string).
pub fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The resources of one type, by logical id.
pub fn resources<'a>(doc: &'a Value, ty: &str) -> Vec<(&'a str, &'a Value)> {
    doc["Resources"]
        .as_object()
        .map(|rs| {
            rs.iter()
                .filter(|(_, r)| r["Type"] == ty)
                .map(|(k, r)| (k.as_str(), r))
                .collect()
        })
        .unwrap_or_default()
}

/// An HTTP API route of a function: `ANY` and `$default` as the template spells them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRoute {
    pub method: String,
    pub path: String,
}

/// An SQS event source.
#[derive(Debug, Clone)]
pub struct SqsSource {
    /// The queue's logical id.
    pub queue: String,
    pub batch_size: i32,
    pub report_batch_item_failures: bool,
}

/// A schedule event: its period and the input passed as the event.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub every: Duration,
    pub input: Value,
}

/// One AWS::Serverless::Function, with Globals applied and its environment resolved.
#[derive(Debug, Clone)]
pub struct Function {
    pub logical_id: String,
    pub function_name: String,
    /// The workspace binary (Metadata.BuildProperties.Binary); cargo-lambda's emulator names
    /// the function after it.
    pub binary: String,
    pub memory_mb: u64,
    pub timeout: Duration,
    pub env: Vec<(String, String)>,
    pub log_format: Option<String>,
    pub log_level: Option<String>,
    pub routes: Vec<HttpRoute>,
    pub sqs: Vec<SqsSource>,
    pub schedules: Vec<Schedule>,
}

/// `rate(N minute)` and friends (the only schedule form this tool runs).
pub fn parse_rate(s: &str) -> anyhow::Result<Duration> {
    let inner = s
        .trim()
        .strip_prefix("rate(")
        .and_then(|r| r.strip_suffix(')'))
        .with_context(|| format!("schedule {s:?}: only rate(...) is supported here"))?;
    let (n, unit) = inner
        .trim()
        .split_once(' ')
        .with_context(|| format!("schedule {s:?}: expected rate(N unit)"))?;
    let n: u64 = n
        .parse()
        .with_context(|| format!("schedule {s:?}: bad number"))?;
    let secs = match unit.trim().trim_end_matches('s') {
        "minute" => 60,
        "hour" => 3600,
        "day" => 86400,
        _ => bail!("schedule {s:?}: unknown unit"),
    };
    Ok(Duration::from_secs(n * secs))
}

/// Every function of the template, resolved against `names` (queues and tables must be in
/// `names.refs`/`names.atts` already).
pub fn functions(doc: &Value, names: &Names) -> anyhow::Result<Vec<Function>> {
    let globals = &doc["Globals"]["Function"];
    let mut out = Vec::new();
    for (id, r) in resources(doc, "AWS::Serverless::Function") {
        let p = &r["Properties"];
        let pick = |k: &str| {
            if p.get(k).is_some() {
                &p[k]
            } else {
                &globals[k]
            }
        };
        let binary = r["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .with_context(|| format!("{id}: no Metadata.BuildProperties.Binary"))?
            .to_owned();
        let function_name = match p.get("FunctionName") {
            Some(v) => names.resolve(v)?,
            None => format!("{}-{id}", names.stack),
        };
        let mut env = BTreeMap::new();
        for vars in [
            &globals["Environment"]["Variables"],
            &p["Environment"]["Variables"],
        ] {
            if let Some(vars) = vars.as_object() {
                for (k, v) in vars {
                    env.insert(
                        k.clone(),
                        names
                            .resolve(v)
                            .with_context(|| format!("{id}: environment {k}"))?,
                    );
                }
            }
        }
        let mut routes = Vec::new();
        let mut sqs = Vec::new();
        let mut schedules = Vec::new();
        if let Some(events) = p["Events"].as_object() {
            for (eid, e) in events {
                let ep = &e["Properties"];
                match e["Type"].as_str().unwrap_or_default() {
                    "HttpApi" => routes.push(HttpRoute {
                        method: ep["Method"].as_str().unwrap_or("ANY").to_uppercase(),
                        path: ep["Path"]
                            .as_str()
                            .with_context(|| format!("{id}.{eid}: no Path"))?
                            .to_owned(),
                    }),
                    "SQS" => {
                        let queue = ep["Queue"]["Fn::GetAtt"][0]
                            .as_str()
                            .with_context(|| format!("{id}.{eid}: Queue is not a GetAtt"))?
                            .to_owned();
                        sqs.push(SqsSource {
                            queue,
                            // SQS event sources default to 10.
                            batch_size: ep["BatchSize"].as_i64().unwrap_or(10) as i32,
                            report_batch_item_failures: ep["FunctionResponseTypes"]
                                .as_array()
                                .is_some_and(|a| a.iter().any(|t| t == "ReportBatchItemFailures")),
                        });
                    }
                    "Schedule" => {
                        let input = match ep["Input"].as_str() {
                            Some(s) => serde_json::from_str(s)
                                .with_context(|| format!("{id}.{eid}: Input is not JSON"))?,
                            None => Value::Object(Default::default()),
                        };
                        schedules.push(Schedule {
                            every: parse_rate(ep["Schedule"].as_str().unwrap_or_default())?,
                            input,
                        });
                    }
                    other => bail!("{id}.{eid}: event type {other:?} is not run here"),
                }
            }
        }
        let logging = &p["LoggingConfig"];
        out.push(Function {
            logical_id: id.to_owned(),
            function_name,
            binary,
            memory_mb: pick("MemorySize").as_u64().unwrap_or(128),
            timeout: Duration::from_secs(pick("Timeout").as_u64().unwrap_or(3)),
            env: env.into_iter().collect(),
            log_format: logging["LogFormat"].as_str().map(str::to_owned),
            log_level: logging["ApplicationLogLevel"].as_str().map(str::to_owned),
            routes,
            sqs,
            schedules,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn resolves_refs_subs_and_getatts() {
        let doc = json!({"Parameters": {"P": {"Type": "Number", "Default": 10}}});
        let mut n = Names::new(&doc, "s", "us-east-1", &[]).unwrap();
        n.refs.insert("Q".into(), "http://q".into());
        n.atts.insert(("Q".into(), "Arn".into()), "arn:q".into());
        assert_eq!(n.resolve(&json!({"Ref": "P"})).unwrap(), "10");
        assert_eq!(n.resolve(&json!({"Ref": "Q"})).unwrap(), "http://q");
        assert_eq!(
            n.resolve(&json!({"Fn::Sub": "${AWS::StackName}-auth ${Q.Arn}"}))
                .unwrap(),
            "s-auth arn:q"
        );
        assert_eq!(
            n.resolve(&json!({"Fn::GetAtt": ["Q", "Arn"]})).unwrap(),
            "arn:q"
        );
        assert!(n.resolve(&json!({"Ref": "Nope"})).is_err());
        assert!(Names::new(&doc, "s", "r", &[("X".into(), "1".into())]).is_err());
    }

    #[test]
    fn parses_rates() {
        assert_eq!(
            parse_rate("rate(1 minute)").unwrap(),
            Duration::from_secs(60)
        );
        assert_eq!(
            parse_rate("rate(2 hours)").unwrap(),
            Duration::from_secs(7200)
        );
        assert!(parse_rate("cron(0 * * * ? *)").is_err());
    }
}
