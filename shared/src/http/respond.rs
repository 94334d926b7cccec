//! The one place a request becomes a response: CORS (off unless an allow-list is
//! configured), route matching (SPEC's 404), a body that could not be read (413/408), the
//! route's authentication (401), its handler (a panic becomes a 500), error rendering
//! (internals logged with the request id, never sent), security headers, the access log.

use super::authn::authenticate;
use super::extract::Call;
use super::{Access, ApiRequest, ApiResponse, Router};
use crate::ApiError;
use crate::service::Ctx;
use futures_util::FutureExt;
use http::{HeaderName, HeaderValue, Method, StatusCode, header};
use serde::Serialize;
use std::panic::AssertUnwindSafe;
use std::time::Instant;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ErrorBody<'a> {
    success: bool,
    message: &'a str,
    code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a str>,
}

/// Renders an error: status, envelope, Retry-After, WWW-Authenticate for 401s. The request
/// id is included for 5xx so a user can quote it.
pub(super) fn error_response(e: &ApiError, request_id: &str) -> ApiResponse {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut r = ApiResponse::json(
        status,
        &ErrorBody {
            success: false,
            message: &e.message,
            code: e.code.as_str(),
            field: e.field,
            request_id: (e.status() >= 500).then_some(request_id),
        },
    );
    if let Some(s) = e.retry_after {
        r = r.with_header(header::RETRY_AFTER, &s.to_string());
    }
    if e.status() == 401 {
        r = r.with_header(header::WWW_AUTHENTICATE, "Bearer");
    }
    if matches!(e.status(), 408 | 413) {
        // The oversized (or stalled) body is left unread, so the connection cannot carry
        // another request: say so, or an HTTP/1.1 client reuses it and its next request fails
        // mid-flight.
        r = r.with_header(header::CONNECTION, "close");
    }
    r
}

/// What a browser on an allowed origin may do (SPEC §1: CORS only for the configured
/// origins). template.yaml's HttpApi `CorsConfiguration` says the same to API Gateway, which
/// answers preflights itself when it is set (tests/tests/deploy/template.rs holds them
/// together).
pub mod cors {
    /// The methods of the routes (every function's `router()`; DELETE for a webhook).
    pub const ALLOW_METHODS: &[&str] = &["GET", "POST", "PUT", "DELETE"];
    /// The request headers the API reads.
    pub const ALLOW_HEADERS: &[&str] = &[
        "Content-Type",
        "Authorization",
        "X-Access-Token",
        "Idempotency-Key",
    ];
    /// The response headers the API sets beyond the CORS-safelisted ones, which a script may
    /// read.
    pub const EXPOSE_HEADERS: &[&str] = &[
        "Idempotent-Replayed",
        "Retry-After",
        "Location",
        "X-Request-Id",
    ];
    /// How long a browser may cache a preflight.
    pub const MAX_AGE_SECONDS: u32 = 600;
}

fn allowed_origin<'a>(req: &'a ApiRequest, allow: &[String]) -> Option<&'a str> {
    let origin = req.header("origin")?;
    allow.iter().any(|o| o == origin).then_some(origin)
}

