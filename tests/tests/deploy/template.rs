//! template.yaml against the code: routes vs the route table, the table vs the store's
//! key/index definition, each function's build, logs, tracing and least-privilege IAM, the
//! queue, its dead-letter queue and the alarm, and the JWT secret (a parameter name only).

use crate::support::{
    FUNCTIONS, api_routes, resource, root, route_key, template, template_routes, yaml_tool,
};
use crm_shared::store::schema::{TABLE, table_json};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

#[test]
fn template_routes_match_the_route_table() {
    let t = template();
    let mut want: Vec<(String, String)> = Vec::new();
    for (function, router) in api_routes() {
        for r in router.routes() {
            want.push((route_key(r), function.to_owned()));
        }
    }
    // Everything else (other methods, differently cased literal segments) reaches the auth
    // function, whose shared router answers SPEC's 404.
    want.push(("$default".into(), "AuthFunction".into()));
    want.sort();
    assert_eq!(template_routes(t), want);
}

#[test]
fn http_api_is_payload_v2_with_access_logs() {
    let t = template();
    let api = resource(t, "HttpApi");
    assert_eq!(api["Type"], "AWS::Serverless::HttpApi");
    let logs = &api["Properties"]["AccessLogSettings"];
    assert_eq!(
        logs["DestinationArn"],
        json!({"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]})
    );
    // No PayloadFormatVersion override anywhere: SAM's HttpApi default is 2.0, the format
    // lambda_http's apigw_http feature and events/ use.
    for (_, res) in t["Resources"].as_object().unwrap() {
        for ev in res["Properties"]["Events"]
            .as_object()
            .into_iter()
            .flat_map(|m| m.values())
        {
            assert!(ev["Properties"].get("PayloadFormatVersion").is_none());
        }
    }
}

/// Issue 26 item 3: with `CorsAllowedOrigins` set, API Gateway's CORS configuration allows
/// and exposes what the functions' own preflight does (`crm_shared::http::cors`), so a browser
/// may send an `Idempotency-Key` and read `Idempotent-Replayed` in the cloud too; without it
/// there is none (CORS off).
#[test]
fn http_api_cors_is_conditional_and_says_what_the_functions_say() {
    use crm_shared::http::cors;
    let t = template();
    let api = resource(t, "HttpApi");
    let conf = &api["Properties"]["CorsConfiguration"]["Fn::If"];
    assert_eq!(conf[0], "HasCorsOrigins", "{conf}");
    assert_eq!(conf[2], json!({"Ref": "AWS::NoValue"}));
    assert_eq!(
        t["Conditions"]["HasCorsOrigins"],
        json!({"Fn::Not": [{"Fn::Equals": [{"Ref": "CorsAllowedOrigins"}, ""]}]})
    );
    let on = &conf[1];
    assert_eq!(
        on["AllowOrigins"],
        json!({"Fn::Split": [",", {"Ref": "CorsAllowedOrigins"}]})
    );
    let list = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap_or_else(|| panic!("a list: {v}"))
            .iter()
            .map(|h| h.as_str().expect("a string").to_owned())
            .collect()
    };
    assert_eq!(list(&on["AllowMethods"]), cors::ALLOW_METHODS);
    // Every route's method is allowed.
    for (_, router) in api_routes() {
        for r in router.routes() {
            assert!(cors::ALLOW_METHODS.contains(&r.method.as_str()), "{r:?}");
        }
    }
    assert_eq!(list(&on["AllowHeaders"]), cors::ALLOW_HEADERS);
    assert_eq!(list(&on["ExposeHeaders"]), cors::EXPOSE_HEADERS);
    assert_eq!(on["MaxAge"], json!(cors::MAX_AGE_SECONDS));
    assert!(on.get("AllowCredentials").is_none());
}

/// The template's table in the shape of `crm schema` (schema::table_json()).
fn template_table_as_schema(props: &Value) -> Value {
    let attr_types: BTreeMap<&str, &str> = props["AttributeDefinitions"]
        .as_array()
        .expect("AttributeDefinitions")
        .iter()
        .map(|a| {
            (
                a["AttributeName"].as_str().unwrap(),
                a["AttributeType"].as_str().unwrap(),
            )
        })
        .collect();
    let keys = |schema: &Value| -> (String, String) {
        let mut hash = String::new();
        let mut range = String::new();
        for k in schema.as_array().expect("KeySchema") {
            match k["KeyType"].as_str() {
                Some("HASH") => hash = k["AttributeName"].as_str().unwrap().to_owned(),
                Some("RANGE") => range = k["AttributeName"].as_str().unwrap().to_owned(),
                other => panic!("unexpected KeyType {other:?}"),
            }
        }
        (hash, range)
    };
    let (pk, sk) = keys(&props["KeySchema"]);
    assert_eq!(attr_types.get(pk.as_str()), Some(&"S"), "table pk type");
    assert_eq!(attr_types.get(sk.as_str()), Some(&"S"), "table sk type");
    let gsis: Vec<Value> = props["GlobalSecondaryIndexes"]
        .as_array()
        .expect("GlobalSecondaryIndexes")
        .iter()
        .map(|g| {
            let (gpk, gsk) = keys(&g["KeySchema"]);
            assert_eq!(attr_types.get(gpk.as_str()), Some(&"S"), "{gpk} type");
            json!({
                "name": g["IndexName"],
                "partitionKey": gpk,
                "sortKey": gsk,
                "sortKeyType": attr_types.get(gsk.as_str()).copied().unwrap_or("missing"),
                "projection": g["Projection"]["ProjectionType"],
            })
        })
        .collect();
    // Every attribute definition is a key of the table or an index (CloudFormation refuses
    // unused ones; this keeps the comparison honest).
    let mut used: BTreeSet<&str> = [pk.as_str(), sk.as_str()].into();
    for g in &gsis {
        used.insert(g["partitionKey"].as_str().unwrap());
        used.insert(g["sortKey"].as_str().unwrap());
    }
    assert_eq!(attr_types.keys().copied().collect::<BTreeSet<_>>(), used);
    json!({
        "partitionKey": pk,
        "sortKey": sk,
        "ttlAttribute": props["TimeToLiveSpecification"]["AttributeName"],
        "globalSecondaryIndexes": gsis,
    })
}

#[test]
fn template_table_matches_the_store_schema() {
    let t = template();
    let table = resource(t, "Table");
    assert_eq!(table["Type"], "AWS::DynamoDB::Table");
    let p = &table["Properties"];
    assert_eq!(template_table_as_schema(p), table_json());
    assert_eq!(p["TimeToLiveSpecification"]["Enabled"], true);
    assert_eq!(
        p["TimeToLiveSpecification"]["AttributeName"],
        TABLE.ttl_attribute
    );
    assert_eq!(p["BillingMode"], "PAY_PER_REQUEST");
    assert_eq!(
        p["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
        true
    );
    assert_eq!(
        p["DeletionProtectionEnabled"],
        json!({"Ref": "TableDeletionProtection"})
    );
    assert_eq!(
        t["Parameters"]["TableDeletionProtection"]["Default"],
        "true"
    );
    assert_eq!(table["DeletionPolicy"], "Retain");
}

/// The binary names declared in a crate's Cargo.toml ([[bin]] name = "...").
fn bin_names(crate_dir: &str) -> Vec<String> {
    let text = std::fs::read_to_string(root().join(crate_dir).join("Cargo.toml")).unwrap();
    let mut out = Vec::new();
    let mut in_bin = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_bin = line == "[[bin]]";
        } else if in_bin && let Some(v) = line.strip_prefix("name") {
            out.push(
                v.trim_start_matches([' ', '='])
                    .trim_matches('"')
                    .to_owned(),
            );
        }
    }
    out
}

