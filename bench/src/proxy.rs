//! A counting HTTP proxy in front of the AWS emulator: every request that reaches "AWS" is
//! counted by operation (DynamoDB GetItem, SQS SendMessage, SES SendEmail, ...) with the
//! items a read returned, and every TCP connection made to it is counted. It is the wire's
//! view, to check the store's own counts against (an SDK retry or an extra page of a query
//! would show here) and to see when a function opens its connections. With a TLS acceptor it
//! is also the loopback HTTPS front of the cold-start section (`crate::tls`). Metered
//! (`start_metered`), it also asks DynamoDB for the capacity each request consumed
//! (`ReturnConsumedCapacity: INDEXES`, added to the request on its way) and sums the answers,
//! so the cost section measures capacity units without a change to the product's code.

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
    /// Capacity the answer reported consumed (metered proxies only; 0 otherwise).
    pub capacity: Capacity,
    /// `ConditionCheck` items of a TransactWriteItems request (metered proxies only:
    /// DynamoDB bills them, DynamoDB Local reports them at 0).
    pub checks: usize,
}

/// Capacity units in thousandths, so that sums stay exact (DynamoDB reports multiples of 0.5).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Capacity {
    /// Read units (GetItem, Query, Scan): table and indexes.
    pub read_milli: u64,
    /// Write units (PutItem, UpdateItem, DeleteItem, TransactWriteItems): table and indexes.
    pub write_milli: u64,
    /// Of the write units, those the global secondary indexes consumed.
    pub index_write_milli: u64,
}

impl Capacity {
    pub fn read(&self) -> f64 {
        self.read_milli as f64 / 1000.0
    }

    pub fn write(&self) -> f64 {
        self.write_milli as f64 / 1000.0
    }

    pub fn index_write(&self) -> f64 {
        self.index_write_milli as f64 / 1000.0
    }

    fn add(&mut self, o: Capacity) {
        self.read_milli += o.read_milli;
        self.write_milli += o.write_milli;
        self.index_write_milli += o.index_write_milli;
    }
}

#[derive(Default)]
struct Counts {
    /// Ask DynamoDB for the consumed capacity of every request.
    metered: bool,
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
    /// Capacity consumed, as the answers reported it (metered proxies only).
    pub capacity: Capacity,
    /// `ConditionCheck` items of the transactions (metered proxies only).
    pub checks: usize,
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
        Self::start_with(upstream, None, false).await
    }

    /// The same, serving HTTPS with `tls` (the functions' side); upstream stays plain HTTP.
    pub async fn start_tls(upstream: &str, tls: TlsAcceptor) -> anyhow::Result<Self> {
        Self::start_with(upstream, Some(tls), false).await
    }

    /// A proxy that also asks DynamoDB for the capacity each request consumed
    /// (`ReturnConsumedCapacity: INDEXES` added to every DynamoDB request that has none) and
    /// sums what the answers report (`Wire::capacity`). The field belongs to DynamoDB's
    /// normal answer, so the SDK reads it as it would any other answer.
    pub async fn start_metered(upstream: &str) -> anyhow::Result<Self> {
        Self::start_with(upstream, None, true).await
    }

    async fn start_with(
        upstream: &str,
        tls: Option<TlsAcceptor>,
        metered: bool,
    ) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let port = listener.local_addr()?.port();
        let counts = Arc::new(Counts {
            metered,
            ..Counts::default()
        });
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
            w.capacity.add(c.capacity);
            w.checks += c.checks;
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

/// A DynamoDB JSON request with `"ReturnConsumedCapacity": "INDEXES"` added (the table's and
/// each index's share); a body that is not a JSON object, or already asks, passes unchanged.
fn ask_consumed_capacity(body: Bytes) -> Bytes {
    match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(serde_json::Value::Object(mut m)) if !m.contains_key("ReturnConsumedCapacity") => {
            m.insert("ReturnConsumedCapacity".into(), "INDEXES".into());
            serde_json::to_vec(&m).map(Bytes::from).unwrap_or(body)
        }
        _ => body,
    }
}

/// How many `ConditionCheck` items a TransactWriteItems request holds.
fn condition_checks(body: &[u8]) -> usize {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.get("TransactItems")
                .and_then(serde_json::Value::as_array)
                .map(|items| {
                    items
                        .iter()
                        .filter(|i| i.get("ConditionCheck").is_some())
                        .count()
                })
        })
        .unwrap_or(0)
}

