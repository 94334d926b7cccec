//! Every endpoint of SPEC.md: one table (for routing, the template and the OpenAPI drift
//! tests) and the matcher. Fixed segments match case-insensitively; parameters do not.

use http::Method;

pub const BASE_PATH: &str = "/crmService/api/v1";

/// Which function serves a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Group {
    Auth,
    Users,
    Tickets,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Signup,
    Signin,
    Signout,
    ListUsers,
    GetUser(String),
    UpdateUser(String),
    ChangePassword(String),
    CreateTicket,
    ListTickets,
    GetTicket(String),
    UpdateTicket(String),
    TicketHistory(String),
    AddComment(String),
    ListComments(String),
}

/// One row of the route table: method, path under the base path (`{x}` = parameter), group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteSpec {
    pub method: &'static str,
    pub path: &'static str,
    pub group: Group,
    pub name: &'static str,
}

pub const ROUTES: &[RouteSpec] = &[
    RouteSpec {
        method: "POST",
        path: "/auth/signup",
        group: Group::Auth,
        name: "signup",
    },
    RouteSpec {
        method: "POST",
        path: "/auth/signin",
        group: Group::Auth,
        name: "signin",
    },
    RouteSpec {
        method: "GET",
        path: "/users",
        group: Group::Users,
        name: "listUsers",
    },
    RouteSpec {
        method: "GET",
        path: "/users/{userId}",
        group: Group::Users,
        name: "getUser",
    },
    RouteSpec {
        method: "PUT",
        path: "/users/{userId}",
        group: Group::Users,
        name: "updateUser",
    },
    RouteSpec {
        method: "POST",
        path: "/tickets",
        group: Group::Tickets,
        name: "createTicket",
    },
    RouteSpec {
        method: "GET",
        path: "/tickets",
        group: Group::Tickets,
        name: "listTickets",
    },
    RouteSpec {
        method: "GET",
        path: "/tickets/{ticketId}",
        group: Group::Tickets,
        name: "getTicket",
    },
    RouteSpec {
        method: "PUT",
        path: "/tickets/{ticketId}",
        group: Group::Tickets,
        name: "updateTicket",
    },
    RouteSpec {
        method: "GET",
        path: "/tickets/{ticketId}/history",
        group: Group::Tickets,
        name: "ticketHistory",
    },
    RouteSpec {
        method: "POST",
        path: "/tickets/{ticketId}/comments",
        group: Group::Tickets,
        name: "addComment",
    },
    RouteSpec {
        method: "GET",
        path: "/tickets/{ticketId}/comments",
        group: Group::Tickets,
        name: "listComments",
    },
    // Last: the access-control matrix runs the routes in this order, and these two revoke
    // the caller's tokens.
    RouteSpec {
        method: "PUT",
        path: "/users/{userId}/password",
        group: Group::Users,
        name: "changePassword",
    },
    RouteSpec {
        method: "POST",
        path: "/auth/signout",
        group: Group::Auth,
        name: "signout",
    },
];

fn decode(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8()
        .map(|s| s.into_owned())
        .unwrap_or_else(|_| segment.to_owned())
}

impl Route {
    /// The route for a method and path, or None (→ SPEC's 404).
    pub fn parse(method: &Method, path: &str) -> Option<Route> {
        let path = path.strip_suffix('/').unwrap_or(path);
        let mut segs = path.strip_prefix('/')?.split('/');
        for want in ["crmService", "api", "v1"] {
            if !segs.next()?.eq_ignore_ascii_case(want) {
                return None;
            }
        }
        let rest: Vec<&str> = segs.collect();
        if rest.iter().any(|s| s.is_empty()) {
            return None;
        }
        let is = |s: &str, want: &str| s.eq_ignore_ascii_case(want);
        let m = method.as_str();
        Some(match rest.as_slice() {
            [a, b] if is(a, "auth") && is(b, "signup") && m == "POST" => Route::Signup,
            [a, b] if is(a, "auth") && is(b, "signin") && m == "POST" => Route::Signin,
            [a, b] if is(a, "auth") && is(b, "signout") && m == "POST" => Route::Signout,
            [a] if is(a, "users") && m == "GET" => Route::ListUsers,
            [a, id] if is(a, "users") && m == "GET" => Route::GetUser(decode(id)),
            [a, id] if is(a, "users") && m == "PUT" => Route::UpdateUser(decode(id)),
            [a, id, p] if is(a, "users") && is(p, "password") && m == "PUT" => {
                Route::ChangePassword(decode(id))
            }
            [a] if is(a, "tickets") && m == "POST" => Route::CreateTicket,
            [a] if is(a, "tickets") && m == "GET" => Route::ListTickets,
            [a, id] if is(a, "tickets") && m == "GET" => Route::GetTicket(decode(id)),
            [a, id] if is(a, "tickets") && m == "PUT" => Route::UpdateTicket(decode(id)),
            [a, id, h] if is(a, "tickets") && is(h, "history") && m == "GET" => {
                Route::TicketHistory(decode(id))
            }
            [a, id, c] if is(a, "tickets") && is(c, "comments") && m == "POST" => {
                Route::AddComment(decode(id))
            }
            [a, id, c] if is(a, "tickets") && is(c, "comments") && m == "GET" => {
                Route::ListComments(decode(id))
            }
            _ => return None,
        })
    }

