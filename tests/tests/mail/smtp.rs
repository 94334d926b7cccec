//! `crm_intake::smtp::serve_smtp` against Python's smtplib: the handler gets the exact bytes
//! smtplib sent (its dot-stuffing undone, 8-bit bytes kept), a recipient in another domain is
//! refused at RCPT with 550 while the others are taken, and a message over 10 MB is 552.

use crm_intake::MAX_MESSAGE_BYTES;
use crm_intake::smtp::{Delivered, Outcome, SmtpConfig, serve_smtp};
use serde_json::{Value, json};
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// Sends stdin's bytes with `sendmail` to the given recipients; prints what came back.
const CLIENT: &str = r#"
import json, smtplib, sys
port, rcpts = int(sys.argv[1]), sys.argv[2].split(",")
msg = sys.stdin.buffer.read()
out = {}
with smtplib.SMTP("127.0.0.1", port, local_hostname="client.example", timeout=30) as s:
    try:
        refused = s.sendmail("jane@example.com", rcpts, msg)
        out = {"code": 250, "refused": {k: v[0] for k, v in refused.items()}}
    except smtplib.SMTPRecipientsRefused as e:
        out = {"refused": {k: v[0] for k, v in e.recipients.items()}}
    except smtplib.SMTPDataError as e:
        out = {"code": e.smtp_code}
print(json.dumps(out))
"#;

struct Listener {
    port: u16,
    got: Arc<Mutex<Vec<Delivered>>>,
    _stop: oneshot::Sender<()>,
}

async fn listen() -> Listener {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let got = Arc::new(Mutex::new(Vec::new()));
    let seen = got.clone();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(serve_smtp(
        listener,
        SmtpConfig::new("help.example.com"),
        move |d| {
            seen.lock().expect("lock").push(d);
            async { Outcome::Accepted }
        },
        async {
            let _ = stopped.await;
        },
    ));
    Listener {
        port,
        got,
        _stop: stop,
    }
}

/// Runs the smtplib client (off the runtime's threads) and returns its JSON.
pub(crate) async fn smtplib(port: u16, rcpts: &[&str], msg: Vec<u8>) -> Value {
    let rcpts = rcpts.join(",");
    tokio::task::spawn_blocking(move || {
        let mut child = Command::new(crm_tests::venv_python())
            .args(["-c", CLIENT, &port.to_string(), &rcpts])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start python");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(&msg)
            .expect("write the message");
        let out = child.wait_with_output().expect("python ran");
        assert!(
            out.status.success(),
            "smtplib client failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("client's JSON")
    })
    .await
    .expect("client task")
}

#[tokio::test(flavor = "multi_thread")]
async fn smtplib_delivers_the_exact_bytes_and_another_domain_is_550() {
    let l = listen().await;
    // Lines that smtplib must dot-stuff (a lone dot, leading dots) and 8-bit UTF-8.
    let msg = b"From: Jane Doe <jane@example.com>\r\n\
To: support@help.example.com\r\n\
Subject: Printer on fire\r\n\
Message-ID: <smtplib-1@example.com>\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
Line one.\r\n\
.\r\n\
.A line that starts with a dot\r\n\
..two dots\r\n\
Caf\xc3\xa9 on floor 3.\r\n"
        .to_vec();
    let token_address = "support+01jgq5z8w3m4n5p6q7r8s9t0vw7ax7cwnp3w4g2myy@help.example.com";
    let out = smtplib(
        l.port,
        &[
            "support@help.example.com",
            token_address,
            "someone@elsewhere.example",
        ],
        msg.clone(),
    )
    .await;
    assert_eq!(
        out,
        json!({"code": 250, "refused": {"someone@elsewhere.example": 550}})
    );
    let got = l.got.lock().expect("lock").clone();
    assert_eq!(
        got,
        [Delivered {
            from: "jane@example.com".into(),
            recipients: vec!["support@help.example.com".into(), token_address.into()],
            raw: msg,
        }]
    );
    // And the bytes read as the mail they are.
    let parsed = crm_intake::parse(&got[0].raw).expect("parses");
    assert_eq!(parsed.subject.as_str(), "Printer on fire");
    assert_eq!(parsed.message_id, "smtplib-1@example.com");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_message_only_for_another_domain_is_refused_at_rcpt() {
    let l = listen().await;
    let out = smtplib(
        l.port,
        &["support@elsewhere.example"],
        b"Subject: x\r\n\r\nx\r\n".to_vec(),
    )
    .await;
    assert_eq!(out, json!({"refused": {"support@elsewhere.example": 550}}));
    assert!(l.got.lock().expect("lock").is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn over_ten_megabytes_is_552() {
    let l = listen().await;
    let mut msg = b"From: jane@example.com\r\nSubject: big\r\n\r\n".to_vec();
    let line = [[b'a'; 998].as_slice(), b"\r\n"].concat();
    while msg.len() <= MAX_MESSAGE_BYTES {
        msg.extend_from_slice(&line);
    }
    let out = smtplib(l.port, &["support@help.example.com"], msg).await;
    assert_eq!(out, json!({"code": 552}));
    assert!(l.got.lock().expect("lock").is_empty());
}
