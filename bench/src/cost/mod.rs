//! Section 9 (issue 35): what each operation costs. DynamoDB capacity units measured on
//! DynamoDB Local (the metered proxy asks each request for its consumed capacity), beside
//! the floor computed from the items the operation must touch; SQS and SES requests counted
//! at the proxy in front of moto; Lambda GB-seconds from the in-process duration and the
//! template's memory sizes; and the dollars of a ticket's life at us-east-1 prices.
//!
//! A row is an operation: a closure that prepares (not counted) and then measures one call
//! through `World::measure`, returning the needs its floor is made of (rows.rs). A new
//! capability adds its rows there.

mod floor;
mod price;
mod rows;

use crate::fixtures::{self, call_ok, put_user, request};
use crate::proxy::{Proxy, Wire};
use crate::report::{median, ms, ratio, table};
use crm_notifier::{Notifier, Transport};
use crm_shared::model::{Event, Job, UserId, UserType};
use crm_shared::queue::{JobQueue, Publisher};
use crm_shared::service::Ctx;
use crm_shared::store::{Key, keys};
use floor::{Floor, Need, Snapshot};
use http::Method;
use price::{Function, PRICES, Template, Trigger, Usage};
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A user the bench acts as.
#[derive(Debug, Clone)]
pub struct Caller {
    pub id: String,
    pub token: String,
}

impl Caller {
    pub fn key(&self) -> anyhow::Result<Key> {
        user_key(&self.id)
    }
}

pub fn user_key(id: &str) -> anyhow::Result<Key> {
    Ok(keys::user(&UserId::parse(id)?))
}

/// One table with its entry points: `ctx` as the functions run (events and jobs pushed to
/// SQS through the counting proxy), `setup` for what rows prepare outside the measure
/// (events and jobs caught in-process), and the notifier as its Lambda runs.
pub struct World {
    pub table: String,
    pub ctx: Ctx,
    pub setup: Ctx,
    pub notifier: Notifier,
    pub admin: Caller,
    pub cust: Caller,
    events: Mutex<tokio::sync::mpsc::UnboundedReceiver<Event>>,
    jobs: Mutex<tokio::sync::mpsc::UnboundedReceiver<Job>>,
    /// DynamoDB Local directly (the snapshots: not counted).
    scan: aws_sdk_dynamodb::Client,
    ddb: Arc<Proxy>,
    aws: Arc<Proxy>,
}

/// What one measured call did.
pub struct Sample {
    pub ddb: Wire,
    /// SQS and SES requests (moto, through its counting proxy).
    pub aws: Wire,
    pub elapsed: Duration,
    pub before: Snapshot,
    pub after: Snapshot,
}

impl Sample {
    /// The sample with the needs of its floor: what a row returns.
    pub fn needs(self, needs: impl IntoIterator<Item = Need>) -> Run {
        Run {
            sample: self,
            needs: needs.into_iter().collect(),
        }
    }
}

pub struct Run {
    pub sample: Sample,
    pub needs: Vec<Need>,
}

/// Settings of the whole run the rows share.
pub struct Env {
    pub main: World,
    /// A table of its own for the workload jobs, with an engineer capacity of 1 (so a
    /// backlog forms and a departure's tickets have somewhere to go, run after run).
    pub work: World,
    /// An open ticket of `main.cust`, read, updated and commented by the rows.
    pub ticket: String,
    /// Before the main world's first event: where the change feed row's page starts.
    pub feed_since: crm_shared::model::Timestamp,
}

type RowFuture = Pin<Box<dyn Future<Output = anyhow::Result<Run>>>>;

/// One operation of the section.
pub struct Row {
    pub name: &'static str,
    pub function: Function,
    pub trigger: Trigger,
    /// Why its figures are what they are where they are above the floor (hand-written from
    /// the code; the report flags a row above 1.5× whose `why` is empty).
    pub why: &'static str,
    run: Box<dyn Fn(Arc<Env>, usize) -> RowFuture>,
}

