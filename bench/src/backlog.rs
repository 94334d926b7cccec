//! Section 8 (issue 17): what draining a backlog costs, and that the request which triggers
//! it does not pay for it. In-process on DynamoDB Local (through the counting proxy): a
//! table with N unassigned OPEN tickets and some pending engineers; each approval (`PUT
//! /users/{id}` through the users function's glue) is timed and counted while the backlog is
//! still there, its job caught from the in-process job queue; then the jobs run one after
//! another as `crm serve`'s local worker runs them (`workload::run_job`), and the first one,
//! which drains the backlog, is timed and counted per ticket.

use crate::fixtures::{self, call_ok, put_user, token};
use crate::proxy::{Proxy, Wire};
use crate::report::{median, ms, percentile, ratio, table};
use crm_shared::model::{Description, Title, UserStatus, UserType};
use crm_shared::queue::JobQueue;
use crm_shared::service::workload::{JobReport, Workload, run_job};
use crm_shared::service::{self, Authed, Ctx, NewTicket};
use crm_shared::store::{DynamoBackend, Store};
use futures_util::StreamExt as _;
use http::Method;
use serde_json::json;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// Creations in flight while the backlog is made (each context takes its creations in turns).
const SEEDERS: usize = 4;

pub struct Row {
    pub backlog: usize,
    /// Each approval's own latency (request in → response out).
    pub approvals: Vec<Duration>,
    /// The approvals' DynamoDB requests, all of them together.
    pub approval_wire: Wire,
    /// The first job: the drain.
    pub drain: Duration,
    pub drain_wire: Wire,
    pub report: JobReport,
    /// The other approvals' jobs, run after it (nothing left to do).
    pub rest: Duration,
    pub rest_wire: Wire,
    pub rest_jobs: usize,
    /// OPEN tickets per engineer after the drain, and whether the counts match.
    pub open: BTreeMap<String, i64>,
    pub invariant: Result<(), String>,
    pub seeded_in: Duration,
}

pub struct Section {
    pub rows: Vec<Row>,
    pub approvals: usize,
}

fn authed(ctx: &Ctx, id: &str, t: UserType) -> anyhow::Result<Authed> {
    let mut h = http::HeaderMap::new();
    h.insert("x-access-token", token(ctx, id, t).parse()?);
    crm_shared::http::authenticate(&ctx.tokens, &h).map_err(|e| anyhow::anyhow!("{e:?}"))
}

async fn one(ddb: &str, proxy: &Proxy, backlog: usize, approvals: usize) -> anyhow::Result<Row> {
    let table = fixtures::unique("bench-backlog");
    let direct = fixtures::dynamo_store(ddb, ddb, &table).await?;
    put_user(&direct, "admin", UserType::Admin).await?;
    let customers: Vec<String> = (0..10).map(|i| format!("qcust{i}")).collect();
    for c in &customers {
        put_user(&direct, c, UserType::Customer).await?;
    }
    let engineers: Vec<String> = (0..approvals).map(|i| format!("qeng{i}")).collect();
    for e in &engineers {
        let u = fixtures::user(e, UserType::Engineer, UserStatus::Pending).await;
        direct
            .create_user(&u)
            .await
            .map_err(|err| anyhow::anyhow!("creating {e}: {err}"))?;
    }
    // The backlog: no engineer is approved, so every new ticket waits unassigned.
    let t = Instant::now();
    let seeders: Vec<Ctx> = (0..SEEDERS)
        .map(|_| fixtures::ctx(direct.clone()))
        .collect();
    let mut made = futures_util::stream::iter(0..backlog)
        .map(|i| {
            let ctx = &seeders[i % SEEDERS];
            let who = &customers[i % customers.len()];
            async move {
                let who = authed(ctx, who, UserType::Customer)?;
                let t = service::create_ticket(
                    ctx,
                    &who,
                    NewTicket {
                        title: Title::parse(&format!("Backlog #{i}"))?,
                        description: Description::parse("Waiting for an engineer.")?,
                        priority: None,
                        tags: None,
                    },
                )
                .await
                .map_err(|e| anyhow::anyhow!("seeding ticket {i}: {e:?}"))?;
                anyhow::ensure!(t.assignee.is_none(), "seeded ticket {i} was assigned");
                Ok(())
            }
        })
        .buffer_unordered(SEEDERS * 2);
    while let Some(r) = made.next().await {
        r?;
    }
    drop(made);
    let seeded_in = t.elapsed();

    // The approvals, through the proxy, with the jobs caught in-process.
    let counted = Store::dynamo(DynamoBackend::new(
        aws_sdk_dynamodb::Client::new(&fixtures::sdk_config(&proxy.url).await),
        &table,
    ));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut ctx = fixtures::ctx(counted);
    ctx.jobs = JobQueue::Channel(tx);
    let admin = token(&ctx, "admin", UserType::Admin);
    let mut lat = Vec::new();
    proxy.take();
    for e in &engineers {
        let req = fixtures::request(
            Method::PUT,
            &format!("/users/{e}"),
            Some(&admin),
            Some(&json!({"userStatus": "APPROVED"})),
        );
        let t = Instant::now();
        call_ok(&ctx, req, 200).await?;
        lat.push(t.elapsed());
    }
    let approval_wire = proxy.take();
    let mut jobs = Vec::new();
    while let Ok(j) = rx.try_recv() {
        jobs.push(j);
    }
    anyhow::ensure!(
        jobs.len() == approvals,
        "{} jobs for {approvals} approvals",
        jobs.len()
    );
    let w = Workload {
        store: &ctx.store,
        capacity: ctx.engineer_capacity,
        publisher: &ctx.publisher,
    };
    let t = Instant::now();
    let report = run_job(&w, &jobs[0])
        .await
        .map_err(|e| anyhow::anyhow!("drain: {e}"))?;
    let drain = t.elapsed();
    let drain_wire = proxy.take();
    let t = Instant::now();
    for j in &jobs[1..] {
        run_job(&w, j)
            .await
            .map_err(|e| anyhow::anyhow!("job: {e}"))?;
    }
    let rest = t.elapsed();
    let rest_wire = proxy.take();
    anyhow::ensure!(
        report.assigned == backlog,
        "the drain assigned {} of {backlog}",
        report.assigned
    );
    let client = aws_sdk_dynamodb::Client::new(&fixtures::sdk_config(ddb).await);
    let (open, invariant) = crate::burst::recount(&client, &table, &engineers).await?;
    Ok(Row {
        backlog,
        approvals: lat,
        approval_wire,
        drain,
        drain_wire,
        report,
        rest,
        rest_wire,
        rest_jobs: jobs.len() - 1,
        open,
        invariant,
        seeded_in,
    })
}