/// A function's property, with SAM Globals applied.
fn prop<'a>(t: &'a Value, function: &str, name: &str) -> &'a Value {
    let own = &resource(t, function)["Properties"][name];
    if own.is_null() {
        &t["Globals"]["Function"][name]
    } else {
        own
    }
}

#[test]
fn functions_are_rust_lambdas_with_json_logs_and_tracing() {
    let t = template();
    assert_eq!(t["Transform"], "AWS::Serverless-2016-10-31");
    assert_eq!(t["Parameters"]["Architecture"]["Default"], "arm64");
    let mut functions = BTreeSet::new();
    for (name, res) in t["Resources"].as_object().unwrap() {
        if res["Type"] == "AWS::Serverless::Function" {
            functions.insert(name.clone());
        }
    }
    assert_eq!(
        functions,
        FUNCTIONS
            .iter()
            .map(|f| f.0.to_owned())
            .collect::<BTreeSet<_>>()
    );
    for (name, _, crate_dir, bin) in FUNCTIONS {
        let f = resource(t, name);
        assert_eq!(f["Metadata"]["BuildMethod"], "rust-cargolambda", "{name}");
        assert_eq!(f["Metadata"]["BuildProperties"]["Binary"], bin, "{name}");
        assert!(
            bin_names(crate_dir).contains(&bin.to_owned()),
            "{name}: {crate_dir}/Cargo.toml declares no binary {bin}"
        );
        assert_eq!(prop(t, name, "Runtime"), "provided.al2023", "{name}");
        assert_eq!(prop(t, name, "Handler"), "bootstrap", "{name}");
        assert_eq!(
            prop(t, name, "Architectures"),
            &json!([{"Ref": "Architecture"}]),
            "{name}"
        );
        assert_eq!(prop(t, name, "Tracing"), "Active", "{name}");
        let mem = prop(t, name, "MemorySize").as_u64().unwrap();
        let timeout = prop(t, name, "Timeout").as_u64().unwrap();
        assert!((128..=512).contains(&mem), "{name}: {mem} MB");
        assert!((1..=30).contains(&timeout), "{name}: {timeout} s");
        let logging = prop(t, name, "LoggingConfig");
        assert_eq!(logging["LogFormat"], "JSON", "{name}");
        let group = logging["LogGroup"]["Ref"].as_str().expect("LogGroup: !Ref");
        let lg = resource(t, group);
        assert_eq!(lg["Type"], "AWS::Logs::LogGroup", "{name}");
        assert_eq!(
            lg["Properties"]["RetentionInDays"],
            json!({"Ref": "LogRetentionDays"})
        );
    }
}

