//! Section 10: what a page of the change feed (`GET /events`, SPEC §8) reads as the feed grows,
//! on the embedded store and on DynamoDB Local. The feed is filled through the store's own
//! write path (`Store::event_writes`' feed items, stamped by the backend at commit, a hundred
//! to a transaction); the pages go through the same glue a Lambda runs. The figures that must
//! stay flat are the store calls and the items read per page.

use crate::fixtures::{self, call, call_ok, put_user, request, token};
use crate::report::{median, table, us};
use crm_shared::model::{Event, EventData, EventType, Timestamp, UserType};
use crm_shared::service::Ctx;
use crm_shared::store::{Stats, Store, Usage, Write};
use http::Method;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Feed items per filling transaction (DynamoDB takes at most 100 writes in one).
const PER_TRANSACTION: usize = 100;

pub struct Point {
    pub backend: &'static str,
    pub events: usize,
    pub page: &'static str,
    pub returned: usize,
    pub usage: Usage,
    pub time: Duration,
}

pub struct Section {
    pub points: Vec<Point>,
    pub fill_rate: Vec<(&'static str, f64)>,
}

/// One backend: a plain store for filling, a counted one (horizon 0: every event written is
/// visible at once, so the pages need not wait 10 s) behind the API glue.
struct Side {
    name: &'static str,
    plain: Store,
    stats: Arc<Stats>,
    ctx: Ctx,
    admin: String,
    reps: usize,
}

impl Side {
    async fn new(name: &'static str, plain: Store, reps: usize) -> anyhow::Result<Self> {
        let (counted, stats) = plain.clone().with_feed_horizon(Duration::ZERO).with_stats();
        let ctx = fixtures::ctx(counted);
        put_user(&plain, "feedadmin", UserType::Admin).await?;
        let admin = token(&ctx, "feedadmin", UserType::Admin);
        Ok(Self {
            name,
            plain,
            stats,
            ctx,
            admin,
            reps,
        })
    }

    /// `n` more `ticket.updated` events (their feed items only: the outbox items would not
    /// change what a page reads).
    async fn fill(&self, n: usize) -> anyhow::Result<()> {
        let mut left = n;
        while left > 0 {
            let k = left.min(PER_TRANSACTION);
            let mut writes: Vec<Write> = Vec::with_capacity(k);
            for _ in 0..k {
                let e = Event::new(
                    EventType::TicketUpdated,
                    Timestamp::now().rfc3339(),
                    EventData::default(),
                );
                // The outbox item, then the feed item.
                let mut w = self.plain.event_writes(&e)?;
                writes.push(w.pop().ok_or_else(|| anyhow::anyhow!("no feed item"))?);
            }
            self.plain.transact(writes).await?;
            left -= k;
        }
        Ok(())
    }

