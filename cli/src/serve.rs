//! `crm serve`: every function's routes in one process on 127.0.0.1, over the embedded store
//! (or DynamoDB), with the default admin made on first start and a clean stop on Ctrl-C or
//! SIGTERM (in-flight requests finish; nothing committed is lost).

use crate::StoreArgs;
use crate::local;
use crate::parse_errors::Enveloped;
use anyhow::Context;
use crm_shared::http::Api;
use crm_shared::service::{Ctx, ensure_default_admin};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

pub async fn run(port: u16, smtp_port: Option<u16>, store_args: StoreArgs) -> anyhow::Result<()> {
    local::init_logging();
    // The handlers go in first: a signal at any moment is a clean stop with status 0, never
    // the default death by signal. During start-up it cuts the step that waits (the store, the
    // mail transport, the default admin's hash), since each of them commits all or nothing.
    let mut stop = std::pin::pin!(shutdown_signal()?);
    let config = local::config()?;
    std::fs::create_dir_all(&store_args.data_dir)
        .with_context(|| format!("creating {}", store_args.data_dir.display()))?;
    let secret = local::jwt_secret(&config, &store_args.data_dir)?;
    // The mail channel (SPEC §9), when CRM_INBOUND_ADDRESS is set.
    let replies = crm_shared::cloud::reply_addresses(&config, &secret)?;
    if smtp_port.is_some() && replies.is_none() {
        anyhow::bail!("--smtp-port needs CRM_INBOUND_ADDRESS (the mail channel's address)");
    }
    let dynamodb = store_args.store == crate::StoreKind::Dynamodb;
    let Some(opened) =
        unless_stopped(&mut stop, local::open_store(&store_args, &config, true)).await
    else {
        stopped_while_starting(dynamodb);
        return Ok(());
    };
    let (store, new_store) = opened?;
    let Some(started) = unless_stopped(
        &mut stop,
        crate::notify::start(
            store.clone(),
            &config,
            &store_args.data_dir,
            replies.clone(),
        ),
    )
    .await
    else {
        stopped_while_starting(dynamodb);
        return Ok(());
    };
    let (queues, notifier) = started?;
    // Bound before the context: the attachments' signed URLs name this address (SPEC §13).
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("binding 127.0.0.1:{port}"))?;
    let port = listener.local_addr()?.port();
    let max_bytes = crm_shared::attachments::files::Settings::from_config(&config)
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .max_bytes;
    let mut ctx = Ctx::configured(store, &secret, &config, queues);
    ctx.files = Some(crm_shared::attachments::files::Files::Local {
        signer: crm_shared::attachments::local::LocalSigner::new(&secret),
        data_dir: store_args.data_dir.clone(),
        origin: format!("http://127.0.0.1:{port}"),
    });
    let ctx = Arc::new(ctx);
    let files = Arc::new(crate::files::LocalFiles::new(
        &secret,
        store_args.data_dir.clone(),
        max_bytes,
    ));

    // SPEC §5: the known default password goes only into a store this server owns.
    if !new_store {
        tracing::info!(
            "existing DynamoDB table: no default admin is created (use `crm admin create`)"
        );
    } else {
        let Some(made) = unless_stopped(&mut stop, ensure_default_admin(&ctx)).await else {
            notifier.stop().await;
            stopped_while_starting(dynamodb);
            return Ok(());
        };
        if made.map_err(|e| {
            anyhow::anyhow!(
                "creating the default admin: {}",
                e.internal.unwrap_or(e.message.into_owned())
            )
        })? {
            tracing::info!(
                "created the default admin \"admin\" (change its password before real use)"
            );
        }
    }
    let purge = tokio::spawn(purge_expired_every(ctx.store.clone(), PURGE_PERIOD));
    // The same `Service` a Lambda runs, over every function's routes.
    let api = Api::new(ctx.clone(), crm::router())
        .allow_origins(config.cors_allowed_origins.clone())
        .read_timeout(READ_TIMEOUT);

    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on http://127.0.0.1:{port}")?;
        out.flush()?;
    }
    tracing::info!(port, store = ctx.store.backend_name(), "serving");
    // SPEC §9: mail over SMTP on loopback, handed to the same code as the cloud's stored mail.
    let (smtp_stop, smtp) = match (smtp_port, &replies) {
        (Some(p), Some(r)) => {
            let (stop, task) = crate::intake::start_smtp(p, ctx.clone(), r.clone()).await?;
            (Some(stop), Some(task))
        }
        _ => (None, None),
    };

    let graceful = GracefulShutdown::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((s, _)) => s,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let conn = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(READ_TIMEOUT)
                    .serve_connection(
                        TokioIo::new(Enveloped::new(stream)),
                        local_service(api.clone(), files.clone()),
                    );
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                });
            }
            _ = &mut stop => break,
        }
    }
    drop(listener);
    if let (Some(stop), Some(task)) = (smtp_stop, smtp) {
        let _ = stop.send(());
        let _ = task.await;
    }
    tracing::info!("stopping: waiting for in-flight requests");
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(Duration::from_secs(10)) => tracing::warn!("gave up waiting for connections after 10 s"),
    }
    notifier.stop().await;
    purge.abort();
    if let Some(b) = ctx.store.plugged_as::<crm_embedded::SqliteBackend>()
        && let Err(e) = b.checkpoint().await
    {
        tracing::warn!(error = %e, "checkpoint on shutdown failed (the WAL keeps the data)");
    }
    tracing::info!("stopped");
    Ok(())
}