/// A row: its name, its function and trigger, why it is above its floor (if it is), and the
/// operation, run once per iteration `i` (a fresh user id or ticket per `i` where it needs
/// one).
pub fn row<F, Fut>(
    name: &'static str,
    function: Function,
    trigger: Trigger,
    why: &'static str,
    f: F,
) -> Row
where
    F: Fn(Arc<Env>, usize) -> Fut + 'static,
    Fut: Future<Output = anyhow::Result<Run>> + 'static,
{
    Row {
        name,
        function,
        trigger,
        why,
        run: Box::new(move |e, i| Box::pin(f(e, i))),
    }
}

impl World {
    async fn new(
        ddb_direct: &str,
        ddb: &Arc<Proxy>,
        aws: &Arc<Proxy>,
        queue_url: &str,
        capacity: Option<i64>,
        bcrypt_cost: u32,
    ) -> anyhow::Result<Self> {
        let table = fixtures::unique("bench-cost");
        let store = fixtures::dynamo_store(&ddb.url, ddb_direct, &table).await?;
        let via_aws = fixtures::sdk_config(&aws.url).await;
        let sqs = aws_sdk_sqs::Client::new(&via_aws);
        let publisher = Publisher::Sqs {
            client: sqs.clone(),
            queue_url: queue_url.to_owned(),
        };
        let job_queue = JobQueue::Sqs {
            client: sqs,
            queue_url: queue_url.to_owned(),
        };
        let secret = fixtures::secret();
        let mut ctx = Ctx::new(store.clone(), &secret, 3600, bcrypt_cost);
        ctx.publisher = publisher.clone();
        ctx.jobs = job_queue.clone();
        ctx.engineer_capacity = capacity;
        let (etx, erx) = tokio::sync::mpsc::unbounded_channel();
        let (jtx, jrx) = tokio::sync::mpsc::unbounded_channel();
        let mut setup = Ctx::new(store.clone(), &secret, 3600, bcrypt_cost);
        setup.publisher = Publisher::Channel(etx);
        setup.jobs = JobQueue::Channel(jtx);
        setup.engineer_capacity = capacity;
        let notifier = Notifier {
            store: store.clone(),
            transport: Transport::Ses {
                client: aws_sdk_sesv2::Client::new(&via_aws),
                from: "no-reply@crm.local".into(),
            },
            publisher,
            lease_seconds: 90,
            // Nothing is stale within the run: the sweep row measures a sweep that finds
            // nothing to push.
            sweep_age_seconds: 3600,
            jobs: job_queue,
            capacity,
            integrations: Default::default(),
            replies: None,
        };
        put_user(&store, "admin", UserType::Admin).await?;
        let admin = Caller {
            id: "admin".into(),
            token: fixtures::token(&ctx, "admin", UserType::Admin),
        };
        let mut w = Self {
            table,
            ctx,
            setup,
            notifier,
            admin,
            cust: Caller {
                id: String::new(),
                token: String::new(),
            },
            events: Mutex::new(erx),
            jobs: Mutex::new(jrx),
            scan: aws_sdk_dynamodb::Client::new(&fixtures::sdk_config(ddb_direct).await),
            ddb: ddb.clone(),
            aws: aws.clone(),
        };
        w.cust = w.signup("cust", UserType::Customer).await?;
        Ok(w)
    }

    /// A request through the functions' glue, as they serve it (measured when inside
    /// `measure`).
    pub async fn api(
        &self,
        method: Method,
        path: &str,
        who: Option<&Caller>,
        body: Option<Value>,
        want: u16,
    ) -> anyhow::Result<Value> {
        let req = request(method, path, who.map(|c| c.token.as_str()), body.as_ref());
        call_ok(&self.ctx, req, want).await
    }

    /// The same through the setup context (its events and jobs stay in-process).
    pub async fn prep(
        &self,
        method: Method,
        path: &str,
        who: Option<&Caller>,
        body: Option<Value>,
        want: u16,
    ) -> anyhow::Result<Value> {
        let req = request(method, path, who.map(|c| c.token.as_str()), body.as_ref());
        call_ok(&self.setup, req, want).await
    }

