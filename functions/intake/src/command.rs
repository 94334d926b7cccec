//! The intake queue's JSON commands (SPEC §9): `ticket.create` and `comment.create` for the
//! user they name, read by the API's own field rules (`Body`) and run through the API's use
//! cases, with the same rights and idempotency. A command that can never succeed is
//! `Failure::Permanent` (the queue's DLQ, `crm intake`'s non-zero exit); one that may pass
//! later is `Failure::Transient`.

use crm_shared::ApiError;
use crm_shared::error::ErrorCode;
use crm_shared::http::Body;
use crm_shared::model::{
    CommentBody, Description, IdempotencyKey, Priority, TicketId, Title, UserId,
};
use crm_shared::service::intake::{acting_as, is_permanent};
use crm_shared::service::{
    Created, Ctx, NewComment, NewTicket, add_comment_once, create_ticket_once,
};
use serde_json::{Value, json};

/// Why a command did not run.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// Invalid, no right, unknown user: never retried. `code` is the API's error code.
    Permanent { code: String, message: String },
    /// The store unreachable, a race lost too often: worth another try.
    Transient(String),
}

impl Failure {
    /// One line for a log, a DLQ attribute or `crm intake`'s output (no command content).
    pub fn reason(&self) -> String {
        match self {
            Failure::Permanent { code, message } => format!("{code}: {message}"),
            Failure::Transient(m) => m.clone(),
        }
    }

    pub fn is_permanent(&self) -> bool {
        matches!(self, Failure::Permanent { .. })
    }
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        if is_permanent(&e) {
            Failure::Permanent {
                code: e.code.as_str().to_owned(),
                message: e.message.into_owned(),
            }
        } else {
            Failure::Transient(format!("{}: {}", e.code.as_str(), e.message))
        }
    }
}

fn invalid(message: impl Into<String>) -> Failure {
    Failure::Permanent {
        code: ErrorCode::MalformedJson.as_str().to_owned(),
        message: message.into(),
    }
}

fn key(b: &Body) -> Result<Option<IdempotencyKey>, ApiError> {
    Ok(b.str("idempotencyKey")?
        .map(IdempotencyKey::parse)
        .transpose()?)
}

/// Runs one command (the bytes of one queue message or one line of `crm intake`'s input).
/// `Ok` is the result line: `{"ok": true, "type", "ticketId", "commentId"?, "replayed"}`.
pub async fn run(ctx: &Ctx, raw: &[u8]) -> Result<Value, Failure> {
    let fields = match serde_json::from_slice::<Value>(raw) {
        Ok(Value::Object(m)) => m,
        Ok(_) => return Err(invalid("A command must be a JSON object.")),
        Err(e) => return Err(invalid(format!("Malformed JSON: {e}."))),
    };
    let b = Body::from_object(fields);
    match b.required_str("type")? {
        "ticket.create" => {
            let reporter = UserId::parse(b.required_str("reporter")?).map_err(ApiError::from)?;
            let new = NewTicket {
                title: Title::parse(b.required_str("title")?).map_err(ApiError::from)?,
                description: Description::parse(b.required_str("description")?)
                    .map_err(ApiError::from)?,
                priority: b
                    .int("ticketPriority")?
                    .map(Priority::from_int)
                    .transpose()
                    .map_err(ApiError::from)?,
                tags: None,
            };
            let key = key(&b)?;
            let who = acting_as(ctx, &reporter).await?;
            let c = create_ticket_once(ctx, &who, new, key.as_ref()).await?;
            let replayed = matches!(c, Created::Replayed { .. });
            Ok(json!({"ok": true, "type": "ticket.create",
                      "ticketId": c.into_inner().id, "replayed": replayed}))
        }
        "comment.create" => {
            let ticket = TicketId::parse(b.required_str("ticketId")?).map_err(ApiError::from)?;
            let author = UserId::parse(b.required_str("author")?).map_err(ApiError::from)?;
            let new = NewComment {
                body: CommentBody::parse(b.required_str("body")?).map_err(ApiError::from)?,
                internal: b.bool("internal")?.unwrap_or(false),
                attachments: Vec::new(),
            };
            let key = key(&b)?;
            let who = acting_as(ctx, &author).await?;
            let c = add_comment_once(ctx, &who, &ticket, new, key.as_ref()).await?;
            let replayed = matches!(c, Created::Replayed { .. });
            let c = c.into_inner();
            Ok(
                json!({"ok": true, "type": "comment.create", "ticketId": c.ticket_id,
                      "commentId": c.id, "replayed": replayed}),
            )
        }
        other => Err(Failure::from(ApiError::invalid(
            "type",
            format!(
                "type must be ticket.create or comment.create, not {:?}.",
                other.chars().take(40).collect::<String>()
            ),
        ))),
    }
}

/// The result line of a failed command.
pub fn failure_line(f: &Failure) -> Value {
    match f {
        Failure::Permanent { code, message } => {
            json!({"ok": false, "error": {"code": code, "message": message}})
        }
        Failure::Transient(m) => json!({"ok": false, "retry": true, "error": {"message": m}}),
    }
}