/// The API, with the local attachment files at `/files` beside it (`crate::files`).
fn local_service(
    api: Api,
    files: Arc<crate::files::LocalFiles>,
) -> impl hyper::service::Service<
    hyper::Request<hyper::body::Incoming>,
    Response = hyper::Response<http_body_util::Full<bytes::Bytes>>,
    Error = std::convert::Infallible,
    Future = impl Send,
> + Clone {
    let api = TowerToHyperService::new(api);
    hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        let (api, files) = (api.clone(), files.clone());
        async move {
            if crate::files::is_files_path(req.uri().path()) {
                Ok(files.handle(req).await)
            } else {
                hyper::service::Service::call(&api, req).await
            }
        }
    })
}

/// How long a client may take to send a request's head (from the connection's start, or the
/// end of its last answer: an idle connection is closed after it too), and then its body
/// (`Api::read_timeout`). A connection that stalls in either is closed, so stalled clients
/// cannot hold the process's file limit; a stalled body is answered `408` first.
const READ_TIMEOUT: Duration = Duration::from_secs(20);

/// How often the embedded store drops items whose TTL has passed (DynamoDB's own TTL does
/// this in the cloud): failed-sign-in windows, delivery markers and the like.
const PURGE_PERIOD: Duration = Duration::from_secs(300);

/// Purges expired items at start and then every `period`; a failure is logged and retried
/// at the next tick.
async fn purge_expired_every(store: crm_shared::store::Store, period: Duration) {
    let Some(b) = store.plugged_as::<crm_embedded::SqliteBackend>().cloned() else {
        return;
    };
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match b
            .purge_expired(crm_shared::model::Timestamp::now().seconds())
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::info!(items = n, "purged expired items"),
            Err(e) => {
                tracing::warn!(error = %e, "purging expired items failed; next period retries")
            }
        }
    }
}

/// Installs the SIGINT and SIGTERM handlers now and returns a future that resolves on the
/// first of them. Installing is eager on purpose: `tokio::signal::ctrl_c()` and a `signal()`
/// made inside an async block only register when first polled, and a signal that lands
/// before that kills the process with the default action (exit by signal, not status 0).
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    Ok(async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
    })
}

/// Says that a signal cut the start-up short. The embedded store makes its default admin at
/// the next start; a DynamoDB table this start may just have made does not (the next start
/// finds it existing, and SPEC §5 gives the known password only to a table just made).
fn stopped_while_starting(dynamodb: bool) {
    if dynamodb {
        tracing::warn!(
            "stopped while starting: if this start made the table, it has no admin yet (make one with `crm admin create`)"
        );
    } else {
        tracing::info!("stopped while starting (the default admin is made at the next start)");
    }
}

/// Runs one start-up step unless the stop signal comes first (then None, and the step is
/// dropped where it waits).
async fn unless_stopped<T>(
    stop: &mut std::pin::Pin<&mut impl std::future::Future<Output = ()>>,
    step: impl std::future::Future<Output = T>,
) -> Option<T> {
    tokio::select! {
        v = step => Some(v),
        () = stop.as_mut() => None,
    }
}
