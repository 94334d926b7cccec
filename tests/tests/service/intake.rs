//! Mail in and the intake commands (SPEC §9) on both backends, through crm-intake's
//! `deliver::take` and `command::run` (the code both the intake function and `crm serve`
//! run): each rule of §9 by name, and hostile mail that creates nothing and crashes nothing.

use crate::tickets::comments::thread;
use crm_intake::command::{self, Failure};
use crm_intake::deliver::{Source, Taken, take};
use crm_shared::config::Secret;
use crm_shared::mail::{EVENT_HEADER, InboundAddress, ReplyAddresses};
use crm_shared::model::{Priority, TicketStatus, UserStatus};
use crm_shared::service::TicketFilter;
use crm_shared::store::Store;
use crm_tests::desk::{Desk, SECRET, status_patch, tid};
use serde_json::json;

crm_tests::on_both_backends!(
    a_new_mail_from_an_approved_user_becomes_a_ticket,
    a_reply_becomes_a_public_comment_with_only_the_new_text,
    a_reporters_reply_reopens_a_closed_ticket,
    a_reply_to_a_merged_ticket_lands_on_its_target_and_reopens_nothing,
    a_forged_token_creates_nothing,
    a_stranger_or_an_unapproved_sender_creates_nothing,
    a_sender_not_concerned_with_the_ticket_creates_nothing,
    automatic_mail_and_our_own_mail_create_nothing,
    the_same_message_twice_makes_one_ticket_or_comment,
    in_the_cloud_a_sender_counts_only_with_ses_verdicts_pass,
    hostile_mail_creates_nothing,
    a_ticket_create_command_does_what_the_api_does,
    a_comment_create_command_does_what_the_api_does,
    a_command_that_can_never_succeed_is_permanent,
);

pub const INBOUND: &str = "support@help.example.com";

pub fn replies() -> ReplyAddresses {
    ReplyAddresses::new(
        InboundAddress::parse(INBOUND).expect("address"),
        &Secret::new(SECRET),
    )
}

/// A plain-text message from `from` to `to` with these extra header lines.
pub fn mail(from: &str, to: &str, id: &str, subject: &str, extra: &str, body: &str) -> Vec<u8> {
    format!(
        "From: Someone <{from}>\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{id}>\r\n\
         Date: Sun, 6 Dec 2026 12:00:00 +0000\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n{extra}\r\n{body}\r\n"
    )
    .into_bytes()
}

async fn deliver(w: &Desk, raw: &[u8]) -> Taken {
    take(&w.ctx, &replies(), raw, &[], Source::Local)
        .await
        .expect("no transient failure")
}

async fn tickets(w: &Desk) -> Vec<String> {
    w.list_all(&w.admin, TicketFilter::default(), 100).await
}

fn ticket_of(t: &Taken) -> String {
    match t {
        Taken::Ticket { ticket_id, .. } | Taken::Comment { ticket_id, .. } => ticket_id.clone(),
        Taken::Dropped(why) => panic!("dropped: {why}"),
    }
}

fn assert_dropped(t: &Taken, reason: &str) {
    match t {
        Taken::Dropped(why) => assert!(why.contains(reason), "{why:?} names {reason:?}"),
        other => panic!("taken, expected dropped ({reason}): {other:?}"),
    }
}

