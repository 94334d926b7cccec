//! Mail in locally (SPEC §9): `crm serve --smtp-port N` takes SMTP on 127.0.0.1 for the
//! inbound domain and hands each message to the same code as the cloud's stored mail
//! (`crm_intake::deliver::take`); `crm intake` runs JSON commands from standard input through
//! the same code as the intake queue (`crm_intake::command::run`).

use crate::StoreArgs;
use crate::local;
use crm_intake::command::{self, failure_line};
use crm_intake::deliver::{Source, take};
use crm_intake::smtp::{Outcome, SmtpConfig, serve_smtp};
use crm_shared::mail::ReplyAddresses;
use crm_shared::service::Ctx;
use std::io::{BufRead, Write};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// Starts the SMTP listener on 127.0.0.1:`port`; prints `smtp on 127.0.0.1:<port>` (the port
/// taken, for 0). Returns what stops it and its task.
pub async fn start_smtp(
    port: u16,
    ctx: Arc<Ctx>,
    replies: ReplyAddresses,
) -> anyhow::Result<(oneshot::Sender<()>, tokio::task::JoinHandle<()>)> {
    use anyhow::Context;
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("binding 127.0.0.1:{port} for SMTP"))?;
    let port = listener.local_addr()?.port();
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "smtp on 127.0.0.1:{port}")?;
        out.flush()?;
    }
    tracing::info!(port, domain = replies.address().domain(), "smtp: serving");
    let config = SmtpConfig::new(replies.address().domain());
    let replies = Arc::new(replies);
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let handler = move |d: crm_intake::smtp::Delivered| {
            let (ctx, replies) = (ctx.clone(), replies.clone());
            async move {
                match take(&ctx, &replies, &d.raw, &d.recipients, Source::Local).await {
                    Ok(_) => Outcome::Accepted,
                    Err(e) => {
                        tracing::warn!(code = e.code.as_str(), "smtp: cannot take the message now");
                        Outcome::TryLater
                    }
                }
            }
        };
        let shutdown = async {
            let _ = stopped.await;
        };
        if let Err(e) = serve_smtp(listener, config, handler, shutdown).await {
            tracing::error!(error = %e, "smtp: the listener stopped");
        }
    });
    Ok((stop, task))
}

/// `crm intake`: one command a line in, one result a line out.
pub async fn run(store_args: StoreArgs) -> anyhow::Result<()> {
    local::init_logging();
    let config = local::config()?;
    std::fs::create_dir_all(&store_args.data_dir)?;
    let secret = local::jwt_secret(&config, &store_args.data_dir)?;
    let (store, _) = local::open_store(&store_args, &config, false).await?;
    // Events wait in the outbox: a `crm serve` on the same data dir sweeps them out.
    let ctx = Ctx::configured(store, &secret, &config, Default::default());
    let mut refused = 0usize;
    let stdin = std::io::stdin();
    let mut out = std::io::stdout().lock();
    for line in stdin.lock().lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let result = match command::run(&ctx, line.as_bytes()).await {
            Ok(v) => v,
            Err(f) => {
                refused += 1;
                failure_line(&f)
            }
        };
        writeln!(out, "{result}")?;
        out.flush()?;
    }
    if refused > 0 {
        anyhow::bail!("{refused} command(s) refused");
    }
    Ok(())
}
