//! Every file in events/ goes through its function's handler in-process, exactly as the
//! Lambda runtime would hand it over, and must get the answer its name promises. A file
//! that does not follow the naming rule fails the test, so no event can go untested:
//!
//! - `events/<auth|users|tickets|integrations>/<status>-<what>.json` (a function of
//!   `crm::FUNCTIONS`): an API Gateway HTTP API (payload 2.0) event; parsed by
//!   `lambda_http::request::from_str`, answered by the `Api` service over that function's routes and turned into what
//!   lambda_http sends back; the response must have `<status>`. Its `routeKey` must be one
//!   the template gives that function.
//! - `events/notifier/sqs-<what>.json`: an SQS batch, as the notifier's typed input
//!   (`Invocation`); exactly the records whose messageId starts with `poison-` must be
//!   reported as failures.
//! - `events/notifier/schedule-<what>.json`: the scheduled sweep; it must re-push every
//!   stale outbox event.
//! - `events/dispatcher/sqs-<what>.json`: queued webhook deliveries for the dispatcher's
//!   `handle_input`; exactly the `poison-` records fail. `events/dispatcher/schedule-<what>.json`:
//!   its sweep; it must queue the seeded pending delivery.
//!
//! Placeholders, replaced before parsing: `{{token:<userId>}}` (a fresh access token of a
//! seeded user), `{{ticketId}}` (the seeded ticket), `{{webhookId}}` and `{{deliveryId}}`
//! (the seeded subscription and its delivery of the ticket's creation). Each file runs on a
//! freshly seeded embedded store: admin `admin`, approved `customer1` and `engineer1`,
//! pending `engineer2`, one ticket reported by customer1 and assigned to engineer1, and one
//! webhook subscription to every event with that ticket's creation pending on it.

use crate::support::{logical_id, root, template, template_routes, yaml_tool_with_input};
use crm_notifier::{Notifier, Transport};
use crm_shared::config::Secret;
use crm_shared::http::{Api, authenticate};
use crm_shared::model::{
    Description, Email, Name, Password, Timestamp, Title, UserId, UserStatus, UserType,
};
use crm_shared::queue::Publisher;
use crm_shared::service::{self, Ctx, NewTicket, SignupInput, UserUpdate};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

const SECRET: &str = "events-test-secret-0123456789-abcdefghij";
const PASSWORD: &str = "Customer@12345";

struct World {
    ctx: Arc<Ctx>,
    tokens: BTreeMap<String, String>,
    ticket_id: String,
    webhook_id: String,
    delivery_id: String,
    /// A file the customer attached to a public comment (SPEC §13), in a bucket on moto
    /// behind the POST-policy stand-in, kept alive with the world.
    attachment_id: String,
    _standin: crm_tests::s3_policy::S3PolicyStandIn,
}

fn headers_with(token: &str) -> http::HeaderMap {
    let mut h = http::HeaderMap::new();
    h.insert(
        http::header::AUTHORIZATION,
        format!("Bearer {token}").parse().unwrap(),
    );
    h
}

async fn world() -> World {
    Box::pin(seed()).await
}