async fn a_new_mail_from_an_approved_user_becomes_a_ticket(store: Store) {
    let w = Desk::new(store).await;
    let cust = w.customer("cust").await;
    w.engineer("eng1").await;
    let raw = mail(
        "CUST@email.com",
        INBOUND,
        "m1@client.example",
        "Printer =?utf-8?q?=C3=A9?= on fire",
        "",
        "It smokes.\r\n\r\n-- \r\nCust",
    );
    let t = deliver(&w, &raw).await;
    let id = ticket_of(&t);
    let got = w.get(&cust, &id).await.expect("the reporter sees it");
    assert_eq!(got.title, "Printer é on fire");
    assert_eq!(got.description, "It smokes.\n\n-- \nCust");
    assert_eq!(got.ticket_priority, Priority::LOW.get());
    assert_eq!(got.reporter, "cust");
    assert_eq!(got.assignee.as_deref(), Some("eng1"), "auto-assigned");
    assert_eq!(got.status, "OPEN");
    // No subject at all: "(no subject)".
    let raw = format!(
        "From: cust@email.com\r\nTo: {INBOUND}\r\nMessage-ID: <m2@client.example>\r\n\r\nHello\r\n"
    );
    let id = ticket_of(&deliver(&w, raw.as_bytes()).await);
    assert_eq!(w.get(&cust, &id).await.expect("get").title, "(no subject)");
}

async fn a_reply_becomes_a_public_comment_with_only_the_new_text(store: Store) {
    let w = Desk::new(store).await;
    let cust = w.customer("cust").await;
    let t = w.create(&cust, "Printer").await;
    let to = replies().reply_to(&tid(&t.id));
    let raw = mail(
        "cust@email.com",
        &to,
        "r1@client.example",
        "Re: Printer",
        "",
        "Still broken.\r\n\r\nOn Sun, Dec 6, 2026 at 12:00 PM Desk <support@help.example.com> wrote:\r\n> Have you tried turning it off?\r\n",
    );
    let taken = deliver(&w, &raw).await;
    assert!(
        matches!(
            &taken,
            Taken::Comment {
                replayed: false,
                ..
            }
        ),
        "{taken:?}"
    );
    assert_eq!(thread(&w, &cust, &t.id, 50).await, vec!["Still broken."]);
    let c = crm_shared::service::list_comments(&w.ctx, &w.admin, &tid(&t.id), None, 10)
        .await
        .expect("comments");
    assert!(!c.items[0].internal, "a mail reply is a public comment");
    assert_eq!(c.items[0].author, "cust");
    // Only quoted text: nothing to say, nothing written.
    let raw = mail(
        "cust@email.com",
        &to,
        "r2@client.example",
        "Re: Printer",
        "",
        "> Have you tried turning it off?\r\n",
    );
    assert_dropped(&deliver(&w, &raw).await, "no new text");
    assert_eq!(thread(&w, &cust, &t.id, 50).await.len(), 1);
}

async fn a_reporters_reply_reopens_a_closed_ticket(store: Store) {
    let w = Desk::new(store).await;
    let cust = w.customer("cust").await;
    let eng = w.engineer("eng1").await;
    let t = w.create(&cust, "Printer").await;
    w.update(&eng, &t.id, status_patch(TicketStatus::Closed))
        .await
        .expect("close");
    let raw = mail(
        "cust@email.com",
        &replies().reply_to(&tid(&t.id)),
        "r1@client.example",
        "Re: Printer",
        "",
        "It is back.",
    );
    ticket_of(&deliver(&w, &raw).await);
    assert_eq!(w.ticket(&t.id).await.status, TicketStatus::Open);
}

/// SPEC §12 through the mail channel: a reply to the thread of a merged ticket is a comment
/// on the ticket it was merged into (its reporter follows that one), and the merged ticket
/// stays CLOSED.
async fn a_reply_to_a_merged_ticket_lands_on_its_target_and_reopens_nothing(store: Store) {
    let w = Desk::new(store).await;
    let cust = w.customer("cust").await;
    w.engineer("eng1").await;
    let source = w.create(&cust, "Printer").await;
    let target = w.create(&cust, "Printer on floor 3").await;
    crm_shared::service::merge_ticket(&w.ctx, &w.admin, &tid(&source.id), &tid(&target.id))
        .await
        .expect("merge");
    let raw = mail(
        "cust@email.com",
        &replies().reply_to(&tid(&source.id)),
        "merged1@client.example",
        "Re: Printer",
        "",
        "Any news?",
    );
    let taken = deliver(&w, &raw).await;
    assert!(matches!(&taken, Taken::Comment { .. }), "{taken:?}");
    assert_eq!(
        w.ticket(&source.id).await.status,
        TicketStatus::Closed,
        "a merged ticket is never reopened by a reply"
    );
    let on_target =
        crm_shared::service::list_comments(&w.ctx, &w.admin, &tid(&target.id), None, 50)
            .await
            .expect("comments");
    assert!(
        on_target
            .items
            .iter()
            .any(|c| c.body == "Any news?" && c.author == "cust" && !c.internal),
        "the reply is on the target: {:?}",
        on_target.items.iter().map(|c| &c.body).collect::<Vec<_>>()
    );
}

