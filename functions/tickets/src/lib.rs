//! The tickets function: tickets, their history, their comments (SPEC §3) and their
//! followers (SPEC §11). A ticket id
//! in a path is a `TicketId` before anything else of the request is read (400 when
//! malformed). And the service levels' policy, `GET`/`PUT /sla` (SPEC §10).

use crm_shared::ApiError;
use crm_shared::attachments::{AttachmentId, ContentType, FileName};
use crm_shared::error::ErrorCode;
use crm_shared::http::{ApiResponse, BASE_PATH, Body, Path, QueryParams, ResponseExt, Router};
use crm_shared::model::{
    CommentBody, Description, IdempotencyKey, Invalid, Priority, Rating, RatingComment, Tag, Tags,
    TicketId, TicketStatus, Timestamp, Title, UserId,
};
use crm_shared::service::{
    self, Authed, Created, Ctx, NewAttachment, NewComment, NewRating, NewTicket, TicketFilter,
    TicketOrder, TicketPatch,
};
use http::{Method, StatusCode};

/// The tickets function's routes.
pub fn router() -> Router {
    Router::new()
        .authenticated(Method::POST, "/tickets", "createTicket", create_ticket)
        .authenticated(Method::GET, "/tickets", "listTickets", list_tickets)
        .authenticated(Method::GET, "/tickets/{ticketId}", "getTicket", get_ticket)
        .authenticated(
            Method::PUT,
            "/tickets/{ticketId}",
            "updateTicket",
            update_ticket,
        )
        .authenticated(
            Method::GET,
            "/tickets/{ticketId}/history",
            "ticketHistory",
            ticket_history,
        )
        .authenticated(
            Method::POST,
            "/tickets/{ticketId}/comments",
            "addComment",
            add_comment,
        )
        .authenticated(
            Method::GET,
            "/tickets/{ticketId}/comments",
            "listComments",
            list_comments,
        )
        .authenticated(
            Method::POST,
            "/tickets/{ticketId}/followers",
            "addFollower",
            add_follower,
        )
        .authenticated(
            Method::DELETE,
            "/tickets/{ticketId}/followers/{userId}",
            "removeFollower",
            remove_follower,
        )
        .authenticated(
            Method::POST,
            "/tickets/{ticketId}/attachments",
            "createAttachmentUpload",
            create_attachment_upload,
        )
        .authenticated(
            Method::GET,
            "/tickets/{ticketId}/attachments/{attachmentId}",
            "downloadAttachment",
            download_attachment,
        )
        .authenticated(Method::GET, "/sla", "getSla", get_sla)
        .authenticated(Method::PUT, "/sla", "putSla", put_sla)
        // SPEC §12.
        .authenticated(
            Method::PUT,
            "/tickets/{ticketId}/satisfaction",
            "rateTicket",
            rate_ticket,
        )
        .authenticated(
            Method::GET,
            "/reports/satisfaction",
            "satisfactionReport",
            satisfaction_report,
        )
        .authenticated(
            Method::POST,
            "/tickets/{ticketId}/merge",
            "mergeTicket",
            merge_ticket,
        )
}

async fn create_ticket(
    ctx: &Ctx,
    who: Authed,
    b: Body,
    key: Option<IdempotencyKey>,
) -> Result<ApiResponse, ApiError> {
    let new = NewTicket {
        title: Title::parse(b.required_str("title")?)?,
        description: Description::parse(b.required_str("description")?)?,
        priority: b
            .int("ticketPriority")?
            .map(Priority::from_int)
            .transpose()?,
        tags: tags(&b)?,
    };
    let created = service::create_ticket_once(ctx, &who, new, key.as_ref()).await?;
    Ok(created_response(
        created,
        "Ticket successfully created.",
        |t| format!("{BASE_PATH}/tickets/{}", t.id),
    ))
}

async fn list_tickets(ctx: &Ctx, who: Authed, q: QueryParams) -> Result<ApiResponse, ApiError> {
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
        tags: tag_filter(&q)?,
        following: q
            .parsed("following", |v| match v.trim() {
                "true" => Ok(true),
                _ => Err(Invalid::new(
                    "following",
                    "following must be true (or left out).",
                )),
            })?
            .unwrap_or(false),
        sla_breached: q.parsed("slaBreached", |v| match v.trim() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(Invalid::new(
                "slaBreached",
                "slaBreached must be true or false.",
            )),
        })?,
        sort: q.parsed("sort", TicketOrder::parse)?.unwrap_or_default(),
    };
    let page = service::list_tickets(ctx, &who, filter, q.next_token(), q.limit()?).await?;
    Ok(ApiResponse::list(&page.items, page.next))
}

