//! A counting HTTP proxy in front of the AWS emulator: every request that reaches "AWS" is
//! counted by operation (DynamoDB GetItem, SQS SendMessage, SES SendEmail, ...) with the
//! items a read returned, and every TCP connection made to it is counted. It is the wire's
//! view, to check the store's own counts against (an SDK retry or an extra page of a query
//! would show here) and to see when a function opens its connections. With a TLS acceptor it
//! is also the loopback HTTPS front of the cold-start section (`crate::tls`).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// One request as the emulator saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// `dynamodb:GetItem`, `sqs:SendMessage`, `ses:SendEmail`, ...
    pub op: String,
    /// Items a DynamoDB read returned (`Count` of a Query, 0/1 for a GetItem).
    pub items: usize,
    /// The error the emulator answered (`TransactionCanceledException`, ...), if any.
    pub error: Option<String>,
    /// A cancelled transaction's reasons other than `None` (`ConditionalCheckFailed`,
    /// `TransactionConflict`).
    pub reasons: Vec<String>,
}

#[derive(Default)]
struct Counts {
    connections: AtomicUsize,
    /// When each connection was accepted (before its TLS handshake).
    accepted: Mutex<Vec<Instant>>,
    calls: Mutex<Vec<Call>>,
}

pub struct Proxy {
    pub url: String,
    pub port: u16,
    counts: Arc<Counts>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What a stretch of calls was, by operation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Wire {
    pub by_op: BTreeMap<String, usize>,
    pub items_read: usize,
    /// Error answers by `op error` (`dynamodb:TransactWriteItems TransactionCanceledException`).
    pub errors: BTreeMap<String, usize>,
    /// Cancellation reasons of cancelled transactions, by code.
    pub reasons: BTreeMap<String, usize>,
}

impl Wire {
    pub fn count(&self, prefix: &str) -> usize {
        self.by_op
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(_, v)| v)
            .sum()
    }

    /// `GetItem 2, Query 1` for the DynamoDB calls.
    pub fn dynamodb_summary(&self) -> String {
        let parts: Vec<String> = self
            .by_op
            .iter()
            .filter_map(|(k, v)| k.strip_prefix("dynamodb:").map(|op| format!("{op} {v}")))
            .collect();
        if parts.is_empty() {
            "none".into()
        } else {
            parts.join(", ")
        }
    }
}

impl Proxy {
    /// Starts a proxy on a free loopback port forwarding to `upstream` (`http://host:port`).
    pub async fn start(upstream: &str) -> anyhow::Result<Self> {
        Self::start_with(upstream, None).await
    }

    /// The same, serving HTTPS with `tls` (the functions' side); upstream stays plain HTTP.
    pub async fn start_tls(upstream: &str, tls: TlsAcceptor) -> anyhow::Result<Self> {
        Self::start_with(upstream, Some(tls)).await
    }

    async fn start_with(upstream: &str, tls: Option<TlsAcceptor>) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let port = listener.local_addr()?.port();
        let counts = Arc::new(Counts::default());
        let client: Client<HttpConnector, Full<Bytes>> =
            Client::builder(TokioExecutor::new()).build_http();
        let upstream = upstream.trim_end_matches('/').to_owned();
        let tls_on = tls.is_some();
        let c = counts.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                c.accepted
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(Instant::now());
                c.connections.fetch_add(1, Ordering::SeqCst);
                let _ = stream.set_nodelay(true);
                let (c, client, upstream) = (c.clone(), client.clone(), upstream.clone());
                let svc = service_fn(move |req| {
                    let (c, client, upstream) = (c.clone(), client.clone(), upstream.clone());
                    async move { forward(&c, &client, &upstream, req).await }
                });
                let tls = tls.clone();
                tokio::spawn(async move {
                    let http = http1::Builder::new();
                    match tls {
                        Some(tls) => {
                            if let Ok(stream) = tls.accept(stream).await {
                                let _ = http.serve_connection(TokioIo::new(stream), svc).await;
                            }
                        }
                        None => {
                            let _ = http.serve_connection(TokioIo::new(stream), svc).await;
                        }
                    }
                });
            }
        });
        let scheme = if tls_on { "https" } else { "http" };
        Ok(Self {
            url: format!("{scheme}://127.0.0.1:{port}"),
            port,
            counts,
            task,
        })
    }

    pub fn connections(&self) -> usize {
        self.counts.connections.load(Ordering::SeqCst)
    }

    /// When the connections from the `from`-th on were accepted.
    pub fn accepted_since(&self, from: usize) -> Vec<Instant> {
        let a = self
            .counts
            .accepted
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        a.get(from..).map(<[Instant]>::to_vec).unwrap_or_default()
    }

    /// The calls since the last `take`.
    pub fn take(&self) -> Wire {
        let calls =
            std::mem::take(&mut *self.counts.calls.lock().unwrap_or_else(|p| p.into_inner()));
        let mut w = Wire::default();
        for c in calls {
            if let Some(e) = &c.error {
                *w.errors.entry(format!("{} {e}", c.op)).or_default() += 1;
            }
            for r in c.reasons {
                *w.reasons.entry(r).or_default() += 1;
            }
            *w.by_op.entry(c.op).or_default() += 1;
            w.items_read += c.items;
        }
        w
    }
}

