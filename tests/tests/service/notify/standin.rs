//! A stricter AWS in front of moto: a loopback proxy that forwards every request to the
//! emulator, except what its rule intercepts. moto takes any message body, where SQS refuses
//! characters outside its allowed set (`InvalidMessageContents`); moto's SES never fails or
//! refuses one recipient of several, nor refuses an address SES cannot take. The rules here
//! are written from AWS's documentation, not from the product's code, so a test over them is
//! no mirror of the code it checks.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;

/// What the stand-in enforces on top of moto.
#[derive(Debug, Clone)]
pub enum Rule {
    /// SQS SendMessage: a body with a character outside `#x9 | #xA | #xD | #x20-#xD7FF |
    /// #xE000-#xFFFD | #x10000-#x10FFFF` is refused with `InvalidMessageContents`
    /// (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html).
    SqsCharacters,
    /// SES v2 SendEmail to this address fails (500 InternalFailure) this many times.
    FailSesFor(String, usize),
    /// SES v2 SendEmail to this address is refused for good (400 BadRequestException), as
    /// SES refuses a destination it will not take.
    RefuseSesFor(String),
    /// SES v2 SendEmail refuses (400 BadRequestException) a destination that is not 7-bit
    /// ASCII: "the local part of a destination email address ... may only contain 7-bit
    /// ASCII characters. If the domain part ... contains non-ASCII characters, they must be
    /// encoded using Punycode"
    /// (https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_Destination.html).
    SesAscii,
}

/// One request of the kind a rule looks at (SQS SendMessage, SES SendEmail).
#[derive(Debug, Clone)]
pub struct Seen {
    /// SQS: the message body. SES: empty.
    pub message_body: String,
    /// SES: every destination address (To, Cc and Bcc). SQS: empty.
    pub destinations: Vec<String>,
    /// The stand-in answered it with an error instead of forwarding it.
    pub refused: bool,
}

struct State {
    rule: Rule,
    seen: Vec<Seen>,
}

