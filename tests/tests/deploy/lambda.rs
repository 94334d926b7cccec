//! The deployed shape itself (tools/lambda-local, whatever CRM_TEST_TARGET says): a ticket
//! change travels from the tickets function through the stack's real SQS queue on moto, the
//! event-source poller and the notifier function to SES, and is read back from what moto
//! recorded; a message the notifier can never handle is reported in batchItemFailures,
//! stays on the queue and reaches the DLQ after the template's maxReceiveCount.

use crm_tests::{Server, ServerOptions};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// The template's default MailFrom.
const MAIL_FROM: &str = "no-reply@example.com";

fn start(env: &[(&str, &str)]) -> Server {
    tokio::task::block_in_place(|| {
        Server::start_lambda(ServerOptions {
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            ..Default::default()
        })
    })
}

/// The SES messages moto recorded that mention `needle`: (from, destinations, subject).
async fn ses_messages_about(needle: &str) -> Vec<(String, Vec<String>, String)> {
    let url = format!(
        "{}/moto-api/data.json",
        crm_tests::emulator::endpoint().trim_end_matches('/')
    );
    // moto's state dump fails now and then while another test's call is half-way: ask again.
    let mut data = Value::Null;
    for _ in 0..40 {
        if let Ok(r) = reqwest::get(&url).await
            && r.status().is_success()
            && let Ok(v) = r.json::<Value>().await
        {
            data = v;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!data.is_null(), "moto's state did not read as JSON");
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    data["ses"]["Message"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter(|m| m.to_string().contains(needle))
        .map(|m| {
            let d = &m["destinations"];
            let dest = ["ToAddresses", "CcAddresses", "BccAddresses"]
                .iter()
                .flat_map(|k| d[*k].as_array().cloned().unwrap_or_default())
                .map(|a| text(&a))
                .collect();
            (text(&m["source"]), dest, text(&m["subject"]))
        })
        .collect()
}

async fn eventually<T>(
    what: &str,
    within: Duration,
    mut probe: impl AsyncFnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ticket_change_is_mailed_through_the_queue_the_notifier_and_ses() {
    let server = start(&[]);
    let c = server.client();
    let admin = c.admin().await;
    c.signup("lambdamail", None).await.expect(201);
    let cust = c.token("lambdamail").await;
    let r = c
        .post(
            "/tickets",
            &cust,
            json!({"title": "Printer on fire", "description": "Smoke from tray 2", "ticketPriority": 2}),
        )
        .await;
    r.expect(201);
    let id = r.data()["_id"].as_str().expect("ticket id").to_owned();
    let created = eventually("the creation mail", Duration::from_secs(30), async || {
        let m = ses_messages_about(&id).await;
        (!m.is_empty()).then_some(m)
    })
    .await;
    for (from, dest, _) in &created {
        assert_eq!(from, MAIL_FROM);
        assert_eq!(dest.len(), 1, "one destination per message: {dest:?}");
    }
    let n = created.len();
    c.put(
        &format!("/tickets/{id}"),
        &admin,
        json!({"status": "BLOCKED"}),
    )
    .await
    .expect(200);
    eventually("the update mail", Duration::from_secs(30), async || {
        (ses_messages_about(&id).await.len() > n).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_the_notifier_cannot_handle_reaches_the_dlq_after_max_receive_count() {
    // Redeliveries after one second instead of the template's 180.
    let server = start(&[("CRM_LAMBDA_LOCAL_VISIBILITY_TIMEOUT", "1")]);
    let stack = server.lambda_stack().expect("a Lambda-shape server");
    let sqs = aws_sdk_sqs::Client::new(&crm_tests::emulator::sdk_config().await);
    let url = |name: String| {
        let sqs = sqs.clone();
        async move {
            sqs.get_queue_url()
                .queue_name(name)
                .send()
                .await
                .expect("the stack's queue")
                .queue_url()
                .expect("queue url")
                .to_owned()
        }
    };
    let queue = url(format!("{stack}-EventQueue")).await;
    let dlq = url(format!("{stack}-EventDeadLetterQueue")).await;
    let body = format!("not a ticket event {}", crm_tests::unique("poison"));
    sqs.send_message()
        .queue_url(&queue)
        .message_body(&body)
        .send()
        .await
        .expect("sending");
    let received = eventually(
        "the message in the DLQ",
        Duration::from_secs(60),
        async || {
            let out = sqs
                .receive_message()
                .queue_url(&dlq)
                .max_number_of_messages(10)
                .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
                .send()
                .await
                .expect("receiving from the DLQ");
            out.messages()
                .iter()
                .find(|m| m.body() == Some(body.as_str()))
                .cloned()
        },
    )
    .await;
    let count: u32 = received
        .attributes()
        .and_then(|a| {
            a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount)
        })
        .and_then(|c| c.parse().ok())
        .expect("ApproximateReceiveCount");
    // template.yaml: maxReceiveCount 5 (our own receive from the DLQ counts once more).
    assert!(count >= 5, "moved after {count} receives");
    drop(server);
}

/// tools/lambda-local stops with status 0 on a SIGTERM during its start-up (here: while the
/// SQS endpoint takes the connection and never answers), at once rather than after the SDK's
/// timeouts and retries.
#[test]
fn lambda_local_stops_with_status_0_on_a_sigterm_during_start_up() {
    use std::process::Stdio;
    let dir = crm_tests::server::temp_dir("crm-lambda-local-early-term");
    let (endpoint, connected) = crm_tests::server::unanswering_endpoint();
    let opts = ServerOptions {
        env: vec![("AWS_ENDPOINT_URL".into(), endpoint)],
        ..Default::default()
    };
    let mut child = crm_tests::server::lambda_command(&opts, &dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("stderr.log")).expect("log"))
        .spawn()
        .expect("spawning crm-lambda-local");
    let reached = connected.recv_timeout(Duration::from_secs(60));
    if reached.is_err() {
        let _ = child.kill();
    }
    reached.expect("lambda-local never reached the endpoint");
    crm_tests::server::send_signal(&child, "TERM");
    let status = crm_tests::server::wait_exit(&mut child, 10, "crm-lambda-local after SIGTERM");
    let stderr = std::fs::read_to_string(dir.join("stderr.log")).unwrap_or_default();
    assert_eq!(
        status.code(),
        Some(0),
        "exit status {status:?}; stderr:\n{stderr}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// The intake function under the Lambda emulator (SPEC §9): the stack's intake queue's
/// poller hands it a command (a ticket appears through the API), S3's notification of a mail
/// stored in a bucket on moto with SES's verdict `pass` (a second ticket), and a command that
/// can never succeed (in the intake DLQ with its reason attribute).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_intake_function_takes_commands_and_stored_mail_from_its_queue() {
    let server = start(&[("CRM_INBOUND_ADDRESS", "support@help.example.com")]);
    let stack = server.lambda_stack().expect("a Lambda-shape server");
    let c = server.client();
    let admin = c.admin().await;
    c.signup("intakecust", None).await.expect(201);
    let sqs = aws_sdk_sqs::Client::new(&crm_tests::emulator::sdk_config().await);
    let url = async |name: String| {
        sqs.get_queue_url()
            .queue_name(name)
            .send()
            .await
            .expect("the stack's queue")
            .queue_url()
            .expect("queue url")
            .to_owned()
    };
    let queue = url(format!("{stack}-IntakeQueue")).await;
    let dlq = url(format!("{stack}-IntakeDeadLetterQueue")).await;
    let send = async |body: String| {
        sqs.send_message()
            .queue_url(&queue)
            .message_body(body)
            .send()
            .await
            .expect("sending");
    };
    let titles = async || -> Vec<String> {
        let r = c.get("/tickets?limit=100", &admin).await;
        r.data()
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|t| t["title"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    send(
        json!({"type": "ticket.create", "reporter": "intakecust", "title": "From the shop",
               "description": "Order 42 failed"})
        .to_string(),
    )
    .await;
    eventually(
        "the command's ticket",
        Duration::from_secs(60),
        async || {
            titles()
                .await
                .contains(&"From the shop".to_owned())
                .then_some(())
        },
    )
    .await;

    // A mail SES stored (moto takes any signature), and S3's notification of it.
    let bucket = crm_tests::unique("crm-inbound").to_lowercase();
    let moto = crm_tests::emulator::endpoint();
    let auth = "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0";
    let http = reqwest::Client::new();
    let base = moto.trim_end_matches('/');
    let r = http
        .put(format!("{base}/{bucket}"))
        .header("authorization", auth)
        .send()
        .await
        .expect("bucket");
    assert!(r.status().is_success(), "{}", r.status());
    let raw = "Authentication-Results: amazonses.com; spf=pass (spfCheck: ok) client-ip=203.0.113.1; envelope-from=intakecust@email.com; helo=mx.email.com; dkim=pass header.i=@email.com; dmarc=pass header.from=email.com;\r\n\
               From: intakecust@email.com\r\nTo: support@help.example.com\r\nSubject: By mail\r\n\
               Message-ID: <lambda-1@email.com>\r\n\r\nSent through SES.\r\n";
    let r = http
        .put(format!("{base}/{bucket}/inbound/m1"))
        .header("authorization", auth)
        .body(raw)
        .send()
        .await
        .expect("object");
    assert!(r.status().is_success(), "{}", r.status());
    send(
        json!({"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3",
            "awsRegion": "us-east-1", "eventTime": "2026-12-06T12:00:00.000Z",
            "eventName": "ObjectCreated:Put", "userIdentity": {"principalId": "SES"},
            "requestParameters": {"sourceIPAddress": "10.0.0.1"},
            "responseElements": {"x-amz-request-id": "R", "x-amz-id-2": "I"},
            "s3": {"s3SchemaVersion": "1.0", "configurationId": "inbound-mail",
                   "bucket": {"name": bucket, "ownerIdentity": {"principalId": "A"},
                              "arn": format!("arn:aws:s3:::{bucket}")},
                   "object": {"key": "inbound/m1", "size": raw.len(), "eTag": "e",
                              "sequencer": "0"}}}]})
        .to_string(),
    )
    .await;
    eventually("the mail's ticket", Duration::from_secs(60), async || {
        titles().await.contains(&"By mail".to_owned()).then_some(())
    })
    .await;

    let poison = json!({"type": "comment.create", "ticketId": "01JGQ60000000000000000000A",
                        "author": "intakecust", "body": "x"})
    .to_string();
    send(poison.clone()).await;
    let dead = eventually(
        "the command in the DLQ",
        Duration::from_secs(60),
        async || {
            let out = sqs
                .receive_message()
                .queue_url(&dlq)
                .message_attribute_names("All")
                .send()
                .await
                .expect("receiving from the DLQ");
            out.messages()
                .iter()
                .find(|m| m.body() == Some(poison.as_str()))
                .cloned()
        },
    )
    .await;
    let reason = dead
        .message_attributes()
        .and_then(|a| a.get("reason"))
        .and_then(|v| v.string_value())
        .unwrap_or_default()
        .to_owned();
    assert!(reason.contains("TICKET_NOT_FOUND"), "{reason}");
}