/// Every IAM statement of a function's inline policies (conditional ones included).
fn statements(t: &Value, function: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let policies = resource(t, function)["Properties"]["Policies"]
        .as_array()
        .unwrap_or_else(|| panic!("{function}: Policies"));
    for p in policies {
        let p = p.as_object().unwrap_or_else(|| {
            panic!("{function}: only inline policy documents (no SAM policy templates)")
        });
        for s in p["Statement"].as_array().unwrap() {
            match s.get("Fn::If") {
                Some(branches) => {
                    out.push(branches[1].clone());
                    if branches[2] != json!({"Ref": "AWS::NoValue"}) {
                        out.push(branches[2].clone());
                    }
                }
                None => out.push(s.clone()),
            }
        }
    }
    out
}

fn as_list(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a.clone(),
        other => vec![other.clone()],
    }
}

/// action → resources, over all Allow statements of a function.
fn grants(t: &Value, function: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for s in statements(t, function) {
        assert_eq!(s["Effect"], "Allow", "{function}: {s}");
        for a in as_list(&s["Action"]) {
            let a = a.as_str().unwrap().to_owned();
            for r in as_list(&s["Resource"]) {
                out.entry(a.clone()).or_default().insert(r.to_string());
            }
        }
    }
    out
}

#[test]
fn each_function_gets_only_the_actions_it_uses() {
    let t = template();
    // What each function's code calls (see docs/deploy.md, "Permissions"): the store maps a
    // one-item write to Put/Update/DeleteItem and several to TransactWriteItems, which IAM
    // authorizes per item with the same actions (there is no TransactWriteItems action).
    let api = ["ssm:GetParameter", "kms:Decrypt"];
    let want: [(&str, &[&str]); 7] = [
        (
            "AuthFunction",
            &[
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
            ],
        ),
        (
            "UsersFunction",
            &[
                "dynamodb:GetItem",
                "dynamodb:Query",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
                "sqs:SendMessage",
                "sqs:GetQueueAttributes",
            ],
        ),
        (
            "TicketsFunction",
            &[
                "dynamodb:GetItem",
                "dynamodb:Query",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:ConditionCheckItem",
                // A ticket's SLA order entry, when a priority change leaves it no
                // resolution due time (SPEC §10).
                "dynamodb:DeleteItem",
                "sqs:SendMessage",
                "sqs:GetQueueAttributes",
                // Attachments (SPEC §13): presigned POSTs into pending/, the linking step's
                // HEAD and copy, presigned GETs; ListBucket for a missing upload's 404.
                "s3:PutObject",
                "s3:GetObject",
                "s3:ListBucket",
            ],
        ),
        (
            "NotifierFunction",
            &[
                "dynamodb:GetItem",
                "dynamodb:Query",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
                "sqs:SendMessage",
                "sqs:GetQueueAttributes",
                "ses:SendEmail",
                "events:PutEvents",
            ],
        ),
        (
            "IntegrationsFunction",
            &[
                "dynamodb:GetItem",
                "dynamodb:Query",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
                "sqs:SendMessage",
            ],
        ),
        (
            "DispatcherFunction",
            &[
                "dynamodb:GetItem",
                "dynamodb:Query",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
                "sqs:SendMessage",
            ],
        ),
        (
            "IntakeFunction",
            &[
                "dynamodb:GetItem",
                "dynamodb:Query",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:ConditionCheckItem",
                "dynamodb:DeleteItem",
                "sqs:SendMessage",
                "sqs:GetQueueAttributes",
                // SES's stored mail (SPEC §9).
                "s3:GetObject",
            ],
        ),
    ];
    let table = json!({"Fn::GetAtt": ["Table", "Arn"]}).to_string();
    let indexes = json!({"Fn::Sub": "${Table.Arn}/index/*"}).to_string();
    let queue = json!({"Fn::GetAtt": ["EventQueue", "Arn"]}).to_string();
    let webhook_queue = json!({"Fn::GetAtt": ["WebhookQueue", "Arn"]}).to_string();
    for (function, actions) in want {
        let g = grants(t, function);
        let mut expected: BTreeSet<String> = actions.iter().map(|a| a.to_string()).collect();
        // The notifier reads the secret for the reply tokens (SPEC §9).
        if function != "DispatcherFunction" {
            expected.extend(api.iter().map(|a| a.to_string()));
        }
        // Which queues a function sends to: the events' (API functions, the notifier's
        // sweep), the webhooks' (the notifier's fan-out, the dispatcher's retries, an
        // admin's retry).
        let queues: BTreeSet<String> = match function {
            "NotifierFunction" => [queue.clone(), webhook_queue.clone()].into(),
            "IntegrationsFunction" | "DispatcherFunction" => [webhook_queue.clone()].into(),
            // Its DLQ takes what can never succeed, with the reason.
            "IntakeFunction" => [
                queue.clone(),
                json!({"Fn::GetAtt": ["IntakeDeadLetterQueue", "Arn"]}).to_string(),
            ]
            .into(),
            _ => [queue.clone()].into(),
        };
        // The integrations function reads only the table's own partitions.
        let queries: BTreeSet<String> = if function == "IntegrationsFunction" {
            [table.clone()].into()
        } else {
            [table.clone(), indexes.clone()].into()
        };
        assert_eq!(
            g.keys().cloned().collect::<BTreeSet<_>>(),
            expected,
            "{function}"
        );
        for (action, resources) in &g {
            assert!(
                !action.contains('*'),
                "{function}: wildcard action {action}"
            );
            let want_res: BTreeSet<String> = match action.as_str() {
                "dynamodb:Query" => queries.clone(),
                a if a.starts_with("dynamodb:") => [table.clone()].into(),
                "sqs:SendMessage" => queues.clone(),
                "sqs:GetQueueAttributes" => [queue.clone()].into(),
                "events:PutEvents" => [json!({"Fn::GetAtt": ["EventBus", "Arn"]}).to_string()].into(),
                "ssm:GetParameter" => [json!({"Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${JwtSecretParameterName}"}).to_string()].into(),
                "kms:Decrypt" => [json!({"Ref": "JwtSecretKmsKeyArn"}).to_string()].into(),
                "ses:SendEmail" => [json!({"Fn::Sub": "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/*"}).to_string()].into(),
                "s3:GetObject" if function == "IntakeFunction" => [json!({"Fn::Sub": "${InboundBucket.Arn}/*"}).to_string()].into(),
                "s3:PutObject" | "s3:GetObject" => [
                    json!({"Fn::Sub": "${AttachmentBucket.Arn}/pending/*"}).to_string(),
                    json!({"Fn::Sub": "${AttachmentBucket.Arn}/attachments/*"}).to_string(),
                ]
                .into(),
                "s3:ListBucket" => [json!({"Fn::GetAtt": ["AttachmentBucket", "Arn"]}).to_string()].into(),
                other => panic!("{function}: unexpected action {other}"),
            };
            assert_eq!(resources, &want_res, "{function}: {action}");
        }
    }
    // Conditions that narrow the two statements whose resource cannot be one ARN.
    let notifier = statements(t, "NotifierFunction");
    let ses = notifier
        .iter()
        .find(|s| s["Action"] == "ses:SendEmail")
        .unwrap();
    assert_eq!(
        ses["Condition"]["StringEquals"]["ses:FromAddress"],
        json!({"Ref": "MailFrom"})
    );
    for f in [
        "AuthFunction",
        "UsersFunction",
        "TicketsFunction",
        "IntegrationsFunction",
        "NotifierFunction",
        "IntakeFunction",
    ] {
        let kms = statements(t, f)
            .into_iter()
            .find(|s| s["Action"] == "kms:Decrypt")
            .unwrap();
        assert_eq!(
            kms["Condition"]["StringEquals"]["kms:ViaService"],
            json!({"Fn::Sub": "ssm.${AWS::Region}.amazonaws.com"})
        );
    }
}

