//! Section 1: DynamoDB (and SQS, SES) requests per API operation against the emulator,
//! counted twice: by the store's stats (calls, sequential depth, items) and on the wire by
//! the counting proxy. Each operation goes through the same glue a Lambda uses.

use crate::fixtures::{self, PASSWORD, call_ok, put_user, request, token};
use crate::proxy::{Proxy, Wire};
use crate::report::{ratio, table};
use crm_notifier::{Notifier, Transport};
use crm_shared::model::{Event, EventType, UserType};
use crm_shared::queue::Publisher;
use crm_shared::store::{Stats, Usage};
use http::Method;
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::sync::Arc;

/// One measured operation.
pub struct Op {
    pub name: String,
    pub usage: Usage,
    pub wire: Wire,
    /// The least sequential depth the operation could have.
    pub floor: usize,
    /// What the figures are expected to be (the depths, store calls) and why. A range of
    /// depths where concurrent calls may or may not overlap (calls each started after
    /// another's own wait).
    pub expected: (std::ops::RangeInclusive<usize>, usize),
    pub why: &'static str,
}

pub struct Section {
    pub ops: Vec<Op>,
    pub queued_messages: usize,
    pub ticket_changes: usize,
}

struct Meter<'a> {
    stats: &'a Stats,
    proxy: &'a Proxy,
    ops: Vec<Op>,
}

impl Meter<'_> {
    fn reset(&self) {
        self.stats.take_usage();
        self.proxy.take();
    }

    fn record(&mut self, name: &str, floor: usize, expected: (usize, usize), why: &'static str) {
        let (depth, calls) = expected;
        self.record_depths(name, floor, depth..=depth, calls, why);
    }

    fn record_depths(
        &mut self,
        name: &str,
        floor: usize,
        depths: std::ops::RangeInclusive<usize>,
        calls: usize,
        why: &'static str,
    ) {
        self.ops.push(Op {
            name: name.to_owned(),
            usage: self.stats.take_usage(),
            wire: self.proxy.take(),
            floor,
            expected: (depths, calls),
            why,
        });
    }
}

fn id_of(body: &Value) -> anyhow::Result<String> {
    body.pointer("/data/_id")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("no ticket id in {body}"))
}