async fn seed() -> World {
    let mut ctx = Ctx::new(
        crm_tests::emulator::sqlite_store(),
        &Secret::new(SECRET),
        3600,
        4,
    );
    // The tickets function's bucket (`cloud::attachment_files`), on moto.
    let (files, standin) = crm_tests::attach::cloud_files().await;
    ctx.files = Some(files);
    let id = |s: &str| UserId::parse(s).unwrap();
    service::create_admin(
        &ctx.store,
        &ctx.passwords,
        id("admin"),
        Name::parse("Ada Admin").unwrap(),
        Email::parse("ada@example.com").unwrap(),
        &Password::parse("Admin@1234567").unwrap(),
    )
    .await
    .expect("seeding the admin");
    for (user, kind) in [
        ("customer1", UserType::Customer),
        ("engineer1", UserType::Engineer),
        ("engineer2", UserType::Engineer),
    ] {
        service::signup(
            &ctx,
            SignupInput {
                name: Name::parse(&format!("User {user}")).unwrap(),
                user_id: id(user),
                email: Email::parse(&format!("{user}@example.com")).unwrap(),
                password: Password::parse(PASSWORD).unwrap(),
                user_type: kind,
            },
        )
        .await
        .unwrap_or_else(|e| panic!("seeding {user}: {e}"));
    }
    let mut tokens = BTreeMap::new();
    for (user, kind) in [
        ("admin", UserType::Admin),
        ("customer1", UserType::Customer),
        ("engineer1", UserType::Engineer),
        ("engineer2", UserType::Engineer),
    ] {
        let t = ctx
            .tokens
            .issue(&id(user), kind, Timestamp::now())
            .expect("minting a token");
        tokens.insert(user.to_owned(), t);
    }
    let admin = authenticate(&ctx.tokens, &headers_with(&tokens["admin"])).unwrap();
    service::update_user(
        &ctx,
        &admin,
        "engineer1",
        UserUpdate {
            user_status: Some(UserStatus::Approved),
            ..UserUpdate::default()
        },
    )
    .await
    .expect("approving engineer1");
    let customer = authenticate(&ctx.tokens, &headers_with(&tokens["customer1"])).unwrap();
    let ticket = service::create_ticket(
        &ctx,
        &customer,
        NewTicket {
            title: Title::parse("Printer on fire").unwrap(),
            description: Description::parse("The office printer on floor 3 is on fire.").unwrap(),
            priority: None,
            tags: None,
        },
    )
    .await
    .expect("seeding the ticket");
    assert_eq!(ticket.assignee.as_deref(), Some("engineer1"));
    let hook = service::webhooks::create_webhook(
        &ctx,
        &admin,
        service::webhooks::NewWebhook {
            url: service::webhooks::parse_url(&ctx, "https://hooks.example.com/crm").unwrap(),
            events: vec!["*".into()],
            description: None,
        },
    )
    .await
    .expect("seeding the webhook");
    let created = ctx
        .store
        .outbox_entry_of_ticket(&ticket.id)
        .await
        .expect("the creation's event");
    crm_notifier::integrations::Integrations::default()
        .handle(&ctx.store, &created)
        .await
        .expect("seeding the delivery");
    let tid = crm_shared::model::TicketId::parse(&ticket.id).unwrap();
    let grant = service::grant_upload(
        &ctx,
        &customer,
        &tid,
        service::NewAttachment {
            file_name: crm_shared::attachments::FileName::parse("display.png").unwrap(),
            content_type: crm_shared::attachments::ContentType::parse("image/png").unwrap(),
            size: 4,
        },
    )
    .await
    .expect("seeding an upload grant");
    let (status, body) =
        crm_tests::attach::post_form(&reqwest::Client::new(), &grant.upload, b"\x89PNG").await;
    assert_eq!(status, 204, "seeding an upload: {body}");
    service::add_comment(
        &ctx,
        &customer,
        &tid,
        service::NewComment {
            body: crm_shared::model::CommentBody::parse("The display, as it shows error 254.")
                .unwrap(),
            internal: false,
            attachments: vec![
                crm_shared::attachments::AttachmentId::parse(&grant.attachment_id).unwrap(),
            ],
        },
    )
    .await
    .expect("seeding a comment with a file");
    World {
        ctx: Arc::new(ctx),
        tokens,
        ticket_id: ticket.id,
        webhook_id: hook.webhook.id,
        delivery_id: created.key_id().to_owned(),
        attachment_id: grant.attachment_id,
        _standin: standin,
    }
}

trait OutboxOfTicket {
    async fn outbox_entry_of_ticket(&self, id: &str) -> Option<crm_shared::model::Event>;
}

impl OutboxOfTicket for crm_shared::store::Store {
    async fn outbox_entry_of_ticket(&self, id: &str) -> Option<crm_shared::model::Event> {
        let later = Timestamp::from_millis(Timestamp::now().millis() + 60_000);
        self.stale_outbox(later, 100)
            .await
            .ok()?
            .into_iter()
            .map(|e| e.event)
            .find(|e| e.data.ticket.as_ref().is_some_and(|t| t.id == id))
    }
}

