//! One delivery attempt (SPEC §7): `POST` the event to the subscription's URL and classify the
//! answer. Against server-side request forgery (issue 28), the host is resolved here, every
//! address it resolves to is checked with the registration's classifier, and the connection
//! is opened to a checked address by this code (no second resolution between the check and
//! the connect); redirects are never followed. Against slow or hostile receivers, one deadline
//! covers resolution, connection, TLS, the request and the answer, and at most 1 KiB of the
//! answer's body is read.

use crate::resolve::Resolve;
use bytes::{Bytes, BytesMut};
use crm_shared::webhooks::address::{self, AddressPolicy, WebhookUrl};
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HOST, TRANSFER_ENCODING, USER_AGENT};
use http::{HeaderMap, HeaderValue, Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};
use tokio_rustls::TlsConnector;
use url::Host;

/// SPEC §7: a `2xx` within 15 s is success.
pub const TIMEOUT: Duration = Duration::from_secs(15);
/// SPEC §7: receivers' answers are kept to 1 KiB; no more of the body is read.
pub const EXCERPT_LIMIT: usize = 1024;
/// The answer's status line and headers may take this much, hyper's smallest read buffer; a
/// larger head fails the attempt. None of the headers is kept.
const MAX_HEAD: usize = 8 * 1024;
const MAX_HEADERS: usize = 64;
/// A failure's reason is short: it goes into the delivery record and the log.
const ERROR_LIMIT: usize = 200;

/// What one attempt may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Which addresses may be connected to (the registration's rules, again).
    pub addresses: AddressPolicy,
    /// The deadline of the whole attempt, from resolution to the answer.
    pub timeout: Duration,
}

impl Default for Policy {
    /// The cloud's: public addresses only, SPEC's 15 s.
    fn default() -> Self {
        Self {
            addresses: AddressPolicy::default(),
            timeout: TIMEOUT,
        }
    }
}

/// What an attempt means for the delivery and the subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A `2xx`: the delivery succeeded.
    Succeeded,
    /// `410 Gone`: the subscription is disabled at once.
    Gone,
    /// Anything else: retried on the schedule.
    Failed,
}

/// The record of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The receiver's status, when it answered.
    pub status: Option<u16>,
    /// Why the attempt failed, in our words (never the receiver's body or headers), at most
    /// 200 characters; `None` on success.
    pub error: Option<String>,
    /// The start of the answer's body, at most 1 KiB (invalid UTF-8 replaced). For the
    /// delivery record only: never rendered to an API client, never logged whole.
    pub response_excerpt: String,
}

impl Attempt {
    pub fn outcome(&self) -> Outcome {
        match self.status {
            Some(200..=299) => Outcome::Succeeded,
            Some(410) => Outcome::Gone,
            _ => Outcome::Failed,
        }
    }

    fn failed(reason: impl Into<String>) -> Self {
        Self {
            status: None,
            error: Some(shorten(reason.into())),
            response_excerpt: String::new(),
        }
    }

    fn answered(status: u16, excerpt: &[u8]) -> Self {
        let error = match status {
            200..=299 => None,
            410 => Some("410 Gone: the receiver asked to stop".to_owned()),
            300..=399 => Some(format!("status {status}: redirects are not followed")),
            _ => Some(format!("status {status}")),
        };
        Self {
            status: Some(status),
            error,
            response_excerpt: excerpt_text(excerpt),
        }
    }
}

/// The first [`EXCERPT_LIMIT`] bytes as text, still within the limit once invalid UTF-8 is
/// replaced.
fn excerpt_text(bytes: &[u8]) -> String {
    let bytes = &bytes[..bytes.len().min(EXCERPT_LIMIT)];
    let mut text = String::from_utf8_lossy(bytes).into_owned();
    truncate_at_char(&mut text, EXCERPT_LIMIT);
    text
}

