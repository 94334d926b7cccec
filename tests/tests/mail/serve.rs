//! Mail in through `crm serve --smtp-port` (SPEC §9), delivered by Python's smtplib, and
//! `crm intake` beside it on the same data dir: a new ticket, a reply that becomes a comment
//! with only the new text, a reply that reopens a CLOSED ticket, a forged token, a stranger,
//! an auto-reply and the same message twice, each read back through the API; the reply
//! address the server's own mail carries (its mail log) is the one that answers.

use super::smtp::smtplib;
use crm_shared::config::Secret;
use crm_shared::mail::{InboundAddress, ReplyAddresses};
use crm_shared::model::TicketId;
use crm_tests::server::{Server, ServerOptions, crm_bin};
use serde_json::{Value, json};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const INBOUND: &str = "support@help.example.com";
const SECRET: &str = "mail-serve-test-secret-0123456789abcdef";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn replies() -> ReplyAddresses {
    ReplyAddresses::new(
        InboundAddress::parse(INBOUND).expect("address"),
        &Secret::new(SECRET),
    )
}

fn message(from: &str, to: &str, id: &str, subject: &str, extra: &str, body: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{id}>\r\n\
         Content-Type: text/plain; charset=utf-8\r\n{extra}\r\n{body}\r\n"
    )
    .into_bytes()
}

async fn send(port: u16, to: &str, msg: Vec<u8>) {
    let out = smtplib(port, &[to], msg).await;
    assert_eq!(
        out,
        json!({"code": 250, "refused": {}}),
        "taken (or dropped silently)"
    );
}

struct Desk {
    server: Server,
    smtp: u16,
    admin: String,
}

impl Desk {
    async fn start() -> Desk {
        let smtp = free_port();
        let server = Server::start_with(ServerOptions {
            env: vec![
                ("CRM_INBOUND_ADDRESS".into(), INBOUND.into()),
                ("CRM_JWT_SECRET".into(), SECRET.into()),
                ("CRM_SMTP_PORT".into(), smtp.to_string()),
                // The drop lines are at info.
                ("CRM_LOG".into(), "info".into()),
            ],
            ..Default::default()
        });
        let admin = server.client().admin().await;
        Desk {
            server,
            smtp,
            admin,
        }
    }

    async fn tickets(&self) -> Vec<Value> {
        let r = self
            .server
            .client()
            .get("/tickets?limit=100", &self.admin)
            .await;
        r.expect(200);
        r.data().as_array().cloned().unwrap_or_default()
    }