    /// Signs a user up through the API (bcrypt at the template's cost), not measured.
    pub async fn signup(&self, id: &str, t: UserType) -> anyhow::Result<Caller> {
        let mut body = json!({
            "name": format!("User {id}"),
            "userId": id,
            "email": format!("{id}@bench.example"),
            "password": fixtures::PASSWORD,
        });
        if t != UserType::Customer {
            body["userType"] = json!(t.to_string());
        }
        self.prep(Method::POST, "/auth/signup", None, Some(body), 201)
            .await?;
        Ok(Caller {
            id: id.to_owned(),
            token: fixtures::token(&self.setup, id, t),
        })
    }

    /// An admin sets a user's status, not measured.
    pub async fn set_status(&self, id: &str, status: &str) -> anyhow::Result<()> {
        self.prep(
            Method::PUT,
            &format!("/users/{id}"),
            Some(&self.admin),
            Some(json!({ "userStatus": status })),
            200,
        )
        .await
        .map(|_| ())
    }

    /// A new ticket of `who`, not measured: its id and assignee.
    pub async fn new_ticket(&self, who: &Caller) -> anyhow::Result<(String, Option<String>)> {
        let body = self
            .prep(
                Method::POST,
                "/tickets",
                Some(who),
                Some(json!({"title": rows::TITLE, "description": rows::DESCRIPTION})),
                201,
            )
            .await?;
        let id = body
            .pointer("/data/_id")
            .and_then(Value::as_str)
            .ok_or_else(|| anyhow::anyhow!("no ticket id in {body}"))?
            .to_owned();
        let assignee = body
            .pointer("/data/assignee")
            .and_then(Value::as_str)
            .map(str::to_owned);
        Ok((id, assignee))
    }

    /// The first event the setup context committed that `pred` accepts (others are dropped).
    pub fn event(&self, pred: impl Fn(&Event) -> bool) -> anyhow::Result<Event> {
        let mut rx = self.events.lock().unwrap_or_else(|p| p.into_inner());
        while let Ok(e) = rx.try_recv() {
            if pred(&e) {
                return Ok(e);
            }
        }
        anyhow::bail!("no such event was committed")
    }

    /// The first job the setup context committed that `pred` accepts (others are dropped).
    pub fn job(&self, pred: impl Fn(&Job) -> bool) -> anyhow::Result<Job> {
        let mut rx = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        while let Ok(j) = rx.try_recv() {
            if pred(&j) {
                return Ok(j);
            }
        }
        anyhow::bail!("no such job was committed")
    }

    /// The whole table, strongly consistent, straight from DynamoDB Local (not counted).
    async fn snapshot(&self) -> anyhow::Result<Snapshot> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .scan
                .scan()
                .table_name(&self.table)
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await?;
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        Ok(Snapshot::from_items(&items))
    }

    /// Runs `f` alone and measures it: the DynamoDB, SQS and SES requests it makes, the
    /// capacity they consume, its duration, and the table before and after.
    pub async fn measure<T>(
        &self,
        f: impl Future<Output = anyhow::Result<T>>,
    ) -> anyhow::Result<(T, Sample)> {
        let before = self.snapshot().await?;
        self.ddb.take();
        self.aws.take();
        let t = Instant::now();
        let out = f.await?;
        let elapsed = t.elapsed();
        let ddb = self.ddb.take();
        let aws = self.aws.take();
        let after = self.snapshot().await?;
        Ok((
            out,
            Sample {
                ddb,
                aws,
                elapsed,
                before,
                after,
            },
        ))
    }
}

/// What one run of a row measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Measured {
    pub read: f64,
    pub write: f64,
    pub index_write: f64,
    pub requests: String,
    pub request_count: usize,
    /// Conditional writes refused (DynamoDB Local reports no capacity for them).
    pub refused: usize,
    /// ConditionCheck items in the transactions (DynamoDB Local reports them at 0).
    pub checks: usize,
    pub sqs: usize,
    pub ses: usize,
    pub elapsed: Duration,
}

impl Measured {
    fn of(s: &Sample) -> Self {
        let refused = s
            .ddb
            .errors
            .iter()
            .filter(|(k, _)| k.contains("ConditionalCheckFailed") || k.contains("Canceled"))
            .map(|(_, n)| n)
            .sum();
        Self {
            read: s.ddb.capacity.read(),
            write: s.ddb.capacity.write(),
            index_write: s.ddb.capacity.index_write(),
            requests: s.ddb.dynamodb_summary(),
            request_count: s.ddb.count("dynamodb:"),
            refused,
            checks: s.ddb.checks,
            sqs: s.aws.count("sqs:"),
            ses: s.aws.count("ses:"),
            elapsed: s.elapsed,
        }
    }
}