fn truncate_at_char(text: &mut String, max_bytes: usize) {
    if text.len() > max_bytes {
        let mut end = max_bytes;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
}

fn shorten(mut reason: String) -> String {
    if reason.chars().count() > ERROR_LIMIT {
        let end = reason
            .char_indices()
            .nth(ERROR_LIMIT - 1)
            .map_or(reason.len(), |(i, _)| i);
        reason.truncate(end);
        reason.push('…');
    }
    reason
}

/// Aborts the task driving a connection when the attempt ends, however it ends: nothing of an
/// attempt outlives it.
struct ConnectionTask(tokio::task::JoinHandle<()>);

impl Drop for ConnectionTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The delivery client: TLS settings made once (the system's roots, rustls on ring), one
/// connection per attempt.
#[derive(Clone)]
pub struct WebhookClient {
    tls: TlsConnector,
}

impl WebhookClient {
    /// Trusts the system's root certificates; fails when there is none.
    pub fn new() -> Result<Self, std::io::Error> {
        use hyper_rustls::ConfigBuilderExt;
        let config = Self::builder()
            .map_err(std::io::Error::other)?
            .with_native_roots()?
            .with_no_client_auth();
        Ok(Self::with_config(config))
    }

    /// Trusts `roots` only (tests, or a deployment's own store).
    pub fn with_roots(roots: rustls::RootCertStore) -> Result<Self, rustls::Error> {
        let config = Self::builder()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Self::with_config(config))
    }

    fn builder()
    -> Result<rustls::ConfigBuilder<rustls::ClientConfig, rustls::WantsVerifier>, rustls::Error>
    {
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
    }

    fn with_config(mut config: rustls::ClientConfig) -> Self {
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Self {
            tls: TlsConnector::from(Arc::new(config)),
        }
    }

    /// One attempt: `POST body` to `target` with `headers` (the Standard Webhooks ones) plus
    /// `Content-Type: application/json`. Never fails: every failure is an [`Attempt`] with
    /// its reason.
    pub async fn deliver(
        &self,
        target: &WebhookUrl,
        headers: &HeaderMap,
        body: Bytes,
        resolver: &dyn Resolve,
        policy: &Policy,
    ) -> Attempt {
        let deadline = Instant::now() + policy.timeout;
        let head = timeout_at(
            deadline,
            self.request(target, headers, body, resolver, policy, deadline),
        )
        .await;
        let (response, connection) = match head {
            Err(_) => {
                return Attempt::failed(format!(
                    "no answer within {} ms",
                    policy.timeout.as_millis()
                ));
            }
            Ok(Err(reason)) => return Attempt::failed(reason),
            Ok(Ok(answer)) => answer,
        };
        let status = response.status().as_u16();
        // The status decides; the body is read to 1 KiB at most, until the deadline, and
        // what came is kept.
        let mut excerpt = BytesMut::new();
        let _ = timeout_at(deadline, read_excerpt(response.into_body(), &mut excerpt)).await;
        drop(connection);
        Attempt::answered(status, &excerpt)
    }

    /// Resolves, checks, connects and sends; the answer's head, or why there is none.
    async fn request(
        &self,
        target: &WebhookUrl,
        headers: &HeaderMap,
        body: Bytes,
        resolver: &dyn Resolve,
        policy: &Policy,
        deadline: Instant,
    ) -> Result<(Response<Incoming>, ConnectionTask), String> {
        if !target.is_https() && !policy.addresses.allow_http {
            return Err("http is not allowed here: the URL must be https".to_owned());
        }
        let request = build_request(target, headers, body)?;
        let addrs = checked_addresses(target, resolver, policy.addresses).await?;
        let tcp = connect(&addrs, deadline).await?;
        if target.is_https() {
            let name = match target.host() {
                Host::Domain(name) => ServerName::try_from(name.to_owned())
                    .map_err(|e| format!("TLS: server name: {e}"))?,
                Host::Ipv4(ip) => ServerName::from(IpAddr::V4(ip)),
                Host::Ipv6(ip) => ServerName::from(IpAddr::V6(ip)),
            };
            let tls = self
                .tls
                .connect(name, tcp)
                .await
                .map_err(|e| format!("TLS: {e}"))?;
            send(tls, request).await
        } else {
            send(tcp, request).await
        }
    }
}

fn build_request(
    target: &WebhookUrl,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Request<Full<Bytes>>, String> {
    let mut request = Request::post(target.request_target())
        .body(Full::new(body))
        .map_err(|e| format!("request: {e}"))?;
    let map = request.headers_mut();
    *map = headers.clone();
    // hyper frames the body (Content-Length from its size).
    map.remove(CONTENT_LENGTH);
    map.remove(TRANSFER_ENCODING);
    let host =
        HeaderValue::from_str(&target.authority()).map_err(|e| format!("request: host: {e}"))?;
    map.insert(HOST, host);
    map.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    map.insert(USER_AGENT, HeaderValue::from_static("crm-webhooks"));
    Ok(request)
}

/// The addresses to try: the literal, or every address the name resolves to, each checked.
/// One refused address refuses them all: a name that mixes public and private answers is not
/// delivered to.
async fn checked_addresses(
    target: &WebhookUrl,
    resolver: &dyn Resolve,
    policy: AddressPolicy,
) -> Result<Vec<SocketAddr>, String> {
    let ips = match target.host() {
        Host::Ipv4(ip) => vec![IpAddr::V4(ip)],
        Host::Ipv6(ip) => vec![IpAddr::V6(ip)],
        Host::Domain(name) => {
            let ips = resolver
                .resolve(name)
                .await
                .map_err(|e| format!("DNS: {name}: {e}"))?;
            if ips.is_empty() {
                return Err(format!("DNS: {name}: no address"));
            }
            ips
        }
    };
    for ip in &ips {
        address::check(*ip, policy)
            .map_err(|refused| format!("address refused: {ip} is {refused}"))?;
    }
    let port = target.port();
    Ok(ips
        .into_iter()
        .map(|ip| SocketAddr::new(ip, port))
        .collect())
}

/// Connects to the addresses in order, each given an equal share of the time left, so one
/// address that drops packets does not use up the attempt.
async fn connect(addrs: &[SocketAddr], deadline: Instant) -> Result<TcpStream, String> {
    let mut last = String::from("connect: no address");
    for (i, addr) in addrs.iter().enumerate() {
        let left = addrs.len() - i;
        let share = deadline
            .saturating_duration_since(Instant::now())
            .checked_div(u32::try_from(left).unwrap_or(u32::MAX))
            .unwrap_or_default();
        match tokio::time::timeout(share, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Ok(Err(e)) => last = format!("connect {addr}: {}", e.kind()),
            Err(_) => last = format!("connect {addr}: timed out"),
        }
    }
    Err(last)
}

/// HTTP/1.1 over `io`: sends `request`, returns the answer's head.
async fn send<S>(
    io: S,
    request: Request<Full<Bytes>>,
) -> Result<(Response<Incoming>, ConnectionTask), String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::Builder::new()
        .max_buf_size(MAX_HEAD)
        .max_header_size(MAX_HEAD)
        .max_headers(MAX_HEADERS)
        .handshake(TokioIo::new(io))
        .await
        .map_err(|e| format!("HTTP: {e}"))?;
    let connection = ConnectionTask(tokio::spawn(async move {
        let _ = conn.await;
    }));
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("HTTP: {e}"))?;
    Ok((response, connection))
}