    pub fn group(&self) -> Group {
        match self {
            Route::Signup | Route::Signin | Route::Signout => Group::Auth,
            Route::ListUsers
            | Route::GetUser(_)
            | Route::UpdateUser(_)
            | Route::ChangePassword(_) => Group::Users,
            Route::CreateTicket
            | Route::ListTickets
            | Route::GetTicket(_)
            | Route::UpdateTicket(_)
            | Route::TicketHistory(_)
            | Route::AddComment(_)
            | Route::ListComments(_) => Group::Tickets,
        }
    }

    /// The route table row's name (for logs and metrics).
    pub fn name(&self) -> &'static str {
        match self {
            Route::Signup => "signup",
            Route::Signin => "signin",
            Route::Signout => "signout",
            Route::ListUsers => "listUsers",
            Route::GetUser(_) => "getUser",
            Route::UpdateUser(_) => "updateUser",
            Route::ChangePassword(_) => "changePassword",
            Route::CreateTicket => "createTicket",
            Route::ListTickets => "listTickets",
            Route::GetTicket(_) => "getTicket",
            Route::UpdateTicket(_) => "updateTicket",
            Route::TicketHistory(_) => "ticketHistory",
            Route::AddComment(_) => "addComment",
            Route::ListComments(_) => "listComments",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(m: &str, path: &str) -> Option<Route> {
        Route::parse(&Method::from_bytes(m.as_bytes()).unwrap(), path)
    }

    #[test]
    fn every_table_row_parses_to_its_named_route_and_group() {
        for r in ROUTES {
            let path = format!(
                "{BASE_PATH}{}",
                r.path.replace("{userId}", "u1").replace("{ticketId}", "t1")
            );
            let route = p(r.method, &path).unwrap_or_else(|| panic!("{} {path}", r.method));
            assert_eq!(route.name(), r.name);
            assert_eq!(route.group(), r.group);
        }
    }

    #[test]
    fn fixed_segments_match_in_any_case_parameters_keep_theirs() {
        assert_eq!(
            p("POST", "/crmservice/api/v1/auth/signup"),
            Some(Route::Signup)
        );
        assert_eq!(
            p("POST", "/CRMSERVICE/API/V1/AUTH/SIGNIN"),
            Some(Route::Signin)
        );
        assert_eq!(
            p("GET", "/crmService/api/v1/Users/Engineer1"),
            Some(Route::GetUser("Engineer1".into()))
        );
        assert_eq!(
            p("GET", "/crmService/api/v1/TICKETS/abc/HISTORY"),
            Some(Route::TicketHistory("abc".into()))
        );
    }

    #[test]
    fn a_trailing_slash_is_tolerated() {
        assert_eq!(
            p("GET", "/crmService/api/v1/users/"),
            Some(Route::ListUsers)
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
            ("PUT", "/crmService/api/v1/tickets/a/comments"),
            ("DELETE", "/crmService/api/v1/tickets/a/comments"),
            ("HEAD", "/crmService/api/v1/users"),
            ("OPTIONS", "/crmService/api/v1/users"),
        ] {
            assert_eq!(p(m, path), None, "{m} {path}");
        }
    }

    #[test]
    fn parameters_are_percent_decoded() {
        assert_eq!(
            p("GET", "/crmService/api/v1/users/a%2Eb"),
            Some(Route::GetUser("a.b".into()))
        );
    }
}