impl World {
    fn fill(&self, raw: &str) -> String {
        let mut text = raw
            .replace("{{ticketId}}", &self.ticket_id)
            .replace("{{webhookId}}", &self.webhook_id)
            .replace("{{deliveryId}}", &self.delivery_id)
            .replace("{{attachmentId}}", &self.attachment_id);
        for (user, token) in &self.tokens {
            text = text.replace(&format!("{{{{token:{user}}}}}"), token);
        }
        text
    }

    fn notifier(&self) -> Notifier {
        Notifier {
            store: self.ctx.store.clone(),
            transport: Transport::log(None),
            publisher: Publisher::Outbox,
            lease_seconds: 90,
            // Everything in the outbox counts as stale, so the sweep has work to show.
            sweep_age_seconds: 0,
            jobs: crm_shared::queue::JobQueue::default(),
            capacity: None,
            integrations: Default::default(),
            replies: None,
        }
    }

    /// The dispatcher over the seeded store; names resolve to nothing (no network here), so
    /// an attempt fails quickly and is recorded.
    fn dispatcher(&self) -> crm_dispatcher::Dispatcher {
        struct NoDns;
        impl crm_dispatcher::Resolve for NoDns {
            fn resolve<'a>(&'a self, _: &'a str) -> crm_dispatcher::resolve::Resolved<'a> {
                Box::pin(async { Err(std::io::Error::other("no DNS in this test")) })
            }
        }
        crm_dispatcher::Dispatcher {
            store: self.ctx.store.clone(),
            client: crm_dispatcher::WebhookClient::new().expect("roots"),
            resolver: std::sync::Arc::new(NoDns),
            policy: crm_dispatcher::Policy::default(),
            queue: Default::default(),
            retry_scale: 1.0,
        }
    }
}

/// Every file under events/, relative to it, sorted.
fn event_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push(p);
            }
        }
    }
    let base = root().join("events");
    let mut out = Vec::new();
    walk(&base, &mut out);
    let mut rel: Vec<PathBuf> = out
        .into_iter()
        .map(|p| p.strip_prefix(&base).unwrap().to_path_buf())
        .collect();
    rel.sort();
    rel
}

enum Kind {
    Api { function: String, status: u16 },
    Sqs,
    Schedule,
    DispatcherSqs,
    DispatcherSchedule,
    IntakeSqs,
}

/// What a file's path promises, or why it breaks the naming rule.
fn classify(rel: &Path) -> Result<Kind, String> {
    let parts: Vec<&str> = rel.iter().map(|s| s.to_str().unwrap()).collect();
    let [dir, file] = parts.as_slice() else {
        return Err("expected events/<function>/<file>.json".into());
    };
    let stem = file
        .strip_suffix(".json")
        .ok_or("event files end in .json")?;
    match *dir {
        api if crm::FUNCTIONS.iter().any(|(name, _)| *name == api) => {
            let (status, what) = stem
                .split_once('-')
                .ok_or("API event names are <status>-<what>.json")?;
            let status: u16 = status
                .parse()
                .ok()
                .filter(|s| (100..600).contains(s))
                .ok_or("API event names start with an HTTP status")?;
            if what.is_empty() {
                return Err("API event names are <status>-<what>.json".into());
            }
            Ok(Kind::Api {
                function: dir.to_string(),
                status,
            })
        }
        "notifier" if stem.starts_with("sqs-") => Ok(Kind::Sqs),
        "notifier" if stem.starts_with("schedule-") => Ok(Kind::Schedule),
        "notifier" => Err("notifier events are sqs-<what>.json or schedule-<what>.json".into()),
        "dispatcher" if stem.starts_with("sqs-") => Ok(Kind::DispatcherSqs),
        "dispatcher" if stem.starts_with("schedule-") => Ok(Kind::DispatcherSchedule),
        "dispatcher" => Err("dispatcher events are sqs-<what>.json or schedule-<what>.json".into()),
        "intake" if stem.starts_with("sqs-") => Ok(Kind::IntakeSqs),
        "intake" => Err("intake events are sqs-<what>.json".into()),
        other => Err(format!(
            "no function {other} (auth, users, tickets, integrations, notifier, dispatcher, intake)"
        )),
    }
}