    /// The cost of one page at `query`, then the median time of a few more.
    async fn point(&self, events: usize, page: &'static str, query: &str) -> anyhow::Result<Point> {
        let path = format!("/events{query}");
        self.stats.take_usage();
        let body = call_ok(
            &self.ctx,
            request(Method::GET, &path, Some(&self.admin), None),
            200,
        )
        .await?;
        let usage = self.stats.take_usage();
        let returned = body["documentResultsCount"].as_u64().unwrap_or(0) as usize;
        let mut times = Vec::new();
        for _ in 0..self.reps {
            let t = Instant::now();
            let r = call(
                &self.ctx,
                request(Method::GET, &path, Some(&self.admin), None),
            )
            .await;
            times.push(t.elapsed());
            anyhow::ensure!(r.status.as_u16() == 200, "status {}", r.status);
        }
        self.stats.take_usage();
        Ok(Point {
            backend: self.name,
            events,
            page,
            returned,
            usage,
            time: median(&times),
        })
    }
}

pub async fn run(ddb: &str, scratch: &Path, sizes: &[usize]) -> anyhow::Result<Section> {
    let embedded = Side::new(
        "embedded",
        fixtures::sqlite_store(&scratch.join("feed"))?,
        15,
    )
    .await?;
    let table = fixtures::unique("bench-feed");
    let local = Side::new(
        "DynamoDB Local",
        fixtures::dynamo_store(ddb, ddb, &table).await?,
        5,
    )
    .await?;
    let mut sizes = sizes.to_vec();
    sizes.sort();
    sizes.dedup();
    let mut points = Vec::new();
    let mut filled = [(Duration::ZERO, 0usize); 2];
    for (i, side) in [&embedded, &local].into_iter().enumerate() {
        let mut in_feed = 0;
        for &size in &sizes {
            // Half before a mark, half after: `since=<mark>` is a page from the middle.
            let half = size / 2;
            let t = Instant::now();
            side.fill(half.saturating_sub(in_feed)).await?;
            tokio::time::sleep(Duration::from_millis(2)).await;
            let middle = Timestamp::now();
            tokio::time::sleep(Duration::from_millis(2)).await;
            side.fill(size - half.max(in_feed)).await?;
            filled[i].0 += t.elapsed();
            filled[i].1 += size - in_feed;
            in_feed = size;
            tokio::time::sleep(Duration::from_millis(2)).await;
            let end = Timestamp::now();
            // RFC 3339 in UTC (`…Z`): nothing in it needs escaping in a query string.
            let since = |t: Timestamp| t.rfc3339();
            points.push(
                side.point(
                    size,
                    "100 events from the middle (`?since=…&limit=100`)",
                    &format!("?since={}&limit=100", since(middle)),
                )
                .await?,
            );
            points.push(
                side.point(
                    size,
                    "a type no event has (`?type=sla.breached&since=…`): stops at its bound",
                    &format!("?type=sla.breached&since={}&limit=100", since(middle)),
                )
                .await?,
            );
            points.push(
                side.point(
                    size,
                    "caught up: nothing new (`?since=<the end>`)",
                    &format!("?since={}&limit=100", since(end)),
                )
                .await?,
            );
        }
    }
    let rate = |(d, n): (Duration, usize)| n as f64 / d.as_secs_f64().max(1e-9);
    Ok(Section {
        points,
        fill_rate: vec![
            ("embedded", rate(filled[0])),
            ("DynamoDB Local", rate(filled[1])),
        ],
    })
}

fn cost(u: &Usage) -> String {
    format!(
        "{} ({}g + {}q), depth {}",
        u.cost.total(),
        u.cost.gets,
        u.cost.queries,
        u.cost.depth
    )
}

pub fn render(s: &Section, out: &mut String) {
    let _ = writeln!(
        out,
        "A page reads the feed's 16 shards (`FEED#00`–`FEED#15`) at once, strongly consistent, from its position to the visible end, each first for about its share of the page (`limit ÷ 16 + 2`); a shard that runs out before the page is full is read again; a type filter reads at most 2,000 items (8 rounds) and then answers a short page with a cursor (docs/data-model.md, \"The change feed\"). The feed holds `ticket.updated` events only, written through the store's own path (stamped by the backend at commit, {PER_TRANSACTION} to a transaction); the pages go through the API glue as an admin's `GET /events`, with the horizon at 0 so that what was just written is visible. *Store calls*: the caller's get and the shard queries, from the store's stats (`Store::with_stats`); *items read*: items returned by them (the caller included). Times are medians of a few pages, for the shape only (the emulator's own time grows with its table; DynamoDB's does not).\n"
    );
    let rows: Vec<Vec<String>> = s
        .points
        .iter()
        .map(|p| {
            vec![
                p.backend.to_owned(),
                p.events.to_string(),
                p.page.to_owned(),
                p.returned.to_string(),
                cost(&p.usage),
                p.usage.items_read.to_string(),
                us(p.time),
            ]
        })
        .collect();
    out.push_str(&table(
        &[
            "backend",
            "events in the feed",
            "page",
            "events returned",
            "store calls",
            "items read",
            "time",
        ],
        &rows,
    ));
    let mut verdicts = Vec::new();
    for backend in ["embedded", "DynamoDB Local"] {
        for page in s
            .points
            .iter()
            .map(|p| p.page)
            .collect::<std::collections::BTreeSet<_>>()
        {
            let reads: Vec<(usize, usize, usize)> = s
                .points
                .iter()
                .filter(|p| p.backend == backend && p.page == page)
                .map(|p| (p.events, p.usage.cost.total(), p.usage.items_read))
                .collect();
            if let (Some(first), Some(last)) = (reads.first(), reads.last()) {
                verdicts.push(format!(
                    "{backend}, {}: {} calls and {} items at {} events, {} and {} at {}",
                    page.split(" (").next().unwrap_or(page),
                    first.1,
                    first.2,
                    first.0,
                    last.1,
                    last.2,
                    last.0
                ));
            }
        }
    }
    let _ = writeln!(out, "\nPer page: {}.\n", verdicts.join("; "));
    let _ = writeln!(
        out,
        "Filling rate (feed items through the store's write path): {}.\n",
        s.fill_rate
            .iter()
            .map(|(b, r)| format!("{b} {r:.0} items/s"))
            .collect::<Vec<_>>()
            .join(", ")
    );
}