/// A row's results over its runs (the first, a warm-up, not kept).
pub struct Outcome {
    pub name: &'static str,
    pub function: Function,
    pub trigger: Trigger,
    pub why: &'static str,
    pub runs: Vec<(Measured, Floor)>,
    pub memory_mb: u32,
}

impl Outcome {
    fn last(&self) -> Option<&(Measured, Floor)> {
        self.runs.last()
    }

    pub fn duration(&self) -> Duration {
        median(&self.runs.iter().map(|(m, _)| m.elapsed).collect::<Vec<_>>())
    }

    pub fn gb_seconds(&self) -> f64 {
        price::gb_seconds(self.duration().as_secs_f64() * 1e3, self.memory_mb)
    }

    /// What one operation is billed for (the last run's counts, the median duration).
    /// Write units are priced at the floor where DynamoDB Local reported fewer (it counts
    /// equal-cost items of one transaction once: `render_emulator_gaps`).
    pub fn usage(&self) -> Usage {
        let Some((m, f)) = self.last() else {
            return Usage::default();
        };
        let queue = match self.trigger {
            Trigger::Queue => f64::from(price::EVENT_SOURCE_SQS_REQUESTS),
            _ => 0.0,
        };
        Usage {
            read_units: m.read,
            write_units: m.write.max(f.write) + price::CONDITION_CHECK_WCU * m.checks as f64,
            lambda_invocations: 1.0,
            gb_seconds: self.gb_seconds(),
            api_requests: if self.trigger == Trigger::Api {
                1.0
            } else {
                0.0
            },
            sqs_requests: m.sqs as f64 + queue,
            ses_messages: m.ses as f64,
        }
    }

    /// Whether every run consumed the same units.
    fn steady(&self) -> bool {
        self.runs
            .windows(2)
            .all(|w| w[0].0.read == w[1].0.read && w[0].0.write == w[1].0.write)
    }

    fn above(&self, limit: f64) -> bool {
        self.last().is_some_and(|(m, f)| {
            let over = |measured: f64, floor: f64| {
                if floor == 0.0 {
                    measured > 0.0
                } else {
                    measured / floor > limit
                }
            };
            over(m.read, f.read) || over(m.write, f.write)
        })
    }
}

pub struct Section {
    pub outcomes: Vec<Outcome>,
    pub runs: usize,
    pub template: Template,
    pub admins: usize,
}

pub struct Options {
    pub runs: usize,
    pub template_path: std::path::PathBuf,
}