/// The function's `Api`, as its Lambda serves it (`lambda_api_main!`).
fn api(w: &World, function: &str) -> Api {
    let routes = crm::FUNCTIONS
        .iter()
        .find(|(name, _)| *name == function)
        .map(|(_, routes)| routes())
        .unwrap_or_else(|| panic!("no API function {function}"));
    Api::new(w.ctx.clone(), routes)
}

/// Runs one API event; Ok is the response as `yaml_tool.py responses` checks it against
/// docs/openapi.yaml, Err describes what was wrong.
async fn run_api(function: &str, status: u16, raw: &str) -> Result<Value, String> {
    let w = world().await;
    let text = w.fill(raw);
    if let Some(at) = text.find("{{") {
        return Err(format!(
            "unknown placeholder near {:?}",
            &text[at..(at + 30).min(text.len())]
        ));
    }
    let ev: Value = serde_json::from_str(&text).map_err(|e| format!("not JSON: {e}"))?;
    if ev["version"] != "2.0" {
        return Err("not a payload 2.0 (HTTP API) event".into());
    }
    if ev["rawPath"] != ev["requestContext"]["http"]["path"]
        || ev["routeKey"] != ev["requestContext"]["routeKey"]
    {
        return Err("rawPath/routeKey disagree with requestContext".into());
    }
    let route_key = ev["routeKey"].as_str().unwrap_or_default();
    let owner = template_routes(template())
        .into_iter()
        .find(|(k, _)| k == route_key)
        .map(|(_, f)| f);
    if owner.as_deref() != Some(logical_id(function)) {
        return Err(format!(
            "routeKey {route_key:?} is served by {owner:?} in template.yaml, not {}",
            logical_id(function)
        ));
    }

    let req = lambda_http::request::from_str(&text)
        .map_err(|e| format!("lambda_http cannot parse it: {e}"))?;
    // The operation of docs/openapi.yaml this request is (or $default).
    let (doc_path, doc_method) = match crm::router().find(req.method(), req.uri().path()) {
        Some((r, _)) => (r.path.to_owned(), r.method.as_str().to_lowercase()),
        None => ("$default".to_owned(), req.method().as_str().to_lowercase()),
    };
    // The `Service` a Lambda runs, and what lambda_http makes of its answer.
    let resp = tower_service::Service::call(&mut api(&w, function), req)
        .await
        .unwrap_or_else(|never| match never {});
    let out = lambda_http::IntoResponse::into_response(resp).await;
    let got = out.status().as_u16();
    let body: Value = match out.body() {
        lambda_http::Body::Text(t) => serde_json::from_str(t).map_err(|e| format!("body: {e}"))?,
        other => return Err(format!("not a text body: {other:?}")),
    };
    if got != status {
        return Err(format!("status {got}, expected {status}: {body}"));
    }
    // The envelope of SPEC §1.
    if body["success"] != (status < 400) {
        return Err(format!("success does not match the status: {body}"));
    }
    if status >= 400 && !body["code"].is_string() {
        return Err(format!("an error without a code: {body}"));
    }
    // SPEC §1: either data or a message.
    if status < 400 && body.get("data").is_none() && !body["message"].is_string() {
        return Err(format!("a success without data: {body}"));
    }
    if route_key == "$default"
        && body
            != json!({"success": false, "message": "The requested endpoint doesn't exists.", "code": "NOT_FOUND"})
    {
        return Err(format!("$default must answer SPEC's exact 404: {body}"));
    }
    Ok(json!({"path": doc_path, "method": doc_method, "status": status, "body": body}))
}

/// The notifier's answer to an event, as the Lambda runtime hands it over (typed) and sends
/// the answer back (JSON).
async fn invoke(w: &World, ev: Value) -> Result<Value, String> {
    let invocation: crm_notifier::Invocation =
        serde_json::from_value(ev).map_err(|e| format!("not a notifier event: {e}"))?;
    let answer = w
        .notifier()
        .handle(invocation)
        .await
        .map_err(|e| format!("the invocation failed: {e}"))?;
    serde_json::to_value(answer).map_err(|e| e.to_string())
}

