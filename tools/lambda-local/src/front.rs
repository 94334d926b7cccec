//! The API Gateway stand-in: the HTTP API's routes from template.yaml (method and path, path
//! variables as `{name}`, `ANY`, `$default`), matched as an HTTP API matches them (literal
//! segments case-sensitively, the most specific route first, anything else to `$default`),
//! and each request forwarded to its function's URL on the Runtime API emulator with its
//! method, path, query, headers and body. It is a tower `Service`, served by hyper as
//! `crm serve` serves the API; it does not share the API's route matching on purpose: it
//! stands for API Gateway, whose matching differs (fixed segments case-sensitively), so the
//! Lambda-shape tests see what the cloud does.

use crate::template::Function;
use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

/// API Gateway's request payload limit.
const MAX_PAYLOAD: usize = 10 * 1024 * 1024;
/// API Gateway's integration timeout for HTTP APIs.
const INTEGRATION_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
struct Route {
    /// None for ANY.
    method: Option<Method>,
    /// None for a path variable.
    segments: Vec<Option<String>>,
    function: String,
}

#[derive(Debug, Clone, Default)]
pub struct Router {
    routes: Vec<Route>,
    default: Option<String>,
}

impl Router {
    /// The routes of every function (the emulator knows a function by its binary's name).
    pub fn new(functions: &[Function]) -> anyhow::Result<Self> {
        let mut r = Router::default();
        for f in functions {
            for route in &f.routes {
                if route.path == "$default" {
                    if r.default.replace(f.binary.clone()).is_some() {
                        anyhow::bail!("two functions claim the $default route");
                    }
                    continue;
                }
                let method = match route.method.as_str() {
                    "ANY" => None,
                    m => Some(Method::from_bytes(m.as_bytes())?),
                };
                let segments = route
                    .path
                    .split('/')
                    .skip(1)
                    .map(|s| {
                        if s.starts_with('{') && s.ends_with('}') {
                            None
                        } else {
                            Some(s.to_owned())
                        }
                    })
                    .collect();
                r.routes.push(Route {
                    method,
                    segments,
                    function: f.binary.clone(),
                });
            }
        }
        Ok(r)
    }

    /// The function for a request, or None when nothing matches and there is no $default
    /// (API Gateway then answers 404 `{"message":"Not Found"}`).
    pub fn pick(&self, method: &Method, path: &str) -> Option<&str> {
        let segs: Vec<&str> = path.split('/').skip(1).collect();
        let mut best: Option<(Vec<bool>, bool, &Route)> = None;
        for r in &self.routes {
            if r.method.as_ref().is_some_and(|m| m != method) || r.segments.len() != segs.len() {
                continue;
            }
            let matches = r.segments.iter().zip(&segs).all(|(want, got)| match want {
                Some(lit) => lit == got,
                None => !got.is_empty(),
            });
            if !matches {
                continue;
            }
            let key: Vec<bool> = r.segments.iter().map(Option::is_some).collect();
            let specific = r.method.is_some();
            let better = match &best {
                None => true,
                Some((k, s, _)) => (&key, specific) > (k, *s),
            };
            if better {
                best = Some((key, specific, r));
            }
        }
        best.map(|(_, _, r)| r.function.as_str())
            .or(self.default.as_deref())
    }
}

#[derive(Clone)]
pub struct Front {
    pub router: Arc<Router>,
    /// `http://127.0.0.1:<port>` of the Runtime API emulator.
    pub emulator: Arc<str>,
    pub http: reqwest::Client,
}

impl tower_service::Service<hyper::Request<Incoming>> for Front {
    type Response = hyper::Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: hyper::Request<Incoming>) -> Self::Future {
        let front = self.clone();
        Box::pin(async move { Ok(front.handle(req).await) })
    }
}

fn hop_by_hop(name: &header::HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "transfer-encoding"
            | "upgrade"
            | "te"
            | "trailer"
            | "content-length"
            | "host"
    )
}

fn plain(status: StatusCode, body: &'static str) -> hyper::Response<Full<Bytes>> {
    let mut r = hyper::Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    r
}