pub async fn run(ddb_direct: &str, moto: &str, o: &Options) -> anyhow::Result<Section> {
    anyhow::ensure!(o.runs >= 1, "at least one run per row");
    let text = std::fs::read_to_string(&o.template_path)
        .map_err(|e| anyhow::anyhow!("reading {}: {e}", o.template_path.display()))?;
    let template = price::parse_template(&text)?;
    let ddb = Arc::new(Proxy::start_metered(ddb_direct).await?);
    let aws = Arc::new(Proxy::start(moto).await?);
    let queue_url = fixtures::queue(moto, &fixtures::unique("bench-cost")).await?;
    aws_sdk_sesv2::Client::new(&fixtures::sdk_config(moto).await)
        .create_email_identity()
        .email_identity("crm.local")
        .send()
        .await?;
    let feed_since = crm_shared::model::Timestamp::now();
    let main = World::new(
        ddb_direct,
        &ddb,
        &aws,
        &queue_url,
        None,
        template.bcrypt_cost,
    )
    .await?;
    let work = World::new(
        ddb_direct,
        &ddb,
        &aws,
        &queue_url,
        Some(1),
        template.bcrypt_cost,
    )
    .await?;
    // Two approved engineers to assign the main world's tickets to.
    for id in ["eng1", "eng2"] {
        put_user(&main.ctx.store, id, UserType::Engineer).await?;
    }
    let (ticket, _) = main.new_ticket(&main.cust).await?;
    let env = Arc::new(Env {
        main,
        work,
        ticket,
        feed_since,
    });
    let mut outcomes = Vec::new();
    for r in rows::rows() {
        let t = Instant::now();
        let mut runs = Vec::new();
        // Run 0 warms the path up (connections, DynamoDB Local's JIT) and is not kept.
        for i in 0..=o.runs {
            let out = (r.run)(env.clone(), i)
                .await
                .map_err(|e| anyhow::anyhow!("{} (run {i}): {e:#}", r.name))?;
            let f = floor::floor(&out.needs, &out.sample.before, &out.sample.after);
            if i > 0 {
                runs.push((Measured::of(&out.sample), f));
            }
        }
        let oc = Outcome {
            name: r.name,
            function: r.function,
            trigger: r.trigger,
            why: r.why,
            runs,
            memory_mb: template.memory(r.function),
        };
        if let Some((m, f)) = oc.last() {
            eprintln!(
                "crm-bench: cost: {}: {} RCU (floor {}), {} WCU (floor {}), {} in {:.1} s",
                r.name,
                m.read,
                f.read,
                m.write,
                f.write,
                ms(oc.duration()),
                t.elapsed().as_secs_f64()
            );
        }
        outcomes.push(oc);
    }
    for step in price::TICKET_LIFE {
        anyhow::ensure!(
            outcomes.iter().any(|o| o.name == step.row),
            "the ticket's life names a row the section does not have: {}",
            step.row
        );
    }
    let admins = 1;
    Ok(Section {
        outcomes,
        runs: o.runs,
        template,
        admins,
    })
}

fn num(x: f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        format!("{x}")
    }
}

fn vs(measured: f64, floor: f64) -> String {
    if floor == 0.0 && measured == 0.0 {
        "0 / 0".into()
    } else {
        format!(
            "{} / {} ({})",
            num(measured),
            num(floor),
            ratio(measured, floor)
        )
    }
}

