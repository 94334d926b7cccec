//! Dollars: the price table (us-east-1, on demand), what the template deploys each function
//! with (memory, bcrypt cost), and the life of a typical ticket priced from the measured rows.

use std::collections::BTreeMap;

/// Prices per unit, us-east-1, on demand (the sources and their dates are `SOURCES`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prices {
    pub dynamodb_write_unit: f64,
    pub dynamodb_read_unit: f64,
    pub lambda_request: f64,
    /// Arm64 (the template's `Architecture` default), first tier.
    pub lambda_gb_second: f64,
    pub api_request: f64,
    pub sqs_request: f64,
    pub ses_message: f64,
}

pub const PRICES: Prices = Prices {
    dynamodb_write_unit: 0.625 / 1e6,
    dynamodb_read_unit: 0.125 / 1e6,
    lambda_request: 0.20 / 1e6,
    lambda_gb_second: 0.000_013_333_4,
    api_request: 1.00 / 1e6,
    sqs_request: 0.40 / 1e6,
    ses_message: 0.10 / 1000.0,
};

/// The price table as the report names it, with where each price was read and when.
pub const SOURCES: &[(&str, &str, &str)] = &[
    (
        "DynamoDB on-demand write request unit",
        "$0.625 per million",
        "since the on-demand price cut of 1 November 2024 (−50 %): airbyte.com/data-engineering-resources/dynamodb-pricing (21 July 2025), jusdb.com/blog/dynamodb-cost-optimization-a-comprehensive-guide-by-jusdb (19 August 2025)",
    ),
    (
        "DynamoDB on-demand read request unit",
        "$0.125 per million",
        "the same sources",
    ),
    (
        "Lambda requests",
        "$0.20 per million",
        "cloudchipr.com/blog/aws-lambda-pricing (2024); git.mcrn.ar/mariano/lambda_local_runner, docs/lambdas-md/lambda-13-cost.md",
    ),
    (
        "Lambda duration, arm64, first 7.5 billion GB-s a month",
        "$0.0000133334 per GB-s",
        "the same two; billed per started millisecond (aws.amazon.com/lambda/pricing)",
    ),
    (
        "API Gateway HTTP API, first 300 million requests a month",
        "$1.00 per million",
        "awsforengineers.com/blog/aws-api-gateway-pricing-explained (19 May 2025), apigatewaycost.com/aws",
    ),
    (
        "SQS standard queue requests (per 64 KB chunk)",
        "$0.40 per million",
        "cloudburn.io/blog/amazon-sqs-pricing (March 2026), factualminds.com (June 2026)",
    ),
    (
        "SES outbound mail",
        "$0.10 per 1,000 messages",
        "acecloudinterviews.com/tutorials/aws/ses (\"starting at $0.10 per thousand emails\")",
    ),
];

/// The functions of template.yaml, by their resource names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Function {
    Auth,
    Users,
    Tickets,
    Notifier,
    Dispatcher,
}

impl Function {
    pub fn resource(self) -> &'static str {
        match self {
            Function::Auth => "AuthFunction",
            Function::Users => "UsersFunction",
            Function::Tickets => "TicketsFunction",
            Function::Notifier => "NotifierFunction",
            Function::Dispatcher => "DispatcherFunction",
        }
    }

    pub fn binary(self) -> &'static str {
        match self {
            Function::Auth => "crm-auth",
            Function::Users => "crm-users",
            Function::Tickets => "crm-tickets",
            Function::Notifier => "crm-notifier",
            Function::Dispatcher => "crm-dispatcher",
        }
    }
}

/// What invokes a row's function, and so what else is billed per invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// An API Gateway HTTP API request.
    Api,
    /// An SQS message through Lambda's event source: it receives and deletes the message
    /// (one ReceiveMessage and one DeleteMessageBatch per batch; priced at one message a
    /// batch, the most it can cost).
    Queue,
    /// The schedule (EventBridge, not billed per invocation here).
    Schedule,
}

/// What DynamoDB bills for a ConditionCheck in a transaction (of an item under 1 KB), which
/// DynamoDB Local reports at 0: 2 WCU, measured against DynamoDB by
/// paritysuite/dynamodb-conformance (pull request 67, "a standalone ConditionCheck costs 2
/// WCU, billed as write"). Priced, not measured.
pub const CONDITION_CHECK_WCU: f64 = 2.0;

/// SQS requests Lambda's event source makes per message (priced, not measured).
pub const EVENT_SOURCE_SQS_REQUESTS: u32 = 2;

