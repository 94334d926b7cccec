//! hyper answers a request whose head it cannot parse (a character HTTP does not allow, a URI
//! over its 65,534 bytes, a head over its buffer) itself, with an empty body and no hook for
//! the server (hyper's `proto/h1/role.rs`, `on_error`). SPEC §1 wants every answer in the
//! API's JSON envelope, so the connection's writes pass through `Enveloped`, which puts our
//! envelope in place of that one answer.

use bytes::{Buf, Bytes};
use crm_shared::ApiError;
use crm_shared::ErrorCode;
use crm_shared::http::{ApiResponse, unreadable_request};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A connection whose writes are checked for hyper's own answer to an unparsable request.
pub struct Enveloped<T> {
    inner: T,
    /// Our answer in place of hyper's, still to be written.
    pending: Bytes,
}

impl<T> Enveloped<T> {
    pub fn new(inner: T) -> Self {
        Self {
            inner,
            pending: Bytes::new(),
        }
    }
}

/// The status of an answer hyper wrote itself, if `buf` starts one: a whole head with a
/// status hyper answers parse errors with (400, 414, 431) and without the `x-request-id` that
/// every answer of ours carries (`respond`). hyper writes its answer in one buffer, since
/// this connection takes no vectored writes; a body of ours never starts with a status line,
/// and JSON never holds the raw CR LF CR LF that ends a head.
fn hyper_answer(buf: &[u8]) -> Option<u16> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = &buf[..end];
    let rest = head
        .strip_prefix(b"HTTP/1.1 ")
        .or_else(|| head.strip_prefix(b"HTTP/1.0 "))?;
    let status: u16 = std::str::from_utf8(rest.get(..3)?).ok()?.parse().ok()?;
    let ours = head
        .to_ascii_lowercase()
        .windows(b"\r\nx-request-id:".len())
        .any(|w| w == b"\r\nx-request-id:");
    (matches!(status, 400 | 414 | 431) && !ours).then_some(status)
}

/// What the API says instead of hyper's empty answer with this status.
fn refusal(status: u16) -> ApiError {
    match status {
        414 => ApiError::new(
            ErrorCode::UriTooLong,
            "The request URI must be at most 65534 bytes.",
        ),
        431 => ApiError::new(
            ErrorCode::HeadersTooLarge,
            "The request's headers are too large.",
        ),
        _ => ApiError::new(
            ErrorCode::MalformedRequest,
            "The request is not valid HTTP/1.1: its method, URI or a header holds a character HTTP does not allow.",
        ),
    }
}

/// An answer as HTTP/1.1 bytes (status line, headers, `Content-Length`, body).
fn to_bytes(r: &ApiResponse) -> Bytes {
    let mut out = format!(
        "HTTP/1.1 {} {}\r\n",
        r.status.as_u16(),
        r.status.canonical_reason().unwrap_or("")
    )
    .into_bytes();
    for (name, value) in &r.headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("content-length: {}\r\n\r\n", r.body.len()).as_bytes());
    out.extend_from_slice(&r.body);
    Bytes::from(out)
}

impl<T: AsyncWrite + Unpin> Enveloped<T> {
    /// Writes what is left of our answer.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.pending.is_empty() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.pending.advance(n);
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Enveloped<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Enveloped<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        if let Some(status) = hyper_answer(buf) {
            this.pending = to_bytes(&unreadable_request(&refusal(status)));
            // hyper counts its answer as written; ours goes out in its place, here or in the
            // flush and shutdown that follow (hyper closes the connection after it).
            if let Poll::Ready(Err(e)) = this.poll_pending(cx) {
                return Poll::Ready(Err(e));
            }
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hypers_own_parse_error_answers_are_replaced() {
        let hypers = |status: &str| {
            format!(
                "HTTP/1.1 {status}\r\nconnection: close\r\ncontent-length: 0\r\ndate: Sun, 06 Dec 2026 14:00:00 GMT\r\n\r\n"
            )
        };
        assert_eq!(
            hyper_answer(hypers("400 Bad Request").as_bytes()),
            Some(400)
        );
        assert_eq!(
            hyper_answer(hypers("414 URI Too Long").as_bytes()),
            Some(414)
        );
        assert_eq!(
            hyper_answer(hypers("431 Request Header Fields Too Large").as_bytes()),
            Some(431)
        );
        // Ours carry a request id; other statuses are never hyper's parse errors; a part of
        // a body or an unfinished head is not an answer.
        let ours = "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\nX-Request-Id: 01J\r\ncontent-length: 2\r\n\r\n{}";
        assert_eq!(hyper_answer(ours.as_bytes()), None);
        assert_eq!(hyper_answer(hypers("200 OK").as_bytes()), None);
        assert_eq!(
            hyper_answer(hypers("500 Internal Server Error").as_bytes()),
            None
        );
        assert_eq!(hyper_answer(b"{\"title\":\"HTTP/1.1 400 x\"}"), None);
        assert_eq!(
            hyper_answer(b"HTTP/1.1 400 Bad Request\r\ncontent-le"),
            None
        );
    }

    #[tokio::test]
    async fn hypers_answer_goes_out_as_the_envelope() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (client, server) = tokio::io::duplex(64 * 1024);
        let mut server = Enveloped::new(server);
        let hypers = b"HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-length: 0\r\n\r\n";
        server.write_all(hypers).await.unwrap();
        server.shutdown().await.unwrap();
        drop(server);
        let mut got = String::new();
        let mut client = client;
        client.read_to_string(&mut got).await.unwrap();
        let (head, body) = got.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 431 "), "{head}");
        let head = head.to_ascii_lowercase();
        for h in [
            "content-type: application/json",
            "x-content-type-options: nosniff",
            "cache-control: no-store",
            "x-request-id: ",
            "connection: close",
            &format!("content-length: {}", body.len()),
        ] {
            assert!(head.contains(h), "no {h} in {head}");
        }
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["success"], false);
        assert_eq!(v["code"], "HEADERS_TOO_LARGE");
    }
}