pub fn render(s: &Section, out: &mut String) {
    let t = &s.template;
    let _ = writeln!(
        out,
        "Each operation runs {} times after one warm-up run, alone, in-process through the same glue its Lambda runs (`respond` + the function's `handle`; the notifier's `deliver`, `sweep` and `run_job`), on DynamoDB Local through a metered proxy: it adds `\"ReturnConsumedCapacity\": \"INDEXES\"` to every DynamoDB request and sums the `ConsumedCapacity` of the answers, so the product's code is unchanged. SQS and SES (moto) are counted at a proxy of their own. A row is a closure that prepares what it needs (not measured), measures one call and names the items its floor is made of (`bench/src/cost/rows.rs`): a capability that lands adds its rows there, and its steps to the ticket's life (`TICKET_LIFE`, price.rs) when a ticket's life includes it. Before and after each run a strongly consistent scan reads the whole table (not counted): the floor is computed from the items the operation must touch as those scans found them (rules below). The units are the last run's (all runs agree unless a row says otherwise); the duration is the median of the runs, in-process on this machine, and the GB-seconds are that duration, rounded up to the millisecond as Lambda bills it, at the function's memory in template.yaml (auth {} MB, users {} MB, tickets {} MB, notifier {} MB; {}). Users sign in and up at the template's bcrypt cost ({}). The world: one admin, two approved engineers and a customer; the workload rows run in a table of their own with an engineer capacity of 1. One ticket (title {} characters, description {}) is read, updated and commented by the rows; a mail goes to its reporter, its assignee and the one admin.\n",
        s.runs,
        t.memory(Function::Auth),
        t.memory(Function::Users),
        t.memory(Function::Tickets),
        t.memory(Function::Notifier),
        t.architecture,
        t.bcrypt_cost,
        rows::TITLE.chars().count(),
        rows::DESCRIPTION.chars().count(),
    );
    let rows: Vec<Vec<String>> = s
        .outcomes
        .iter()
        .filter_map(|o| {
            let (m, f) = o.last()?;
            let mut name = o.name.to_owned();
            if !o.steady() {
                let (lo, hi) = o.runs.iter().fold((f64::MAX, 0.0f64), |(lo, hi), (m, _)| {
                    (lo.min(m.write), hi.max(m.write))
                });
                let _ = write!(name, " (WCU varied over the runs: {}–{})", num(lo), num(hi));
            }
            let usage = o.usage();
            Some(vec![
                name,
                format!("{} ({} MB)", o.function.binary(), o.memory_mb),
                vs(m.read, f.read),
                vs(m.write, f.write),
                num(m.index_write),
                if m.checks > 0 {
                    format!(
                        "{} ({}; {} ConditionCheck)",
                        m.request_count, m.requests, m.checks
                    )
                } else {
                    format!("{} ({})", m.request_count, m.requests)
                },
                format!("{} / {}", m.sqs, m.ses),
                format!("{} → {:.6}", ms(o.duration()), o.gb_seconds()),
                price::usd(usage.total(&PRICES) * 1e6),
            ])
        })
        .collect();
    out.push_str(&table(
        &[
            "operation",
            "function (memory)",
            "RCU measured / floor",
            "WCU measured / floor",
            "of which index WCU",
            "DynamoDB requests",
            "SQS / SES requests",
            "duration → GB-s",
            "$ per million",
        ],
        &rows,
    ));
    out.push_str("\n*$ per million*: a million of the operation, every line of the price table below (DynamoDB, Lambda requests and duration, API Gateway for an API request, SQS — with the event source's receive and delete for a queued message — and SES).\n\n");

    out.push_str("### How each floor is derived\n\n");
    out.push_str("The floor of an operation is what the items it must touch cost at the cheapest access the contract allows, by DynamoDB's pricing rules: a read of one item costs 1 RCU per 4 KB strongly consistent and 0.5 eventually consistent (a missing item still costs the minimum); a query the sum of the items it returns, rounded up to 4 KB, at the same rates (an index is only ever read eventually consistent); a write 1 WCU per KB of the larger of the item's sizes before and after, 2 in a transaction; and each global secondary index entry the write puts or deletes the same again (a changed index key is a delete and a put; every index projects ALL, so any change rewrites the item's entries), at the transaction's rate inside one, as DynamoDB Local prices them. Sizes are DynamoDB's (attribute names and values), of the items as the scans before and after found them. *Must touch*: the caller's user item, strongly consistent, on every authenticated request (SPEC §2: a demotion, a sign-out or a password change takes effect at once); the items the answer is made of, eventually consistent where a later conditional write or nothing at all depends on them; every item the operation writes, in one transaction only where SPEC asks for one atomic write (a ticket change with its counts, history and event; a user and its email sentinel; an approval and its job), else standard writes.\n\n");
    for o in &s.outcomes {
        let Some((_, f)) = o.last() else { continue };
        let lines: Vec<String> = f.lines.iter().map(|l| l.text.clone()).collect();
        let _ = writeln!(
            out,
            "- **{}** — {} RCU, {} WCU: {}.{}",
            o.name,
            num(f.read),
            num(f.write),
            lines.join("; "),
            if f.problems.is_empty() {
                String::new()
            } else {
                format!(
                    " **Floor items not found: {} — fix the row.**",
                    f.problems.join("; ")
                )
            }
        );
    }
    out.push('\n');

    out.push_str("### Every row above its floor, explained\n\n");
    let mut any = false;
    for o in s.outcomes.iter().filter(|o| o.above(1.0)) {
        any = true;
        let Some((m, f)) = o.last() else { continue };
        let _ = writeln!(
            out,
            "- **{}**{} — RCU {}, WCU {}. {}",
            o.name,
            if o.above(1.5) { " (above 1.5×)" } else { "" },
            vs(m.read, f.read),
            vs(m.write, f.write),
            if o.why.is_empty() {
                "**Not explained: investigate.**"
            } else {
                o.why
            }
        );
    }
    if !any {
        out.push_str("None.\n");
    }
    out.push('\n');
    render_emulator_gaps(s, out);
    render_dollars(s, out);
}