#[test]
fn every_iam_action_exists() {
    let t = template();
    let mut by_service: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (f, ..) in FUNCTIONS {
        for a in grants(t, f).keys() {
            let (svc, name) = a.split_once(':').unwrap();
            by_service
                .entry(svc.to_owned())
                .or_default()
                .insert(name.to_lowercase());
        }
    }
    let services: Vec<&str> = by_service.keys().map(String::as_str).collect();
    let known: BTreeMap<String, BTreeSet<String>> = serde_json::from_str(
        &yaml_tool(&["iam-actions", &services.join(",")]).expect("cfn-lint's IAM data"),
    )
    .unwrap();
    for (svc, actions) in &by_service {
        let k = &known[svc];
        assert!(!k.is_empty(), "cfn-lint knows no actions of {svc}");
        for a in actions {
            assert!(k.contains(a), "{svc}:{a} is not an IAM action");
        }
    }
}

#[test]
fn jwt_secret_comes_from_ssm_by_name_only() {
    let t = template();
    let text = std::fs::read_to_string(root().join("template.yaml")).unwrap();
    assert!(
        !text.contains("CRM_JWT_SECRET:"),
        "the secret itself never goes in the template"
    );
    let p = &t["Parameters"]["JwtSecretParameterName"];
    assert_eq!(p["Type"], "String");
    for f in [
        "AuthFunction",
        "UsersFunction",
        "TicketsFunction",
        "IntegrationsFunction",
        // The reply tokens of the mail channel (SPEC §9) are keyed with it.
        "NotifierFunction",
        "IntakeFunction",
    ] {
        assert_eq!(
            resource(t, f)["Properties"]["Environment"]["Variables"]["CRM_JWT_SECRET_PARAMETER"],
            json!({"Ref": "JwtSecretParameterName"}),
            "{f}"
        );
    }
    assert!(
        resource(t, "DispatcherFunction")["Properties"]["Environment"]["Variables"]
            .get("CRM_JWT_SECRET_PARAMETER")
            .is_none(),
        "the dispatcher needs no secret"
    );
}