/// Serves one request with the route of `router` it matches. `unread` is why its body could
/// not be read (too large, too slow), which is the answer to any route then.
pub(super) async fn respond(
    ctx: &Ctx,
    router: &Router,
    cors_allow: &[String],
    req: ApiRequest,
    unread: Option<ApiError>,
) -> ApiResponse {
    let started = Instant::now();
    let request_id = req.request_id.clone();
    let method = req.method.clone();
    let origin = allowed_origin(&req, cors_allow).map(str::to_owned);

    let (route_name, result) = if method == Method::OPTIONS && origin.is_some() {
        ("preflight", Ok(preflight()))
    } else {
        match router.find(&req.method, &req.path) {
            None => ("-", Err(ApiError::no_route())),
            Some((route, params)) => {
                let answer = async {
                    if let Some(e) = unread {
                        return Err(e);
                    }
                    let caller = match route.access {
                        Access::Authenticated => Some(authenticate(&ctx.tokens, &req.headers)?),
                        Access::Public => None,
                    };
                    let call = Call {
                        ctx,
                        request: &req,
                        params: &params,
                        caller: caller.as_ref(),
                    };
                    route.handler.handle(&call).await
                };
                let out = AssertUnwindSafe(answer).catch_unwind().await;
                (
                    route.name,
                    out.unwrap_or_else(|_| Err(ApiError::internal("handler panicked"))),
                )
            }
        }
    };

    let mut resp = match result {
        Ok(r) => r,
        Err(e) => {
            if e.status() >= 500 {
                tracing::error!(
                    request_id = %request_id,
                    route = route_name,
                    status = e.status(),
                    code = e.code.as_str(),
                    detail = e.internal.as_deref().unwrap_or(""),
                    "request failed"
                );
            }
            error_response(&e, &request_id)
        }
    };

    hygiene(&mut resp, &request_id);
    if let Some(o) = &origin {
        set(&mut resp, header::ACCESS_CONTROL_ALLOW_ORIGIN, o);
        set(&mut resp, header::VARY, "Origin");
        set(
            &mut resp,
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            &cors::EXPOSE_HEADERS.join(", "),
        );
    }

    tracing::info!(
        request_id = %request_id,
        method = %method,
        route = route_name,
        status = resp.status.as_u16(),
        duration_ms = started.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
    resp
}

fn set(r: &mut ApiResponse, n: HeaderName, v: &str) {
    if let Ok(v) = HeaderValue::from_str(v) {
        r.headers.retain(|(h, _)| *h != n);
        r.headers.push((n, v));
    }
}

/// The headers every response carries.
fn hygiene(resp: &mut ApiResponse, request_id: &str) {
    set(resp, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    // Every response is per-user, and most carry user data or tokens: none may be cached.
    set(resp, header::CACHE_CONTROL, "no-store");
    set(resp, HeaderName::from_static("x-request-id"), request_id);
}

/// The answer to a request refused before it could be read as one (the local server's HTTP
/// parser refused its head): `e` in the usual envelope, with every response's headers, a new
/// request id, `Connection: close` (the rest of what was sent cannot be read), and the
/// access log line.
pub fn unreadable_request(e: &ApiError) -> ApiResponse {
    let request_id = ulid::Ulid::generate().to_string();
    let mut resp = error_response(e, &request_id);
    hygiene(&mut resp, &request_id);
    set(&mut resp, header::CONNECTION, "close");
    tracing::info!(
        request_id = %request_id,
        route = "-",
        status = resp.status.as_u16(),
        code = e.code.as_str(),
        "request refused by the HTTP parser"
    );
    resp
}

fn preflight() -> ApiResponse {
    ApiResponse {
        status: StatusCode::NO_CONTENT,
        headers: vec![],
        body: bytes::Bytes::new(),
    }
    .with_header(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        &cors::ALLOW_METHODS.join(", "),
    )
    .with_header(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        &cors::ALLOW_HEADERS.join(", "),
    )
    .with_header(
        header::ACCESS_CONTROL_MAX_AGE,
        &cors::MAX_AGE_SECONDS.to_string(),
    )
}

/// Small conveniences for handlers.
pub trait ResponseExt {
    fn created_at(self, location: &str) -> Self;
}

impl ResponseExt for ApiResponse {
    fn created_at(self, location: &str) -> Self {
        self.with_header(header::LOCATION, location)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::tests::ctx;

    fn body(r: &ApiResponse) -> serde_json::Value {
        serde_json::from_slice(&r.body).unwrap()
    }

    async fn ok(_: &Ctx) -> Result<ApiResponse, ApiError> {
        Ok(ApiResponse::data(StatusCode::OK, None, &1))
    }

    async fn boom(_: &Ctx) -> Result<ApiResponse, ApiError> {
        if true {
            panic!("boom");
        }
        Ok(ApiResponse::data(StatusCode::OK, None, &1))
    }

    async fn secret(_: &Ctx) -> Result<ApiResponse, ApiError> {
        Err(ApiError::internal("SELECT * FROM secret_table failed"))
    }

    async fn down(_: &Ctx) -> Result<ApiResponse, ApiError> {
        Err(ApiError::unavailable("table down"))
    }

    async fn too_large(_: &Ctx) -> Result<ApiResponse, ApiError> {
        Err(ApiError::payload_too_large())
    }

    async fn not_json(_: &Ctx) -> Result<ApiResponse, ApiError> {
        Err(ApiError::unsupported_media_type())
    }

    fn router() -> Router {
        Router::new()
            .public(Method::GET, "/ok", "ok", ok)
            .public(Method::GET, "/boom", "boom", boom)
            .public(Method::GET, "/secret", "secret", secret)
            .public(Method::GET, "/down", "down", down)
            .public(Method::POST, "/big", "big", too_large)
            .public(Method::POST, "/text", "text", not_json)
            .authenticated(Method::GET, "/mine", "mine", ok)
    }

    async fn get(path: &str) -> ApiResponse {
        send(
            ApiRequest::new(Method::GET, &format!("/crmService/api/v1{path}")),
            &[],
        )
        .await
    }

    async fn send(req: ApiRequest, cors: &[String]) -> ApiResponse {
        respond(&ctx(), &router(), cors, req, None).await
    }

    #[tokio::test]
    async fn unknown_route_gets_the_exact_404_body() {
        let r = send(
            ApiRequest::new(Method::DELETE, "/crmService/api/v1/ok"),
            &[],
        )
        .await;
        assert_eq!(r.status, 404);
        assert_eq!(
            body(&r),
            serde_json::json!({"success": false, "message": "The requested endpoint doesn't exists.", "code": "NOT_FOUND"})
        );
    }

    #[tokio::test]
    async fn security_headers_on_every_response() {
        for path in ["/ok", "/nope"] {
            let r = get(path).await;
            assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
            assert_eq!(r.header("cache-control"), Some("no-store"));
            assert!(r.header("x-request-id").is_some());
            assert_eq!(r.header("access-control-allow-origin"), None);
        }
    }

    #[tokio::test]
    async fn internal_errors_hide_detail_and_carry_the_request_id() {
        let req = ApiRequest::new(Method::GET, "/crmService/api/v1/secret");
        let id = req.request_id.clone();
        let r = send(req, &[]).await;
        assert_eq!(r.status, 500);
        let b = body(&r);
        assert_eq!(b["requestId"], id.as_str());
        assert!(!String::from_utf8_lossy(&r.body).contains("secret_table"));
    }

    #[tokio::test]
    async fn a_panicking_handler_is_a_500() {
        let r = get("/boom").await;
        assert_eq!(r.status, 500);
        assert!(!String::from_utf8_lossy(&r.body).contains("boom"));
    }

    #[tokio::test]
    async fn retry_after_and_www_authenticate() {
        let r = get("/down").await;
        assert_eq!(
            (r.status.as_u16(), r.header("retry-after")),
            (503, Some("1"))
        );
        // An authenticated route without a token: 401 before its handler runs.
        let r = get("/mine").await;
        assert_eq!(r.status, 401);
        assert_eq!(body(&r)["code"], "NO_TOKEN");
        assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    }

    #[tokio::test]
    async fn a_body_that_could_not_be_read_is_the_answer_to_any_route() {
        let req = ApiRequest::new(Method::GET, "/crmService/api/v1/mine");
        let r = respond(
            &ctx(),
            &router(),
            &[],
            req,
            Some(ApiError::payload_too_large()),
        )
        .await;
        assert_eq!(r.status, 413);
        // Not to no route.
        let req = ApiRequest::new(Method::GET, "/crmService/api/v1/nope");
        let r = respond(
            &ctx(),
            &router(),
            &[],
            req,
            Some(ApiError::payload_too_large()),
        )
        .await;
        assert_eq!(r.status, 404);
    }

    #[tokio::test]
    async fn payload_too_large_closes_the_connection() {
        let r = send(ApiRequest::new(Method::POST, "/crmService/api/v1/big"), &[]).await;
        assert_eq!(
            (r.status.as_u16(), r.header("connection")),
            (413, Some("close"))
        );
        let r = send(
            ApiRequest::new(Method::POST, "/crmService/api/v1/text"),
            &[],
        )
        .await;
        assert_eq!(r.header("connection"), None);
    }

    #[tokio::test]
    async fn cors_only_for_allowed_origins() {
        let allow = vec!["https://app.example".to_owned()];
        let mut req = ApiRequest::new(Method::OPTIONS, "/crmService/api/v1/ok");
        req.headers
            .insert("origin", HeaderValue::from_static("https://app.example"));
        let r = send(req.clone(), &allow).await;
        assert_eq!(r.status, 204);
        assert_eq!(
            r.header("access-control-allow-origin"),
            Some("https://app.example")
        );
        let r = send(req.clone(), &[]).await;
        assert_eq!(r.status, 404);
        req.headers
            .insert("origin", HeaderValue::from_static("https://evil.example"));
        let r = send(req, &allow).await;
        assert_eq!(
            (r.status.as_u16(), r.header("access-control-allow-origin")),
            (404, None)
        );
    }
}