async fn get_ticket(
    ctx: &Ctx,
    who: Authed,
    Path(id): Path<TicketId>,
) -> Result<ApiResponse, ApiError> {
    let t = service::get_ticket(ctx, &who, &id).await?;
    Ok(ApiResponse::data(StatusCode::OK, None, &t))
}

async fn update_ticket(
    ctx: &Ctx,
    who: Authed,
    Path(id): Path<TicketId>,
    b: Body,
) -> Result<ApiResponse, ApiError> {
    let patch = parse_patch(&b)?;
    let t = service::update_ticket(ctx, &who, &id, patch).await?;
    Ok(ApiResponse::data(
        StatusCode::OK,
        Some("Ticket successfully updated."),
        &t,
    ))
}

async fn ticket_history(
    ctx: &Ctx,
    who: Authed,
    Path(id): Path<TicketId>,
    q: QueryParams,
) -> Result<ApiResponse, ApiError> {
    let page = service::ticket_history(ctx, &who, &id, q.next_token(), q.limit()?).await?;
    Ok(ApiResponse::list(&page.items, page.next))
}

async fn add_comment(
    ctx: &Ctx,
    who: Authed,
    Path(id): Path<TicketId>,
    b: Body,
    key: Option<IdempotencyKey>,
) -> Result<ApiResponse, ApiError> {
    let new = NewComment {
        body: CommentBody::parse(b.required_str("body")?)?,
        internal: b.bool("internal")?.unwrap_or(false),
        attachments: attachment_ids(&b)?,
    };
    let created = service::add_comment_once(ctx, &who, &id, new, key.as_ref()).await?;
    // Location: the thread the comment is read from.
    // (A comment to a merged ticket is added to its target: SPEC §12.)
    Ok(created_response(created, "Comment added.", |c| {
        format!("{BASE_PATH}/tickets/{}/comments", c.ticket_id)
    }))
}

/// `attachments` of a comment (SPEC §13): at most 10 attachment ids, none twice.
fn attachment_ids(b: &Body) -> Result<Vec<AttachmentId>, ApiError> {
    let Some(raw) = b.strings("attachments")? else {
        return Ok(Vec::new());
    };
    if raw.len() > service::MAX_ATTACHMENTS_PER_COMMENT {
        return Err(ApiError::invalid(
            "attachments",
            "attachments may name at most 10 attachments.",
        ));
    }
    let mut ids: Vec<AttachmentId> = Vec::with_capacity(raw.len());
    for r in raw {
        let id = AttachmentId::parse(r)
            .map_err(|_| ApiError::invalid("attachments", "attachments must be attachment ids."))?;
        if ids.contains(&id) {
            return Err(ApiError::invalid(
                "attachments",
                "attachments must not name an attachment twice.",
            ));
        }
        ids.push(id);
    }
    Ok(ids)
}

/// POST /tickets/{ticketId}/attachments (SPEC §13): `{"fileName", "contentType", "size"}`.
async fn create_attachment_upload(
    ctx: &Ctx,
    who: Authed,
    Path(id): Path<TicketId>,
    b: Body,
) -> Result<ApiResponse, ApiError> {
    let size = b
        .int("size")?
        .ok_or_else(|| ApiError::invalid("size", "size is required: the file's size in bytes."))?;
    let new = NewAttachment {
        file_name: FileName::parse(b.required_str("fileName")?)?,
        content_type: ContentType::parse(b.required_str("contentType")?)?,
        size: u64::try_from(size)
            .map_err(|_| ApiError::invalid("size", "size must be a positive number of bytes."))?,
    };
    let grant = service::grant_upload(ctx, &who, &id, new).await?;
    Ok(ApiResponse::data(
        StatusCode::CREATED,
        Some("Upload granted."),
        &grant,
    ))
}

/// GET /tickets/{ticketId}/attachments/{attachmentId} (SPEC §13): `302` to a download URL
/// valid 5 minutes (also given as `data.url`).
async fn download_attachment(
    ctx: &Ctx,
    who: Authed,
    Path((id, attachment)): Path<(TicketId, AttachmentId)>,
) -> Result<ApiResponse, ApiError> {
    #[derive(serde::Serialize)]
    struct Redirect<'a> {
        url: &'a str,
    }
    let url = service::attachment_download_url(ctx, &who, &id, &attachment).await?;
    Ok(
        ApiResponse::data(StatusCode::FOUND, None, &Redirect { url: &url })
            .with_header(http::header::LOCATION, &url),
    )
}