async fn a_forged_token_creates_nothing(store: Store) {
    let w = Desk::new(store).await;
    let cust = w.customer("cust").await;
    let t = w.create(&cust, "Printer").await;
    let good = replies().reply_to(&tid(&t.id));
    // One character of the MAC changed.
    let (local, domain) = good.rsplit_once('@').expect("address");
    let mut forged: Vec<char> = local.chars().collect();
    let last = forged.len() - 1;
    forged[last] = if forged[last] == 'a' { 'b' } else { 'a' };
    let forged = format!("{}@{domain}", forged.into_iter().collect::<String>());
    // Another deployment's secret.
    let other = ReplyAddresses::new(
        InboundAddress::parse(INBOUND).expect("address"),
        &Secret::new("another-deployments-secret-0123456789abcdef"),
    )
    .reply_to(&tid(&t.id));
    let outbox = w.outbox_len().await;
    for (n, to) in [forged, other].iter().enumerate() {
        let raw = mail("cust@email.com", to, &format!("f{n}@x"), "Re", "", "Hi");
        assert_dropped(&deliver(&w, &raw).await, "token");
    }
    assert!(thread(&w, &cust, &t.id, 50).await.is_empty());
    assert_eq!(w.outbox_len().await, outbox, "no event");
}

async fn a_stranger_or_an_unapproved_sender_creates_nothing(store: Store) {
    let w = Desk::new(store).await;
    w.signup("pending", crm_shared::model::UserType::Engineer)
        .await
        .expect("signup");
    let cust = w.customer("cust").await;
    w.set_status("cust", UserStatus::Rejected).await;
    let _ = cust;
    let outbox = w.outbox_len().await;
    let raw = mail(
        "stranger@nowhere.example",
        INBOUND,
        "s1@x",
        "Hi",
        "",
        "Buy now",
    );
    assert_dropped(&deliver(&w, &raw).await, "no user");
    let raw = mail("pending@email.com", INBOUND, "s2@x", "Hi", "", "Hello");
    assert_dropped(&deliver(&w, &raw).await, "not approved");
    let raw = mail("cust@email.com", INBOUND, "s3@x", "Hi", "", "Hello");
    assert_dropped(&deliver(&w, &raw).await, "not approved");
    assert!(tickets(&w).await.is_empty());
    assert_eq!(w.outbox_len().await, outbox);
}

async fn a_sender_not_concerned_with_the_ticket_creates_nothing(store: Store) {
    let w = Desk::new(store).await;
    let cust = w.customer("cust").await;
    w.customer("other").await;
    let t = w.create(&cust, "Printer").await;
    let raw = mail(
        "other@email.com",
        &replies().reply_to(&tid(&t.id)),
        "n1@x",
        "Re",
        "",
        "Me too",
    );
    assert_dropped(&deliver(&w, &raw).await, "refused");
    assert!(thread(&w, &cust, &t.id, 50).await.is_empty());
}

