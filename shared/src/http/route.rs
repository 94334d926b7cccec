//! A route is declared once, beside its handler, in its function's `router()`
//! (functions/*/src/lib.rs): method, path under the base path (`{name}` for a parameter),
//! who may call it, its name (docs/openapi.yaml's operationId, and the logs'), and the
//! handler, whose arguments say what it reads (extract.rs). `crm serve`, every function, and
//! the template, OpenAPI, access-matrix and events tests all read these lists.
//!
//! Matching: the base path's and the routes' fixed segments in any case, parameters exactly
//! as sent (percent-decoded), one trailing slash tolerated; anything else is no route
//! (SPEC's 404).

use super::extract::{Erased, Handler, Typed};
use http::Method;

pub const BASE_PATH: &str = "/crmService/api/v1";

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone: no token is read.
    Public,
    /// A verified token is required before anything else is read (401 without one).
    Authenticated,
}

/// One route of the API.
pub struct Route {
    pub method: Method,
    /// The path under [`BASE_PATH`], parameters as `{name}`.
    pub path: &'static str,
    pub access: Access,
    /// The operationId of docs/openapi.yaml.
    pub name: &'static str,
    pub(super) handler: Box<dyn Erased>,
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} ({}, {:?})",
            self.method, self.path, self.name, self.access
        )
    }
}

impl Route {
    /// The route's segments: Some(literal) or None for a parameter.
    fn segments(&self) -> impl Iterator<Item = Option<&'static str>> {
        self.path
            .split('/')
            .skip(1)
            .map(|s| (!(s.starts_with('{') && s.ends_with('}'))).then_some(s))
    }

    /// The parameters of `rest` (the request's segments after the base path) if it is this
    /// route's path.
    fn matches(&self, rest: &[&str]) -> Option<Vec<String>> {
        if self.segments().count() != rest.len() {
            return None;
        }
        let mut params = Vec::new();
        for (want, got) in self.segments().zip(rest) {
            match want {
                Some(lit) if lit.eq_ignore_ascii_case(got) => {}
                Some(_) => return None,
                None => params.push(decode(got)),
            }
        }
        Some(params)
    }
}

fn decode(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8()
        .map(|s| s.into_owned())
        .unwrap_or_else(|_| segment.to_owned())
}

/// A function's routes (or, merged, the whole API's).
#[derive(Debug, Default)]
pub struct Router {
    routes: Vec<Route>,
}

impl Router {
    pub fn new() -> Self {
        Self::default()
    }