/// What template.yaml deploys with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub memory_mb: BTreeMap<String, u32>,
    pub default_memory_mb: u32,
    pub bcrypt_cost: u32,
    pub architecture: String,
}

impl Template {
    pub fn memory(&self, f: Function) -> u32 {
        self.memory_mb
            .get(f.resource())
            .copied()
            .unwrap_or(self.default_memory_mb)
    }
}

fn indent(l: &str) -> usize {
    l.len() - l.trim_start().len()
}

/// Reads the functions' memory sizes (their own or `Globals`), the `BcryptCost` and
/// `Architecture` defaults from template.yaml's text (line by line: its tags are not plain
/// YAML).
pub fn parse_template(text: &str) -> anyhow::Result<Template> {
    let mut top = "";
    let mut second = String::new();
    let mut memory_mb = BTreeMap::new();
    let mut default_memory_mb = None;
    let mut bcrypt_cost = None;
    let mut architecture = None;
    for line in text.lines() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let value = |key: &str| {
            t.strip_prefix(key)
                .map(|v| v.trim().trim_matches('"').to_owned())
        };
        match indent(line) {
            0 => {
                top = if t.ends_with(':') { t } else { "" };
                second.clear();
            }
            2 => second = t.trim_end_matches(':').to_owned(),
            _ => match (top, second.as_str()) {
                ("Globals:", "Function") => {
                    if let Some(v) = value("MemorySize:") {
                        default_memory_mb = Some(v.parse::<u32>()?);
                    }
                }
                ("Parameters:", "BcryptCost") => {
                    if let Some(v) = value("Default:") {
                        bcrypt_cost = Some(v.parse::<u32>()?);
                    }
                }
                ("Parameters:", "Architecture") => {
                    if let Some(v) = value("Default:") {
                        architecture = Some(v);
                    }
                }
                ("Resources:", name) => {
                    if let Some(v) = value("MemorySize:") {
                        memory_mb.insert(name.to_owned(), v.parse::<u32>()?);
                    }
                }
                _ => {}
            },
        }
    }
    Ok(Template {
        memory_mb,
        default_memory_mb: default_memory_mb
            .ok_or_else(|| anyhow::anyhow!("template.yaml: no Globals.Function.MemorySize"))?,
        bcrypt_cost: bcrypt_cost
            .ok_or_else(|| anyhow::anyhow!("template.yaml: no BcryptCost default"))?,
        architecture: architecture
            .ok_or_else(|| anyhow::anyhow!("template.yaml: no Architecture default"))?,
    })
}

/// GB-seconds of one invocation of `ms` (billed per started millisecond) at `memory_mb`.
pub fn gb_seconds(ms: f64, memory_mb: u32) -> f64 {
    ms.ceil().max(1.0) / 1000.0 * f64::from(memory_mb) / 1024.0
}

/// What one operation uses that is billed.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    pub read_units: f64,
    pub write_units: f64,
    pub lambda_invocations: f64,
    pub gb_seconds: f64,
    pub api_requests: f64,
    pub sqs_requests: f64,
    pub ses_messages: f64,
}

impl Usage {
    pub fn times(self, n: f64) -> Usage {
        Usage {
            read_units: self.read_units * n,
            write_units: self.write_units * n,
            lambda_invocations: self.lambda_invocations * n,
            gb_seconds: self.gb_seconds * n,
            api_requests: self.api_requests * n,
            sqs_requests: self.sqs_requests * n,
            ses_messages: self.ses_messages * n,
        }
    }

    pub fn plus(self, o: Usage) -> Usage {
        Usage {
            read_units: self.read_units + o.read_units,
            write_units: self.write_units + o.write_units,
            lambda_invocations: self.lambda_invocations + o.lambda_invocations,
            gb_seconds: self.gb_seconds + o.gb_seconds,
            api_requests: self.api_requests + o.api_requests,
            sqs_requests: self.sqs_requests + o.sqs_requests,
            ses_messages: self.ses_messages + o.ses_messages,
        }
    }

    /// The bill's lines, in dollars, largest first.
    pub fn dollars(&self, p: &Prices) -> Vec<(&'static str, f64)> {
        let mut v = vec![
            ("DynamoDB writes", self.write_units * p.dynamodb_write_unit),
            ("DynamoDB reads", self.read_units * p.dynamodb_read_unit),
            (
                "Lambda requests",
                self.lambda_invocations * p.lambda_request,
            ),
            ("Lambda duration", self.gb_seconds * p.lambda_gb_second),
            ("API Gateway", self.api_requests * p.api_request),
            ("SQS", self.sqs_requests * p.sqs_request),
            ("SES", self.ses_messages * p.ses_message),
        ];
        v.sort_by(|a, b| b.1.total_cmp(&a.1));
        v
    }