async fn run_sqs(raw: &str) -> Result<(), String> {
    let w = world().await;
    let ev: Value = serde_json::from_str(&w.fill(raw)).map_err(|e| format!("not JSON: {e}"))?;
    let ids: Vec<String> = ev["Records"]
        .as_array()
        .ok_or("no Records")?
        .iter()
        .map(|r| r["messageId"].as_str().unwrap_or_default().to_owned())
        .collect();
    if ids.is_empty() {
        return Err("an empty batch".into());
    }
    let expected: BTreeSet<String> = ids
        .iter()
        .filter(|i| i.starts_with("poison-"))
        .cloned()
        .collect();
    let out = invoke(&w, ev).await?;
    let failed: BTreeSet<String> = out["batchItemFailures"]
        .as_array()
        .ok_or_else(|| format!("not an SqsBatchResponse: {out}"))?
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap_or_default().to_owned())
        .collect();
    if failed != expected {
        return Err(format!("failures {failed:?}, expected {expected:?}"));
    }
    Ok(())
}

async fn run_schedule(raw: &str) -> Result<(), String> {
    let w = world().await;
    // Outbox ages are in milliseconds and a sweep takes items strictly older than its
    // cutoff: let the seeded ticket's event age past "now".
    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    let ev: Value = serde_json::from_str(&w.fill(raw)).map_err(|e| format!("not JSON: {e}"))?;
    let out = invoke(&w, ev).await?;
    let stale = out["stale"]
        .as_u64()
        .ok_or(format!("not a sweep report: {out}"))?;
    if stale == 0 || out["pushed"] != stale {
        return Err(format!(
            "the sweep should re-push the seeded ticket's event: {out}"
        ));
    }
    Ok(())
}

/// An intake batch, message by message through the intake's handler over the seeded store
/// (no S3, no mail channel, no DLQ here): exactly the `poison-` records can never succeed
/// (a command for an unknown user; stored mail with the mail channel off), the others run.
async fn run_intake_sqs(raw: &str) -> Result<(), String> {
    use crm_intake::queue::{DeadLetters, Handled, Intake};
    let w = world().await;
    let ev: aws_lambda_events::event::sqs::SqsEvent =
        serde_json::from_str(&w.fill(raw)).map_err(|e| format!("not an SQS batch: {e}"))?;
    let sdk = crm_tests::emulator::sdk_config().await;
    let intake = Intake {
        ctx: crm_shared::service::Ctx::new(
            w.ctx.store.clone(),
            &crm_shared::config::Secret::new("events-intake-secret-0123456789abcdef"),
            3600,
            4,
        ),
        replies: None,
        mailbox: None,
        dead_letters: DeadLetters {
            client: aws_sdk_sqs::Client::new(&sdk),
            queue_url: "http://127.0.0.1:9/unused".into(),
        },
    };
    for m in &ev.records {
        let id = m.message_id.clone().unwrap_or_default();
        match (intake.message(m).await, id.starts_with("poison-")) {
            (Handled::Done(_), false) => {}
            (Handled::Failed(f), true) if f.is_permanent() => {}
            (other, poison) => {
                return Err(format!("{id}: {other:?} (poison: {poison})"));
            }
        }
    }
    Ok(())
}

