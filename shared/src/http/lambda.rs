//! API Gateway (HTTP API, payload v2) events to `ApiRequest`, and `ApiResponse` back.

use super::{ApiRequest, ApiResponse};
use lambda_http::RequestExt;

impl ApiRequest {
    pub fn from_lambda(req: lambda_http::Request) -> Self {
        let request_id = req
            .lambda_context_ref()
            .map(|c| c.request_id.clone())
            .filter(|id| !id.is_empty())
            .unwrap_or_else(|| ulid::Ulid::generate().to_string());
        let (parts, body) = req.into_parts();
        let body = match body {
            lambda_http::Body::Empty => bytes::Bytes::new(),
            lambda_http::Body::Text(t) => bytes::Bytes::from(t),
            lambda_http::Body::Binary(b) => bytes::Bytes::from(b),
            _ => bytes::Bytes::new(),
        };
        Self {
            method: parts.method,
            path: parts.uri.path().to_owned(),
            query: parts.uri.query().map(str::to_owned),
            headers: parts.headers,
            body,
            request_id,
        }
    }
}

impl ApiResponse {
    pub fn into_lambda(self) -> lambda_http::Response<lambda_http::Body> {
        let mut builder = lambda_http::Response::builder().status(self.status);
        for (k, v) in self.headers {
            builder = builder.header(k, v);
        }
        let body = if self.body.is_empty() {
            lambda_http::Body::Empty
        } else {
            match String::from_utf8(self.body.to_vec()) {
                Ok(s) => lambda_http::Body::Text(s),
                Err(e) => lambda_http::Body::Binary(e.into_bytes()),
            }
        };
        builder.body(body).unwrap_or_else(|_| {
            let mut r = lambda_http::Response::new(lambda_http::Body::Empty);
            *r.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
            r
        })
    }
}
