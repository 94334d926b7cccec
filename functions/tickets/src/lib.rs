//! The tickets function: POST/GET /tickets, GET/PUT /tickets/{ticketId},
//! GET /tickets/{ticketId}/history, POST/GET /tickets/{ticketId}/comments.

use crm_shared::ApiError;
use crm_shared::http::{ApiRequest, ApiResponse, BASE_PATH, Body, QueryParams, ResponseExt, Route};
use crm_shared::model::{
    CommentBody, Description, IdempotencyKey, Priority, TicketStatus, Title, UserId,
};
use crm_shared::service::{self, Created, Ctx, NewComment, NewTicket, TicketFilter, TicketPatch};
use http::StatusCode;

pub async fn handle(ctx: &Ctx, route: Route, req: ApiRequest) -> Result<ApiResponse, ApiError> {
    let who = ctx.authenticate(&req.headers)?;
    match route {
        Route::CreateTicket => {
            let b = Body::parse(&req)?;
            let new = NewTicket {
                title: Title::parse(b.required_str("title")?)?,
                description: Description::parse(b.required_str("description")?)?,
                priority: b
                    .int("ticketPriority")?
                    .map(Priority::from_int)
                    .transpose()?,
            };
            let key = idempotency_key(&req)?;
            let created = service::create_ticket_once(ctx, &who, new, key.as_ref()).await?;
            Ok(created_response(
                created,
                "Ticket successfully created.",
                |t| format!("{BASE_PATH}/tickets/{}", t.id),
            ))
        }
        Route::ListTickets => {
            let q = QueryParams::parse(req.query.as_deref())?;
            let filter = TicketFilter {
                status: q.parsed("status", TicketStatus::parse)?,
                reporter: q.parsed("reporter", UserId::parse)?,
                assignee: q.parsed("assignee", |v| match v.trim() {
                    "null" => Ok(None),
                    other => UserId::parse(other).map(Some),
                })?,
                priority: q.parsed("ticketPriority", Priority::parse)?,
                title: q.get("title").map(str::to_owned),
                description: q.get("description").map(str::to_owned),
            };
            let page = service::list_tickets(ctx, &who, filter, q.next_token(), q.limit()?).await?;
            Ok(ApiResponse::list(&page.items, page.next))
        }
        Route::GetTicket(id) => {
            let t = service::get_ticket(ctx, &who, &id).await?;
            Ok(ApiResponse::data(StatusCode::OK, None, &t))
        }
        Route::UpdateTicket(id) => {
            let patch = parse_patch(&req)?;
            let t = service::update_ticket(ctx, &who, &id, patch).await?;
            Ok(ApiResponse::data(
                StatusCode::OK,
                Some("Ticket successfully updated."),
                &t,
            ))
        }
        Route::TicketHistory(id) => {
            let q = QueryParams::parse(req.query.as_deref())?;
            let page = service::ticket_history(ctx, &who, &id, q.next_token(), q.limit()?).await?;
            Ok(ApiResponse::list(&page.items, page.next))
        }
        Route::AddComment(id) => {
            let b = Body::parse(&req)?;
            let new = NewComment {
                body: CommentBody::parse(b.required_str("body")?)?,
                internal: b.bool("internal")?.unwrap_or(false),
            };
            let key = idempotency_key(&req)?;
            let created = service::add_comment_once(ctx, &who, &id, new, key.as_ref()).await?;
            // Location: the thread the comment is read from.
            Ok(created_response(created, "Comment added.", |_| {
                format!("{BASE_PATH}/tickets/{id}/comments")
            }))
        }
        Route::ListComments(id) => {
            let q = QueryParams::parse(req.query.as_deref())?;
            let page = service::list_comments(ctx, &who, &id, q.next_token(), q.limit()?).await?;
            Ok(ApiResponse::list(&page.items, page.next))
        }
        _ => Err(ApiError::no_route()),
    }
}

fn parse_patch(req: &ApiRequest) -> Result<TicketPatch, ApiError> {
    let b = Body::parse(req)?;
    if b.is_null("assignee") {
        return Err(ApiError::invalid(
            "assignee",
            "assignee must be the userId of an approved ENGINEER.",
        ));
    }
    Ok(TicketPatch {
        title: b.str("title")?.map(Title::parse).transpose()?,
        description: b.str("description")?.map(Description::parse).transpose()?,
        priority: b
            .int("ticketPriority")?
            .map(Priority::from_int)
            .transpose()?,
        status: b.str("status")?.map(TicketStatus::parse).transpose()?,
        assignee: b
            .str("assignee")?
            .map(|a| {
                UserId::parse(a).map_err(|_| {
                    ApiError::invalid(
                        "assignee",
                        "assignee must be the userId of an approved ENGINEER.",
                    )
                })
            })
            .transpose()?,
    })
}

/// The `Idempotency-Key` header, if sent (400 when it is not 1–255 visible ASCII, or sent
/// twice).
fn idempotency_key(req: &ApiRequest) -> Result<Option<IdempotencyKey>, ApiError> {
    match req.single_header(IdempotencyKey::HEADER)? {
        None => Ok(None),
        Some(v) => {
            let raw = v.to_str().map_err(|_| {
                ApiError::invalid(
                    IdempotencyKey::HEADER,
                    "Idempotency-Key must be 1 to 255 visible ASCII characters.",
                )
            })?;
            Ok(Some(IdempotencyKey::parse(raw)?))
        }
    }
}

/// A `201` with `Location`; a replay is the original answer plus `Idempotent-Replayed: true`.
fn created_response<T: serde::Serialize>(
    created: Created<T>,
    message: &str,
    location: impl Fn(&T) -> String,
) -> ApiResponse {
    match created {
        Created::New(t) => {
            ApiResponse::data(StatusCode::CREATED, Some(message), &t).created_at(&location(&t))
        }
        Created::Replayed { data, location } => {
            // Records keep the path under the base path (older ones the whole path).
            let location = if location.starts_with('/') {
                location
            } else {
                format!("{BASE_PATH}/{location}")
            };
            ApiResponse::data(StatusCode::CREATED, Some(message), &data)
                .created_at(&location)
                .with_header(http::HeaderName::from_static("idempotent-replayed"), "true")
        }
    }
}