#[test]
fn every_environment_variable_is_one_the_code_reads() {
    let t = template();
    let config = std::fs::read_to_string(root().join("shared/src/config.rs")).unwrap();
    let mut vars: Vec<(String, String)> = Vec::new();
    let globals = t["Globals"]["Function"]["Environment"]["Variables"]
        .as_object()
        .unwrap();
    vars.extend(globals.keys().map(|k| ("Globals".to_owned(), k.clone())));
    for (f, ..) in FUNCTIONS {
        if let Some(v) = resource(t, f)["Properties"]["Environment"]["Variables"].as_object() {
            vars.extend(v.keys().map(|k| (f.to_owned(), k.clone())));
        }
    }
    for (owner, var) in vars {
        assert!(
            config.contains(&format!("\"{var}\"")),
            "{owner}: {var} is not read by shared/src/config.rs"
        );
    }
    // The functions that require a queue get one.
    for f in ["TicketsFunction", "NotifierFunction"] {
        assert_eq!(
            resource(t, f)["Properties"]["Environment"]["Variables"]["CRM_QUEUE_URL"],
            json!({"Ref": "EventQueue"}),
            "{f}"
        );
    }
    for f in [
        "NotifierFunction",
        "IntegrationsFunction",
        "DispatcherFunction",
    ] {
        assert_eq!(
            resource(t, f)["Properties"]["Environment"]["Variables"]["CRM_WEBHOOK_QUEUE_URL"],
            json!({"Ref": "WebhookQueue"}),
            "{f}"
        );
    }
    // The function that puts on the bus names it; the cloud's webhook rules are SPEC's.
    assert_eq!(
        resource(t, "NotifierFunction")["Properties"]["Environment"]["Variables"]["CRM_EVENT_BUS_NAME"],
        json!({"Ref": "EventBus"})
    );
    for f in ["IntegrationsFunction", "DispatcherFunction"] {
        let vars = &resource(t, f)["Properties"]["Environment"]["Variables"];
        assert_eq!(vars["CRM_WEBHOOK_ALLOW_HTTP"], "false", "{f}");
        assert_eq!(vars["CRM_WEBHOOK_ALLOW_PRIVATE"], "false", "{f}");
    }
}

