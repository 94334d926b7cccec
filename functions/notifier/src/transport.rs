//! How mail leaves: SES v2, the external notification API (the seed's notificationService
//! contract), or a log (one JSON line per mail, locally also in `<data-dir>/mail.log`).
//! Through SES every recipient gets their own message, so nobody sees another's address.

use crate::http_client::{HttpClient, parse_url};
use crate::mail::Mail;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message, MessageHeader};
use crm_shared::config::MailTransport;
use crm_shared::mail::EVENT_HEADER;
use std::path::PathBuf;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

const HTTP_ATTEMPTS: u32 = 3;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// Worth retrying later (timeouts, 5xx, throttling).
    Transient(String),
    /// Retrying will not help (the request itself is refused).
    Permanent(String),
    /// The one recipient of the message is refused for good (SES will not take the address,
    /// or the message to it): the mail service's error code, never the address.
    Refused(String),
}

pub enum Transport {
    Ses {
        client: aws_sdk_sesv2::Client,
        from: String,
    },
    Http {
        // Boxed: the connection pool is far larger than the other variants.
        client: Box<HttpClient>,
        url: http::Uri,
    },
    Log {
        file: Option<PathBuf>,
        lock: tokio::sync::Mutex<()>,
    },
}

impl Transport {
    /// The transport the setting names. `ses` makes the SES client and is only called for
    /// SES (so a laptop without AWS settings never loads them); the log also goes to
    /// `log_file` when given.
    pub async fn new(
        setting: &MailTransport,
        ses: impl AsyncFnOnce() -> aws_sdk_sesv2::Client,
        log_file: Option<PathBuf>,
    ) -> Result<Self, String> {
        Ok(match setting {
            MailTransport::Ses { from } => Transport::Ses {
                client: ses().await,
                from: from.clone(),
            },
            MailTransport::Http { url } => Transport::http(url.clone())?,
            MailTransport::Log => Transport::log(log_file),
        })
    }

    pub fn http(url: String) -> Result<Self, String> {
        let url = parse_url(&url)?;
        let client = Box::new(HttpClient::new(
            Duration::from_secs(2),
            Duration::from_secs(5),
        )?);
        Ok(Transport::Http { client, url })
    }

    pub fn log(file: Option<PathBuf>) -> Self {
        Transport::Log {
            file,
            lock: tokio::sync::Mutex::new(()),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Transport::Ses { .. } => "ses",
            Transport::Http { .. } => "http",
            Transport::Log { .. } => "log",
        }
    }

    /// Whether each recipient gets a message of their own (SES), which the notifier then
    /// sends and records one by one. The notification API takes the seed's one request with
    /// every recipient (and keeps them from each other itself); the log is one line.
    pub fn one_message_per_recipient(&self) -> bool {
        matches!(self, Transport::Ses { .. })
    }

    /// Sends one mail; returns the tracking id when the transport gives one.
    pub async fn send(&self, mail: &Mail, event_id: &str) -> Result<Option<String>, SendError> {
        match self {
            Transport::Ses { client, from } => send_ses(client, from, mail).await,
            Transport::Http { client, url } => send_http(client, url, mail, event_id).await,
            Transport::Log { file, lock } => {
                let mut line = serde_json::json!({
                    "eventId": event_id,
                    "subject": mail.subject,
                    "recipientEmails": mail.recipients,
                    "content": mail.content,
                });
                let t = &mail.thread;
                for (k, v) in [
                    ("replyTo", &t.reply_to),
                    ("messageId", &t.message_id),
                    ("inReplyTo", &t.root),
                ] {
                    if let Some(v) = v {
                        line[k] = serde_json::json!(v);
                    }
                }
                let line = line.to_string();
                tracing::info!(target: "crm::mail", event_id, mail = %line, "mail");
                if let Some(path) = file {
                    let _guard = lock.lock().await;
                    // Addresses and mail bodies: readable by the owner only.
                    let mut f = tokio::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .mode(0o600)
                        .open(path)
                        .await
                        .map_err(|e| SendError::Transient(format!("mail log: {e}")))?;
                    f.write_all(format!("{line}\n").as_bytes())
                        .await
                        .map_err(|e| SendError::Transient(format!("mail log: {e}")))?;
                    f.flush()
                        .await
                        .map_err(|e| SendError::Transient(format!("mail log: {e}")))?;
                }
                Ok(None)
            }
        }
    }

    /// Whether this event's mail provably went out already (after a delivery whose claim
    /// lapsed): only the mail log can tell.
    pub async fn already_sent(&self, event_id: &str) -> bool {
        match self {
            Transport::Log {
                file: Some(path),
                lock,
            } => {
                let _guard = lock.lock().await;
                let needle = format!("\"eventId\":\"{event_id}\"");
                tokio::fs::read_to_string(path)
                    .await
                    .map(|s| s.contains(&needle))
                    .unwrap_or(false)
            }
            _ => false,
        }
    }
}

