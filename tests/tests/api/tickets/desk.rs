//! The HTTP fixture: a `crm serve` with its default admin, one helper per ticket endpoint,
//! and the counter invariant checked through the API (counts from GET /users, recounted
//! from the admin's listing).

use crm_tests::{Client, Resp, Server, ServerOptions};
pub use crm_tests::{assert_error, assert_invalid, enc, keys};
use serde_json::{Value, json};
use std::collections::BTreeMap;

pub const BASE: &str = "/crmService/api/v1";

/// The ticket object's fields (SPEC §3), sorted.
pub const TICKET_FIELDS: [&str; 12] = [
    "_id",
    "assignee",
    "createdAt",
    "description",
    "followers",
    "reporter",
    "status",
    "tags",
    "ticketPriority",
    "title",
    "updatedAt",
    "version",
];

pub struct HttpDesk {
    pub server: Server,
    pub c: Client,
    /// The default admin's token.
    pub admin: String,
}

/// Asserts the exact ticket object shape.
#[track_caller]
pub fn assert_ticket_object(t: &Value) {
    assert_eq!(keys(t), TICKET_FIELDS, "{t}");
    let id = t["_id"].as_str().expect("_id");
    assert_eq!(id.len(), 26, "a ULID: {id}");
    assert!(t["ticketPriority"].is_u64(), "{t}");
    assert!(t["assignee"].is_null() || t["assignee"].is_string(), "{t}");
    assert!(t["version"].as_i64().is_some_and(|v| v >= 1), "{t}");
    assert!(t["tags"].is_array() && t["followers"].is_array(), "{t}");
}

/// A ticket's id.
pub fn id_of(t: &Value) -> String {
    t["_id"].as_str().expect("_id").to_owned()
}

/// The ticket ids of a list page.
pub fn ids(r: &Resp) -> Vec<String> {
    r.data()
        .as_array()
        .unwrap_or_else(|| panic!("data is not a list: {}", r.text))
        .iter()
        .map(id_of)
        .collect()
}

impl HttpDesk {
    pub async fn new() -> HttpDesk {
        HttpDesk::on(Server::start()).await
    }

    /// A `crm serve` (embedded store) with extra settings.
    pub async fn with_env(env: &[(&str, &str)]) -> HttpDesk {
        HttpDesk::on(Server::start_with(ServerOptions {
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            ..Default::default()
        }))
        .await
    }

    /// Waits until the server has run every workload job it holds (an approval, a departure,
    /// room freed under the capacity: SPEC §3 "Workload" runs them after the request). Reads
    /// the server's store: the embedded one in its data dir, or on the Lambda shape the
    /// stack's table on DynamoDB Local (the jobs go through the queue and the notifier
    /// there); at most 30 s.
    pub async fn settle(&self) {
        use crm_shared::store::Store;
        let store = match self.server.lambda_stack() {
            Some(stack) => {
                let sdk = crm_tests::emulator::sdk_config().await;
                Store::dynamo(crm_shared::store::DynamoBackend::new(
                    aws_sdk_dynamodb::Client::new(&sdk),
                    format!("{stack}-Table"),
                ))
            }
            None => Store::plugged(
                crm_embedded::SqliteBackend::open(&self.server.data_dir.join("crm.sqlite3"))
                    .expect("the server's store"),
            ),
        };
        crm_tests::desk::settle(&store, std::time::Duration::from_secs(30)).await;
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

    pub async fn on(server: Server) -> HttpDesk {
        let c = server.client();
        let admin = c.admin().await;
        HttpDesk { server, c, admin }
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
        let (sizes, items) = self.c.walk(token, "/tickets", query, limit).await;
        (sizes, items.iter().map(id_of).collect())
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
        self.c.walk(&self.admin, "/tickets", "", 100).await.1
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
