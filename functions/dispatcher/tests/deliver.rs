//! The delivery client against real loopback receivers: each outcome of SPEC §7 (success,
//! failure, `410`, a hang, a redirect, an endless answer), TLS with the name checked while
//! connecting to an address, and a resolver stand-in that answers a public-looking name with
//! private addresses: refused, and no receiver sees a connection.

use bytes::Bytes;
use crm_dispatcher::resolve::Resolved;
use crm_dispatcher::{Attempt, Outcome, Policy, Resolve, WebhookClient};
use crm_shared::model::Timestamp;
use crm_shared::webhooks::address::{AddressPolicy, WebhookUrl};
use crm_shared::webhooks::signature::{self, Secret, Signers};
use http::{HeaderMap, HeaderName, HeaderValue};
use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// Loopback receivers are private addresses: the tests that reach one allow them.
const LOCAL: Policy = Policy {
    addresses: AddressPolicy {
        allow_http: true,
        allow_private: true,
    },
    timeout: Duration::from_secs(10),
};

/// The cloud's address rules, with http allowed so that a receiver that is reached answers.
const STRICT_ADDRESSES: Policy = Policy {
    addresses: AddressPolicy {
        allow_http: true,
        allow_private: false,
    },
    timeout: Duration::from_secs(10),
};

/// What a receiver does with each connection.
#[derive(Clone)]
enum Behaviour {
    /// Reads the request, writes these bytes, closes.
    Answer(Vec<u8>),
    /// Writes these bytes as soon as the connection is open, closes.
    Blurt(Vec<u8>),
    /// Reads the request and never answers.
    Hang,
    /// Reads the request and answers 200 with a 64 MiB body, written until the client goes.
    Endless,
}

const ENDLESS: usize = 64 * 1024 * 1024;

/// A receiver on a loopback port: how many connections it accepted, the requests it read,
/// and (for `Endless`) how many body bytes it managed to write.
struct Receiver {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    requests: Arc<Mutex<Vec<Vec<u8>>>>,
    written: Arc<Mutex<Option<usize>>>,
    sni: Arc<Mutex<Option<String>>>,
}

impl Receiver {
    async fn start(ip: &str, behaviour: Behaviour) -> Self {
        Self::start_with(ip, behaviour, None).await
    }

    async fn start_with(ip: &str, behaviour: Behaviour, tls: Option<TlsAcceptor>) -> Self {
        let listener = TcpListener::bind((ip.parse::<IpAddr>().unwrap(), 0))
            .await
            .unwrap();
        let receiver = Self {
            addr: listener.local_addr().unwrap(),
            connections: Arc::default(),
            requests: Arc::default(),
            written: Arc::default(),
            sni: Arc::default(),
        };
        let (connections, requests, written, sni) = (
            receiver.connections.clone(),
            receiver.requests.clone(),
            receiver.written.clone(),
            receiver.sni.clone(),
        );
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                connections.fetch_add(1, Ordering::SeqCst);
                let (behaviour, requests, written, sni, tls) = (
                    behaviour.clone(),
                    requests.clone(),
                    written.clone(),
                    sni.clone(),
                    tls.clone(),
                );
                tokio::spawn(async move {
                    match tls {
                        None => serve(tcp, behaviour, requests, written).await,
                        Some(acceptor) => {
                            let Ok(stream) = acceptor.accept(tcp).await else {
                                return;
                            };
                            *sni.lock().unwrap() =
                                stream.get_ref().1.server_name().map(str::to_owned);
                            serve(stream, behaviour, requests, written).await
                        }
                    }
                });
            }
        });
        receiver
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    fn port(&self) -> u16 {
        self.addr.port()
    }

    fn request(&self) -> String {
        let requests = self.requests.lock().unwrap();
        assert_eq!(requests.len(), 1, "one request");
        String::from_utf8(requests[0].clone()).unwrap()
    }
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    behaviour: Behaviour,
    requests: Arc<Mutex<Vec<Vec<u8>>>>,
    written: Arc<Mutex<Option<usize>>>,
) {
    if let Behaviour::Blurt(bytes) = &behaviour {
        let _ = stream.write_all(bytes).await;
        let _ = stream.shutdown().await;
        return;
    }
    let Some(request) = read_request(&mut stream).await else {
        return;
    };
    requests.lock().unwrap().push(request);
    match behaviour {
        Behaviour::Answer(answer) => {
            let _ = stream.write_all(&answer).await;
            let _ = stream.shutdown().await;
        }
        Behaviour::Blurt(_) => {}
        Behaviour::Hang => std::future::pending::<()>().await,
        Behaviour::Endless => {
            let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {ENDLESS}\r\n\r\n");
            let _ = stream.write_all(head.as_bytes()).await;
            let chunk = vec![b'x'; 64 * 1024];
            let mut sent = 0;
            while sent < ENDLESS {
                if stream.write_all(&chunk).await.is_err() {
                    break;
                }
                sent += chunk.len();
            }
            *written.lock().unwrap() = Some(sent);
        }
    }
}