pub async fn run(
    ddb: &str,
    proxy: &Proxy,
    sizes: &[usize],
    approvals: usize,
) -> anyhow::Result<Section> {
    anyhow::ensure!(approvals >= 1, "at least one approval per backlog");
    // A backlog that is not counted first: DynamoDB Local's JIT warms up on it.
    one(ddb, proxy, 10, approvals).await?;
    let mut rows = Vec::new();
    for &n in sizes {
        let r = one(ddb, proxy, n, approvals).await?;
        eprintln!(
            "crm-bench: backlog {n}: approval p50 {}, drain {} ({} requests)",
            ms(median(&r.approvals)),
            ms(r.drain),
            r.drain_wire.count("dynamodb:")
        );
        rows.push(r);
    }
    Ok(Section { rows, approvals })
}

pub fn render(s: &Section, out: &mut String) {
    let _ = writeln!(
        out,
        "In-process on DynamoDB Local (in memory), through the counting proxy: the same code `crm serve --store dynamodb` runs (the users function's glue for the request, `workload::run_job` for the job, as its local worker calls it; in the cloud the job goes through SQS to the notifier, which calls the same function). Each row is a fresh table with that many unassigned OPEN tickets (made by customers while no engineer was approved) and {} pending engineers. The {} approvals (`PUT /users/{{id}}` `{{\"userStatus\": \"APPROVED\"}}` by an admin) are timed one after another while the whole backlog is still there: each commits its backlog job in the user's transaction and returns. Then the jobs run one after another, as the local worker runs them: the first drains the backlog (each ticket one transaction by `system`, to the least-loaded approved engineer), the others find nothing left. Events stay in the outbox here (no publisher), so the SQS sends the cloud adds (one per ticket) are not in the counts. A backlog of 10 run first warms the emulator up and is not shown.\n",
        s.approvals, s.approvals
    );
    let base = s
        .rows
        .first()
        .map(|r| median(&r.approvals))
        .unwrap_or_default();
    let rows: Vec<Vec<String>> = s
        .rows
        .iter()
        .map(|r| {
            let p50 = median(&r.approvals);
            let n = r.approvals.len().max(1);
            vec![
                r.backlog.to_string(),
                format!(
                    "{} / {} ({} backlog 0)",
                    ms(p50),
                    ms(percentile(&r.approvals, 100.0)),
                    ratio(p50.as_secs_f64(), base.as_secs_f64())
                ),
                format!(
                    "{:.1} ({})",
                    r.approval_wire.count("dynamodb:") as f64 / n as f64,
                    r.approval_wire.dynamodb_summary()
                ),
                format!(
                    "{} in {} ({})",
                    r.report.assigned,
                    ms(r.drain),
                    r.drain_wire.dynamodb_summary()
                ),
                if r.backlog == 0 {
                    "–".into()
                } else {
                    format!(
                        "{:.2}",
                        r.drain_wire.count("dynamodb:") as f64 / r.backlog as f64
                    )
                },
                if r.backlog == 0 {
                    "–".into()
                } else {
                    ms(r.drain / r.backlog as u32)
                },
                format!(
                    "{} jobs: {} ({} requests)",
                    r.rest_jobs,
                    ms(r.rest),
                    r.rest_wire.count("dynamodb:")
                ),
                format!(
                    "{}; {}",
                    r.open
                        .values()
                        .map(i64::to_string)
                        .collect::<Vec<_>>()
                        .join(" / "),
                    match &r.invariant {
                        Ok(()) => "exact".to_owned(),
                        Err(e) => format!("BROKEN: {e}"),
                    }
                ),
            ]
        })
        .collect();
    out.push_str(&table(
        &[
            "backlog (unassigned OPEN)",
            "approval p50 / max (× backlog 0)",
            "DynamoDB requests per approval",
            "drain: assigned in (requests)",
            "DynamoDB requests per ticket",
            "drain time per ticket",
            "the other jobs (nothing left)",
            "OPEN per engineer after; invariant",
        ],
        &rows,
    ));
    out.push('\n');
    let seed: Vec<String> = s
        .rows
        .iter()
        .filter(|r| r.backlog > 0)
        .map(|r| {
            format!(
                "{} in {} ({} per ticket)",
                r.backlog,
                ms(r.seeded_in),
                ms(r.seeded_in / r.backlog as u32)
            )
        })
        .collect();
    let _ = writeln!(
        out,
        "For scale, creating the backlogs through `create_ticket` ({SEEDERS} contexts at once, no engineer to choose): {}.\n",
        seed.join(", ")
    );
}