#[test]
fn queue_dead_letter_queue_schedule_and_alarm() {
    let t = template();
    let q = &resource(t, "EventQueue")["Properties"];
    assert_eq!(
        q["RedrivePolicy"],
        json!({"deadLetterTargetArn": {"Fn::GetAtt": ["EventDeadLetterQueue", "Arn"]}, "maxReceiveCount": 5})
    );
    let timeout = prop(t, "NotifierFunction", "Timeout").as_u64().unwrap();
    let visibility = q["VisibilityTimeout"].as_u64().unwrap();
    assert!(
        visibility >= 6 * timeout,
        "VisibilityTimeout {visibility} < 6 x notifier Timeout {timeout}"
    );
    let events = &resource(t, "NotifierFunction")["Properties"]["Events"];
    let sqs: Vec<&Value> = events
        .as_object()
        .unwrap()
        .values()
        .filter(|e| e["Type"] == "SQS")
        .collect();
    assert_eq!(sqs.len(), 1);
    assert_eq!(
        sqs[0]["Properties"]["Queue"],
        json!({"Fn::GetAtt": ["EventQueue", "Arn"]})
    );
    assert_eq!(
        sqs[0]["Properties"]["FunctionResponseTypes"],
        json!(["ReportBatchItemFailures"])
    );
    let schedule: Vec<&Value> = events
        .as_object()
        .unwrap()
        .values()
        .filter(|e| e["Type"] == "Schedule")
        .collect();
    assert_eq!(schedule.len(), 1);
    let input: Value =
        serde_json::from_str(schedule[0]["Properties"]["Input"].as_str().unwrap()).unwrap();
    assert_eq!(input, json!({"sweep": true}));
    assert!(
        schedule[0]["Properties"]["Schedule"]
            .as_str()
            .unwrap()
            .starts_with("rate(")
    );

    let alarm = &resource(t, "DeadLetterAlarm")["Properties"];
    assert_eq!(alarm["Namespace"], "AWS/SQS");
    assert_eq!(alarm["MetricName"], "ApproximateNumberOfMessagesVisible");
    assert_eq!(alarm["ComparisonOperator"], "GreaterThanThreshold");
    assert_eq!(alarm["Threshold"], 0);
    assert_eq!(
        alarm["Dimensions"],
        json!([{"Name": "QueueName", "Value": {"Fn::GetAtt": ["EventDeadLetterQueue", "QueueName"]}}])
    );
}