    /// A route anyone may call.
    pub fn public<A: 'static>(
        self,
        method: Method,
        path: &'static str,
        name: &'static str,
        handler: impl Handler<A>,
    ) -> Self {
        self.route(method, path, Access::Public, name, handler)
    }

    /// A route that needs a verified token first.
    pub fn authenticated<A: 'static>(
        self,
        method: Method,
        path: &'static str,
        name: &'static str,
        handler: impl Handler<A>,
    ) -> Self {
        self.route(method, path, Access::Authenticated, name, handler)
    }

    fn route<A: 'static>(
        mut self,
        method: Method,
        path: &'static str,
        access: Access,
        name: &'static str,
        handler: impl Handler<A>,
    ) -> Self {
        self.routes.push(Route {
            method,
            path,
            access,
            name,
            handler: Box::new(Typed::new(handler)),
        });
        self
    }

    /// These routes and `other`'s.
    pub fn merge(mut self, other: Router) -> Self {
        self.routes.extend(other.routes);
        self
    }

    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// The route for a method and path, with its parameters in order, or None (SPEC's 404).
    /// Where two routes match, the one with a fixed segment where the other has a parameter
    /// wins (as in API Gateway).
    pub fn find(&self, method: &Method, path: &str) -> Option<(&Route, Vec<String>)> {
        let path = path.strip_suffix('/').unwrap_or(path);
        let mut segs = path.strip_prefix('/')?.split('/');
        for want in BASE_PATH.split('/').skip(1) {
            if !segs.next()?.eq_ignore_ascii_case(want) {
                return None;
            }
        }
        let rest: Vec<&str> = segs.collect();
        if rest.iter().any(|s| s.is_empty()) {
            return None;
        }
        let mut best: Option<(Vec<bool>, &Route, Vec<String>)> = None;
        for r in self.routes.iter().filter(|r| r.method == method) {
            let Some(params) = r.matches(&rest) else {
                continue;
            };
            let fixed: Vec<bool> = r.segments().map(|s| s.is_some()).collect();
            if best.as_ref().is_none_or(|(f, _, _)| fixed > *f) {
                best = Some((fixed, r, params));
            }
        }
        best.map(|(_, r, params)| (r, params))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ApiError;
    use crate::http::ApiResponse;
    use crate::service::Ctx;

    async fn ok(_: &Ctx) -> Result<ApiResponse, ApiError> {
        Ok(ApiResponse::message(http::StatusCode::OK, "ok"))
    }

    fn router() -> Router {
        Router::new()
            .public(Method::POST, "/auth/signup", "signup", ok)
            .authenticated(Method::GET, "/users", "listUsers", ok)
            .authenticated(Method::GET, "/users/{userId}", "getUser", ok)
            .authenticated(
                Method::PUT,
                "/users/{userId}/password",
                "changePassword",
                ok,
            )
            .authenticated(Method::GET, "/tickets/{ticketId}", "getTicket", ok)
            .authenticated(Method::GET, "/tickets/history", "literal", ok)
            .authenticated(
                Method::GET,
                "/tickets/{ticketId}/history",
                "ticketHistory",
                ok,
            )
    }

    fn find(m: &str, path: &str) -> Option<(&'static str, Vec<String>)> {
        static R: std::sync::LazyLock<Router> = std::sync::LazyLock::new(router);
        R.find(&Method::from_bytes(m.as_bytes()).unwrap(), path)
            .map(|(route, p)| (route.name, p))
    }

    #[test]
    fn fixed_segments_match_in_any_case_parameters_keep_theirs() {
        assert_eq!(
            find("POST", "/crmservice/API/v1/AUTH/SIGNUP"),
            Some(("signup", vec![]))
        );
        assert_eq!(
            find("GET", "/crmService/api/v1/Users/Engineer1"),
            Some(("getUser", vec!["Engineer1".into()]))
        );
        assert_eq!(
            find("GET", "/crmService/api/v1/TICKETS/abc/HISTORY"),
            Some(("ticketHistory", vec!["abc".into()]))
        );
    }

    #[test]
    fn a_trailing_slash_is_tolerated_and_parameters_are_percent_decoded() {
        assert_eq!(
            find("GET", "/crmService/api/v1/users/"),
            Some(("listUsers", vec![]))
        );
        assert_eq!(
            find("GET", "/crmService/api/v1/users/a%2Eb"),
            Some(("getUser", vec!["a.b".into()]))
        );
    }

    #[test]
    fn a_fixed_segment_beats_a_parameter() {
        assert_eq!(
            find("GET", "/crmService/api/v1/tickets/history"),
            Some(("literal", vec![]))
        );
        assert_eq!(
            find("GET", "/crmService/api/v1/tickets/x"),
            Some(("getTicket", vec!["x".into()]))
        );
    }

    #[test]
    fn unknown_paths_and_methods_are_none() {
        for (m, path) in [
            (
                "DELETE",
                "/crmService/api/v1/tickets/62ed134ee134ad67c6c61e68",
            ),
            ("GET", "/crmService/api/v1/InvalidEndPoint"),
            ("PATCH", "/crmService/api/v1/users/x"),
            ("GET", "/crmService/api/v2/users"),
            ("GET", "/"),
            ("GET", ""),
            ("GET", "/crmService/api/v1"),
            ("GET", "/crmService/api/v1/users//x"),
            ("GET", "/crmService/api/v1/auth/signup"),
            ("POST", "/crmService/api/v1/users"),
            ("GET", "/crmService/api/v1/tickets/a/b"),
            ("PUT", "/crmService/api/v1/users/a/b"),
            ("HEAD", "/crmService/api/v1/users"),
            ("OPTIONS", "/crmService/api/v1/users"),
        ] {
            assert_eq!(find(m, path), None, "{m} {path}");
        }
    }
}
