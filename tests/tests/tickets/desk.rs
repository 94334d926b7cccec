//! The HTTP fixture: a `crm serve` with its default admin, one helper per ticket endpoint,
//! and the counter invariant checked through the API (counts from GET /users, recounted
//! from the admin's listing).

use crm_tests::{Client, Resp, Server, ServerOptions};
use serde_json::{Value, json};
use std::collections::BTreeMap;

pub const BASE: &str = "/crmService/api/v1";

/// The ticket object's fields (SPEC §3), sorted.
pub const TICKET_FIELDS: [&str; 9] = [
    "_id",
    "assignee",
    "createdAt",
    "description",
    "reporter",
    "status",
    "ticketPriority",
    "title",
    "updatedAt",
];

pub struct Desk {
    pub server: Server,
    pub c: Client,
    /// The default admin's token.
    pub admin: String,
}

/// Percent-encodes a query value.
pub fn enc(v: &str) -> String {
    v.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Asserts an error answer: status, `success: false`, the code, a message.
#[track_caller]
pub fn assert_error(r: &Resp, status: u16, code: &str) {
    r.expect(status);
    assert_eq!(r.body["success"], false, "{}", r.text);
    assert_eq!(r.code(), code, "{}", r.text);
    assert!(
        r.body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{}",
        r.text
    );
}

/// Asserts a 400 naming `field`.
#[track_caller]
pub fn assert_invalid(r: &Resp, field: &str) {
    assert_error(r, 400, "VALIDATION_FAILED");
    assert_eq!(r.body["field"], field, "{}", r.text);
}

/// Asserts the exact ticket object shape.
#[track_caller]
pub fn assert_ticket_object(t: &Value) {
    let mut keys: Vec<&str> = t
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {t}"))
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(keys, TICKET_FIELDS, "{t}");
    let id = t["_id"].as_str().expect("_id");
    assert_eq!(id.len(), 26, "a ULID: {id}");
    assert!(t["ticketPriority"].is_u64(), "{t}");
    assert!(t["assignee"].is_null() || t["assignee"].is_string(), "{t}");
}

pub fn ids(r: &Resp) -> Vec<String> {
    r.data()
        .as_array()
        .unwrap_or_else(|| panic!("data is not a list: {}", r.text))
        .iter()
        .map(|t| t["_id"].as_str().expect("_id").to_owned())
        .collect()
}

impl Desk {
    pub async fn new() -> Desk {
        Desk::on(Server::start()).await
    }

    /// A server on a DynamoDB table of the emulator, named `table` (created on start).
    pub fn dynamodb_server(table: &str) -> Server {
        let mut env = crm_tests::emulator::env();
        env.push(("CRM_TABLE_NAME".into(), table.into()));
        Server::start_with(ServerOptions {
            env,
            dynamodb: true,
            ..Default::default()
        })
    }

    pub async fn on(server: Server) -> Desk {
        let c = server.client();
        let admin = c.admin().await;
        Desk { server, c, admin }
    }

    pub async fn customer(&self, id: &str) -> String {
        self.c.customer(id).await
    }

    /// An approved engineer's token; waits 2 ms so approvals never share a millisecond.
    pub async fn engineer(&self, id: &str) -> String {
        let t = self.c.engineer(&self.admin, id).await;
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        t
    }

    /// PUT /users/{id} as the admin (expects 200); waits 2 ms like `engineer`.
    pub async fn set_user(&self, id: &str, body: Value) -> Value {
        let r = self.c.put(&format!("/users/{id}"), &self.admin, body).await;
        r.expect(200);
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        r.data().clone()
    }

    pub async fn post_ticket(&self, token: &str, body: Value) -> Resp {
        self.c.post("/tickets", token, body).await
    }

    /// Creates a ticket (expects 201) and returns it.
    pub async fn create(&self, token: &str, title: &str) -> Value {
        let r = self
            .post_ticket(
                token,
                json!({"title": title, "description": format!("About {title}")}),
            )
            .await;
        r.expect(201);
        r.data().clone()
    }

    pub async fn put_ticket(&self, token: &str, id: &str, body: Value) -> Resp {
        self.c.put(&format!("/tickets/{id}"), token, body).await
    }

    /// PUT that must answer 200; returns the ticket.
    pub async fn update(&self, token: &str, id: &str, body: Value) -> Value {
        let r = self.put_ticket(token, id, body).await;
        r.expect(200);
        r.data().clone()
    }

    pub async fn get_ticket(&self, token: &str, id: &str) -> Resp {
        self.c.get(&format!("/tickets/{id}"), token).await
    }

    /// GET /tickets with a query string (no leading `?`; empty for none).
    pub async fn list(&self, token: &str, query: &str) -> Resp {
        if query.is_empty() {
            self.c.get("/tickets", token).await
        } else {
            self.c.get(&format!("/tickets?{query}"), token).await
        }
    }

    /// Every page of a listing at `limit`: the page sizes and the ids in order.
    pub async fn walk(&self, token: &str, query: &str, limit: usize) -> (Vec<usize>, Vec<String>) {
        let (sizes, items) = self.walk_items(token, "/tickets", query, limit).await;
        let ids = items
            .iter()
            .map(|t| t["_id"].as_str().expect("_id").to_owned())
            .collect();
        (sizes, ids)
    }

    /// Every page of a paginated GET at `limit`, following nextToken: the page sizes and
    /// the items in order.
    pub async fn walk_items(
        &self,
        token: &str,
        path: &str,
        query: &str,
        limit: usize,
    ) -> (Vec<usize>, Vec<Value>) {
        let (mut sizes, mut all) = (Vec::new(), Vec::new());
        let mut next: Option<String> = None;
        for _ in 0..1000 {
            let mut q = format!("limit={limit}");
            if !query.is_empty() {
                q = format!("{query}&{q}");
            }
            if let Some(t) = &next {
                q = format!("{q}&nextToken={}", enc(t));
            }
            let r = self.c.get(&format!("{path}?{q}"), token).await;
            r.expect(200);
            let items = r.data().as_array().expect("a list").clone();
            assert_eq!(r.body["documentResultsCount"], items.len(), "{}", r.text);
            assert!(items.len() <= limit, "{}", r.text);
            sizes.push(items.len());
            all.extend(items);
            match r.body["nextToken"].as_str() {
                Some(t) => next = Some(t.to_owned()),
                None => return (sizes, all),
            }
        }
        panic!("more than 1000 pages");
    }

    pub async fn history(&self, token: &str, id: &str, query: &str) -> Resp {
        let path = format!("/tickets/{id}/history");
        if query.is_empty() {
            self.c.get(&path, token).await
        } else {
            self.c.get(&format!("{path}?{query}"), token).await
        }
    }

    /// A user's ticketsWorkingOnCount as the admin sees it.
    pub async fn count(&self, user: &str) -> i64 {
        let r = self.c.get(&format!("/users/{user}"), &self.admin).await;
        r.expect(200);
        r.data()["ticketsWorkingOnCount"]
            .as_i64()
            .unwrap_or_else(|| panic!("no ticketsWorkingOnCount: {}", r.text))
    }

    /// Every ticket, from the admin's listing.
    pub async fn all_tickets(&self) -> Vec<Value> {
        let mut out = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let q = match &next {
                Some(t) => format!("limit=100&nextToken={}", enc(t)),
                None => "limit=100".into(),
            };
            let r = self.list(&self.admin, &q).await;
            r.expect(200);
            out.extend(r.data().as_array().expect("a list").iter().cloned());
            match r.body["nextToken"].as_str() {
                Some(t) => next = Some(t.to_owned()),
                None => return out,
            }
        }
    }

    /// The counter invariant through the API: every user that shows a count (staff) has as
    /// many as its OPEN assigned tickets, and nobody else has OPEN tickets. Returns the
    /// counts by userId.
    pub async fn assert_invariant(&self) -> BTreeMap<String, i64> {
        let mut open: BTreeMap<String, i64> = BTreeMap::new();
        for t in self.all_tickets().await {
            if t["status"] == "OPEN"
                && let Some(a) = t["assignee"].as_str()
            {
                *open.entry(a.to_owned()).or_default() += 1;
            }
        }
        let r = self.c.get("/users?limit=100", &self.admin).await;
        r.expect(200);
        assert!(r.body["nextToken"].is_null(), "more than 100 users");
        let mut counts = BTreeMap::new();
        for u in r.data().as_array().expect("users") {
            let id = u["userId"].as_str().expect("userId").to_owned();
            if let Some(c) = u["ticketsWorkingOnCount"].as_i64() {
                assert_eq!(
                    c,
                    open.get(&id).copied().unwrap_or(0),
                    "ticketsWorkingOnCount of {id}"
                );
                counts.insert(id, c);
            }
        }
        for (u, n) in &open {
            assert!(
                counts.contains_key(u),
                "{u} has {n} OPEN tickets but no count"
            );
        }
        counts
    }
}