/// Where DynamoDB Local's figures or this machine's durations are not DynamoDB's or
/// Lambda's, and what the section does about it.
fn render_emulator_gaps(s: &Section, out: &mut String) {
    let listed = |f: &dyn Fn(&Measured) -> usize| -> String {
        let v: Vec<String> = s
            .outcomes
            .iter()
            .filter_map(|o| {
                let (m, _) = o.last()?;
                let n = f(m);
                (n > 0).then(|| format!("{} ({n})", o.name))
            })
            .collect();
        if v.is_empty() {
            "none in these rows".into()
        } else {
            v.join(", ")
        }
    };
    out.push_str("### What the emulator and this machine do not show\n\n");
    let _ = writeln!(
        out,
        "- **A ConditionCheck in a transaction**: DynamoDB Local reports it at 0; DynamoDB bills it as a write, 2 WCU for an item under 1 KB (measured against DynamoDB by paritysuite/dynamodb-conformance, pull request 67). The measured columns are DynamoDB Local's; the dollars add {} WCU per check. Rows with one: {}.",
        num(price::CONDITION_CHECK_WCU),
        listed(&|m| m.checks)
    );
    let _ = writeln!(
        out,
        "- **A refused conditional write** (a PutItem whose condition fails, a cancelled transaction) comes back without `ConsumedCapacity`, from DynamoDB Local as from DynamoDB; DynamoDB still bills a refused single-item write. Rows with one: {}.",
        listed(&|m| m.refused)
    );
    out.push_str("- **Index entries of a transactional write**: DynamoDB Local prices them at the transaction's rate (2 per KB, as the table's); we found no AWS page that says either way. The *of which index WCU* column shows how much of each write rides on it.\n");
    let under: Vec<String> = s
        .outcomes
        .iter()
        .filter_map(|o| {
            let (m, f) = o.last()?;
            (m.write < f.write)
                .then(|| format!("{} ({} of {})", o.name, num(m.write), num(f.write)))
        })
        .collect();
    let _ = writeln!(
        out,
        "- **Items of equal cost in one transaction**: DynamoDB Local 3.3.0 reports a TransactWriteItems' write units as if it summed a set of the items' costs: items that cost the same count once (checked on this machine with boto3: two 400-byte puts in one transaction report 2 WCU, three report 2, a 1,500-byte and a 400-byte put 6; DynamoDB bills 2 WCU per KB per item, https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html#transaction-capacity-handling). A ticket change's history entry and change feed item (2 WCU each) are such a pair. The measured column is DynamoDB Local's; the dollars price the floor where it reported less. Rows measured below their floor: {}.",
        if under.is_empty() {
            "none".to_owned()
        } else {
            under.join(", ")
        }
    );
    out.push_str("- **A query that reads nothing** (the sweep's) costs 0 on DynamoDB Local.\n");
    let share = |f: Function| f64::from(s.template.memory(f)) / 1769.0;
    let _ = writeln!(
        out,
        "- **Durations** are in-process on this machine: a whole core, and DynamoDB Local on loopback (not DynamoDB across the region's network). Lambda gives a function CPU in proportion to its memory, a whole vCPU at 1,769 MB (the lambda_local_runner cost guide cited below): {:.0} % of one for auth, {:.0} % for users and tickets, {:.0} % for the notifier. CPU-bound time, bcrypt at cost {} above all, would take ×{:.1} longer in the sign-up and sign-in rows and ×{:.1} in the password row. Those rows are not in a ticket's life; the ticket rows mostly wait on I/O.\n",
        share(Function::Auth) * 100.0,
        share(Function::Users) * 100.0,
        share(Function::Notifier) * 100.0,
        s.template.bcrypt_cost,
        1.0 / share(Function::Auth),
        1.0 / share(Function::Users),
    );
}

