//! Section 5: what a customer's listing and a get by id read as the table grows, and what a
//! ticket creation reads as the engineers grow. The figures that must stay flat are the
//! items read per request. The table is filled straight through the store: other
//! customers' tickets cloned from a real one (only ids and reporter differ), hundreds per
//! SQLite transaction, and one PutItem each on the emulator.

use crate::fixtures::{self, call, call_ok, put_user, request, token};
use crate::proxy::{Proxy, Wire};
use crate::report::{median, table, us};
use crm_shared::model::{TicketId, UserId, UserType};
use crm_shared::service::Ctx;
use crm_shared::store::{Cond, Item, Stats, Store, Usage, Write, keys};

use futures_util::StreamExt;
use http::Method;
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Tickets the probe customer has (their listing is one page).
const PROBE_TICKETS: usize = 20;
/// Other customers the filler tickets are spread over.
const FILLER_REPORTERS: usize = 1000;

pub struct Point {
    pub backend: &'static str,
    pub x: usize,
    pub usage: Usage,
    pub wire: Option<Wire>,
    pub time: Duration,
}

pub struct Section {
    pub listing: Vec<Point>,
    pub get: Vec<Point>,
    pub create: Vec<Point>,
    pub fill_rate: Vec<(&'static str, f64)>,
}

/// One backend under test: a counted store, a plain one for filling, its context.
struct Side {
    name: &'static str,
    plain: Store,
    stats: Arc<Stats>,
    ctx: Ctx,
    proxy: Option<Arc<Proxy>>,
    reps: usize,
}

impl Side {
    fn new(name: &'static str, plain: Store, proxy: Option<Arc<Proxy>>, reps: usize) -> Self {
        let (counted, stats) = plain.clone().with_stats();
        Self {
            name,
            plain,
            stats,
            ctx: fixtures::ctx(counted),
            proxy,
            reps,
        }
    }