#[test]
fn the_webhook_queue_has_its_dead_letter_queue_alarm_and_dispatcher() {
    let t = template();
    let q = &resource(t, "WebhookQueue")["Properties"];
    assert_eq!(
        q["RedrivePolicy"],
        json!({"deadLetterTargetArn": {"Fn::GetAtt": ["WebhookDeadLetterQueue", "Arn"]}, "maxReceiveCount": 5})
    );
    let timeout = prop(t, "DispatcherFunction", "Timeout").as_u64().unwrap();
    // An attempt takes at most 15 s; a batch's attempts run at once.
    assert!(timeout >= 15 + 10, "dispatcher Timeout {timeout}");
    assert!(q["VisibilityTimeout"].as_u64().unwrap() >= 6 * timeout);
    let events = resource(t, "DispatcherFunction")["Properties"]["Events"]
        .as_object()
        .unwrap();
    let sqs: Vec<&Value> = events.values().filter(|e| e["Type"] == "SQS").collect();
    assert_eq!(sqs.len(), 1);
    assert_eq!(
        sqs[0]["Properties"]["Queue"],
        json!({"Fn::GetAtt": ["WebhookQueue", "Arn"]})
    );
    assert_eq!(
        sqs[0]["Properties"]["FunctionResponseTypes"],
        json!(["ReportBatchItemFailures"])
    );
    assert!(sqs[0]["Properties"]["BatchSize"].as_u64().unwrap() <= 10);
    let sweep: Vec<&Value> = events
        .values()
        .filter(|e| e["Type"] == "Schedule")
        .collect();
    assert_eq!(sweep.len(), 1);
    assert_eq!(sweep[0]["Properties"]["Schedule"], "rate(1 minute)");
    let alarm = &resource(t, "WebhookDeadLetterAlarm")["Properties"];
    assert_eq!(
        alarm["Dimensions"],
        json!([{"Name": "QueueName", "Value": {"Fn::GetAtt": ["WebhookDeadLetterQueue", "QueueName"]}}])
    );
    assert_eq!(resource(t, "EventBus")["Type"], "AWS::Events::EventBus");
    assert_eq!(
        t["Outputs"]["EventBusName"]["Value"],
        json!({"Ref": "EventBus"})
    );
}

#[test]
fn outputs_name_the_api_table_and_queues() {
    let t = template();
    let outputs: BTreeSet<&str> = t["Outputs"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        outputs,
        [
            "ApiUrl",
            "TableName",
            "QueueUrl",
            "DeadLetterQueueUrl",
            "WebhookQueueUrl",
            "WebhookDeadLetterQueueUrl",
            "IntakeQueueUrl",
            "IntakeDeadLetterQueueUrl",
            "InboundRuleSetName",
            "EventBusName",
            "AttachmentBucketName"
        ]
        .into()
    );
    assert_eq!(t["Outputs"]["TableName"]["Value"], json!({"Ref": "Table"}));
}

/// SPEC §13: the bucket blocks public access, encrypts at rest, takes only TLS, empties its
/// pending prefix (unlinked uploads) after a day, lets browsers upload from the API's CORS
/// origins, and is the tickets function's `CRM_ATTACHMENT_BUCKET`; ListBucket only for the
/// pending prefix.
#[test]
fn the_attachment_bucket_is_private_encrypted_and_deletes_unlinked_uploads() {
    let t = template();
    let b = &resource(t, "AttachmentBucket")["Properties"];
    for k in [
        "BlockPublicAcls",
        "BlockPublicPolicy",
        "IgnorePublicAcls",
        "RestrictPublicBuckets",
    ] {
        assert_eq!(b["PublicAccessBlockConfiguration"][k], json!(true), "{k}");
    }
    assert_eq!(
        b["OwnershipControls"]["Rules"][0]["ObjectOwnership"],
        "BucketOwnerEnforced"
    );
    assert_eq!(
        b["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
            ["SSEAlgorithm"],
        "AES256"
    );
    let rules = b["LifecycleConfiguration"]["Rules"].as_array().unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0]["Status"], "Enabled");
    assert_eq!(
        rules[0]["Prefix"],
        crm_shared::attachments::files::PENDING_PREFIX
    );
    assert_eq!(rules[0]["ExpirationInDays"], json!(1));
    // 1 day >= the 24 hours a pending item lives.
    const { assert!(crm_shared::store::ATTACHMENT_PENDING_SECONDS <= 86_400) };
    let cors = &b["CorsConfiguration"]["Fn::If"];
    assert_eq!(cors[0], "HasCorsOrigins");
    assert_eq!(
        cors[1]["CorsRules"][0]["AllowedOrigins"],
        json!({"Fn::Split": [",", {"Ref": "CorsAllowedOrigins"}]})
    );
    assert_eq!(
        cors[1]["CorsRules"][0]["AllowedMethods"],
        json!(["POST", "GET"])
    );
    assert_eq!(cors[2], json!({"Ref": "AWS::NoValue"}));
    let policy = &resource(t, "AttachmentBucketPolicy")["Properties"];
    assert_eq!(policy["Bucket"], json!({"Ref": "AttachmentBucket"}));
    let deny = &policy["PolicyDocument"]["Statement"][0];
    assert_eq!(deny["Effect"], "Deny");
    assert_eq!(
        deny["Condition"]["Bool"]["aws:SecureTransport"],
        json!(false)
    );
    let vars = &resource(t, "TicketsFunction")["Properties"]["Environment"]["Variables"];
    assert_eq!(
        vars["CRM_ATTACHMENT_BUCKET"],
        json!({"Ref": "AttachmentBucket"})
    );
    assert_eq!(
        vars["CRM_ATTACHMENT_MAX_BYTES"],
        json!({"Ref": "AttachmentMaxBytes"})
    );
    let list = statements(t, "TicketsFunction")
        .into_iter()
        .find(|s| s["Action"] == "s3:ListBucket")
        .unwrap();
    assert_eq!(
        list["Condition"]["StringLike"]["s3:prefix"],
        json!("pending/*")
    );
}

