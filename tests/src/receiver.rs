//! A webhook receiver on a loopback port for the tests: it records each request (headers and
//! body) and answers from a script (the last reply repeats): a status, a redirect, or a hang.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;

/// What the receiver answers to one request.
#[derive(Debug, Clone)]
pub enum Reply {
    Status(u16),
    /// `302` with this `Location`.
    Redirect(String),
    /// Reads the request and never answers.
    Hang,
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    /// Header names lower-cased.
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

impl Received {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map(String::as_str).unwrap_or("")
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }
}

pub struct Receiver {
    pub addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    /// While set, every request hangs (whatever the script says) and is not recorded.
    holding: Arc<std::sync::atomic::AtomicBool>,
    connections: Arc<Mutex<usize>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    pub async fn start(script: Vec<Reply>) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let connections: Arc<Mutex<usize>> = Arc::default();
        let holding: Arc<std::sync::atomic::AtomicBool> = Arc::default();
        let (r, c, h) = (received.clone(), connections.clone(), holding.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                *c.lock().unwrap() += 1;
                let r = r.clone();
                let script = script.clone();
                let h = h.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req: hyper::Request<Incoming>| {
                        let r = r.clone();
                        let script = script.clone();
                        let h = h.clone();
                        async move {
                            if h.load(std::sync::atomic::Ordering::SeqCst) {
                                tokio::time::sleep(Duration::from_secs(3600)).await;
                            }
                            let (parts, body) = req.into_parts();
                            let body = body
                                .collect()
                                .await
                                .map(|b| b.to_bytes())
                                .unwrap_or_default();
                            let headers = parts
                                .headers
                                .iter()
                                .map(|(k, v)| {
                                    (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned())
                                })
                                .collect();
                            let n = {
                                let mut all = r.lock().unwrap();
                                all.push(Received {
                                    headers,
                                    body: String::from_utf8_lossy(&body).into_owned(),
                                });
                                all.len()
                            };
                            let reply = script
                                .get(n - 1)
                                .or(script.last())
                                .cloned()
                                .unwrap_or(Reply::Status(200));
                            let mut resp = hyper::Response::new(Full::new(Bytes::from_static(
                                b"{\"received\":true}",
                            )));
                            match reply {
                                Reply::Status(s) => {
                                    *resp.status_mut() = http::StatusCode::from_u16(s).unwrap();
                                }
                                Reply::Redirect(to) => {
                                    *resp.status_mut() = http::StatusCode::FOUND;
                                    resp.headers_mut()
                                        .insert(http::header::LOCATION, to.parse().unwrap());
                                }
                                Reply::Hang => {
                                    tokio::time::sleep(Duration::from_secs(3600)).await;
                                }
                            }
                            Ok::<_, std::convert::Infallible>(resp)
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Receiver {
            addr,
            received,
            holding,
            connections,
            task,
        }
    }

    /// While `on`, requests hang unrecorded (a receiver that has not answered yet).
    pub fn hold(&self, on: bool) {
        self.holding.store(on, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    pub fn connections(&self) -> usize {
        *self.connections.lock().unwrap()
    }

    /// Waits until `pred` holds of what was received (panics after `within`).
    pub async fn wait_for(
        &self,
        within: Duration,
        what: &str,
        pred: impl Fn(&[Received]) -> bool,
    ) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let got = self.received();
            if pred(&got) {
                return got;
            }
            if tokio::time::Instant::now() > deadline {
                panic!(
                    "receiver: {what} not within {within:?}; got {} requests",
                    got.len()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Reads `{"body", "headers", "secrets"}` on stdin and prints, per secret, "ok" or why
/// `Webhook(secret).verify(body, headers)` refused.
const VERIFY: &str = r#"
import json, sys
from standardwebhooks import Webhook, WebhookVerificationError
case = json.load(sys.stdin)
body = case["body"].encode("utf-8")
results = []
for secret in case["secrets"]:
    try:
        Webhook(secret).verify(body, case["headers"])
        results.append("ok")
    except WebhookVerificationError as e:
        results.append("refused: " + str(e))
print(json.dumps(results))
"#;

/// What the PyPI package `standardwebhooks` (a library no one here wrote) says of a received
/// request, for each of `secrets`: "ok" or why it refused.
pub fn verify_with_standard_webhooks(r: &Received, secrets: &[String]) -> Vec<String> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let headers: serde_json::Map<String, serde_json::Value> =
        ["webhook-id", "webhook-timestamp", "webhook-signature"]
            .iter()
            .map(|n| {
                (
                    (*n).to_owned(),
                    serde_json::Value::String(r.header(n).to_owned()),
                )
            })
            .collect();
    let case = serde_json::json!({"body": r.body, "headers": headers, "secrets": secrets});
    let mut child = Command::new(crate::venv_python())
        .args(["-c", VERIFY])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the venv's python starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(case.to_string().as_bytes())
        .expect("writing the case");
    let out = child.wait_with_output().expect("python ends");
    assert!(
        out.status.success(),
        "the verifier failed (is standardwebhooks in the venv?): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the verifier prints a JSON list")
}
