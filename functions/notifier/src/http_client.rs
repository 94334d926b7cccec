//! The notification API's client: hyper over rustls on ring (the crypto the SDK's client
//! already links, so the notifier carries one TLS stack), trusting the system's roots (the API
//! is anyone's HTTPS endpoint, not an AWS one). Plain `http://` is allowed for a loopback
//! stand-in. Every request has a connect timeout and a deadline for the whole exchange.

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::sync::Arc;
use std::time::Duration;

/// An answer's body beyond this is refused rather than buffered (the API answers a small JSON
/// object with a tracking id).
const MAX_BODY: usize = 64 * 1024;

pub struct HttpClient {
    inner: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
    deadline: Duration,
}

/// A status and a body read to the end.
pub struct Reply {
    pub status: http::StatusCode,
    pub body: Bytes,
}

impl HttpClient {
    /// Fails when the system has no usable root certificate.
    pub fn new(connect_timeout: Duration, deadline: Duration) -> Result<Self, String> {
        let mut tcp = HttpConnector::new();
        tcp.set_connect_timeout(Some(connect_timeout));
        tcp.set_nodelay(true);
        tcp.enforce_http(false);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(Arc::new(rustls::crypto::ring::default_provider()))
            .map_err(|e| format!("TLS roots: {e}"))?
            .https_or_http()
            .enable_http1()
            .wrap_connector(tcp);
        Ok(Self {
            inner: Client::builder(TokioExecutor::new()).build(https),
            deadline,
        })
    }

    /// POSTs a JSON body with the given extra headers; an error is a transport failure (no
    /// connection, a timeout), never a status.
    pub async fn post_json(
        &self,
        url: &http::Uri,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<Reply, String> {
        let mut req = http::Request::post(url.clone()).header(CONTENT_TYPE, "application/json");
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let req = req
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| format!("request: {e}"))?;
        let exchange = async {
            let resp = self.inner.request(req).await.map_err(|e| e.to_string())?;
            let status = resp.status();
            // The status decides: an answer whose body breaks off or runs over the limit
            // keeps its status (an accepted mail stays accepted, without its tracking id).
            let body = match Limited::new(resp.into_body(), MAX_BODY).collect().await {
                Ok(body) => body.to_bytes(),
                Err(e) => {
                    tracing::warn!(%status, error = %e, "notification API answer unreadable");
                    Bytes::new()
                }
            };
            Ok(Reply { status, body })
        };
        tokio::time::timeout(self.deadline, exchange)
            .await
            .map_err(|_| format!("no answer within {:?}", self.deadline))?
    }
}

/// Parses the API's URL once, at start-up: an absolute `http` or `https` URL.
pub fn parse_url(url: &str) -> Result<http::Uri, String> {
    let uri: http::Uri = url
        .parse()
        .map_err(|e| format!("notification API URL {url:?}: {e}"))?;
    match (uri.scheme_str(), uri.host()) {
        (Some("http" | "https"), Some(_)) => Ok(uri),
        _ => Err(format!(
            "notification API URL {url:?}: must be an absolute http:// or https:// URL"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A loopback server that reads one request and answers `answer` verbatim.
    async fn answering(answer: Vec<u8>) -> http::Uri {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 64 * 1024];
            let _ = conn.read(&mut buf).await;
            let _ = conn.write_all(&answer).await;
            let _ = conn.shutdown().await;
        });
        parse_url(&format!("http://{addr}/notifications")).unwrap()
    }

    #[tokio::test]
    async fn an_oversized_answer_keeps_its_status_without_the_body() {
        let body = vec![b'x'; MAX_BODY + 1];
        let mut answer = format!(
            "HTTP/1.1 201 Created\r\ncontent-length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        answer.extend_from_slice(&body);
        let url = answering(answer).await;
        let client = HttpClient::new(Duration::from_secs(1), Duration::from_secs(5)).unwrap();
        let reply = client.post_json(&url, &[], b"{}".to_vec()).await.unwrap();
        assert_eq!(reply.status, http::StatusCode::CREATED);
        assert!(reply.body.is_empty());
    }

    #[tokio::test]
    async fn a_small_answer_is_read_whole() {
        let answer =
            b"HTTP/1.1 201 Created\r\ncontent-length: 18\r\n\r\n{\"trackingId\":\"t\"}".to_vec();
        let url = answering(answer).await;
        let client = HttpClient::new(Duration::from_secs(1), Duration::from_secs(5)).unwrap();
        let reply = client.post_json(&url, &[], b"{}".to_vec()).await.unwrap();
        assert_eq!(reply.status, http::StatusCode::CREATED);
        assert_eq!(&reply.body[..], br#"{"trackingId":"t"}"#);
    }

    #[test]
    fn only_absolute_http_urls_are_taken() {
        assert!(parse_url("https://api.example.com/notify").is_ok());
        assert!(parse_url("http://127.0.0.1:9/x").is_ok());
        for bad in ["/notify", "ftp://x/y", "not a url", ""] {
            assert!(parse_url(bad).is_err(), "{bad:?} was taken");
        }
    }
}