/// Reads `body` into `into` until it holds [`EXCERPT_LIMIT`] bytes or the body ends; the rest
/// is never read.
async fn read_excerpt(mut body: Incoming, into: &mut BytesMut) {
    while into.len() < EXCERPT_LIMIT {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    let room = EXCERPT_LIMIT - into.len();
                    into.extend_from_slice(&data[..data.len().min(room)]);
                }
            }
            Some(Err(_)) | None => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_decides_the_outcome() {
        let table = [
            (Some(200), Outcome::Succeeded, None),
            (Some(204), Outcome::Succeeded, None),
            (Some(299), Outcome::Succeeded, None),
            (
                Some(410),
                Outcome::Gone,
                Some("410 Gone: the receiver asked to stop"),
            ),
            (
                Some(302),
                Outcome::Failed,
                Some("status 302: redirects are not followed"),
            ),
            (
                Some(304),
                Outcome::Failed,
                Some("status 304: redirects are not followed"),
            ),
            (Some(404), Outcome::Failed, Some("status 404")),
            (Some(500), Outcome::Failed, Some("status 500")),
            (Some(101), Outcome::Failed, Some("status 101")),
            (
                None,
                Outcome::Failed,
                Some("connect 127.0.0.1:9: connection refused"),
            ),
        ];
        for (status, outcome, error) in table {
            let attempt = match status {
                Some(s) => Attempt::answered(s, b""),
                None => Attempt::failed("connect 127.0.0.1:9: connection refused"),
            };
            assert_eq!(attempt.outcome(), outcome, "{status:?}");
            assert_eq!(attempt.error.as_deref(), error, "{status:?}");
        }
    }

    #[test]
    fn excerpts_and_reasons_stay_short() {
        let long = "é".repeat(EXCERPT_LIMIT);
        let excerpt = Attempt::answered(200, long.as_bytes()).response_excerpt;
        assert!(excerpt.len() <= EXCERPT_LIMIT);
        assert_eq!(excerpt.len(), EXCERPT_LIMIT);
        // Invalid UTF-8 grows when replaced; the excerpt stays within the limit.
        let invalid = vec![0xffu8; EXCERPT_LIMIT];
        let excerpt = Attempt::answered(500, &invalid).response_excerpt;
        assert!(excerpt.len() <= EXCERPT_LIMIT, "{}", excerpt.len());
        assert!(excerpt.starts_with('\u{fffd}'));

        let reason = Attempt::failed("x".repeat(1000)).error.unwrap();
        assert_eq!(reason.chars().count(), ERROR_LIMIT);
        assert!(reason.ends_with('…'));
    }

    #[test]
    fn the_system_s_roots_load() {
        assert!(WebhookClient::new().is_ok());
    }

    #[test]
    fn the_default_policy_is_the_cloud_s() {
        let policy = Policy::default();
        assert_eq!(policy.timeout, Duration::from_secs(15));
        assert!(!policy.addresses.allow_private && !policy.addresses.allow_http);
    }
}