fn render_dollars(s: &Section, out: &mut String) {
    out.push_str("### Dollars\n\n");
    out.push_str("Price table: AWS list prices for us-east-1 (N. Virginia), on demand, without free tiers or volume tiers, as published on the date of this run (checked against the pages below, which restate AWS's pricing pages):\n\n");
    let rows: Vec<Vec<String>> = price::SOURCES
        .iter()
        .map(|(what, p, src)| vec![(*what).into(), (*p).into(), (*src).into()])
        .collect();
    out.push_str(&table(&["item", "price", "where read"], &rows));
    out.push('\n');

    let find = |name: &str| s.outcomes.iter().find(|o| o.name == name);
    let mut life = Usage::default();
    let mut index_units = 0.0;
    let mut checks = 0;
    let mut steps = Vec::new();
    for step in price::TICKET_LIFE {
        let Some(o) = find(step.row) else { continue };
        let u = o.usage().times(f64::from(step.times));
        life = life.plus(u);
        if let Some((m, _)) = o.last() {
            index_units += m.index_write * f64::from(step.times);
            checks += m.checks * step.times as usize;
        }
        steps.push(vec![
            step.row.to_owned(),
            step.times.to_string(),
            num(u.read_units),
            num(u.write_units),
            format!("{:.4}", u.gb_seconds),
            num(u.sqs_requests),
            num(u.ses_messages),
            price::usd(u.total(&PRICES)),
        ]);
    }
    steps.push(vec![
        "**the whole life**".into(),
        String::new(),
        format!("**{}**", num(life.read_units)),
        format!("**{}**", num(life.write_units)),
        format!("**{:.4}**", life.gb_seconds),
        format!("**{}**", num(life.sqs_requests)),
        format!("**{}**", num(life.ses_messages)),
        format!("**{}**", price::usd(life.total(&PRICES))),
    ]);
    let _ = writeln!(
        out,
        "**The life of a typical ticket**: created, 2 updates (a priority change each), 3 comments, closed, read 10 times (`GET /tickets/{{id}}`), and each of its 7 changes mailed: the notifier delivers every event (SPEC §4), here to {} recipients each (reporter, assignee, {} admin{}). The issue's sketch counted 4 mails; the product mails every change, comments included, so this life has 7 deliveries. Lambda invocations: one per API request and one per delivery (a batch of one message: the most a delivery can cost).\n",
        2 + s.admins,
        s.admins,
        if s.admins == 1 { "" } else { "s" }
    );
    out.push_str(&table(
        &[
            "step",
            "times",
            "RCU",
            "WCU",
            "GB-s",
            "SQS requests",
            "SES messages",
            "$",
        ],
        &steps,
    ));
    let _ = writeln!(
        out,
        "\nOf the life's {} WCU, {} are index entries ({:.0} %) and {} the {} ConditionCheck{} DynamoDB Local does not report. SQS: one send per change (measured) and the event source's receive and delete per delivery (priced).\n",
        num(life.write_units),
        num(index_units),
        if life.write_units > 0.0 {
            index_units / life.write_units * 100.0
        } else {
            0.0
        },
        num(price::CONDITION_CHECK_WCU * checks as f64),
        checks,
        if checks == 1 { "" } else { "s" },
    );
    let lines = life.dollars(&PRICES);
    let total = life.total(&PRICES);
    let bill: Vec<Vec<String>> = lines
        .iter()
        .map(|(what, d)| {
            vec![
                (*what).to_owned(),
                price::usd(*d),
                price::usd(d * 1e6),
                format!("{:.1} %", if total > 0.0 { d / total * 100.0 } else { 0.0 }),
            ]
        })
        .chain(std::iter::once(vec![
            "**total**".into(),
            format!("**{}**", price::usd(total)),
            format!("**{}**", price::usd(total * 1e6)),
            "100 %".into(),
        ]))
        .collect();
    out.push_str(&table(
        &["line", "one ticket", "1 million tickets", "share"],
        &bill,
    ));
    if let Some((largest, d)) = lines.first() {
        let _ = writeln!(
            out,
            "\n**A million tickets cost {} at these prices; the largest line is {} ({}, {:.0} %).**",
            price::usd(total * 1e6),
            largest,
            price::usd(d * 1e6),
            if total > 0.0 { d / total * 100.0 } else { 0.0 }
        );
    }
    if let Some(sweep) = s.outcomes.iter().find(|o| o.trigger == Trigger::Schedule) {
        let month = sweep.usage().times(60.0 * 24.0 * 30.0);
        let _ = writeln!(
            out,
            "\nNot per ticket: the sweep runs once a minute whatever the traffic, 43,200 times in 30 days: {} a month as measured here ({:.2} GB-s each month; {} RCU a month, as DynamoDB Local charges a query that finds nothing). Lambda's event source also long-polls the queue while it is empty (empty receives, billed as SQS requests), not counted here.",
            price::usd(month.total(&PRICES)),
            month.gb_seconds,
            num(month.read_units),
        );
    }
    out.push('\n');
}