pub async fn run(moto: &str, proxy: &Proxy) -> anyhow::Result<Section> {
    let table_name = fixtures::unique("bench-ops");
    let store = fixtures::dynamo_store(&proxy.url, moto, &table_name).await?;
    let (store, stats) = store.with_stats();
    let queue_url = fixtures::queue(moto, &fixtures::unique("bench-ops")).await?;
    let via_proxy = fixtures::sdk_config(&proxy.url).await;
    let direct = fixtures::sdk_config(moto).await;
    let sesv2 = aws_sdk_sesv2::Client::new(&direct);
    sesv2
        .create_email_identity()
        .email_identity("crm.local")
        .send()
        .await?;
    let publisher = Publisher::Sqs {
        client: aws_sdk_sqs::Client::new(&via_proxy),
        queue_url: queue_url.clone(),
    };
    let mut ctx = fixtures::ctx(store.clone());
    ctx.publisher = publisher.clone();
    let ctx = Arc::new(ctx);

    // Not counted: the admin and two approved engineers.
    put_user(&store, "admin", UserType::Admin).await?;
    put_user(&store, "eng1", UserType::Engineer).await?;
    put_user(&store, "eng2", UserType::Engineer).await?;
    let admin = token(&ctx, "admin", UserType::Admin);

    let mut m = Meter {
        stats: &stats,
        proxy,
        ops: Vec::new(),
    };

    m.reset();
    call_ok(
        &ctx,
        request(
            Method::POST,
            "/auth/signup",
            None,
            Some(&json!({"name": "Customer One", "userId": "cust1", "email": "cust1@bench.example", "password": PASSWORD})),
        ),
        201,
    )
    .await?;
    m.record(
        "POST /auth/signup",
        1,
        (1, 1),
        "One transaction: the user item and the email sentinel, both `attribute_not_exists` (uniqueness without check-then-insert). bcrypt runs before it and is CPU, not a round trip.",
    );

    m.reset();
    let body = call_ok(
        &ctx,
        request(
            Method::POST,
            "/auth/signin",
            None,
            Some(&json!({"userId": "cust1", "password": PASSWORD})),
        ),
        200,
    )
    .await?;
    m.record(
        "POST /auth/signin",
        1,
        (2, 3),
        "The user read beside the reservation of one password check: a conditional put that opens the window in `SIGNIN#<userId>` (SPEC §2's lockout holds across Lambda instances, for unknown userIds and under any concurrency, so the check is reserved before bcrypt, in an item of its own). bcrypt verify is CPU. A right password then gives its reservation back, so that only failures count: that is the level above the floor. As the window's only check it deletes the window (one conditional delete), so the next sign-in, however soon, opens a new one in one put again. Only with failures in the window (a wrong password in the last 15 minutes) are the reservation and the give-back two writes each (the put is refused, then an add; the delete is refused, then a −1): depth 4 and 5 calls.",
    );
    let cust = body
        .pointer("/data/accessToken")
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow::anyhow!("no accessToken"))?
        .to_owned();

    m.reset();
    call_ok(
        &ctx,
        request(
            Method::POST,
            "/auth/signin",
            None,
            Some(&json!({"userId": "nobody", "password": "Wrong-password1"})),
        ),
        401,
    )
    .await?;
    m.record(
        "POST /auth/signin (unknown userId)",
        1,
        (2, 3),
        "The same read and reservation as a sign-in; bcrypt runs against a decoy hash, then the failure is recorded on its reservation (one add), so a check that ended is told from one still in flight: a sign-in that finds the window's checks all in flight is told to retry in a second, never locked out (issue 26). Five failures lock the userId whether or not it exists.",
    );

    m.reset();
    call_ok(
        &ctx,
        request(Method::GET, "/users/cust1", Some(&cust), None),
        200,
    )
    .await?;
    m.record(
        "GET /users/{self}",
        1,
        (1, 1),
        "At the floor: the caller is the target, one read serves as both.",
    );

    m.reset();
    call_ok(
        &ctx,
        request(Method::GET, "/users/cust1", Some(&admin), None),
        200,
    )
    .await?;
    m.record(
        "GET /users/{userId} (admin)",
        1,
        (1, 2),
        "Depth at the floor; the caller check (exists, APPROVED, ADMIN now — SPEC: a demotion takes effect at once) runs beside the read of the target.",
    );

    m.reset();
    call_ok(
        &ctx,
        request(Method::GET, "/users", Some(&admin), None),
        200,
    )
    .await?;
    m.record(
        "GET /users (admin)",
        1,
        (1, 2),
        "Depth at the floor; the caller check runs beside the page query.",
    );

    // An engineer signs up (not counted) and the admin approves them.
    call_ok(
        &ctx,
        request(
            Method::POST,
            "/auth/signup",
            None,
            Some(&json!({"name": "Engineer Three", "userId": "eng3", "email": "eng3@bench.example", "password": PASSWORD, "userType": "ENGINEER"})),
        ),
        201,
    )
    .await?;
    m.reset();
    call_ok(
        &ctx,
        request(
            Method::PUT,
            "/users/eng3",
            Some(&admin),
            Some(&json!({"userStatus": "APPROVED"})),
        ),
        200,
    )
    .await?;
    m.record(
        "PUT /users/{userId} (admin approves)",
        2,
        (2, 3),
        "At the floor: caller and target read together, then one conditional write (version check; the approved-admin counter joins the same transaction only when admin-ness changes).",
    );

    m.reset();
    let created = call_ok(
        &ctx,
        request(
            Method::POST,
            "/tickets",
            Some(&cust),
            Some(&json!({"title": "Printer", "description": "It does not print."})),
        ),
        201,
    )
    .await?;
    m.record(
        "POST /tickets",
        2,
        (2, 4),
        "At the floor: the caller check, the least-loaded engineer (one indexed read of one item) and the SLA policy in force (SPEC §10: the due times are the policy's at creation) together, then one transaction (ticket, engineer count, history entry, outbox event, change feed item), then one SQS send.",
    );
    // Twenty webhook subscriptions (SPEC §7's most) change nothing on the request path: the
    // fan-out is the notifier's, after the commit.
    let mut subscriptions = Vec::new();
    for i in 0..20 {
        let made = call_ok(
            &ctx,
            request(
                Method::POST,
                "/webhooks",
                Some(&admin),
                Some(&json!({"url": format!("https://hooks.example.com/{i}"), "events": ["*"]})),
            ),
            201,
        )
        .await?;
        subscriptions.push(id_of(&made)?);
    }
    m.reset();
    call_ok(
        &ctx,
        request(
            Method::POST,
            "/tickets",
            Some(&cust),
            Some(&json!({"title": "Scanner", "description": "It does not scan."})),
        ),
        201,
    )
    .await?;
    m.record(
        "POST /tickets (20 webhook subscriptions)",
        2,
        (2, 4),
        "Unchanged by the subscriptions: the request commits the event in its outbox item and pushes it; the notifier fans it out to the subscriptions after the commit, off the request path (SPEC §7).",
    );
    // Not counted: the subscriptions go again, so the notifier rows below are one mail's
    // (a fan-out's cost is the dispatcher's row in section 9).
    for id in &subscriptions {
        call_ok(
            &ctx,
            request(
                Method::DELETE,
                &format!("/webhooks/{id}"),
                Some(&admin),
                None,
            ),
            200,
        )
        .await?;
    }
    let ticket = id_of(&created)?;
    let assignee = created
        .pointer("/data/assignee")
        .and_then(Value::as_str)
        .unwrap_or("eng1")
        .to_owned();
    let eng = token(&ctx, &assignee, UserType::Engineer);

    m.reset();
    call_ok(
        &ctx,
        request(
            Method::GET,
            &format!("/tickets/{ticket}"),
            Some(&cust),
            None,
        ),
        200,
    )
    .await?;
    m.record(
        "GET /tickets/{id}",
        1,
        (1, 2),
        "Depth at the floor; the caller check runs beside the ticket read.",
    );

    for (who, tok, queries, why) in [
        (
            "customer",
            &cust,
            2,
            "Depth at the floor: the caller check beside two queries at once (the reporter partition and the tickets the customer follows, SPEC §11).",
        ),
        (
            "engineer",
            &eng,
            3,
            "Depth at the floor: the caller check beside three queries at once (tickets reported by, assigned to and followed by the engineer, merged by id).",
        ),
        (
            "admin",
            &admin,
            3,
            "Depth at the floor: the caller check beside one query per status partition (OPEN, BLOCKED, CLOSED), merged by id; only a filter on reporter, assignee or status narrows it to one.",
        ),
    ] {
        m.reset();
        call_ok(&ctx, request(Method::GET, "/tickets", Some(tok), None), 200).await?;
        m.record(&format!("GET /tickets ({who})"), 1, (1, 1 + queries), why);
    }

    m.reset();
    call_ok(
        &ctx,
        request(
            Method::GET,
            &format!("/tickets/{ticket}/history"),
            Some(&cust),
            None,
        ),
        200,
    )
    .await?;
    m.record(
        "GET /tickets/{id}/history",
        1,
        (1, 3),
        "Depth at the floor: the caller, the ticket (visibility) and the first history page, all at once.",
    );

    m.reset();
    call_ok(
        &ctx,
        request(
            Method::PUT,
            &format!("/tickets/{ticket}"),
            Some(&cust),
            Some(&json!({"status": "CLOSED"})),
        ),
        200,
    )
    .await?;
    m.record(
        "PUT /tickets/{id} (status)",
        2,
        (2, 3),
        "At the floor: caller and ticket read together, then one transaction (ticket under a version check, the assignee's count −1, history, outbox), then one SQS send.",
    );

    // An open ticket to reassign (not counted).
    let second = id_of(
        &call_ok(
            &ctx,
            request(
                Method::POST,
                "/tickets",
                Some(&cust),
                Some(&json!({"title": "Scanner", "description": "It does not scan."})),
            ),
            201,
        )
        .await?,
    )?;
    let other = ["eng1", "eng2", "eng3"]
        .into_iter()
        .find(|e| *e != assignee)
        .unwrap_or("eng2");
    m.reset();
    call_ok(
        &ctx,
        request(
            Method::PUT,
            &format!("/tickets/{second}"),
            Some(&admin),
            Some(&json!({"assignee": other})),
        ),
        200,
    )
    .await?;
    m.record(
        "PUT /tickets/{id} (reassign)",
        2,
        (2, 4),
        "At the floor: caller, ticket and the new assignee (must be an approved ENGINEER: a 400 otherwise) read together, then one transaction (ticket, old assignee −1, new +1, history, outbox), then one SQS send.",
    );

    // The notifier, on the events those changes queued.
    let sqs = aws_sdk_sqs::Client::new(&direct);
    let mut events: Vec<Event> = Vec::new();
    for _ in 0..5 {
        let out = sqs
            .receive_message()
            .queue_url(&queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await?;
        let msgs = out.messages.unwrap_or_default();
        if msgs.is_empty() && !events.is_empty() {
            break;
        }
        for msg in msgs {
            if let Some(b) = msg.body() {
                events.push(serde_json::from_str(b)?);
            }
        }
    }
    // Two creations, a status change and a reassignment: one event each.
    let ticket_changes = 4;
    let notifier = Notifier {
        store: store.clone(),
        transport: Transport::Ses {
            client: aws_sdk_sesv2::Client::new(&via_proxy),
            from: "no-reply@crm.local".into(),
        },
        publisher,
        lease_seconds: 90,
        sweep_age_seconds: 120,
        jobs: crm_shared::queue::JobQueue::default(),
        capacity: None,
        integrations: Default::default(),
        replies: None,
    };
    let created_ev = events
        .iter()
        .find(|e| {
            e.event_type == EventType::TicketCreated
                && e.data.ticket.as_ref().is_some_and(|t| t.id == ticket)
        })
        .ok_or_else(|| anyhow::anyhow!("the creation's event is not in the queue"))?;
    m.reset();
    notifier
        .deliver(created_ev)
        .await
        .map_err(|e| anyhow::anyhow!("deliver: {e:?}"))?;
    // Three recipients (reporter, assignee, admin): their markers at depths 4 to 6 of 5 to 7.
    m.record_depths(
        "notifier: one mail (TICKET_CREATED)",
        2,
        5..=7,
        11,
        "At once: the claim (a conditional put of a SENDING marker with a lease: without it two copies of one SQS message, at-least-once delivery, could both send; the marker is read only when the put is refused, that is for a copy) and the recipients (the reporter, the assignee and the approved admins, read eventually consistent: 3 reads would do with a BatchGetItem; the backend interface has none). Then the webhook fan-out's query of the subscriptions (none here) beside the mail. SES gets one message per recipient (so no one sees another's address), and delivery is idempotent per event and recipient (SPEC §4), so next comes one query of the recipients' markers an earlier holder of the claim may have written, then the sends at once, each followed by its own marker (a put): a retry after a partial failure mails only those not mailed yet. Last, the finish: the SENT marker, then the outbox item's deletion (two standard writes, half a transaction's units: a crash between them leaves an outbox item whose re-push finds SENT and deletes it). Depth 5 when the markers' puts overlap, one more for each that starts only after another has finished (up to 4 + recipients).",
    );

    m.reset();
    notifier
        .deliver(created_ev)
        .await
        .map_err(|e| anyhow::anyhow!("redeliver: {e:?}"))?;
    m.record(
        "notifier: the same message again",
        1,
        (3, 6),
        "A redelivered copy: the claim's put is refused (beside the recipient reads, wasted here), the marker read then says SENT, and the outbox item is deleted (nothing to delete unless a crash came between the finish's two writes). Nothing is sent. Depth 3 where reading the marker first would be 1: the price of first deliveries that read no marker (1 RCU and, with the finish's two standard writes, 5 of 14 WCU saved on every delivery: section 9), paid only by the rare copy.",
    );

    if let Some(re) = events
        .iter()
        .find(|e| e.event_type == EventType::TicketUpdated && e.previous_assignee().is_some())
    {
        m.reset();
        notifier
            .deliver(re)
            .await
            .map_err(|e| anyhow::anyhow!("deliver: {e:?}"))?;
        // Four recipients (reporter, new and previous assignee, admin): depths 5 to 8.
        m.record_depths(
            "notifier: one mail (reassignment)",
            2,
            5..=8,
            13,
            "As a creation, plus the previous assignee's read and a fourth message with its marker (the previous assignee is mailed too).",
        );
    }

    m.reset();
    notifier
        .handle(crm_notifier::Invocation::sweep())
        .await
        .map_err(|e| anyhow::anyhow!("sweep: {e}"))?;
    m.record(
        "notifier: scheduled sweep, nothing stale",
        1,
        (1, 10),
        "Ten queries at once: the outbox partition and the workload jobs' partition by age (a job a crash interrupted is resumed by the sweep too), and the 8 shards of the SLA due-time index (SPEC §10) up to now.",
    );

    let attrs = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(
            aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
        )
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await?;
    let queued = attrs
        .attributes()
        .map(|a| {
            a.values()
                .filter_map(|v| v.parse::<usize>().ok())
                .sum::<usize>()
        })
        .unwrap_or(0);
    Ok(Section {
        ops: m.ops,
        queued_messages: queued.max(events.len()),
        ticket_changes,
    })
}