async fn automatic_mail_and_our_own_mail_create_nothing(store: Store) {
    let w = Desk::new(store).await;
    w.customer("cust").await;
    let outbox = w.outbox_len().await;
    let cases = [
        ("Auto-Submitted: auto-replied\r\n", "Auto-Submitted"),
        ("Precedence: bulk\r\n", "Precedence"),
        ("List-Id: <news.example.com>\r\n", "List-Id"),
        (
            &format!("{EVENT_HEADER}: evt_01\r\n") as &str,
            "service itself",
        ),
    ];
    for (n, (header, reason)) in cases.iter().enumerate() {
        let raw = mail(
            "cust@email.com",
            INBOUND,
            &format!("a{n}@x"),
            "Out of office",
            header,
            "Away",
        );
        assert_dropped(&deliver(&w, &raw).await, reason);
    }
    // A Message-ID in our domain is ours too.
    let raw = mail(
        "cust@email.com",
        INBOUND,
        "01ABC.0@help.example.com",
        "Hi",
        "",
        "Hi",
    );
    assert_dropped(&deliver(&w, &raw).await, "service itself");
    // Auto-Submitted: no is a person's mail.
    let raw = mail(
        "cust@email.com",
        INBOUND,
        "a9@x",
        "Hi",
        "Auto-Submitted: no\r\n",
        "Hi",
    );
    ticket_of(&deliver(&w, &raw).await);
    assert_eq!(tickets(&w).await.len(), 1);
    assert_eq!(
        w.outbox_len().await,
        outbox + 1,
        "one event, for the person's mail"
    );
}

async fn the_same_message_twice_makes_one_ticket_or_comment(store: Store) {
    let w = Desk::new(store).await;
    let cust = w.customer("cust").await;
    let raw = mail("cust@email.com", INBOUND, "once@x", "Printer", "", "Broken");
    let first = deliver(&w, &raw).await;
    let again = deliver(&w, &raw).await;
    assert!(matches!(
        first,
        Taken::Ticket {
            replayed: false,
            ..
        }
    ));
    assert!(
        matches!(again, Taken::Ticket { replayed: true, .. }),
        "{again:?}"
    );
    assert_eq!(ticket_of(&first), ticket_of(&again));
    assert_eq!(tickets(&w).await.len(), 1);
    let id = ticket_of(&first);
    let reply = mail(
        "cust@email.com",
        &replies().reply_to(&tid(&id)),
        "reply-once@x",
        "Re",
        "",
        "More",
    );
    let outbox = w.outbox_len().await;
    deliver(&w, &reply).await;
    let again = deliver(&w, &reply).await;
    assert!(
        matches!(again, Taken::Comment { replayed: true, .. }),
        "{again:?}"
    );
    assert_eq!(thread(&w, &cust, &id, 50).await, vec!["More"]);
    assert_eq!(w.outbox_len().await, outbox + 1, "one event");
    // Without a Message-ID: the hash of the raw message names it.
    let raw = format!("From: cust@email.com\r\nTo: {INBOUND}\r\nSubject: x\r\n\r\nNo id\r\n");
    deliver(&w, raw.as_bytes()).await;
    deliver(&w, raw.as_bytes()).await;
    assert_eq!(tickets(&w).await.len(), 2);
}

fn ses_header(spf: &str, dkim: &str, dmarc: &str) -> String {
    format!(
        "Authentication-Results: amazonses.com;\r\n spf={spf} (spfCheck: domain of email.com designates 203.0.113.1 as permitted sender) client-ip=203.0.113.1; envelope-from=cust@email.com; helo=mail.email.com;\r\n dkim={dkim} header.i=@email.com;\r\n dmarc={dmarc} header.from=email.com;\r\n"
    )
}