#[test]
fn samconfig_overrides_name_template_parameters_with_allowed_values() {
    let t = template();
    let path = root().join("samconfig.toml");
    let cfg: Value = serde_json::from_str(
        &yaml_tool(&["toml", path.to_str().unwrap()]).expect("samconfig.toml"),
    )
    .unwrap();
    let mut checked = 0;
    for (env, cmds) in cfg.as_object().unwrap() {
        let Some(overrides) = cmds["deploy"]["parameters"]["parameter_overrides"].as_array() else {
            continue;
        };
        assert_eq!(
            cmds["deploy"]["parameters"]["capabilities"], "CAPABILITY_IAM",
            "{env}"
        );
        for o in overrides {
            let (name, value) = o.as_str().unwrap().split_once('=').unwrap();
            let p = &t["Parameters"][name];
            assert!(p.is_object(), "{env}: {name} is not a template parameter");
            if let Some(allowed) = p["AllowedValues"].as_array() {
                assert!(
                    allowed.iter().any(|a| match a {
                        Value::String(s) => s == value,
                        other => serde_json::from_str::<Value>(value).ok().as_ref() == Some(other),
                    }),
                    "{env}: {name}={value} is not among {allowed:?}"
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 0, "samconfig.toml overrides nothing");
}

#[test]
fn mail_in_has_a_private_expiring_bucket_a_receipt_rule_and_an_intake_queue_with_its_dlq() {
    let t = template();
    let b = &resource(t, "InboundBucket")["Properties"];
    let block = &b["PublicAccessBlockConfiguration"];
    for k in [
        "BlockPublicAcls",
        "BlockPublicPolicy",
        "IgnorePublicAcls",
        "RestrictPublicBuckets",
    ] {
        assert_eq!(block[k], true, "{k}");
    }
    assert_eq!(
        b["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
            ["SSEAlgorithm"],
        "AES256"
    );
    assert_eq!(
        b["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"], 7,
        "stored mail expires after 7 days"
    );
    assert_eq!(
        b["NotificationConfiguration"]["QueueConfigurations"][0]["Queue"],
        json!({"Fn::GetAtt": ["IntakeQueue", "Arn"]})
    );
    let rule = &resource(t, "InboundRule");
    assert_eq!(rule["Condition"], "HasInboundAddress");
    assert_eq!(
        rule["Properties"]["Rule"]["Actions"][0]["S3Action"]["BucketName"],
        json!({"Ref": "InboundBucket"})
    );
    let q = &resource(t, "IntakeQueue")["Properties"];
    assert_eq!(
        q["RedrivePolicy"]["deadLetterTargetArn"],
        json!({"Fn::GetAtt": ["IntakeDeadLetterQueue", "Arn"]})
    );
    let f = &resource(t, "IntakeFunction")["Properties"];
    assert_eq!(
        f["Events"]["Queue"]["Properties"]["FunctionResponseTypes"],
        json!(["ReportBatchItemFailures"])
    );
    assert_eq!(
        f["Environment"]["Variables"]["CRM_INTAKE_DLQ_URL"],
        json!({"Ref": "IntakeDeadLetterQueue"})
    );
    assert_eq!(
        resource(t, "IntakeDeadLetterAlarm")["Properties"]["Dimensions"][0]["Value"],
        json!({"Fn::GetAtt": ["IntakeDeadLetterQueue", "QueueName"]})
    );
}