    pub fn total(&self, p: &Prices) -> f64 {
        self.dollars(p).iter().map(|(_, d)| d).sum()
    }
}

/// One step of a ticket's life: a row of the section, so many times.
pub struct Step {
    pub row: &'static str,
    pub times: u32,
}

/// The life of a typical ticket (issue 35): created, 2 updates, 3 comments, closed, read 10
/// times; and every one of those 7 changes mailed (SPEC §4: the notifier's delivery of each
/// event to the reporter, the assignee and every approved admin).
pub const TICKET_LIFE: &[Step] = &[
    Step {
        row: "POST /tickets",
        times: 1,
    },
    Step {
        row: "PUT /tickets/{id} (priority)",
        times: 2,
    },
    Step {
        row: "POST /tickets/{id}/comments",
        times: 3,
    },
    Step {
        row: "PUT /tickets/{id} (close)",
        times: 1,
    },
    Step {
        row: "GET /tickets/{id}",
        times: 10,
    },
    Step {
        row: "notifier: ticket.created",
        times: 1,
    },
    Step {
        row: "notifier: ticket.updated",
        times: 3,
    },
    Step {
        row: "notifier: comment.created",
        times: 3,
    },
];

/// Dollars with the precision that suits the size.
pub fn usd(x: f64) -> String {
    if x >= 100.0 {
        let whole = x.round() as u64;
        let s = whole.to_string();
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            if i > 0 && (s.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        format!("${out}")
    } else if x >= 1.0 {
        format!("${x:.2}")
    } else if x == 0.0 {
        "$0".into()
    } else {
        // Three significant figures.
        let digits = (-x.log10().floor()) as usize + 2;
        format!("${x:.digits$}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = r#"
Parameters:
  Architecture:
    Type: String
    Default: arm64
  BcryptCost:
    Type: Number
    Default: 10
Globals:
  Function:
    Runtime: provided.al2023
    MemorySize: 256
Resources:
  AuthFunction:
    Type: AWS::Serverless::Function
    Properties:
      # bcrypt is deliberate CPU cost
      MemorySize: 512
  UsersFunction:
    Type: AWS::Serverless::Function
    Properties:
      Description: x
  NotifierFunction:
    Properties:
      MemorySize: 128
"#;

    #[test]
    fn the_template_gives_memory_per_function_and_the_bcrypt_cost() {
        let t = parse_template(TEMPLATE).unwrap();
        assert_eq!(t.memory(Function::Auth), 512);
        assert_eq!(t.memory(Function::Users), 256);
        assert_eq!(t.memory(Function::Tickets), 256);
        assert_eq!(t.memory(Function::Notifier), 128);
        assert_eq!(t.bcrypt_cost, 10);
        assert_eq!(t.architecture, "arm64");
        assert!(parse_template("Resources:\n").is_err());
    }

    #[test]
    fn the_real_template_parses() {
        let t = parse_template(include_str!("../../../template.yaml")).unwrap();
        assert!(t.memory(Function::Notifier) >= 128);
    }

    #[test]
    fn duration_is_billed_per_started_millisecond() {
        assert_eq!(gb_seconds(2.1, 1024), 0.003);
        assert_eq!(gb_seconds(0.2, 512), 0.0005);
    }

    #[test]
    fn a_bill_sorts_its_lines() {
        let u = Usage {
            write_units: 10.0,
            ses_messages: 1.0,
            ..Usage::default()
        };
        let d = u.dollars(&PRICES);
        assert_eq!(d[0].0, "SES");
        assert!((u.total(&PRICES) - (0.0001 + 10.0 * 0.625e-6)).abs() < 1e-12);
        assert_eq!(u.times(2.0).plus(u).write_units, 30.0);
    }

    #[test]
    fn dollars_read_well() {
        assert_eq!(usd(2104.4), "$2,104");
        assert_eq!(usd(1234567.0), "$1,234,567");
        assert_eq!(usd(12.345), "$12.35");
        assert_eq!(usd(0.000123456), "$0.000123");
        assert_eq!(usd(0.5), "$0.500");
    }
}