async fn in_the_cloud_a_sender_counts_only_with_ses_verdicts_pass(store: Store) {
    let w = Desk::new(store).await;
    w.customer("cust").await;
    let ses = |n: usize, h: String| {
        let raw = mail(
            "cust@email.com",
            INBOUND,
            &format!("v{n}@x"),
            "Hi",
            "",
            "Hi",
        );
        // SES puts its header on top.
        [h.into_bytes(), raw].concat()
    };
    let refused = [
        ses_header("fail", "fail", "none"),
        ses_header("pass", "none", "fail"),
        ses_header("softfail", "none", "none"),
    ];
    for (n, h) in refused.into_iter().enumerate() {
        let t = take(&w.ctx, &replies(), &ses(n, h), &[], Source::Ses)
            .await
            .expect("taken");
        assert_dropped(&t, "not authenticated");
    }
    // No SES header at all.
    let raw = mail("cust@email.com", INBOUND, "v8@x", "Hi", "", "Hi");
    let t = take(&w.ctx, &replies(), &raw, &[], Source::Ses)
        .await
        .expect("taken");
    assert_dropped(&t, "not authenticated");
    assert!(tickets(&w).await.is_empty());
    for (n, h) in [
        ses_header("pass", "none", "none"),
        ses_header("fail", "pass", "pass"),
    ]
    .into_iter()
    .enumerate()
    {
        let t = take(&w.ctx, &replies(), &ses(10 + n, h), &[], Source::Ses)
            .await
            .expect("taken");
        ticket_of(&t);
    }
    assert_eq!(tickets(&w).await.len(), 2);
}

async fn hostile_mail_creates_nothing(store: Store) {
    let w = Desk::new(store).await;
    w.customer("cust").await;
    let outbox = w.outbox_len().await;
    let head = format!("From: cust@email.com\r\nTo: {INBOUND}\r\nSubject: big\r\n");
    // Over 10 MB.
    let mut big = format!("{head}Message-ID: <h1@x>\r\n\r\n").into_bytes();
    big.extend(std::iter::repeat_n(b'a', 10 * 1024 * 1024 + 10));
    assert_dropped(&deliver(&w, &big).await, "over");
    // No text part: an image only.
    let raw = format!(
        "{head}Message-ID: <h2@x>\r\nMIME-Version: 1.0\r\nContent-Type: image/png\r\n\
         Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n"
    );
    assert_dropped(&deliver(&w, raw.as_bytes()).await, "no text");
    // Multiparts nested 40 deep.
    let mut nested = format!("{head}Message-ID: <h3@x>\r\nMIME-Version: 1.0\r\n");
    for d in 0..40 {
        nested.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=\"b{d}\"\r\n\r\n--b{d}\r\n"
        ));
    }
    nested.push_str("Content-Type: text/plain\r\n\r\ndeep\r\n");
    for d in (0..40).rev() {
        nested.push_str(&format!("--b{d}--\r\n"));
    }
    assert_dropped(&deliver(&w, nested.as_bytes()).await, "nested");
    // A charset the parser does not know.
    let raw = format!(
        "{head}Message-ID: <h4@x>\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=x-klingon-8\r\n\r\nqapla\r\n"
    );
    assert_dropped(&deliver(&w, raw.as_bytes()).await, "charset");
    assert!(tickets(&w).await.is_empty());
    assert_eq!(w.outbox_len().await, outbox);
    // CR/LF and bidi controls in the subject (encoded): the title is one line without them.
    let raw = mail(
        "cust@email.com",
        INBOUND,
        "h5@x",
        "=?utf-8?b?UmVmdW5kDQpCY2M6IGV2aWxAeC5jb20g4oCuZXhlLnBkZg==?=",
        "",
        "Hi",
    );
    let id = ticket_of(&deliver(&w, &raw).await);
    let title = w.ticket(&id).await.title;
    assert!(
        !title.as_str().contains(['\r', '\n', '\u{202E}']),
        "one line, no bidi: {title:?}"
    );
    assert!(
        title.as_str().starts_with("Refund Bcc: evil@x.com"),
        "{title:?}"
    );
}

