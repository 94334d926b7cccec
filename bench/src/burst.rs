//! Section 7 (issue 21): bursts of concurrent ticket creations across several warm instances
//! of the tickets function on DynamoDB Local. Each instance is the release `crm-tickets`
//! binary, started the way Lambda starts it, all of them polling one stub Runtime API (an
//! event goes to the next idle instance, as Lambda hands requests to warm instances); DynamoDB
//! is reached through the counting proxy, so every cancelled transaction and every retry
//! shows on the wire. After every burst the table is scanned (strongly consistent) for the
//! load spread and the counter invariant. With an older binary (`--burst-before-bin-dir`)
//! the same run measures the old assignment beside, the two fleets taking turns.

use crate::fixtures::{self, put_user, token};
use crate::lambdas::apigw;
use crate::proxy::{Proxy, Wire};
use crate::report::{median, ms, percentile, ratio, table};
use crate::runtime_api::{Outcome, RuntimeApi};
use aws_sdk_dynamodb::types::AttributeValue;
use crm_shared::model::UserType;
use crm_shared::store::keys;
use crm_shared::store::schema::TABLE;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The longest a burst may take to be answered (the old design's clients waited 10 s).
const BURST_TIMEOUT: Duration = Duration::from_secs(180);
const START_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Options {
    pub instances: usize,
    pub bursts: usize,
    pub size: usize,
    pub engineers: usize,
    /// The tickets function measured (`crm-tickets`).
    pub bin: PathBuf,
    /// An older build of it, measured beside.
    pub before_bin: Option<PathBuf>,
}

/// One burst as measured.
pub struct Burst {
    /// Event handed to an instance → its response: the time inside the function.
    pub inside: Vec<Duration>,
    /// Event queued → response: what a client waits, queueing for an instance included.
    pub client: Vec<Duration>,
    pub created: usize,
    /// What the other creations answered.
    pub failed: Vec<String>,
    pub wire: Wire,
    /// OPEN tickets per engineer, recounted from the tickets after the burst.
    pub open: BTreeMap<String, i64>,
    /// Every engineer's stored count equals the recount (else what differs).
    pub invariant: Result<(), String>,
    pub wall: Duration,
}

impl Burst {
    pub fn spread(&self) -> i64 {
        let max = self.open.values().max().copied().unwrap_or(0);
        let min = self.open.values().min().copied().unwrap_or(0);
        max - min
    }

    /// Cancelled transactions (conflicts) in this burst.
    pub fn conflicts(&self) -> usize {
        self.wire
            .errors
            .iter()
            .filter(|(k, _)| k.starts_with("dynamodb:TransactWriteItems"))
            .map(|(_, v)| v)
            .sum()
    }

    /// Transactions beyond one per ticket created: the retries.
    pub fn retries(&self) -> usize {
        self.wire
            .count("dynamodb:TransactWriteItems")
            .saturating_sub(self.created)
    }
}

pub struct Variant {
    pub name: String,
    pub bin: PathBuf,
    pub warmup: Burst,
    pub bursts: Vec<Burst>,
}

impl Variant {
    fn all(&self, f: impl Fn(&Burst) -> &Vec<Duration>) -> Vec<Duration> {
        self.bursts
            .iter()
            .flat_map(|b| f(b).iter().copied())
            .collect()
    }
    fn sum(&self, f: impl Fn(&Burst) -> usize) -> usize {
        self.bursts.iter().map(f).sum()
    }
    fn requested(&self) -> usize {
        self.bursts.iter().map(|b| b.created + b.failed.len()).sum()
    }
}

pub struct Section {
    pub instances: usize,
    pub size: usize,
    pub engineers: usize,
    pub variants: Vec<Variant>,
    /// One GetItem on DynamoDB Local through the proxy (median, warm connection).
    pub rtt: Duration,
}

/// A fleet of warm instances of one binary, its table and its callers.
struct Fleet {
    name: String,
    bin: PathBuf,
    children: Vec<Child>,
    api: RuntimeApi,
    proxy: Proxy,
    table: String,
    direct: aws_sdk_dynamodb::Client,
    tokens: Vec<String>,
    engineers: Vec<String>,
    log: PathBuf,
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn tail(log: &Path) -> String {
    let s = std::fs::read_to_string(log).unwrap_or_default();
    let start = s.len().saturating_sub(2000);
    s.get(start..).unwrap_or("").to_owned()
}

impl Fleet {
    async fn start(
        name: &str,
        bin: &Path,
        ddb: &str,
        moto: &str,
        scratch: &Path,
        o: &Options,
    ) -> anyhow::Result<Self> {
        anyhow::ensure!(
            bin.exists(),
            "{} is missing: build it with cargo build --release -p crm-tickets",
            bin.display()
        );
        let table = fixtures::unique("bench-burst");
        let store = fixtures::dynamo_store(ddb, ddb, &table).await?;
        let queue_url = fixtures::queue(moto, &fixtures::unique("bench-burst")).await?;
        let ctx = fixtures::ctx(store.clone());
        let mut engineers = Vec::new();
        for i in 0..o.engineers {
            let id = format!("beng{i}");
            put_user(&store, &id, UserType::Engineer).await?;
            engineers.push(id);
            // Distinct approval times: the tie-break of the load key.
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let mut tokens = Vec::new();
        for i in 0..o.size {
            let id = format!("bcust{i}");
            put_user(&store, &id, UserType::Customer).await?;
            tokens.push(token(&ctx, &id, UserType::Customer));
        }
        let proxy = Proxy::start(ddb).await?;
        let mut api = RuntimeApi::start().await?;
        let log = scratch.join(format!(
            "burst-{}.log",
            name.replace(|c: char| !c.is_ascii_alphanumeric(), "-")
        ));
        let env: Vec<(&str, &str)> = vec![
            ("AWS_LAMBDA_FUNCTION_NAME", "crm-bench-tickets"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024"),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            // SQS (the events' queue) on moto, DynamoDB on DynamoDB Local through the proxy.
            ("AWS_ENDPOINT_URL", moto),
            ("AWS_ENDPOINT_URL_DYNAMODB", proxy.url.as_str()),
            ("CRM_JWT_SECRET", fixtures::SECRET),
            ("CRM_TABLE_NAME", table.as_str()),
            ("CRM_QUEUE_URL", queue_url.as_str()),
        ];
        let mut children = Vec::new();
        for _ in 0..o.instances {
            let out = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log)?;
            let child = Command::new(bin)
                .env_clear()
                .envs(env.iter().copied())
                .env("AWS_LAMBDA_RUNTIME_API", &api.addr)
                .stdin(Stdio::null())
                .stdout(out.try_clone()?)
                .stderr(out)
                .spawn()?;
            children.push(child);
        }
        let deadline = Instant::now() + START_TIMEOUT;
        let mut polled = 0;
        while polled < o.instances {
            match tokio::time::timeout(Duration::from_millis(200), api.polls.recv()).await {
                Ok(Some(_)) => polled += 1,
                Ok(None) => anyhow::bail!("the stub Runtime API stopped"),
                Err(_) => {
                    for c in &mut children {
                        if let Ok(Some(status)) = c.try_wait() {
                            anyhow::bail!("{name} exited ({status}); its log: {}", tail(&log));
                        }
                    }
                    anyhow::ensure!(
                        Instant::now() < deadline,
                        "{name}: only {polled} of {} instances polled; log: {}",
                        o.instances,
                        tail(&log)
                    );
                }
            }
        }
        let direct = aws_sdk_dynamodb::Client::new(&fixtures::sdk_config(ddb).await);
        Ok(Self {
            name: name.to_owned(),
            bin: bin.to_owned(),
            children,
            api,
            proxy,
            table,
            direct,
            tokens,
            engineers,
            log,
        })
    }

    /// `size` creations queued at once; waits for every answer, then scans the table.
    async fn burst(&mut self, label: &str, size: usize) -> anyhow::Result<Burst> {
        let base = crm_shared::http::BASE_PATH;
        let events: Vec<Value> = (0..size)
            .map(|k| {
                let body = json!({
                    "title": format!("Burst {label} #{k}"),
                    "description": "A creation in a burst.",
                    "ticketPriority": 3
                });
                apigw(
                    "POST",
                    &format!("{base}/tickets"),
                    Some(&self.tokens[k % self.tokens.len()]),
                    Some(&body),
                )
            })
            .collect();
        self.proxy.take();
        let started = Instant::now();
        let mut sent = HashMap::new();
        for ev in &events {
            let (id, at) = self.api.invoke_id(ev);
            sent.insert(id, at);
        }
        let mut b = Burst {
            inside: Vec::new(),
            client: Vec::new(),
            created: 0,
            failed: Vec::new(),
            wire: Wire::default(),
            open: BTreeMap::new(),
            invariant: Ok(()),
            wall: Duration::ZERO,
        };
        let deadline = started + BURST_TIMEOUT;
        let mut answered = 0;
        while answered < size {
            let left = deadline.saturating_duration_since(Instant::now());
            let outcome = match tokio::time::timeout(left, self.api.outcomes.recv()).await {
                Ok(Some(o)) => o,
                _ => anyhow::bail!(
                    "{}: {answered} of {size} creations answered; log: {}",
                    self.name,
                    tail(&self.log)
                ),
            };
            answered += 1;
            let (at, id) = match &outcome {
                Outcome::Response { at, id, .. } | Outcome::Error { at, id, .. } => (*at, id),
                Outcome::InitError { body, .. } => anyhow::bail!(
                    "{}: init error {}",
                    self.name,
                    String::from_utf8_lossy(body)
                ),
            };
            if let Some(s) = sent.get(id) {
                b.client.push(at.saturating_duration_since(*s));
            }
            if let Some(h) = self.api.handed_at(id) {
                b.inside.push(at.saturating_duration_since(h));
            }
            match outcome {
                Outcome::Response { body, .. } => {
                    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    match v.get("statusCode").and_then(Value::as_u64) {
                        Some(201) => b.created += 1,
                        other => b.failed.push(format!(
                            "{} {}",
                            other.map_or("no status".into(), |s| s.to_string()),
                            v.get("body").and_then(Value::as_str).unwrap_or("")
                        )),
                    }
                }
                Outcome::Error { body, .. } => b
                    .failed
                    .push(format!("error: {}", String::from_utf8_lossy(&body))),
                Outcome::InitError { .. } => {}
            }
        }
        b.wall = started.elapsed();
        b.wire = self.proxy.take();
        let (open, invariant) = recount(&self.direct, &self.table, &self.engineers).await?;
        b.open = open;
        b.invariant = invariant;
        Ok(b)
    }
}

/// A strongly consistent scan of `table`: the OPEN tickets of each engineer, recounted,
/// against each engineer's stored `ticketsWorkingOnCount` (and no OPEN ticket left
/// unassigned while engineers are approved).
pub async fn recount(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    engineers: &[String],
) -> anyhow::Result<(BTreeMap<String, i64>, Result<(), String>)> {
    let mut stored: BTreeMap<String, i64> = BTreeMap::new();
    let mut open: BTreeMap<String, i64> = engineers.iter().map(|e| (e.clone(), 0)).collect();
    let mut unassigned_open = 0;
    let mut start = None;
    loop {
        let out = client
            .scan()
            .table_name(table)
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .send()
            .await?;
        for item in out.items() {
            let s = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).map(String::as_str);
            match s(TABLE.sk) {
                Some(keys::TICKET_SK) if s("status") == Some("OPEN") => match s("assignee") {
                    Some(a) => *open.entry(a.to_owned()).or_default() += 1,
                    None => unassigned_open += 1,
                },
                Some(keys::USER_SK) if s("userType") == Some("ENGINEER") => {
                    let n = item
                        .get("ticketsWorkingOnCount")
                        .and_then(|v| v.as_n().ok())
                        .and_then(|n| n.parse::<i64>().ok())
                        .unwrap_or(-1);
                    if let Some(id) = s("userId") {
                        stored.insert(id.to_owned(), n);
                    }
                }
                _ => {}
            }
        }
        match out.last_evaluated_key {
            Some(k) => start = Some(k),
            None => break,
        }
    }
    let mut wrong = Vec::new();
    for (id, n) in &open {
        let s = stored.get(id).copied();
        if s != Some(*n) {
            wrong.push(format!("{id}: stored {s:?}, recounted {n}"));
        }
    }
    if unassigned_open > 0 {
        wrong.push(format!(
            "{unassigned_open} OPEN tickets unassigned (engineers approved)"
        ));
    }
    let invariant = if wrong.is_empty() {
        Ok(())
    } else {
        Err(wrong.join("; "))
    };
    Ok((open, invariant))
}

pub async fn run(ddb: &str, moto: &str, scratch: &Path, o: &Options) -> anyhow::Result<Section> {
    let mut fleets = vec![Fleet::start("after", &o.bin, ddb, moto, scratch, o).await?];
    if let Some(b) = &o.before_bin {
        fleets.push(Fleet::start("before", b, ddb, moto, scratch, o).await?);
    }
    // For scale: one GetItem on DynamoDB Local through the proxy, warm connection.
    let rtt = {
        let f = &fleets[0];
        let client = aws_sdk_dynamodb::Client::new(&fixtures::sdk_config(&f.proxy.url).await);
        let key = keys::user(&crm_shared::model::UserId::parse(&f.engineers[0])?);
        let mut rtts = Vec::new();
        for i in 0..31 {
            let t = Instant::now();
            client
                .get_item()
                .table_name(&f.table)
                .key(TABLE.pk, AttributeValue::S(key.pk.clone()))
                .key(TABLE.sk, AttributeValue::S(key.sk.clone()))
                .send()
                .await?;
            if i > 0 {
                rtts.push(t.elapsed());
            }
        }
        f.proxy.take();
        median(&rtts)
    };
    // One burst each that is not counted: the emulator's JIT and the instances' pools warm.
    let mut warmups = Vec::new();
    for f in &mut fleets {
        warmups.push(f.burst("warm-up", o.size).await?);
    }
    let mut bursts: Vec<Vec<Burst>> = fleets.iter().map(|_| Vec::new()).collect();
    for i in 0..o.bursts {
        // The fleets take turns, in alternating order, so drift hits them alike.
        let mut order: Vec<usize> = (0..fleets.len()).collect();
        if i % 2 == 1 {
            order.reverse();
        }
        for k in order {
            let b = fleets[k].burst(&(i + 1).to_string(), o.size).await?;
            eprintln!(
                "crm-bench: burst {} ({}): {} created, p50 {} p99 {}, conflicts {}, spread {}",
                i + 1,
                fleets[k].name,
                b.created,
                ms(median(&b.inside)),
                ms(percentile(&b.inside, 99.0)),
                b.conflicts(),
                b.spread()
            );
            bursts[k].push(b);
        }
    }
    let variants = fleets
        .iter()
        .zip(warmups)
        .zip(bursts)
        .map(|((f, warmup), bursts)| Variant {
            name: f.name.clone(),
            bin: f.bin.clone(),
            warmup,
            bursts,
        })
        .collect();
    Ok(Section {
        instances: o.instances,
        size: o.size,
        engineers: o.engineers,
        variants,
        rtt,
    })
}

fn per(n: usize, d: usize) -> String {
    if d == 0 {
        "–".into()
    } else {
        format!("{:.2}", n as f64 / d as f64)
    }
}

fn reasons(w: &[&Wire]) -> String {
    let mut all: BTreeMap<&str, usize> = BTreeMap::new();
    for x in w {
        for (k, v) in &x.reasons {
            *all.entry(k.as_str()).or_default() += v;
        }
    }
    if all.is_empty() {
        "none".into()
    } else {
        all.iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A build's figures against the goals of issue 21.
struct Goals {
    p50: Duration,
    p99: Duration,
    conflicts: f64,
    spread: i64,
    exact: bool,
    all_created: bool,
}

impl Goals {
    fn of(v: &Variant) -> Self {
        let inside = v.all(|b| &b.inside);
        let requested = v.requested();
        Self {
            p50: median(&inside),
            p99: percentile(&inside, 99.0),
            conflicts: v.sum(Burst::conflicts) as f64 / requested.max(1) as f64,
            spread: v.bursts.iter().map(Burst::spread).max().unwrap_or(0),
            exact: v.bursts.iter().all(|b| b.invariant.is_ok()),
            all_created: v.sum(|b| b.created) == requested,
        }
    }
}

fn met(ok: bool) -> &'static str {
    if ok { "met" } else { "NOT met" }
}

pub fn render(s: &Section, out: &mut String) {
    let bursts = s.variants.first().map_or(0, |v| v.bursts.len());
    let _ = writeln!(
        out,
        "{bursts} bursts of {} concurrent `POST /tickets` (each from another customer) over {} warm instances of the release `crm-tickets` binary, with {} approved engineers, on DynamoDB Local (in memory). The instances are started the way Lambda starts them and all poll one stub Runtime API in the bench: the {} events of a burst are queued at once and each goes to the next idle instance, which runs one invocation at a time, as a Lambda instance does. DynamoDB is reached through the counting proxy (plain HTTP on loopback), SQS (each creation's event) on moto. *Inside*: the event handed to an instance → its response (the function's own time); *client*: the event queued → the response (queueing for an instance included: with {} instances a burst is about {} deep). *Conflicts*: cancelled `TransactWriteItems` seen on the wire, with their reasons; *retries*: transactions beyond one per ticket created. After every burst a strongly consistent scan of the table recounts each engineer's OPEN tickets: the *spread* is max − min of that recount, and the *invariant* holds when each engineer's stored `ticketsWorkingOnCount` equals it. Each fleet has its own table; one burst each warms up first and is not counted; with two builds the fleets take turns burst by burst. For scale: one `GetItem` on DynamoDB Local through the proxy takes {} (median of 30, warm connection).\n",
        s.size,
        s.instances,
        s.engineers,
        s.size,
        s.instances,
        s.size.div_ceil(s.instances.max(1)),
        ms(s.rtt),
    );
    let mut rows = Vec::new();
    for v in &s.variants {
        let inside = v.all(|b| &b.inside);
        let client = v.all(|b| &b.client);
        let p50 = median(&inside);
        let created = v.sum(|b| b.created);
        let requested = v.requested();
        let wires: Vec<&Wire> = v.bursts.iter().map(|b| &b.wire).collect();
        let ddb: usize = wires.iter().map(|w| w.count("dynamodb:")).sum();
        let spreads: Vec<String> = v.bursts.iter().map(|b| b.spread().to_string()).collect();
        let broken = v.bursts.iter().filter(|b| b.invariant.is_err()).count();
        rows.push(vec![
            format!("{} (`{}`)", v.name, v.bin.display()),
            format!("{created} of {requested}"),
            format!(
                "{} / {} / {} / {}",
                ms(p50),
                ms(percentile(&inside, 90.0)),
                ms(percentile(&inside, 99.0)),
                ms(percentile(&inside, 100.0))
            ),
            ratio(percentile(&inside, 99.0).as_secs_f64(), p50.as_secs_f64()),
            inside
                .iter()
                .filter(|d| **d > Duration::from_secs(1))
                .count()
                .to_string(),
            format!(
                "{} / {} / {}",
                ms(median(&client)),
                ms(percentile(&client, 99.0)),
                ms(percentile(&client, 100.0))
            ),
            format!(
                "{} ({})",
                per(v.sum(Burst::conflicts), requested),
                reasons(&wires)
            ),
            per(v.sum(Burst::retries), requested),
            per(ddb, requested),
            spreads.join(" "),
            if broken == 0 {
                format!("exact after all {}", v.bursts.len())
            } else {
                format!("BROKEN after {broken}")
            },
        ]);
    }
    out.push_str(&table(
        &[
            "build",
            "created (201)",
            "inside p50 / p90 / p99 / max",
            "p99 ÷ p50",
            "inside over 1 s",
            "client p50 / p99 / max",
            "conflicts per creation (reasons)",
            "retries per creation",
            "DynamoDB requests per creation",
            "spread after each burst",
            "invariant",
        ],
        &rows,
    ));
    out.push('\n');
    for v in &s.variants {
        let other: Vec<String> = v
            .bursts
            .iter()
            .flat_map(|b| b.wire.errors.iter())
            .filter(|(k, _)| !k.starts_with("dynamodb:TransactWriteItems"))
            .map(|(k, n)| format!("{k} ×{n}"))
            .collect();
        let failed: Vec<&String> = v.bursts.iter().flat_map(|b| b.failed.iter()).collect();
        let _ = writeln!(
            out,
            "- {}: other error answers on the wire: {}; creations that did not answer 201: {}. Warm-up burst (not counted): inside p50 {}, p99 {}, spread {} after it.",
            v.name,
            if other.is_empty() {
                "none".into()
            } else {
                other.join(", ")
            },
            if failed.is_empty() {
                "none".to_owned()
            } else {
                format!(
                    "{} ({})",
                    failed.len(),
                    failed
                        .iter()
                        .take(3)
                        .map(|f| f.chars().take(120).collect::<String>())
                        .collect::<Vec<_>>()
                        .join("; ")
                )
            },
            ms(median(&v.warmup.inside)),
            ms(percentile(&v.warmup.inside, 99.0)),
            v.warmup.spread()
        );
    }
    out.push('\n');
    // The goals of issue 21, on this run.
    let find = |n: &str| s.variants.iter().find(|v| v.name == n).map(Goals::of);
    if let Some(a) = find("after") {
        let b = find("before");
        let cell = |f: &dyn Fn(&Goals) -> String| b.as_ref().map_or("–".into(), f);
        let p99p50 = |g: &Goals| ratio(g.p99.as_secs_f64(), g.p50.as_secs_f64());
        let exact = |g: &Goals| if g.exact { "exact" } else { "BROKEN" }.to_owned();
        let all = |g: &Goals| if g.all_created { "yes" } else { "no" }.to_owned();
        let rows = vec![
            vec![
                "inside p99 ≤ 10 × p50".into(),
                cell(&|g| format!("{} ({} / {})", p99p50(g), ms(g.p99), ms(g.p50))),
                format!("{} ({} / {})", p99p50(&a), ms(a.p99), ms(a.p50)),
                met(a.p99.as_secs_f64() <= 10.0 * a.p50.as_secs_f64()).into(),
            ],
            vec![
                "conflicts per creation ≤ 0.2 on average".into(),
                cell(&|g| format!("{:.2}", g.conflicts)),
                format!("{:.2}", a.conflicts),
                met(a.conflicts <= 0.2).into(),
            ],
            vec![
                "spread ≤ 2 after every burst".into(),
                cell(&|g| format!("at most {}", g.spread)),
                format!("at most {}", a.spread),
                met(a.spread <= 2).into(),
            ],
            vec![
                "invariant exact after every burst".into(),
                cell(&exact),
                exact(&a),
                met(a.exact).into(),
            ],
            vec![
                "every creation answered 201".into(),
                cell(&all),
                all(&a),
                met(a.all_created).into(),
            ],
        ];
        let _ = writeln!(
            out,
            "The goals of issue 21 ({} concurrent creations across {} processes), from this run:\n",
            s.size, s.instances
        );
        out.push_str(&table(&["goal", "before", "after", ""], &rows));
        out.push('\n');
    }
    for v in &s.variants {
        let _ = writeln!(out, "**{}: burst by burst**\n", v.name);
        let rows: Vec<Vec<String>> = v
            .bursts
            .iter()
            .enumerate()
            .map(|(i, b)| {
                vec![
                    (i + 1).to_string(),
                    format!("{} of {}", b.created, b.created + b.failed.len()),
                    format!(
                        "{} / {} / {}",
                        ms(median(&b.inside)),
                        ms(percentile(&b.inside, 99.0)),
                        ms(percentile(&b.inside, 100.0))
                    ),
                    ms(percentile(&b.client, 100.0)),
                    format!("{} ({})", b.conflicts(), reasons(&[&b.wire])),
                    b.retries().to_string(),
                    b.wire.dynamodb_summary(),
                    b.open
                        .values()
                        .map(i64::to_string)
                        .collect::<Vec<_>>()
                        .join(" / "),
                    b.spread().to_string(),
                    match &b.invariant {
                        Ok(()) => "exact".into(),
                        Err(e) => format!("BROKEN: {e}"),
                    },
                    ms(b.wall),
                ]
            })
            .collect();
        out.push_str(&table(
            &[
                "burst",
                "created",
                "inside p50 / p99 / max",
                "slowest client",
                "conflicts (reasons)",
                "retries",
                "DynamoDB requests",
                "OPEN per engineer after",
                "spread",
                "invariant",
                "burst wall time",
            ],
            &rows,
        ));
        out.push('\n');
    }
}