impl Front {
    pub async fn handle(&self, req: hyper::Request<Incoming>) -> hyper::Response<Full<Bytes>> {
        let (parts, body) = req.into_parts();
        let path = parts.uri.path().to_owned();
        let Some(function) = self.router.pick(&parts.method, &path) else {
            return plain(StatusCode::NOT_FOUND, r#"{"message":"Not Found"}"#);
        };
        let body = match Limited::new(body, MAX_PAYLOAD).collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => {
                return plain(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    r#"{"message":"Request Entity Too Large"}"#,
                );
            }
        };
        let mut url = format!("{}/lambda-url/{function}{path}", self.emulator);
        if let Some(q) = parts.uri.query() {
            url.push('?');
            url.push_str(q);
        }
        let mut headers = HeaderMap::new();
        for (k, v) in &parts.headers {
            if !hop_by_hop(k) {
                headers.append(k, v.clone());
            }
        }
        let sent = self
            .http
            .request(parts.method.clone(), &url)
            .headers(headers)
            .body(body)
            .timeout(INTEGRATION_TIMEOUT)
            .send()
            .await;
        let resp = match sent {
            Ok(r) => r,
            Err(e) => {
                eprintln!("lambda-local: {} {path} -> {function}: {e}", parts.method);
                return plain(
                    StatusCode::SERVICE_UNAVAILABLE,
                    r#"{"message":"Service Unavailable"}"#,
                );
            }
        };
        let status = resp.status();
        let mut out_headers = HeaderMap::new();
        for (k, v) in resp.headers() {
            if !hop_by_hop(k) {
                out_headers.append(k, v.clone());
            }
        }
        let body = match resp.bytes().await {
            Ok(b) => b,
            Err(e) => {
                eprintln!("lambda-local: reading {function}'s answer: {e}");
                return plain(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    r#"{"message":"Internal Server Error"}"#,
                );
            }
        };
        let mut r = hyper::Response::new(Full::new(body));
        *r.status_mut() = status;
        *r.headers_mut() = out_headers;
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::HttpRoute;

    fn f(binary: &str, routes: &[(&str, &str)]) -> Function {
        Function {
            logical_id: binary.into(),
            function_name: binary.into(),
            binary: binary.into(),
            memory_mb: 128,
            timeout: Duration::from_secs(3),
            env: vec![],
            log_format: None,
            log_level: None,
            routes: routes
                .iter()
                .map(|(m, p)| HttpRoute {
                    method: (*m).into(),
                    path: (*p).into(),
                })
                .collect(),
            sqs: vec![],
            schedules: vec![],
        }
    }

    #[test]
    fn routes_like_an_http_api() {
        let r = Router::new(&[
            f(
                "auth",
                &[("POST", "/{s}/{a}/{v}/auth/signin"), ("ANY", "$default")],
            ),
            f(
                "users",
                &[
                    ("GET", "/{s}/{a}/{v}/users/{userId}"),
                    ("PUT", "/{s}/{a}/{v}/users/{userId}/password"),
                ],
            ),
            f("tickets", &[("GET", "/{s}/{a}/{v}/tickets/history")]),
        ])
        .unwrap();
        let get = Method::GET;
        assert_eq!(
            r.pick(&Method::POST, "/CRMSERVICE/api/V1/auth/signin"),
            Some("auth")
        );
        assert_eq!(r.pick(&get, "/crmService/api/v1/users/bob"), Some("users"));
        // Literal segments are case-sensitive; a wrong method or an empty variable falls through.
        assert_eq!(r.pick(&get, "/crmService/api/v1/Users/bob"), Some("auth"));
        assert_eq!(
            r.pick(&Method::PUT, "/crmService/api/v1/users/bob"),
            Some("auth")
        );
        assert_eq!(r.pick(&get, "/crmService/api/v1/users/"), Some("auth"));
        assert_eq!(
            r.pick(&Method::PUT, "/crmService/api/v1/users/bob/password"),
            Some("users")
        );
        assert_eq!(r.pick(&get, "/"), Some("auth"));
        // The more literal route wins.
        let r2 = Router::new(&[
            f("var", &[("GET", "/{s}/{a}/{v}/tickets/{id}")]),
            f("lit", &[("GET", "/{s}/{a}/{v}/tickets/history")]),
        ])
        .unwrap();
        assert_eq!(r2.pick(&get, "/a/b/c/tickets/history"), Some("lit"));
        assert_eq!(r2.pick(&get, "/a/b/c/tickets/x"), Some("var"));
        assert_eq!(r2.pick(&get, "/a/b/c/other/x"), None);
    }
}