/// The capacity a DynamoDB answer reports consumed: `ConsumedCapacity`, one object (single
/// item operations, Query) or a list (transactions), each with its `CapacityUnits` and, under
/// `INDEXES`, the share of each global secondary index.
fn capacity_in(op: &str, body: &[u8]) -> Capacity {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return Capacity::default();
    };
    let entries: Vec<&serde_json::Value> = match v.get("ConsumedCapacity") {
        Some(serde_json::Value::Array(a)) => a.iter().collect(),
        Some(o @ serde_json::Value::Object(_)) => vec![o],
        _ => return Capacity::default(),
    };
    let milli = |x: Option<&serde_json::Value>| {
        (x.and_then(serde_json::Value::as_f64).unwrap_or(0.0) * 1000.0).round() as u64
    };
    let mut total = 0;
    let mut index = 0;
    for e in entries {
        total += milli(e.get("CapacityUnits"));
        if let Some(gsis) = e
            .get("GlobalSecondaryIndexes")
            .and_then(serde_json::Value::as_object)
        {
            index += gsis
                .values()
                .map(|g| milli(g.get("CapacityUnits")))
                .sum::<u64>();
        }
    }
    let reads = matches!(
        op,
        "dynamodb:GetItem"
            | "dynamodb:Query"
            | "dynamodb:Scan"
            | "dynamodb:BatchGetItem"
            | "dynamodb:TransactGetItems"
    );
    if reads {
        Capacity {
            read_milli: total,
            ..Capacity::default()
        }
    } else {
        Capacity {
            write_milli: total,
            index_write_milli: index,
            ..Capacity::default()
        }
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
    let metered = counts.metered && op.starts_with("dynamodb:");
    let checks = if metered { condition_checks(&body) } else { 0 };
    let body = if metered {
        ask_consumed_capacity(body)
    } else {
        body
    };
    let pq = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let mut out = hyper::Request::builder()
        .method(parts.method)
        .uri(format!("{upstream}{pq}"));
    for (k, v) in &parts.headers {
        // The body may have been rewritten: hyper sets the length of the one it sends.
        if !matches!(
            k.as_str(),
            "connection" | "transfer-encoding" | "keep-alive" | "content-length"
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
    let capacity = if metered {
        capacity_in(&op, &body)
    } else {
        Capacity::default()
    };
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
            capacity,
            checks,
        });
    Ok(hyper::Response::from_parts(parts, Full::new(body)))
}

fn bad_gateway() -> hyper::Response<Full<Bytes>> {
    let mut r = hyper::Response::new(Full::new(Bytes::from_static(b"proxy: upstream failed")));
    *r.status_mut() = http::StatusCode::BAD_GATEWAY;
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_metered_request_asks_for_the_capacity_once() {
        let out = ask_consumed_capacity(Bytes::from_static(br#"{"TableName":"t"}"#));
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["ReturnConsumedCapacity"], "INDEXES");
        assert_eq!(v["TableName"], "t");
        let mine = Bytes::from_static(br#"{"ReturnConsumedCapacity":"TOTAL"}"#);
        assert_eq!(ask_consumed_capacity(mine.clone()), mine);
        let not_json = Bytes::from_static(b"Action=SendMessage");
        assert_eq!(ask_consumed_capacity(not_json.clone()), not_json);
        let tx = br#"{"TransactItems":[{"Put":{}},{"ConditionCheck":{}},{"Update":{}}]}"#;
        assert_eq!(condition_checks(tx), 1);
        assert_eq!(condition_checks(b"{}"), 0);
    }

    #[test]
    fn answers_sum_table_and_index_units_by_kind() {
        let tx = br#"{"ConsumedCapacity":[{"TableName":"t","CapacityUnits":6.0,"Table":{"CapacityUnits":4.0},"GlobalSecondaryIndexes":{"gsi1":{"CapacityUnits":2.0}}}]}"#;
        assert_eq!(
            capacity_in("dynamodb:TransactWriteItems", tx),
            Capacity {
                read_milli: 0,
                write_milli: 6000,
                index_write_milli: 2000
            }
        );
        let get = br#"{"Item":{},"ConsumedCapacity":{"TableName":"t","CapacityUnits":0.5}}"#;
        assert_eq!(capacity_in("dynamodb:GetItem", get).read(), 0.5);
        assert_eq!(capacity_in("dynamodb:PutItem", b"{}"), Capacity::default());
    }
}
