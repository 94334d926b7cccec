//! A stand-in for the external notification API (the seed's notificationService) on a
//! loopback port: it records every request and answers from a script (then 201 with a
//! fresh trackingId), so tests can make it fail, throttle or stall.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;

/// One answer of the stand-in.
#[derive(Debug, Clone)]
pub enum Reply {
    /// This status with this JSON body.
    Status(u16, Value),
    /// Answers 201 only after this delay (longer than the client's timeout: a timeout).
    Stall(Duration),
}

/// A request as the stand-in received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub content_type: String,
    /// The `Idempotency-Key` header, if any.
    pub idempotency_key: Option<String>,
    pub body: Value,
}

#[derive(Default)]
struct State {
    script: VecDeque<Reply>,
    /// Answers when the script is used up (None: 201 with a new trackingId).
    then: Option<Reply>,
    received: Vec<Received>,
    issued: u64,
}

pub struct NotificationApi {
    /// The URL to configure as CRM_NOTIFICATION_SERVICE_URL.
    pub url: String,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for NotificationApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl NotificationApi {
    /// Answers 201 with a fresh trackingId to everything.
    pub async fn start() -> NotificationApi {
        Self::scripted(Vec::new(), None).await
    }

    /// Answers `script` in order, then `then` (or 201) forever.
    pub async fn scripted(script: Vec<Reply>, then: Option<Reply>) -> NotificationApi {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding the stand-in notification API");
        let port = listener.local_addr().expect("addr").port();
        let state = Arc::new(Mutex::new(State {
            script: script.into(),
            then,
            ..State::default()
        }));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let state = shared.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req| answer(state.clone(), req));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        NotificationApi {
            url: format!("http://127.0.0.1:{port}/crmNotificationService/api/v1/notifications"),
            state,
            task,
        }
    }

    /// From now on answers `reply` (None: 201 with a new trackingId) once the script is
    /// used up.
    pub fn answer_from_now(&self, reply: Option<Reply>) {
        self.state.lock().expect("state").then = reply;
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.lock().expect("state").received.clone()
    }

    pub fn count(&self) -> usize {
        self.state.lock().expect("state").received.len()
    }

    /// The bodies received that mention this text (a ticket id) in their subject.
    pub fn about(&self, text: &str) -> Vec<Value> {
        self.received()
            .into_iter()
            .map(|r| r.body)
            .filter(|b| b["subject"].as_str().unwrap_or_default().contains(text))
            .collect()
    }
}

async fn answer(
    state: Arc<Mutex<State>>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let method = req.method().to_string();
    let path = req.uri().path().to_owned();
    let content_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let idempotency_key = req
        .headers()
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let raw = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let body = serde_json::from_slice(&raw)
        .unwrap_or(Value::String(String::from_utf8_lossy(&raw).into_owned()));
    let reply = {
        let mut s = state.lock().expect("state");
        s.received.push(Received {
            method,
            path,
            content_type,
            idempotency_key,
            body,
        });
        s.issued += 1;
        let fresh = Reply::Status(
            201,
            json!({
                "message": "Email request is accepted",
                "trackingId": format!("trk-{}", s.issued),
            }),
        );
        s.script
            .pop_front()
            .or_else(|| s.then.clone())
            .unwrap_or(fresh)
    };
    let (status, body) = match reply {
        Reply::Status(status, body) => (status, body),
        Reply::Stall(d) => {
            tokio::time::sleep(d).await;
            (201, json!({"trackingId": "trk-late"}))
        }
    };
    let mut resp = Response::new(Full::new(Bytes::from(body.to_string())));
    *resp.status_mut() = StatusCode::from_u16(status).expect("status");
    resp.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static("application/json"),
    );
    Ok(resp)
}
