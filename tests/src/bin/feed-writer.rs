//! A second writer process for the change feed's concurrency test (tests/tests/api/events.rs):
//! creates tickets through the same use case the API runs, on the store `crm serve` serves
//! from (a DynamoDB table, or the embedded store's file), with the store's test hook that
//! makes every commit slow between its feed stamp and the commit (crm-shared's `test-hooks`
//! feature, which only this crate enables). Prints one JSON line per ticket: its id and the
//! wall-clock milliseconds at which the creation began and returned.
//!
//! `feed-writer (--table NAME | --sqlite FILE) --reporter USER --count N --delay-ms D
//! --horizon-ms H`; DynamoDB through the emulator environment (AWS_ENDPOINT_URL_DYNAMODB...).

use anyhow::{Context, bail};
use crm_embedded::SqliteBackend;
use crm_shared::config::Secret;
use crm_shared::model::{Description, Timestamp, Title, UserType};
use crm_shared::service::{self, Ctx, NewTicket};
use crm_shared::store::{DynamoBackend, Store};
use std::time::Duration;

struct Args {
    table: Option<String>,
    sqlite: Option<String>,
    reporter: String,
    count: usize,
    delay: Duration,
    horizon: Duration,
}

fn args() -> anyhow::Result<Args> {
    let mut a = Args {
        table: None,
        sqlite: None,
        reporter: String::new(),
        count: 0,
        delay: Duration::ZERO,
        horizon: Duration::from_secs(10),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        let ms = |v: &str| v.parse::<u64>().map(Duration::from_millis);
        match flag.as_str() {
            "--table" => a.table = Some(value),
            "--sqlite" => a.sqlite = Some(value),
            "--reporter" => a.reporter = value,
            "--count" => a.count = value.parse()?,
            "--delay-ms" => a.delay = ms(&value)?,
            "--horizon-ms" => a.horizon = ms(&value)?,
            other => bail!("unknown flag {other}"),
        }
    }
    Ok(a)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = args()?;
    let store = match (&a.table, &a.sqlite) {
        (Some(table), None) => {
            let sdk = crm_tests::emulator::sdk_config().await;
            Store::dynamo(DynamoBackend::new(
                aws_sdk_dynamodb::Client::new(&sdk),
                table.clone(),
            ))
        }
        (None, Some(file)) => Store::plugged(SqliteBackend::open(std::path::Path::new(file))?),
        _ => bail!("give --table or --sqlite"),
    };
    let store = store
        .with_feed_horizon(a.horizon)
        .with_commit_delay(a.delay);
    let ctx = Ctx::new(
        store,
        &Secret::new("feed-writer-secret-0123456789abcdef"),
        3600,
        4,
    );
    let who = crm_tests::desk::authed(&ctx, &a.reporter, UserType::Customer);
    for i in 0..a.count {
        let start = Timestamp::now().millis();
        let t = service::create_ticket(
            &ctx,
            &who,
            NewTicket {
                title: Title::parse(&format!("Slow writer's ticket {i}"))?,
                description: Description::parse("Written by the second process.")?,
                priority: None,
                tags: None,
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("creating ticket {i}: {e:?}"))?;
        let end = Timestamp::now().millis();
        println!(
            "{}",
            serde_json::json!({"id": t.id, "start": start, "end": end})
        );
    }
    Ok(())
}
