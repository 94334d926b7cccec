//! A stub of the Lambda Runtime API on 127.0.0.1, enough for `lambda_runtime` to run a
//! function binary outside Lambda: `GET /2018-06-01/runtime/invocation/next` hands out the
//! queued events (long-polling until there is one) with the request id, deadline and
//! function ARN headers; `POST .../invocation/{id}/response` and `.../error` and
//! `.../init/error` are recorded with their arrival time. Several processes may poll one
//! stub: each event goes to the next idle one, as Lambda hands requests to warm instances.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use tokio::net::TcpListener;
use tokio::sync::{Mutex, mpsc};

const PREFIX: &str = "/2018-06-01/runtime";

/// What the function sent back (`id`: the invocation's request id; empty for an init error).
#[derive(Debug)]
pub enum Outcome {
    Response {
        at: Instant,
        id: String,
        body: Bytes,
    },
    Error {
        at: Instant,
        id: String,
        body: Bytes,
    },
    InitError {
        at: Instant,
        body: Bytes,
    },
}

impl Outcome {
    pub fn at(&self) -> Instant {
        match self {
            Outcome::Response { at, .. }
            | Outcome::Error { at, .. }
            | Outcome::InitError { at, .. } => *at,
        }
    }
}

struct Shared {
    events: Mutex<mpsc::UnboundedReceiver<(String, Bytes)>>,
    polls: mpsc::UnboundedSender<Instant>,
    outcomes: mpsc::UnboundedSender<Outcome>,
    /// When each invocation was handed to a function, by request id.
    handed: std::sync::Mutex<HashMap<String, Instant>>,
}

pub struct RuntimeApi {
    /// `127.0.0.1:<port>`, as AWS_LAMBDA_RUNTIME_API takes it.
    pub addr: String,
    pub port: u16,
    events: mpsc::UnboundedSender<(String, Bytes)>,
    /// When each `GET .../next` arrived.
    pub polls: mpsc::UnboundedReceiver<Instant>,
    pub outcomes: mpsc::UnboundedReceiver<Outcome>,
    next_id: u64,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RuntimeApi {
    pub async fn start() -> anyhow::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let port = listener.local_addr()?.port();
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let (polls_tx, polls_rx) = mpsc::unbounded_channel();
        let (out_tx, out_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            events: Mutex::new(events_rx),
            polls: polls_tx,
            outcomes: out_tx,
            handed: std::sync::Mutex::new(HashMap::new()),
        });
        let accepting = shared.clone();
        let task = tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                let shared = accepting.clone();
                let svc = service_fn(move |req| {
                    let shared = shared.clone();
                    async move { serve(&shared, req).await }
                });
                // Aborting the accept task drops the set, and with it every connection.
                conns.spawn(async move {
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Ok(Self {
            addr: format!("127.0.0.1:{port}"),
            port,
            events: events_tx,
            polls: polls_rx,
            outcomes: out_rx,
            next_id: 0,
            shared,
            task,
        })
    }

    /// Queues one invocation; returns when it was handed over to the queue.
    pub fn invoke(&mut self, payload: &serde_json::Value) -> Instant {
        self.invoke_id(payload).1
    }

    /// Queues one invocation; returns its request id and when it was queued.
    pub fn invoke_id(&mut self, payload: &serde_json::Value) -> (String, Instant) {
        self.next_id += 1;
        let id = format!("bench-{:08}", self.next_id);
        let body = Bytes::from(payload.to_string());
        let at = Instant::now();
        let _ = self.events.send((id.clone(), body));
        (id, at)
    }

    /// When the invocation `id` was handed to a function (its `GET .../next` answered).
    pub fn handed_at(&self, id: &str) -> Option<Instant> {
        self.shared
            .handed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .copied()
    }
}

async fn serve(
    shared: &Shared,
    req: hyper::Request<Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, std::convert::Infallible> {
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    let arrived = Instant::now();
    let rest = path.strip_prefix(PREFIX).unwrap_or("");
    if method == http::Method::GET && rest == "/invocation/next" {
        let _ = shared.polls.send(arrived);
        let next = shared.events.lock().await.recv().await;
        let Some((id, body)) = next else {
            return Ok(status(http::StatusCode::GONE, "no more events"));
        };
        shared
            .handed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.clone(), Instant::now());
        let deadline = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64 + 30_000)
            .unwrap_or(0);
        let mut r = hyper::Response::new(Full::new(body));
        let h = r.headers_mut();
        let mut set = |k: &'static str, v: String| {
            if let Ok(v) = http::HeaderValue::from_str(&v) {
                h.insert(k, v);
            }
        };
        set("content-type", "application/json".into());
        set("lambda-runtime-aws-request-id", id);
        set("lambda-runtime-deadline-ms", deadline.to_string());
        set(
            "lambda-runtime-invoked-function-arn",
            "arn:aws:lambda:us-east-1:123456789012:function:crm-bench".into(),
        );
        set(
            "lambda-runtime-trace-id",
            "Root=1-66b0c8ab-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=0".into(),
        );
        return Ok(r);
    }
    if method == http::Method::POST {
        let body = req
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let id = |suffix: &str| {
            rest.strip_prefix("/invocation/")
                .and_then(|r| r.strip_suffix(suffix))
                .map(str::to_owned)
        };
        let outcome = if rest == "/init/error" {
            Some(Outcome::InitError { at: arrived, body })
        } else if let Some(id) = id("/response") {
            Some(Outcome::Response {
                at: arrived,
                id,
                body,
            })
        } else {
            id("/error").map(|id| Outcome::Error {
                at: arrived,
                id,
                body,
            })
        };
        if let Some(o) = outcome {
            let _ = shared.outcomes.send(o);
            return Ok(status(http::StatusCode::ACCEPTED, r#"{"status":"OK"}"#));
        }
    }
    Ok(status(
        http::StatusCode::NOT_FOUND,
        "not a Runtime API path",
    ))
}

fn status(s: http::StatusCode, body: &'static str) -> hyper::Response<Full<Bytes>> {
    let mut r = hyper::Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *r.status_mut() = s;
    r
}
