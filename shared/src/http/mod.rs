//! The HTTP edge every function (and the local server) shares: the API as a tower `Service`
//! (service.rs), routes declared beside their handlers (route.rs) with typed arguments
//! (extract.rs), authentication of a request (authn.rs), JSON bodies, query strings,
//! envelopes, CORS and the one place where errors are rendered and logged (respond.rs).

mod authn;
mod body;
mod extract;
mod query;
mod respond;
mod route;
mod service;

pub use authn::authenticate;
pub use body::Body;
pub use extract::{Call, FromCall, FromParam, Handler, HandlerFn, Path};
pub use query::QueryParams;
pub use respond::{ResponseExt, cors, unreadable_request};
pub use route::{Access, BASE_PATH, Route, Router};
pub use service::{Api, MAX_BODY_BYTES, answer};

use crate::ApiError;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use serde::Serialize;

/// A request as every handler sees it, whether it came from API Gateway or a local socket.
#[derive(Debug, Clone)]
pub struct ApiRequest {
    pub method: Method,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub request_id: String,
}

impl ApiRequest {
    pub fn new(method: Method, path_and_query: &str) -> Self {
        let (path, query) = match path_and_query.split_once('?') {
            Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
            None => (path_and_query.to_owned(), None),
        };
        Self {
            method,
            path,
            query,
            headers: HeaderMap::new(),
            body: Bytes::new(),
            request_id: ulid::Ulid::generate().to_string(),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// A header the API reads, which it takes at most once (`single_header`).
    pub fn single_header(&self, name: &'static str) -> Result<Option<&HeaderValue>, ApiError> {
        single_header(&self.headers, name)
    }
}

/// The value of a header the API reads, which must come at most once: two `Idempotency-Key`s
/// (or two tokens) are the client's mistake, and the API never guesses which one was meant
/// (400 naming the header).
pub fn single_header<'a>(
    headers: &'a HeaderMap,
    name: &'static str,
) -> Result<Option<&'a HeaderValue>, ApiError> {
    let mut values = headers.get_all(name).iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(ApiError::repeated_header(name));
    }
    Ok(first)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiResponse {
    pub status: StatusCode,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Bytes,
}

impl ApiResponse {
    /// A JSON response.
    pub fn json(status: StatusCode, body: &impl Serialize) -> Self {
        match serde_json::to_vec(body) {
            Ok(b) => Self {
                status,
                headers: vec![(
                    http::header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json; charset=utf-8"),
                )],
                body: Bytes::from(b),
            },
            Err(_) => Self {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                headers: vec![(
                    http::header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json; charset=utf-8"),
                )],
                body: Bytes::from_static(
                    br#"{"success":false,"message":"Internal server error.","code":"INTERNAL_ERROR"}"#,
                ),
            },
        }
    }

    /// `{"success": true, "data": ...}` (plus a message when given).
    pub fn data(status: StatusCode, message: Option<&str>, data: &impl Serialize) -> Self {
        #[derive(Serialize)]
        struct Envelope<'a, T> {
            success: bool,
            #[serde(skip_serializing_if = "Option::is_none")]
            message: Option<&'a str>,
            data: &'a T,
        }
        Self::json(
            status,
            &Envelope {
                success: true,
                message,
                data,
            },
        )
    }

    /// `{"success": true, "message": ...}`: an action that returns nothing else.
    pub fn message(status: StatusCode, message: &str) -> Self {
        Self::json(
            status,
            &serde_json::json!({"success": true, "message": message}),
        )
    }

    /// `{"success": true, "documentResultsCount": n, "data": [...], "nextToken": ...}`.
    pub fn list<T: Serialize>(items: &[T], next_token: Option<String>) -> Self {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Envelope<'a, T> {
            success: bool,
            document_results_count: usize,
            data: &'a [T],
            #[serde(skip_serializing_if = "Option::is_none")]
            next_token: Option<String>,
        }
        Self::json(
            StatusCode::OK,
            &Envelope {
                success: true,
                document_results_count: items.len(),
                data: items,
                next_token,
            },
        )
    }

    pub fn with_header(mut self, name: HeaderName, value: &str) -> Self {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.headers.retain(|(n, _)| n != name);
            self.headers.push((name, v));
        }
        self
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.as_str().eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.to_str().ok())
    }
}