async fn a_ticket_create_command_does_what_the_api_does(store: Store) {
    let w = Desk::new(store).await;
    let cust = w.customer("cust").await;
    w.engineer("eng1").await;
    let cmd = json!({"type": "ticket.create", "reporter": "cust", "title": "From the shop",
                     "description": "Order 42 failed", "ticketPriority": 2,
                     "idempotencyKey": "order-42"})
    .to_string();
    let out = command::run(&w.ctx, cmd.as_bytes()).await.expect("created");
    assert_eq!(out["replayed"], false);
    let id = out["ticketId"].as_str().expect("ticketId").to_owned();
    let t = w.get(&cust, &id).await.expect("get");
    assert_eq!((t.title.as_str(), t.ticket_priority), ("From the shop", 2));
    assert_eq!(t.assignee.as_deref(), Some("eng1"));
    // The same key again: the same ticket (a replay is a success).
    let again = command::run(&w.ctx, cmd.as_bytes())
        .await
        .expect("replayed");
    assert_eq!(
        (again["ticketId"].as_str(), again["replayed"].as_bool()),
        (Some(id.as_str()), Some(true))
    );
    assert_eq!(tickets(&w).await.len(), 1);
}

async fn a_comment_create_command_does_what_the_api_does(store: Store) {
    let w = Desk::new(store).await;
    let cust = w.customer("cust").await;
    let eng = w.engineer("eng1").await;
    let t = w.create(&cust, "Printer").await;
    let note = json!({"type": "comment.create", "ticketId": t.id, "author": "eng1",
                      "body": "Checked the logs", "internal": true});
    let out = command::run(&w.ctx, note.to_string().as_bytes())
        .await
        .expect("note");
    assert_eq!(out["ticketId"], t.id.as_str());
    assert!(
        thread(&w, &cust, &t.id, 50).await.is_empty(),
        "customers never see a note"
    );
    assert_eq!(thread(&w, &eng, &t.id, 50).await, vec!["Checked the logs"]);
    // A customer may not write an internal note, as in the API: 403, permanent.
    let bad = json!({"type": "comment.create", "ticketId": t.id, "author": "cust",
                     "body": "x", "internal": true});
    let f = command::run(&w.ctx, bad.to_string().as_bytes())
        .await
        .expect_err("refused");
    assert!(f.is_permanent(), "{f:?}");
}

async fn a_command_that_can_never_succeed_is_permanent(store: Store) {
    let w = Desk::new(store).await;
    let cust = w.customer("cust").await;
    let t = w.create(&cust, "Printer").await;
    let outbox = w.outbox_len().await;
    let cases = [
        ("not json".to_owned(), "MALFORMED_JSON"),
        (json!([1]).to_string(), "MALFORMED_JSON"),
        (
            json!({"type": "ticket.delete"}).to_string(),
            "VALIDATION_FAILED",
        ),
        (
            json!({"type": "ticket.create", "reporter": "cust", "title": "x"}).to_string(),
            "VALIDATION_FAILED",
        ),
        (
            json!({"type": "ticket.create", "reporter": "cust", "title": "x", "description": "y",
                "ticketPriority": 9})
            .to_string(),
            "VALIDATION_FAILED",
        ),
        (
            json!({"type": "ticket.create", "reporter": "nobody", "title": "x",
                "description": "y"})
            .to_string(),
            "USER_NOT_FOUND",
        ),
        (
            json!({"type": "comment.create", "ticketId": "01JGQ60000000000000000000A",
                "author": "cust", "body": "x"})
            .to_string(),
            "TICKET_NOT_FOUND",
        ),
        (
            json!({"type": "comment.create", "ticketId": t.id, "author": "admin",
                "body": ""})
            .to_string(),
            "VALIDATION_FAILED",
        ),
    ];
    for (cmd, code) in cases {
        let f = command::run(&w.ctx, cmd.as_bytes()).await.expect_err(&cmd);
        let Failure::Permanent { code: got, message } = &f else {
            panic!("{cmd}: transient {f:?}");
        };
        assert!(got.contains(code), "{cmd}: {got} {message}");
        assert!(!message.is_empty());
    }
    assert_eq!(tickets(&w).await.len(), 1);
    assert_eq!(w.outbox_len().await, outbox, "nothing changed");
}