pub struct StandIn {
    /// The endpoint to give an SDK client in place of the emulator's.
    pub url: String,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl StandIn {
    pub async fn start(rule: Rule) -> StandIn {
        let upstream = crm_tests::emulator::endpoint()
            .trim_end_matches('/')
            .to_owned();
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding the stand-in");
        let port = listener.local_addr().expect("addr").port();
        let state = Arc::new(Mutex::new(State {
            rule,
            seen: Vec::new(),
        }));
        let shared = state.clone();
        let client = reqwest::Client::new();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (state, client, upstream) = (shared.clone(), client.clone(), upstream.clone());
                tokio::spawn(async move {
                    let svc = service_fn(move |req| {
                        answer(state.clone(), client.clone(), upstream.clone(), req)
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        StandIn {
            url: format!("http://127.0.0.1:{port}"),
            state,
            task,
        }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().expect("state").seen.clone()
    }

    /// An SQS publisher whose client talks to this stand-in (no SDK retries, so one push is
    /// one request).
    pub async fn sqs_publisher(&self, queue_url: &str) -> crm_shared::queue::Publisher {
        let sdk = crm_tests::emulator::sdk_config().await;
        let conf = aws_sdk_sqs::config::Builder::from(&sdk)
            .endpoint_url(&self.url)
            .retry_config(aws_sdk_sqs::config::retry::RetryConfig::disabled())
            .build();
        crm_shared::queue::Publisher::Sqs {
            client: aws_sdk_sqs::Client::from_conf(conf),
            queue_url: queue_url.to_owned(),
        }
    }

    /// An SES transport through this stand-in (no SDK retries: a failure is seen as one).
    pub async fn ses_transport(&self) -> crm_notifier::Transport {
        super::cloud::ses_transport().await; // the sender's identity exists on the emulator
        let sdk = crm_tests::emulator::sdk_config().await;
        let conf = aws_sdk_sesv2::config::Builder::from(&sdk)
            .endpoint_url(&self.url)
            .retry_config(aws_sdk_sesv2::config::retry::RetryConfig::disabled())
            .build();
        crm_notifier::Transport::Ses {
            client: aws_sdk_sesv2::Client::from_conf(conf),
            from: super::cloud::MAIL_FROM.into(),
        }
    }
}

/// SQS's allowed characters, from the SendMessage reference.
fn sqs_allows(c: char) -> bool {
    let c = u32::from(c);
    c == 0x9
        || c == 0xA
        || c == 0xD
        || (0x20..=0xD7FF).contains(&c)
        || (0xE000..=0xFFFD).contains(&c)
        || (0x10000..=0x10FFFF).contains(&c)
}

fn error(status: u16, headers: &[(&'static str, &str)], body: Value) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body.to_string())));
    *resp.status_mut() = StatusCode::from_u16(status).expect("status");
    for (k, v) in headers {
        resp.headers_mut()
            .insert(*k, hyper::header::HeaderValue::from_str(v).expect("header"));
    }
    resp
}

/// Decides whether the rule refuses this request; records the requests it looks at.
fn judge(
    state: &Mutex<State>,
    target: &str,
    path: &str,
    body: &Value,
) -> Option<Response<Full<Bytes>>> {
    let mut s = state.lock().expect("state");
    match s.rule.clone() {
        Rule::SqsCharacters if target == "AmazonSQS.SendMessage" => {
            let text = body["MessageBody"].as_str().unwrap_or_default().to_owned();
            let refused = !text.chars().all(sqs_allows);
            s.seen.push(Seen {
                message_body: text,
                destinations: Vec::new(),
                refused,
            });
            refused.then(|| {
                error(
                    400,
                    &[
                        ("content-type", "application/x-amz-json-1.0"),
                        ("x-amzn-query-error", "InvalidMessageContents;Sender"),
                    ],
                    json!({
                        "__type": "com.amazonaws.sqs#InvalidMessageContents",
                        "message": "Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF",
                    }),
                )
            })
        }
        Rule::FailSesFor(address, left) if path == "/v2/email/outbound-emails" => {
            let destinations = ses_destinations(body);
            let refused = left > 0 && destinations.contains(&address);
            if refused {
                s.rule = Rule::FailSesFor(address, left - 1);
            }
            s.seen.push(Seen {
                message_body: String::new(),
                destinations,
                refused,
            });
            refused.then(|| {
                error(
                    500,
                    &[
                        ("content-type", "application/json"),
                        ("x-amzn-errortype", "InternalFailure"),
                    ],
                    json!({"message": "stand-in: this recipient fails"}),
                )
            })
        }
        Rule::RefuseSesFor(_) | Rule::SesAscii if path == "/v2/email/outbound-emails" => {
            let destinations = ses_destinations(body);
            let refused = match &s.rule {
                Rule::RefuseSesFor(address) => destinations.contains(address),
                _ => !destinations.iter().all(|d| d.is_ascii()),
            };
            s.seen.push(Seen {
                message_body: String::new(),
                destinations,
                refused,
            });
            refused.then(|| {
                error(
                    400,
                    &[
                        ("content-type", "application/json"),
                        ("x-amzn-errortype", "BadRequestException"),
                    ],
                    json!({"message": "stand-in: SES does not take this destination"}),
                )
            })
        }
        _ => None,
    }
}

/// Every destination address of an SES v2 SendEmail body (To, Cc and Bcc).
fn ses_destinations(body: &Value) -> Vec<String> {
    let d = &body["Destination"];
    ["ToAddresses", "CcAddresses", "BccAddresses"]
        .iter()
        .flat_map(|k| d[*k].as_array().cloned().unwrap_or_default())
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

async fn answer(
    state: Arc<Mutex<State>>,
    client: reqwest::Client,
    upstream: String,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let (parts, body) = req.into_parts();
    let raw = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let target = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let parsed: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    if let Some(refusal) = judge(&state, &target, parts.uri.path(), &parsed) {
        return Ok(refusal);
    }
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/".into());
    let mut fwd = client.request(parts.method.clone(), format!("{upstream}{path}"));
    for (k, v) in &parts.headers {
        if k != "host" && k != "content-length" {
            fwd = fwd.header(k, v);
        }
    }
    let resp = match fwd.body(raw).send().await {
        Ok(r) => r,
        Err(e) => {
            return Ok(error(
                502,
                &[],
                json!({"message": format!("stand-in: {e}")}),
            ));
        }
    };
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.bytes().await.unwrap_or_default();
    let mut out = Response::new(Full::new(bytes));
    *out.status_mut() = status;
    for (k, v) in &headers {
        if k != "content-length" && k != "transfer-encoding" && k != "connection" {
            out.headers_mut().insert(k, v.clone());
        }
    }
    Ok(out)
}