pub fn render(s: &Section, out: &mut String) {
    let rows: Vec<Vec<String>> = s
        .ops
        .iter()
        .map(|o| {
            let c = o.usage.cost;
            vec![
                o.name.clone(),
                format!(
                    "{} (floor {}, {})",
                    c.depth,
                    o.floor,
                    ratio(c.depth as f64, o.floor as f64)
                ),
                format!(
                    "{} = {}g + {}q + {}w",
                    c.total(),
                    c.gets,
                    c.queries,
                    c.writes
                ),
                format!(
                    "{} ({})",
                    o.wire.count("dynamodb:"),
                    o.wire.dynamodb_summary()
                ),
                format!("{} / {}", o.usage.items_read, o.usage.items_written),
                format!("{}", o.wire.items_read),
                format!(
                    "{} / {}",
                    o.wire.count("sqs:SendMessage"),
                    o.wire.count("ses:")
                ),
            ]
        })
        .collect();
    out.push_str(&table(
        &[
            "operation",
            "sequential depth",
            "store calls",
            "DynamoDB requests on the wire",
            "items read / written (store)",
            "items returned on the wire",
            "SQS sends / SES sends",
        ],
        &rows,
    ));
    let _ = writeln!(
        out,
        "\nSQS: {} messages reached the queue for {} ticket changes (one `SendMessage` per change, none for reads).\n",
        s.queued_messages, s.ticket_changes
    );
    out.push_str("### Every figure above the floor, explained\n\n");
    for o in &s.ops {
        let c = o.usage.cost;
        let mut flags = Vec::new();
        let (depths, calls) = &o.expected;
        if !depths.contains(&c.depth) || c.total() != *calls {
            let depths = if depths.start() == depths.end() {
                depths.start().to_string()
            } else {
                format!("{}–{}", depths.start(), depths.end())
            };
            flags.push(format!(
                "**measured ({}, {} calls) differs from the figures explained here (depth {depths}, {calls} calls): investigate.** ",
                c.depth,
                c.total(),
            ));
        }
        if o.wire.count("dynamodb:") != c.total() {
            flags.push(format!(
                "**the wire saw {} DynamoDB requests for {} store calls (a retry or an extra page).** ",
                o.wire.count("dynamodb:"),
                c.total()
            ));
        }
        let _ = writeln!(
            out,
            "- **{}** — depth {}, {} call{}. {}{}",
            o.name,
            c.depth,
            c.total(),
            if c.total() == 1 { "" } else { "s" },
            flags.concat(),
            o.why
        );
    }
    out.push('\n');
}
