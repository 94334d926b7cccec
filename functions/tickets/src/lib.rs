//! The tickets function: POST/GET /tickets, GET/PUT /tickets/{ticketId},
//! GET /tickets/{ticketId}/history, POST/GET /tickets/{ticketId}/comments.

use crm_shared::ApiError;
use crm_shared::http::{ApiRequest, ApiResponse, BASE_PATH, Body, QueryParams, ResponseExt, Route};
use crm_shared::model::{CommentBody, Description, Priority, TicketStatus, Title, UserId};
use crm_shared::service::{self, Ctx, NewComment, NewTicket, TicketFilter, TicketPatch};
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
            let t = service::create_ticket(ctx, &who, new).await?;
            Ok(ApiResponse::data(
                StatusCode::CREATED,
                Some("Ticket successfully created."),
                &t,
            )
            .created_at(&format!("{BASE_PATH}/tickets/{}", t.id)))
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
            let c = service::add_comment(ctx, &who, &id, new).await?;
            Ok(ApiResponse::data(
                StatusCode::CREATED,
                Some("Comment added."),
                &c,
            ))
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