async fn send_ses(
    client: &aws_sdk_sesv2::Client,
    from: &str,
    mail: &Mail,
) -> Result<Option<String>, SendError> {
    let content = |s: &str| {
        Content::builder()
            .data(s)
            .charset("UTF-8")
            .build()
            .map_err(|e| SendError::Permanent(format!("ses content: {e}")))
    };
    let header = |name: &str, value: &str| {
        MessageHeader::builder()
            .name(name)
            .value(value)
            .build()
            .map_err(|e| SendError::Permanent(format!("ses header: {e}")))
    };
    // The thread's headers ride on the Simple message: SES v2's `Message` takes a list of
    // `Headers` ("The list of message headers that will be added to the email message",
    // https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_Message.html), so no Raw
    // MIME message of our own is needed; `Reply-To` is SendEmail's `ReplyToAddresses`
    // (https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_SendEmail.html). Not
    // `Message-ID`: "If you provide a Message-ID header, Amazon SES overrides the header with
    // its own value" (https://docs.aws.amazon.com/ses/latest/dg/header-fields.html), Raw or
    // Simple alike, so through SES the thread rests on `In-Reply-To` / `References` naming
    // the ticket's root id, which every mail of the ticket carries.
    let t = &mail.thread;
    let mut headers = vec![header(EVENT_HEADER, &t.event_id)?];
    if let Some(root) = &t.root {
        headers.push(header("In-Reply-To", root)?);
        headers.push(header("References", root)?);
    }
    let mut ids = Vec::new();
    // One message per address, the address alone in it (the notifier hands over one).
    for to in &mail.recipients {
        let msg = Message::builder()
            .subject(content(&mail.subject)?)
            .body(Body::builder().text(content(&mail.content)?).build())
            .set_headers(Some(headers.clone()))
            .build();
        let out = client
            .send_email()
            .from_email_address(from)
            .set_reply_to_addresses(t.reply_to.clone().map(|r| vec![r]))
            .destination(Destination::builder().to_addresses(to.clone()).build())
            .content(EmailContent::builder().simple(msg).build())
            .send()
            .await
            .map_err(|e| {
                use aws_sdk_sesv2::error::{ProvideErrorMetadata, SdkError};
                let text = aws_smithy_types::error::display::DisplayErrorContext(&e).to_string();
                match &e {
                    SdkError::ServiceError(_) => match e.code() {
                        Some(
                            "TooManyRequestsException"
                            | "LimitExceededException"
                            | "InternalFailure"
                            | "ServiceUnavailable"
                            | "ThrottlingException",
                        ) => SendError::Transient(text),
                        // What SES answers for a destination (or a message to it) it will not
                        // take: the request is fine but for this recipient. SendEmail's
                        // errors: https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_SendEmail.html
                        Some(code @ ("BadRequestException" | "MessageRejected"))
                            if mail.recipients.len() == 1 =>
                        {
                            SendError::Refused(code.to_owned())
                        }
                        _ => SendError::Permanent(text),
                    },
                    _ => SendError::Transient(text),
                }
            })?;
        if let Some(id) = out.message_id {
            ids.push(id);
        }
    }
    Ok((!ids.is_empty()).then(|| ids.join(",")))
}

/// The seed's notificationService contract; `Idempotency-Key: <eventId>` on every attempt
/// (and every redelivery), so the API can drop a retry of a request it already accepted.
async fn send_http(
    client: &HttpClient,
    url: &http::Uri,
    mail: &Mail,
    event_id: &str,
) -> Result<Option<String>, SendError> {
    let mut body = serde_json::json!({
        "subject": mail.subject,
        "recipientEmails": mail.recipients,
        "content": mail.content,
        "requester": "CRM Service API",
    });
    // SPEC §9: the ticket's reply address, for the mail the API sends.
    if let Some(r) = &mail.thread.reply_to {
        body["replyTo"] = serde_json::json!(r);
    }
    let body = body.to_string().into_bytes();
    let mut last = String::new();
    for attempt in 0..HTTP_ATTEMPTS {
        if attempt > 0 {
            let base = 200u64 * 3u64.pow(attempt - 1);
            let jitter = rand::random_range(0..=base / 2);
            tokio::time::sleep(Duration::from_millis(base + jitter)).await;
        }
        match client
            .post_json(url, &[("Idempotency-Key", event_id)], body.clone())
            .await
        {
            Ok(resp) => {
                let status = resp.status;
                if status.is_success() {
                    let tracking = serde_json::from_slice::<serde_json::Value>(&resp.body)
                        .ok()
                        .and_then(|v| v.get("trackingId").cloned())
                        .map(|v| match v {
                            serde_json::Value::String(s) => s,
                            other => other.to_string(),
                        });
                    return Ok(tracking);
                }
                last = format!("notification API answered {status}");
                if status.is_client_error() && status.as_u16() != 429 {
                    return Err(SendError::Permanent(last));
                }
            }
            Err(e) => last = format!("notification API unreachable: {e}"),
        }
    }
    Err(SendError::Transient(last))
}