/// The request's head and its `content-length` body.
async fn read_request<S: AsyncRead + Unpin>(stream: &mut S) -> Option<Vec<u8>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse().unwrap());
            if buf.len() >= end + 4 + length {
                return Some(buf);
            }
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn answer(status: &str, body: &str) -> Behaviour {
    Behaviour::Answer(
        format!(
            "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
}

/// DNS as the test says: each name answers with its addresses; other names do not resolve.
#[derive(Default)]
struct StandIn(HashMap<String, Vec<IpAddr>>);

impl StandIn {
    fn with(name: &str, ips: &[&str]) -> Self {
        let mut map = HashMap::new();
        map.insert(
            name.to_owned(),
            ips.iter().map(|ip| ip.parse().unwrap()).collect(),
        );
        Self(map)
    }
}

impl Resolve for StandIn {
    fn resolve<'a>(&'a self, host: &'a str) -> Resolved<'a> {
        let answer = self
            .0
            .get(host)
            .cloned()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such name"));
        Box::pin(async move { answer })
    }
}

fn url(text: &str, policy: &Policy) -> WebhookUrl {
    WebhookUrl::parse(text, policy.addresses).unwrap()
}

fn client() -> WebhookClient {
    WebhookClient::with_roots(rustls::RootCertStore::empty()).unwrap()
}

async fn post(target: &WebhookUrl, resolver: &dyn Resolve, policy: &Policy) -> Attempt {
    client()
        .deliver(
            target,
            &HeaderMap::new(),
            Bytes::from_static(b"{}"),
            resolver,
            policy,
        )
        .await
}

#[tokio::test]
async fn a_2xx_is_success_and_the_request_is_a_signed_json_post() {
    let receiver = Receiver::start("127.0.0.1", answer("200 OK", "thanks")).await;
    let dns = StandIn::with("receiver.test", &["127.0.0.1"]);
    let target = url(
        &format!(
            "http://receiver.test:{}/in/crm?x=1#not-sent",
            receiver.port()
        ),
        &LOCAL,
    );
    let body = br#"{"id":"evt_1","type":"ticket.created"}"#;
    let secret = Secret::generate();
    let signed = signature::sign(
        Signers {
            current: &secret,
            previous: None,
        },
        "evt_1",
        Timestamp::now(),
        body,
    )
    .unwrap();
    let mut headers = HeaderMap::new();
    for (name, value) in signed.pairs() {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    // Ours wins over a caller's content type.
    headers.insert("content-type", HeaderValue::from_static("text/plain"));

    let attempt = client()
        .deliver(&target, &headers, Bytes::from_static(body), &dns, &LOCAL)
        .await;

    assert_eq!(attempt.outcome(), Outcome::Succeeded, "{attempt:?}");
    assert_eq!(attempt.status, Some(200));
    assert_eq!(attempt.error, None);
    assert_eq!(attempt.response_excerpt, "thanks");
    let request = receiver.request();
    let (head, sent_body) = request.split_once("\r\n\r\n").unwrap();
    let head = head.to_ascii_lowercase();
    assert!(head.starts_with("post /in/crm?x=1 http/1.1\r\n"), "{head}");
    for line in [
        format!("host: receiver.test:{}", receiver.port()),
        "content-type: application/json".to_owned(),
        format!("content-length: {}", body.len()),
        "webhook-id: evt_1".to_owned(),
        format!("webhook-timestamp: {}", signed.timestamp),
        format!(
            "webhook-signature: {}",
            signed.signature.to_ascii_lowercase()
        ),
    ] {
        assert!(
            head.lines().any(|l| l == line),
            "{line:?} missing in\n{head}"
        );
    }
    assert!(!head.contains("text/plain"), "{head}");
    assert_eq!(sent_body.as_bytes(), body);
}

#[tokio::test]
async fn a_500_is_a_failed_attempt_with_its_status() {
    let receiver = Receiver::start("127.0.0.1", answer("500 Internal Server Error", "boom")).await;
    let target = url(&format!("http://127.0.0.1:{}/", receiver.port()), &LOCAL);
    let attempt = post(&target, &StandIn::default(), &LOCAL).await;
    assert_eq!(attempt.outcome(), Outcome::Failed);
    assert_eq!(attempt.status, Some(500));
    assert_eq!(attempt.error.as_deref(), Some("status 500"));
    assert_eq!(attempt.response_excerpt, "boom");
}

#[tokio::test]
async fn a_410_is_gone() {
    let receiver = Receiver::start("127.0.0.1", answer("410 Gone", "")).await;
    let target = url(&format!("http://127.0.0.1:{}/", receiver.port()), &LOCAL);
    let attempt = post(&target, &StandIn::default(), &LOCAL).await;
    assert_eq!(attempt.outcome(), Outcome::Gone);
    assert_eq!(attempt.status, Some(410));
}

#[tokio::test]
async fn a_receiver_that_hangs_fails_the_attempt_at_the_deadline() {
    let receiver = Receiver::start("127.0.0.1", Behaviour::Hang).await;
    let target = url(&format!("http://127.0.0.1:{}/", receiver.port()), &LOCAL);
    let policy = Policy {
        timeout: Duration::from_millis(300),
        ..LOCAL
    };
    let started = std::time::Instant::now();
    let attempt = post(&target, &StandIn::default(), &policy).await;
    assert_eq!(attempt.outcome(), Outcome::Failed);
    assert_eq!(attempt.status, None);
    assert_eq!(attempt.error.as_deref(), Some("no answer within 300 ms"));
    assert_eq!(receiver.connections(), 1);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "a generous bound"
    );
}

#[tokio::test]
async fn a_redirect_is_a_failure_and_is_not_followed() {
    let inside = Receiver::start("127.0.0.1", answer("200 OK", "")).await;
    let redirect = Behaviour::Answer(
        format!(
            "HTTP/1.1 302 Found\r\nlocation: http://127.0.0.1:{}/admin\r\ncontent-length: 0\r\n\r\n",
            inside.port()
        )
        .into_bytes(),
    );
    let receiver = Receiver::start("127.0.0.1", redirect).await;
    let target = url(&format!("http://127.0.0.1:{}/", receiver.port()), &LOCAL);
    let attempt = post(&target, &StandIn::default(), &LOCAL).await;
    assert_eq!(attempt.outcome(), Outcome::Failed);
    assert_eq!(attempt.status, Some(302));
    let error = attempt.error.unwrap();
    assert_eq!(error, "status 302: redirects are not followed");
    assert!(
        !error.contains("127.0.0.1"),
        "the receiver's Location is not repeated"
    );
    assert_eq!(inside.connections(), 0, "the redirect was followed");
}

#[tokio::test]
async fn of_an_endless_answer_only_1_kib_is_read() {
    let receiver = Receiver::start("127.0.0.1", Behaviour::Endless).await;
    let target = url(&format!("http://127.0.0.1:{}/", receiver.port()), &LOCAL);
    let attempt = post(&target, &StandIn::default(), &LOCAL).await;
    assert_eq!(attempt.outcome(), Outcome::Succeeded);
    assert_eq!(attempt.response_excerpt, "x".repeat(1024));
    // The receiver's writes fail once the client has gone; what it managed to write is what
    // the sockets' buffers took, far from the whole body.
    let written = async {
        loop {
            if let Some(n) = *receiver.written.lock().unwrap() {
                return n;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let written = tokio::time::timeout(Duration::from_secs(60), written)
        .await
        .expect("the receiver's writes stop once the client has gone");
    assert!(written < ENDLESS, "{written} bytes taken");
}

#[tokio::test]
async fn private_answers_for_a_public_name_are_refused_and_nothing_is_sent() {
    let v4 = Receiver::start("127.0.0.1", answer("200 OK", "")).await;
    let v6 = Receiver::start("::1", answer("200 OK", "")).await;
    let name = "hooks.example.com";
    let cases: &[(&[&str], u16, &str)] = &[
        (
            &["169.254.169.254"],
            v4.port(),
            "address refused: 169.254.169.254 is a link-local address (169.254.0.0/16, RFC 3927)",
        ),
        (
            &["10.0.0.1"],
            v4.port(),
            "address refused: 10.0.0.1 is a private address (10.0.0.0/8, RFC 1918)",
        ),
        (
            &["::1"],
            v6.port(),
            "address refused: ::1 is a loopback address (::1/128, RFC 4291 §2.5.3)",
        ),
        (
            &["::ffff:10.0.0.1"],
            v4.port(),
            "address refused: ::ffff:10.0.0.1 is a private address (10.0.0.0/8, RFC 1918) in its IPv4-mapped form (::ffff:0:0/96, RFC 4291 §2.5.5.2)",
        ),
        // Those a connection would reach: the receivers count none.
        (
            &["127.0.0.1"],
            v4.port(),
            "address refused: 127.0.0.1 is a loopback address (127.0.0.0/8, RFC 1122 §3.2.1.3)",
        ),
        (
            &["::ffff:127.0.0.1"],
            v4.port(),
            "address refused: ::ffff:127.0.0.1 is a loopback address (127.0.0.0/8, RFC 1122 §3.2.1.3) in its IPv4-mapped form (::ffff:0:0/96, RFC 4291 §2.5.5.2)",
        ),
        // One refused answer among public ones refuses the name.
        (
            &[
                "93.184.215.14",
                "169.254.169.254",
                "10.0.0.1",
                "::1",
                "::ffff:10.0.0.1",
            ],
            v4.port(),
            "address refused: 169.254.169.254 is a link-local address (169.254.0.0/16, RFC 3927)",
        ),
    ];
    for (answers, port, reason) in cases {
        let dns = StandIn::with(name, answers);
        for scheme in ["http", "https"] {
            let target = url(&format!("{scheme}://{name}:{port}/in"), &STRICT_ADDRESSES);
            let attempt = post(&target, &dns, &STRICT_ADDRESSES).await;
            assert_eq!(attempt.outcome(), Outcome::Failed, "{answers:?}");
            assert_eq!(attempt.status, None, "{answers:?}");
            assert_eq!(attempt.error.as_deref(), Some(*reason), "{answers:?}");
        }
    }
    // The same literal addresses in the URL are refused at delivery too.
    let target = WebhookUrl::parse(
        &format!("http://127.0.0.1:{}/in", v4.port()),
        LOCAL.addresses,
    )
    .unwrap();
    let attempt = post(&target, &StandIn::default(), &STRICT_ADDRESSES).await;
    assert!(
        attempt
            .error
            .unwrap()
            .starts_with("address refused: 127.0.0.1")
    );
    assert_eq!(
        (v4.connections(), v6.connections()),
        (0, 0),
        "a connection was made"
    );

    // The receivers were reachable: allowing private addresses reaches both.
    for (answers, port) in [(["127.0.0.1"], v4.port()), (["::1"], v6.port())] {
        let dns = StandIn::with(name, &answers);
        let target = url(&format!("http://{name}:{port}/in"), &LOCAL);
        let attempt = post(&target, &dns, &LOCAL).await;
        assert_eq!(attempt.outcome(), Outcome::Succeeded, "{attempt:?}");
    }
    assert_eq!((v4.connections(), v6.connections()), (1, 1));
}

#[tokio::test]
async fn a_name_that_does_not_resolve_and_a_closed_port_are_failed_attempts() {
    let target = url("http://nowhere.test/", &LOCAL);
    let attempt = post(&target, &StandIn::default(), &LOCAL).await;
    assert_eq!(attempt.outcome(), Outcome::Failed);
    assert_eq!(
        attempt.error.as_deref(),
        Some("DNS: nowhere.test: no such name")
    );

    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let target = url(&format!("http://127.0.0.1:{port}/"), &LOCAL);
    let attempt = post(&target, &StandIn::default(), &LOCAL).await;
    assert_eq!(attempt.outcome(), Outcome::Failed);
    assert_eq!(
        attempt.error,
        Some(format!("connect 127.0.0.1:{port}: connection refused"))
    );
}

#[tokio::test]
async fn an_http_url_is_refused_where_only_https_is_allowed() {
    let receiver = Receiver::start("127.0.0.1", answer("200 OK", "")).await;
    let target = url(&format!("http://127.0.0.1:{}/", receiver.port()), &LOCAL);
    let https_only = Policy {
        addresses: AddressPolicy {
            allow_http: false,
            allow_private: true,
        },
        ..LOCAL
    };
    let attempt = post(&target, &StandIn::default(), &https_only).await;
    assert_eq!(attempt.outcome(), Outcome::Failed);
    assert_eq!(receiver.connections(), 0);
}

/// A CA and a certificate it signs for `hooks.test` (and no IP address), and an acceptor.
fn test_tls() -> (rustls::RootCertStore, TlsAcceptor) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["hooks.test".to_owned()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca_cert.der().clone()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![cert.der().clone()],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    )
    .unwrap();
    (roots, TlsAcceptor::from(Arc::new(config)))
}

#[tokio::test]
async fn https_checks_the_certificate_against_the_name_while_connecting_to_the_address() {
    let (roots, acceptor) = test_tls();
    let receiver = Receiver::start_with(
        "127.0.0.1",
        answer("202 Accepted", "queued"),
        Some(acceptor),
    )
    .await;
    let dns = StandIn::with("hooks.test", &["127.0.0.1"]);
    let target = url(
        &format!("https://hooks.test:{}/in", receiver.port()),
        &LOCAL,
    );

    let trusting = WebhookClient::with_roots(roots).unwrap();
    let attempt = trusting
        .deliver(
            &target,
            &HeaderMap::new(),
            Bytes::from_static(b"{}"),
            &dns,
            &LOCAL,
        )
        .await;
    assert_eq!(attempt.outcome(), Outcome::Succeeded, "{attempt:?}");
    assert_eq!(attempt.response_excerpt, "queued");
    assert_eq!(receiver.sni.lock().unwrap().as_deref(), Some("hooks.test"));

    // A client that does not trust the CA: a failed attempt, nothing sent.
    let attempt = post(&target, &dns, &LOCAL).await;
    assert_eq!(attempt.outcome(), Outcome::Failed);
    assert_eq!(attempt.status, None);
    let error = attempt.error.unwrap();
    assert!(
        error.starts_with("TLS: invalid peer certificate"),
        "{error}"
    );
    assert_eq!(receiver.requests.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn https_to_a_plain_http_receiver_is_a_tls_failure() {
    let plain = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n".to_vec();
    let receiver = Receiver::start("127.0.0.1", Behaviour::Blurt(plain)).await;
    let dns = StandIn::with("hooks.test", &["127.0.0.1"]);
    let target = url(&format!("https://hooks.test:{}/", receiver.port()), &LOCAL);
    let attempt = post(&target, &dns, &LOCAL).await;
    assert_eq!(attempt.outcome(), Outcome::Failed);
    let error = attempt.error.unwrap();
    assert!(error.starts_with("TLS: "), "{error}");
}