fn op_name(req: &hyper::Request<Incoming>) -> String {
    if let Some(t) = req
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
    {
        let (svc, op) = t.split_once('.').unwrap_or(("", t));
        let svc = if svc.starts_with("DynamoDB") {
            "dynamodb"
        } else if svc.starts_with("AmazonSQS") {
            "sqs"
        } else {
            svc
        };
        return format!("{svc}:{op}");
    }
    let path = req.uri().path();
    if path.starts_with("/v2/email/outbound-emails") {
        return "ses:SendEmail".into();
    }
    format!("other:{} {path}", req.method())
}

fn items_in(op: &str, body: &[u8]) -> usize {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return 0;
    };
    match op {
        "dynamodb:GetItem" => usize::from(v.get("Item").is_some_and(|i| !i.is_null())),
        "dynamodb:Query" | "dynamodb:Scan" => {
            v.get("Count").and_then(|c| c.as_u64()).unwrap_or(0) as usize
        }
        _ => 0,
    }
}

/// The error type of an AWS JSON error answer (`__type` after its `#`, else the HTTP
/// status) and, for a cancelled transaction, its reasons other than `None`.
fn error_in(status: http::StatusCode, body: &[u8]) -> (Option<String>, Vec<String>) {
    let v = serde_json::from_slice::<serde_json::Value>(body).unwrap_or_default();
    let kind = v
        .get("__type")
        .and_then(|t| t.as_str())
        .map(|t| t.rsplit('#').next().unwrap_or(t).to_owned())
        .unwrap_or_else(|| format!("HTTP {}", status.as_u16()));
    let reasons = v
        .get("CancellationReasons")
        .and_then(|r| r.as_array())
        .map(|rs| {
            rs.iter()
                .filter_map(|r| r.get("Code").and_then(|c| c.as_str()))
                .filter(|c| *c != "None")
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    (Some(kind), reasons)
}

async fn forward(
    counts: &Counts,
    client: &Client<HttpConnector, Full<Bytes>>,
    upstream: &str,
    req: hyper::Request<Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, std::convert::Infallible> {
    let op = op_name(&req);
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let pq = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let mut out = hyper::Request::builder()
        .method(parts.method)
        .uri(format!("{upstream}{pq}"));
    for (k, v) in &parts.headers {
        if !matches!(
            k.as_str(),
            "connection" | "transfer-encoding" | "keep-alive"
        ) {
            out = out.header(k, v);
        }
    }
    let Ok(out) = out.body(Full::new(body)) else {
        return Ok(bad_gateway());
    };
    let Ok(resp) = client.request(out).await else {
        return Ok(bad_gateway());
    };
    let (mut parts, body) = resp.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    for hop in ["connection", "transfer-encoding", "keep-alive"] {
        parts.headers.remove(hop);
    }
    let items = items_in(&op, &body);
    let (error, reasons) = if parts.status.is_success() {
        (None, Vec::new())
    } else {
        error_in(parts.status, &body)
    };
    counts
        .calls
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(Call {
            op,
            items,
            error,
            reasons,
        });
    Ok(hyper::Response::from_parts(parts, Full::new(body)))
}

fn bad_gateway() -> hyper::Response<Full<Bytes>> {
    let mut r = hyper::Response::new(Full::new(Bytes::from_static(b"proxy: upstream failed")));
    *r.status_mut() = http::StatusCode::BAD_GATEWAY;
    r
}