    async fn comments(&self, id: &str) -> Vec<String> {
        let r = self
            .server
            .client()
            .get(&format!("/tickets/{id}/comments"), &self.admin)
            .await;
        r.expect(200);
        r.data()
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|c| c["body"].as_str().unwrap_or_default().to_owned())
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn smtplib_to_crm_serve_raises_and_answers_tickets() {
    let d = Desk::start().await;
    let c = d.server.client();
    let cust = c.customer("cust").await;
    let eng = c.engineer(&d.admin, "eng1").await;

    // A new mail from an approved user: a ticket.
    let first = message(
        "Cust <cust@email.com>",
        INBOUND,
        "new-1@client.example",
        "Printer on fire",
        "",
        "It smokes.",
    );
    send(d.smtp, INBOUND, first.clone()).await;
    let tickets = d.tickets().await;
    assert_eq!(tickets.len(), 1, "{tickets:?}");
    let t = &tickets[0];
    assert_eq!(t["title"], "Printer on fire");
    assert_eq!(t["description"], "It smokes.");
    assert_eq!(t["reporter"], "cust");
    assert_eq!(t["ticketPriority"], 4);
    assert_eq!(t["assignee"], "eng1");
    let id = t["_id"].as_str().expect("id").to_owned();

    // The same message twice: still one ticket.
    send(d.smtp, INBOUND, first).await;
    assert_eq!(d.tickets().await.len(), 1);

    // The server's mail about the ticket carries its reply address.
    let reply_to = replies().reply_to(&TicketId::parse(&id).expect("ticket id"));
    let log = d.server.data_dir.join("mail.log");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains(&reply_to) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no mail with Reply-To {reply_to}:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A reply: a comment with only the new text.
    let reply = message(
        "cust@email.com",
        &reply_to,
        "reply-1@client.example",
        "Re: Printer on fire",
        "",
        "Still smoking.\r\n\r\nOn Sun, 6 Dec 2026 at 12:00, CRM <support@help.example.com> wrote:\r\n> Ticket created\r\n",
    );
    send(d.smtp, &reply_to, reply.clone()).await;
    assert_eq!(d.comments(&id).await, vec!["Still smoking."]);
    // ... and twice is still one comment.
    send(d.smtp, &reply_to, reply).await;
    assert_eq!(d.comments(&id).await.len(), 1);

    // A reply to a CLOSED ticket reopens it.
    c.put(&format!("/tickets/{id}"), &eng, json!({"status": "CLOSED"}))
        .await
        .expect(200);
    let reopen = message(
        "cust@email.com",
        &reply_to,
        "reply-2@client.example",
        "Re: Printer on fire",
        "",
        "It is back.",
    );
    send(d.smtp, &reply_to, reopen).await;
    let t = c.get(&format!("/tickets/{id}"), &cust).await;
    t.expect(200);
    assert_eq!(t.data()["status"], "OPEN");
    assert_eq!(d.comments(&id).await.len(), 2);

    // A forged token, a stranger, an auto-reply: nothing.
    let mut forged = reply_to.clone();
    forged.replace_range(forged.find('@').expect("@") - 1.., "x@help.example.com");
    let forged_mail = message("cust@email.com", &forged, "f@x", "Re", "", "Forged");
    send(d.smtp, &forged, forged_mail).await;
    let stranger = message("who@nowhere.example", INBOUND, "s@x", "Hi", "", "Buy now");
    send(d.smtp, INBOUND, stranger).await;
    let auto = message(
        "cust@email.com",
        INBOUND,
        "auto@x",
        "Out of office",
        "Auto-Submitted: auto-replied\r\n",
        "Away until Monday.",
    );
    send(d.smtp, INBOUND, auto).await;
    assert_eq!(d.tickets().await.len(), 1);
    assert_eq!(d.comments(&id).await.len(), 2);
    // Each refusal is one log line with its reason, no mail content.
    let log = d.server.stderr();
    for reason in [
        "reply token does not verify",
        "sender is no user",
        "Auto-Submitted",
    ] {
        assert!(log.contains(reason), "no log line with {reason:?}:\n{log}");
    }
    assert!(
        !log.contains("Buy now") && !log.contains("Away until"),
        "{log}"
    );
    let _ = cust;

    // `crm intake` beside the server, on the same data dir.
    let commands = format!(
        "{}\n{}\n",
        json!({"type": "comment.create", "ticketId": id, "author": "eng1",
               "body": "From the monitoring system", "idempotencyKey": "mon-1"}),
        json!({"type": "ticket.create", "reporter": "nobody", "title": "x", "description": "y"}),
    );
    let (status, lines) = crm_intake(&d.server, &commands);
    assert!(!status.success(), "a refused command makes a non-zero exit");
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0]["ok"], true, "{lines:?}");
    assert_eq!(lines[1]["ok"], false);
    assert_eq!(lines[1]["error"]["code"], "USER_NOT_FOUND");
    assert_eq!(d.comments(&id).await.len(), 3);
    // The replay of a command under its key is a success.
    let (status, lines) = crm_intake(
        &d.server,
        &format!("{}\n", commands.lines().next().unwrap_or_default()),
    );
    assert!(status.success(), "{lines:?}");
    assert_eq!(lines[0]["replayed"], true);
    assert_eq!(d.comments(&id).await.len(), 3);
}

fn crm_intake(server: &Server, input: &str) -> (std::process::ExitStatus, Vec<Value>) {
    let mut child = Command::new(crm_bin())
        .args(["intake", "--data-dir"])
        .arg(&server.data_dir)
        .env("CRM_JWT_SECRET", SECRET)
        .env("CRM_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("crm intake");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("commands");
    let out = child.wait_with_output().expect("crm intake ran");
    let lines = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect();
    (out.status, lines)
}