async fn run_dispatcher_sqs(raw: &str) -> Result<(), String> {
    let w = world().await;
    let ev: Value = serde_json::from_str(&w.fill(raw)).map_err(|e| format!("not JSON: {e}"))?;
    let expected: BTreeSet<String> = ev["Records"]
        .as_array()
        .ok_or("no Records")?
        .iter()
        .filter_map(|r| r["messageId"].as_str())
        .filter(|i| i.starts_with("poison-"))
        .map(str::to_owned)
        .collect();
    let input: crm_dispatcher::Input =
        serde_json::from_value(ev).map_err(|e| format!("not the dispatcher's input: {e}"))?;
    let crm_dispatcher::Output::Batch(out) = w.dispatcher().handle_input(input).await? else {
        return Err("an SQS batch was taken for a sweep".into());
    };
    let failed: BTreeSet<String> = out
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    if failed != expected {
        return Err(format!("failures {failed:?}, expected {expected:?}"));
    }
    let d = w
        .ctx
        .store
        .get_delivery(&w.webhook_id, &w.delivery_id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("the seeded delivery is gone")?;
    if d.attempts != 1 {
        return Err(format!(
            "the seeded delivery should have one attempt: {d:?}"
        ));
    }
    Ok(())
}

async fn run_dispatcher_schedule(raw: &str) -> Result<(), String> {
    let w = world().await;
    let ev: Value = serde_json::from_str(&w.fill(raw)).map_err(|e| format!("not JSON: {e}"))?;
    let input: crm_dispatcher::Input =
        serde_json::from_value(ev).map_err(|e| format!("not the dispatcher's input: {e}"))?;
    let crm_dispatcher::Output::Sweep(report) = w.dispatcher().handle_input(input).await? else {
        return Err("a schedule was taken for an SQS batch".into());
    };
    if report.due != 1 || report.queued != 1 {
        return Err(format!(
            "the sweep should queue the seeded delivery: {report:?}"
        ));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_file_gets_the_answer_its_name_promises() {
    let files = event_files();
    assert!(!files.is_empty(), "events/ is empty");
    let mut failures = Vec::new();
    let mut responses = Vec::new();
    for rel in &files {
        let raw = std::fs::read_to_string(root().join("events").join(rel)).unwrap();
        let result = match classify(rel) {
            Err(e) => Err(e),
            // Boxed: the futures of a whole seeded world are large for a test thread's stack.
            Ok(Kind::Api { function, status }) => Box::pin(run_api(&function, status, &raw))
                .await
                .map(|r| responses.push(r)),
            Ok(Kind::Sqs) => Box::pin(run_sqs(&raw)).await,
            Ok(Kind::Schedule) => Box::pin(run_schedule(&raw)).await,
            Ok(Kind::DispatcherSqs) => Box::pin(run_dispatcher_sqs(&raw)).await,
            Ok(Kind::DispatcherSchedule) => Box::pin(run_dispatcher_schedule(&raw)).await,
            Ok(Kind::IntakeSqs) => Box::pin(run_intake_sqs(&raw)).await,
        };
        if let Err(e) = result {
            failures.push(format!("events/{}: {e}", rel.display()));
        }
    }
    // The real responses have the shapes docs/openapi.yaml promises.
    let doc = root().join("docs/openapi.yaml");
    if let Err(e) = yaml_tool_with_input(
        &["responses", doc.to_str().unwrap()],
        &Value::Array(responses).to_string(),
    ) {
        failures.push(format!("responses differ from docs/openapi.yaml:\n{e}"));
    }
    assert!(
        failures.is_empty(),
        "{} of {} event files failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

#[test]
fn every_route_and_the_notifier_triggers_have_an_event() {
    let mut route_keys = BTreeSet::new();
    let mut kinds = BTreeSet::new();
    for rel in event_files() {
        match classify(&rel) {
            Ok(Kind::Api { status, .. }) => {
                let ev: Value = serde_json::from_str(
                    &std::fs::read_to_string(root().join("events").join(&rel)).unwrap(),
                )
                .unwrap();
                route_keys.insert(ev["routeKey"].as_str().unwrap_or_default().to_owned());
                if status == 401 {
                    kinds.insert("401");
                }
            }
            Ok(Kind::Sqs) => {
                kinds.insert("sqs");
            }
            Ok(Kind::Schedule) => {
                kinds.insert("schedule");
            }
            Ok(Kind::DispatcherSqs) => {
                kinds.insert("dispatcher sqs");
            }
            Ok(Kind::DispatcherSchedule) => {
                kinds.insert("dispatcher schedule");
            }
            Ok(Kind::IntakeSqs) => {
                kinds.insert("intake sqs");
            }
            Err(_) => {}
        }
    }
    for r in crm::router().routes() {
        let key = crate::support::route_key(r);
        assert!(route_keys.contains(&key), "no event for {key} ({})", r.name);
    }
    assert!(route_keys.contains("$default"), "no event for $default");
    assert_eq!(
        kinds,
        [
            "401",
            "dispatcher schedule",
            "dispatcher sqs",
            "intake sqs",
            "schedule",
            "sqs"
        ]
        .into()
    );
}