async fn list_comments(
    ctx: &Ctx,
    who: Authed,
    Path(id): Path<TicketId>,
    q: QueryParams,
) -> Result<ApiResponse, ApiError> {
    let page = service::list_comments(ctx, &who, &id, q.next_token(), q.limit()?).await?;
    Ok(ApiResponse::list(&page.items, page.next))
}

async fn add_follower(
    ctx: &Ctx,
    who: Authed,
    Path(id): Path<TicketId>,
    b: Body,
) -> Result<ApiResponse, ApiError> {
    let user = b.required_str("userId")?;
    let t = service::add_follower(ctx, &who, &id, user).await?;
    Ok(ApiResponse::data(
        StatusCode::OK,
        Some("Follower added."),
        &t,
    ))
}

async fn remove_follower(
    ctx: &Ctx,
    who: Authed,
    Path((id, user)): Path<(TicketId, String)>,
) -> Result<ApiResponse, ApiError> {
    let t = service::remove_follower(ctx, &who, &id, &user).await?;
    Ok(ApiResponse::data(
        StatusCode::OK,
        Some("Follower removed."),
        &t,
    ))
}

async fn get_sla(ctx: &Ctx, who: Authed) -> Result<ApiResponse, ApiError> {
    let policy = service::get_sla(ctx, &who).await?;
    Ok(ApiResponse::data(StatusCode::OK, None, &policy))
}

async fn put_sla(ctx: &Ctx, who: Authed, b: Body) -> Result<ApiResponse, ApiError> {
    let policy = service::put_sla(ctx, &who, &b.value()).await?;
    Ok(ApiResponse::data(
        StatusCode::OK,
        Some("Service levels updated."),
        &policy,
    ))
}

async fn rate_ticket(
    ctx: &Ctx,
    who: Authed,
    Path(id): Path<TicketId>,
    b: Body,
) -> Result<ApiResponse, ApiError> {
    let new = NewRating {
        rating: Rating::parse(b.required_str("rating")?)?,
        comment: b
            .str("comment")?
            .map(RatingComment::parse)
            .transpose()?
            .flatten(),
    };
    let t = service::rate_ticket(ctx, &who, &id, new).await?;
    Ok(ApiResponse::data(
        StatusCode::OK,
        Some("Satisfaction recorded."),
        &t,
    ))
}

async fn satisfaction_report(
    ctx: &Ctx,
    who: Authed,
    q: QueryParams,
) -> Result<ApiResponse, ApiError> {
    let time = |field: &'static str| {
        q.parsed(field, move |v| {
            Timestamp::parse_rfc3339(v.trim()).ok_or_else(|| {
                Invalid::new(
                    field,
                    format!("{field} must be an RFC 3339 time (2026-12-06T12:00:00Z)."),
                )
            })
        })
    };
    let (from, to) = (time("from")?, time("to")?);
    let report = service::satisfaction_report(ctx, &who, from, to).await?;
    Ok(ApiResponse::data(StatusCode::OK, None, &report))
}

async fn merge_ticket(
    ctx: &Ctx,
    who: Authed,
    Path(id): Path<TicketId>,
    b: Body,
) -> Result<ApiResponse, ApiError> {
    let into = TicketId::parse(b.required_str("into")?).map_err(|_| {
        ApiError::invalid("into", "into must be the id of the ticket to merge into.")
    })?;
    let merged = service::merge_ticket(ctx, &who, &id, &into).await?;
    Ok(ApiResponse::data(
        StatusCode::OK,
        Some("Tickets merged."),
        &merged,
    ))
}

fn parse_patch(b: &Body) -> Result<TicketPatch, ApiError> {
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
        tags: tags(b)?,
    })
}

/// `tags` of a body (SPEC §11): the whole new set, an array of at most 20 tags.
fn tags(b: &Body) -> Result<Option<Tags>, ApiError> {
    Ok(b.strings("tags")?.map(Tags::parse).transpose()?)
}

/// `?tag=a&tag=b` (SPEC §11): tickets carrying every one, at most 20, each a valid tag.
fn tag_filter(q: &QueryParams) -> Result<Vec<Tag>, ApiError> {
    let query_error =
        |e: Invalid| ApiError::invalid("tag", e.message).with_code(ErrorCode::InvalidQuery);
    let mut tags = Vec::new();
    for raw in q.get_all("tag") {
        let t = Tag::parse_for("tag", raw).map_err(query_error)?;
        if !tags.contains(&t) {
            tags.push(t);
        }
    }
    if tags.len() > Tags::MAX {
        return Err(query_error(Invalid::new(
            "tag",
            "tag may be given for at most 20 tags.",
        )));
    }
    Ok(tags)
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