    /// The cost of one request, then the median time of a few more.
    async fn point(
        &self,
        x: usize,
        req: impl Fn() -> crate::fixtures::Request,
        want: u16,
    ) -> anyhow::Result<Point> {
        self.stats.take_usage();
        if let Some(p) = &self.proxy {
            p.take();
        }
        call_ok(&self.ctx, req(), want).await?;
        let usage = self.stats.take_usage();
        let wire = self.proxy.as_ref().map(|p| p.take());
        let mut times = Vec::new();
        for _ in 0..self.reps {
            let t = Instant::now();
            let r = call(&self.ctx, req()).await;
            times.push(t.elapsed());
            anyhow::ensure!(r.status.as_u16() == want, "status {}", r.status);
        }
        self.stats.take_usage();
        if let Some(p) = &self.proxy {
            p.take();
        }
        Ok(Point {
            backend: self.name,
            x,
            usage,
            wire,
            time: median(&times),
        })
    }
}

/// A ticket item like `template` for another id and reporter.
fn clone_ticket(template: &Item, from_id: &str, from_reporter: &str, reporter: &str) -> Item {
    let id = TicketId::new();
    let id = id.as_str().to_owned();
    let rep_from = UserId::parse(from_reporter).expect("template reporter");
    let rep_to = UserId::parse(reporter).expect("filler reporter");
    let tid_from = TicketId::parse(from_id).expect("template id");
    let tid_to = TicketId::parse(&id).expect("new id");
    let swaps = [
        (keys::ticket(&tid_from).pk, keys::ticket(&tid_to).pk),
        (keys::by_reporter(&rep_from), keys::by_reporter(&rep_to)),
        (from_id.to_owned(), id.clone()),
        (from_reporter.to_owned(), reporter.to_owned()),
    ];
    template
        .iter()
        .map(|(k, v)| {
            let v = match v.as_str().and_then(|s| swaps.iter().find(|(a, _)| a == s)) {
                Some((_, b)) => Value::String(b.clone()),
                None => v.clone(),
            };
            (k.clone(), v)
        })
        .collect()
}

/// Sets up the probe customer (PROBE_TICKETS real tickets) and a template filler ticket.
async fn seed(side: &Side) -> anyhow::Result<(String, String, Item)> {
    put_user(&side.plain, "probe", UserType::Customer).await?;
    put_user(&side.plain, "filler0000", UserType::Customer).await?;
    let probe = token(&side.ctx, "probe", UserType::Customer);
    let body = json!({"title": "Printer", "description": "Printer is not working, showing error 254 while printing."});
    let mut first = String::new();
    for _ in 0..PROBE_TICKETS {
        let v = call_ok(
            &side.ctx,
            request(Method::POST, "/tickets", Some(&probe), Some(&body)),
            201,
        )
        .await?;
        if first.is_empty() {
            first = v
                .pointer("/data/_id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
        }
    }
    let filler = token(&side.ctx, "filler0000", UserType::Customer);
    let v = call_ok(
        &side.ctx,
        request(Method::POST, "/tickets", Some(&filler), Some(&body)),
        201,
    )
    .await?;
    let tid = v
        .pointer("/data/_id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let template = side
        .plain
        .get(&keys::ticket(&TicketId::parse(&tid)?))
        .await?
        .ok_or_else(|| anyhow::anyhow!("template ticket missing"))?;
    side.stats.take_usage();
    Ok((probe, first, template))
}

async fn fill_sqlite(store: &Store, items: &[Item]) -> anyhow::Result<()> {
    for chunk in items.chunks(500) {
        store
            .transact(
                chunk
                    .iter()
                    .map(|i| Write::Put {
                        item: i.clone(),
                        cond: Cond::NotExists,
                    })
                    .collect(),
            )
            .await?;
    }
    Ok(())
}

/// Fills the emulator: BatchWriteItem, 25 items a request (the store's own items, encoded the
/// way the DynamoDB backend encodes them), a few requests at a time, unprocessed items resent.
async fn fill_dynamo(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    items: &[Item],
) -> anyhow::Result<()> {
    use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
    let mut batches = Vec::new();
    for chunk in items.chunks(25) {
        let mut reqs = Vec::new();
        for item in chunk {
            let attrs: std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue> =
                serde_dynamo::to_item(item)?;
            reqs.push(
                WriteRequest::builder()
                    .put_request(PutRequest::builder().set_item(Some(attrs)).build()?)
                    .build(),
            );
        }
        batches.push(reqs);
    }
    let results: Vec<anyhow::Result<()>> = futures_util::stream::iter(batches)
        .map(|mut reqs| async move {
            for _ in 0..10 {
                let out = client
                    .batch_write_item()
                    .request_items(table, reqs)
                    .send()
                    .await?;
                match out.unprocessed_items.and_then(|mut u| u.remove(table)) {
                    Some(rest) if !rest.is_empty() => reqs = rest,
                    _ => return Ok(()),
                }
            }
            anyhow::bail!("BatchWriteItem kept leaving items unprocessed")
        })
        .buffer_unordered(4)
        .collect()
        .await;
    results.into_iter().collect()
}

pub struct Options {
    pub embedded_sizes: Vec<usize>,
    pub emulator_sizes: Vec<usize>,
    pub engineer_counts: Vec<usize>,
}

pub async fn run(
    moto: &str,
    proxy: Arc<Proxy>,
    scratch: &Path,
    opts: &Options,
) -> anyhow::Result<Section> {
    let emb = Side::new(
        "embedded",
        fixtures::sqlite_store(&scratch.join("scale"))?,
        None,
        15,
    );
    let scale_table = fixtures::unique("bench-scale");
    let emu_store = fixtures::dynamo_store(&proxy.url, moto, &scale_table).await?;
    let emu = Side::new("emulator", emu_store, Some(proxy.clone()), 3);
    let direct = aws_sdk_dynamodb::Client::new(&fixtures::sdk_config(moto).await);
    let (probe_e, ticket_e, template) = seed(&emb).await?;
    let (probe_d, ticket_d, _) = seed(&emu).await?;
    let from_id = template
        .get("ticketId")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    anyhow::ensure!(!from_id.is_empty(), "the template ticket has no ticketId");

    let mut section = Section {
        listing: Vec::new(),
        get: Vec::new(),
        create: Vec::new(),
        fill_rate: Vec::new(),
    };
    let mut in_table = PROBE_TICKETS + 1;
    let mut filled = (Duration::ZERO, 0usize, Duration::ZERO, 0usize);
    let max = opts
        .embedded_sizes
        .iter()
        .chain(&opts.emulator_sizes)
        .max()
        .copied()
        .unwrap_or(0);
    let mut sizes: Vec<usize> = opts
        .embedded_sizes
        .iter()
        .chain(&opts.emulator_sizes)
        .copied()
        .collect();
    sizes.sort();
    sizes.dedup();
    let mut n = 0usize;
    for size in sizes.into_iter().filter(|s| *s <= max) {
        let more = size.saturating_sub(in_table);
        let items: Vec<Item> = (0..more)
            .map(|_| {
                n += 1;
                clone_ticket(
                    &template,
                    &from_id,
                    "filler0000",
                    &format!("filler{:04}", n % FILLER_REPORTERS),
                )
            })
            .collect();
        if opts.embedded_sizes.iter().any(|s| *s >= size) {
            let t = Instant::now();
            fill_sqlite(&emb.plain, &items).await?;
            filled.0 += t.elapsed();
            filled.1 += items.len();
        }
        if opts.emulator_sizes.iter().any(|s| *s >= size) {
            let t = Instant::now();
            fill_dynamo(&direct, &scale_table, &items).await?;
            filled.2 += t.elapsed();
            filled.3 += items.len();
        }
        in_table = size;
        let sides: Vec<(&Side, &str, &str)> = [
            opts.embedded_sizes.contains(&size).then_some((
                &emb,
                probe_e.as_str(),
                ticket_e.as_str(),
            )),
            opts.emulator_sizes.contains(&size).then_some((
                &emu,
                probe_d.as_str(),
                ticket_d.as_str(),
            )),
        ]
        .into_iter()
        .flatten()
        .collect();
        for (side, probe, ticket) in sides {
            // The fill is visible: a filler customer's partition holds their tickets.
            if let Some(last) = items.last() {
                let id = last
                    .get("ticketId")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let t = side.plain.get_ticket(&TicketId::parse(id)?).await?;
                anyhow::ensure!(
                    t.is_some(),
                    "a filler ticket does not read back on {}",
                    side.name
                );
            }
            section.listing.push(
                side.point(
                    size,
                    || request(Method::GET, "/tickets", Some(probe), None),
                    200,
                )
                .await?,
            );
            let path = format!("/tickets/{ticket}");
            section.get.push(
                side.point(size, || request(Method::GET, &path, Some(probe), None), 200)
                    .await?,
            );
        }
    }
    if filled.1 > 0 {
        section
            .fill_rate
            .push(("embedded", filled.1 as f64 / filled.0.as_secs_f64()));
    }
    if filled.3 > 0 {
        section
            .fill_rate
            .push(("emulator", filled.3 as f64 / filled.2.as_secs_f64()));
    }

    // Creation as the engineers grow, each side on a fresh table.
    let emb = Side::new(
        "embedded",
        fixtures::sqlite_store(&scratch.join("engineers"))?,
        None,
        0,
    );
    let eng_table = fixtures::unique("bench-eng");
    let emu_store = fixtures::dynamo_store(&proxy.url, moto, &eng_table).await?;
    let emu = Side::new("emulator", emu_store, Some(proxy.clone()), 0);
    for side in [&emb, &emu] {
        put_user(&side.plain, "probe", UserType::Customer).await?;
    }
    let probe = token(&emb.ctx, "probe", UserType::Customer);
    let body = json!({"title": "Printer", "description": "Printer is not working."});
    let mut have = 0;
    for &count in &opts.engineer_counts {
        let mut items = Vec::new();
        while have < count {
            let id = format!("eng{have:04}");
            put_user(&emb.plain, &id, UserType::Engineer).await?;
            let item = emb
                .plain
                .get(&keys::user(&UserId::parse(&id)?))
                .await?
                .ok_or_else(|| anyhow::anyhow!("engineer {id} missing"))?;
            items.push(item);
            have += 1;
        }
        fill_dynamo(&direct, &eng_table, &items).await?;
        for side in [&emb, &emu] {
            let mut p = side
                .point(
                    count,
                    || request(Method::POST, "/tickets", Some(&probe), Some(&body)),
                    201,
                )
                .await?;
            // The emulator's transactions copy its whole table (moto): time one request
            // there, a few on the embedded store.
            let reps = if side.proxy.is_some() { 1 } else { 5 };
            let mut times = Vec::new();
            for _ in 0..reps {
                let t = Instant::now();
                call_ok(
                    &side.ctx,
                    request(Method::POST, "/tickets", Some(&probe), Some(&body)),
                    201,
                )
                .await?;
                times.push(t.elapsed());
            }
            p.time = median(&times);
            side.stats.take_usage();
            if let Some(px) = &side.proxy {
                px.take();
            }
            section.create.push(p);
        }
    }
    Ok(section)
}

fn cost(u: &Usage) -> String {
    let c = u.cost;
    format!(
        "{} ({}g + {}q + {}w), depth {}",
        c.total(),
        c.gets,
        c.queries,
        c.writes,
        c.depth
    )
}

fn wire(p: &Point) -> String {
    p.wire
        .as_ref()
        .map(|w| format!("{} in {} requests", w.items_read, w.count("dynamodb:")))
        .unwrap_or_else(|| "–".into())
}

fn flat(points: &[Point], backend: &str) -> bool {
    let v: Vec<usize> = points
        .iter()
        .filter(|p| p.backend == backend)
        .map(|p| p.usage.items_read)
        .collect();
    v.windows(2).all(|w| w[0] == w[1])
}

pub fn render(s: &Section, out: &mut String) {
    let _ = writeln!(
        out,
        "The probe customer has {PROBE_TICKETS} tickets; every other ticket in the table belongs to one of {FILLER_REPORTERS} other customers. *Items read* are the store's count (`take_usage().items_read`: items returned by gets and queries); *on the wire* is what the emulator returned (a query asks for one item more than the page, to know whether more follow). Times are medians of a few requests, for the shape only: the emulator's own time grows with its table (moto filters a whole index in Python for a query, and copies the whole table for every transaction), DynamoDB's does not.\n"
    );
    for (title, points) in [
        (
            "Customer's listing, `GET /tickets` (one page of 100)",
            &s.listing,
        ),
        ("Get by id, `GET /tickets/{id}`", &s.get),
    ] {
        let _ = writeln!(out, "**{title}**\n");
        let rows: Vec<Vec<String>> = points
            .iter()
            .map(|p| {
                vec![
                    p.backend.to_owned(),
                    p.x.to_string(),
                    cost(&p.usage),
                    p.usage.items_read.to_string(),
                    wire(p),
                    us(p.time),
                ]
            })
            .collect();
        out.push_str(&table(
            &[
                "backend",
                "tickets in the table",
                "store calls",
                "items read",
                "items on the wire",
                "time",
            ],
            &rows,
        ));
        let verdict = ["embedded", "emulator"]
            .iter()
            .map(|b| {
                format!(
                    "{b}: {}",
                    if flat(points, b) {
                        "flat"
                    } else {
                        "**NOT flat**"
                    }
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        let _ = writeln!(out, "\nItems read per request — {verdict}.\n");
    }
    let _ = writeln!(
        out,
        "**Ticket creation, `POST /tickets`, as the approved engineers grow**\n"
    );
    let rows: Vec<Vec<String>> = s
        .create
        .iter()
        .map(|p| {
            vec![
                p.backend.to_owned(),
                p.x.to_string(),
                cost(&p.usage),
                format!("{} / {}", p.usage.items_read, p.usage.items_written),
                wire(p),
                us(p.time),
            ]
        })
        .collect();
    out.push_str(&table(
        &[
            "backend",
            "approved engineers",
            "store calls",
            "items read / written",
            "items on the wire",
            "time",
        ],
        &rows,
    ));
    let verdict = ["embedded", "emulator"]
        .iter()
        .map(|b| {
            format!(
                "{b}: {}",
                if flat(&s.create, b) {
                    "flat"
                } else {
                    "**NOT flat**"
                }
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let _ = writeln!(
        out,
        "\nItems read per creation — {verdict}: the caller and the least-loaded engineer, the first item of the sparse load index (one indexed read of one item, whatever the number of engineers).\n"
    );
    if !s.fill_rate.is_empty() {
        let _ = writeln!(
            out,
            "Filling rate: {}.\n",
            s.fill_rate
                .iter()
                .map(|(b, r)| format!("{b} {r:.0} tickets/s"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
}
