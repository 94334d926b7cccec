//! The API as one tower `Service`: an `http::Request` in, an `http::Response` out, never an
//! error. `lambda_http::run` serves it in a Lambda (API Gateway events), hyper serves it in
//! `crm serve` (through hyper-util's `TowerToHyperService`), tests and the bench call
//! `answer`. It reads the body (the one place its size is checked: 64 KiB, else 413; within
//! the read timeout, else 408), then answers through `respond`.

use super::{ApiRequest, ApiResponse, Router, respond::respond};
use crate::ApiError;
use crate::service::Ctx;
use bytes::Bytes;
use futures_util::future::BoxFuture;
use http_body_util::{BodyExt, Full, Limited};
use lambda_http::RequestExt;
use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

/// The largest request body the API reads.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// How long a body may take to arrive by default (`crm serve` sets its own).
const READ_TIMEOUT: Duration = Duration::from_secs(20);

/// The API, or one function's part of it: the context, the routes, the CORS allow-list.
/// Cheap to clone (one per connection).
#[derive(Clone)]
pub struct Api {
    ctx: Arc<Ctx>,
    router: Arc<Router>,
    cors_allow: Arc<[String]>,
    read_timeout: Duration,
}

impl Api {
    pub fn new(ctx: Arc<Ctx>, router: Router) -> Self {
        Self {
            ctx,
            router: Arc::new(router),
            cors_allow: Arc::from(Vec::new()),
            read_timeout: READ_TIMEOUT,
        }
    }

    /// Answers browsers from these origins with CORS headers (`CRM_CORS_ALLOWED_ORIGINS`;
    /// none: CORS off).
    pub fn allow_origins(mut self, origins: Vec<String>) -> Self {
        self.cors_allow = Arc::from(origins);
        self
    }

    /// How long a request's body may take to arrive (then 408).
    pub fn read_timeout(mut self, t: Duration) -> Self {
        self.read_timeout = t;
        self
    }

    pub fn ctx(&self) -> &Ctx {
        &self.ctx
    }

    pub fn router(&self) -> &Router {
        &self.router
    }

    /// One request, read and answered: the `Service`'s work.
    pub async fn answer<B>(&self, req: http::Request<B>) -> ApiResponse
    where
        B: http_body::Body,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let (req, unread) = read(req, self.read_timeout).await;
        respond(&self.ctx, &self.router, &self.cors_allow, req, unread).await
    }
}

/// One request answered by `router` over a borrowed context, as `Api` answers it (without
/// CORS): for callers in the process that hold the context themselves (tests, the bench).
pub async fn answer<B>(ctx: &Ctx, router: &Router, req: http::Request<B>) -> ApiResponse
where
    B: http_body::Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (req, unread) = read(req, READ_TIMEOUT).await;
    respond(ctx, router, &[], req, unread).await
}

/// The request with its body read, or why the body could not be: too large (declared or
/// sent), or too slow.
/// A body declared too large is still read and dropped up to this size, so that a client
/// that sends its whole body before reading the answer gets the 413 rather than a broken
/// pipe (hyper closes a connection whose request body was left unread); a larger one is not
/// read at all.
const DRAIN_MAX_BYTES: usize = 1024 * 1024;

/// Reads and drops a body, at most `DRAIN_MAX_BYTES` of it.
async fn drain<B: http_body::Body>(body: B) {
    use bytes::Buf;
    let mut body = std::pin::pin!(body);
    let mut left = DRAIN_MAX_BYTES;
    while let Some(Ok(frame)) = body.frame().await {
        if let Some(d) = frame.data_ref() {
            left = left.saturating_sub(d.remaining());
            if left == 0 {
                break;
            }
        }
    }
}

async fn read<B>(req: http::Request<B>, timeout: Duration) -> (ApiRequest, Option<ApiError>)
where
    B: http_body::Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let request_id = req
        .lambda_context_ref()
        .map(|c| c.request_id.clone())
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| ulid::Ulid::generate().to_string());
    let (parts, body) = req.into_parts();
    let declared = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let mut api = ApiRequest {
        method: parts.method,
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts.headers,
        body: Bytes::new(),
        request_id,
    };
    if let Some(n) = declared.filter(|n| *n > MAX_BODY_BYTES) {
        if n <= DRAIN_MAX_BYTES {
            // Whatever the drain meets (an error, the timeout), the answer is the 413.
            let _ = tokio::time::timeout(timeout, drain(body)).await;
        }
        return (api, Some(ApiError::payload_too_large()));
    }
    let read = Limited::new(body, MAX_BODY_BYTES).collect();
    let unread = match tokio::time::timeout(timeout, read).await {
        Ok(Ok(b)) => {
            api.body = b.to_bytes();
            None
        }
        Ok(Err(_)) => Some(ApiError::payload_too_large()),
        Err(_) => Some(ApiError::request_timeout(timeout.as_secs())),
    };
    (api, unread)
}

impl<B> tower_service::Service<http::Request<B>> for Api
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = http::Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let api = self.clone();
        Box::pin(async move { Ok(api.answer(req).await.into_http()) })
    }
}

impl ApiResponse {
    /// As an `http::Response` (what hyper writes, and lambda_http turns into API Gateway's
    /// answer: a JSON body as text).
    pub fn into_http(self) -> http::Response<Full<Bytes>> {
        let mut resp = http::Response::new(Full::new(self.body));
        *resp.status_mut() = self.status;
        for (k, v) in self.headers {
            resp.headers_mut().append(k, v);
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Body;
    use crate::service::tests::ctx;
    use http::{Method, StatusCode};

    async fn echo(_: &Ctx, b: Body) -> Result<ApiResponse, ApiError> {
        Ok(ApiResponse::data(StatusCode::OK, None, &b.has("a")))
    }

    fn api() -> Api {
        Api::new(
            Arc::new(ctx()),
            Router::new().public(Method::POST, "/echo", "echo", echo),
        )
    }

    fn post(body: Vec<u8>) -> http::Request<Full<Bytes>> {
        http::Request::post("/crmService/api/v1/echo")
            .body(Full::new(Bytes::from(body)))
            .unwrap()
    }

    #[tokio::test]
    async fn a_body_over_64_kib_is_413_and_64_kib_is_read() {
        let big = format!(r#"{{"a":"{}"}}"#, "x".repeat(MAX_BODY_BYTES));
        assert_eq!(api().answer(post(big.into_bytes())).await.status, 413);
        let exact = format!(r#"{{"a":"{}"}}"#, "x".repeat(MAX_BODY_BYTES - 8));
        assert_eq!(exact.len(), MAX_BODY_BYTES);
        assert_eq!(api().answer(post(exact.into_bytes())).await.status, 200);
        // Declared too large: not read at all.
        let mut req = post(b"{}".to_vec());
        req.headers_mut().insert(
            http::header::CONTENT_LENGTH,
            http::HeaderValue::from_static("70000"),
        );
        assert_eq!(api().answer(req).await.status, 413);
    }

    #[tokio::test]
    async fn the_service_answers_in_http_types() {
        use tower_service::Service;
        let resp = api().call(post(br#"{"a":1}"#.to_vec())).await.unwrap();
        assert_eq!(resp.status(), 200);
        assert!(resp.headers().contains_key("x-request-id"));
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], br#"{"success":true,"data":true}"#);
    }
}
