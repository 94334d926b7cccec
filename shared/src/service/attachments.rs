//! Attachments (SPEC §13): an upload grant for a user who may comment, the check of the
//! uploads a comment links (`uploads_to_link`, read beside the comment's other reads), and the
//! short-lived download URL for a user who may see the comment. The files themselves never
//! pass through here (`attachments::files`).

use super::tickets::caller_and_ticket;
use super::{Authed, Ctx};
use crate::ApiError;
use crate::attachments::files::Files;
use crate::attachments::post_policy::PresignedPost;
use crate::attachments::{AttachmentId, AttachmentSize, ContentType, FileName, object_key};
use crate::error::ErrorCode;
use crate::model::{TicketId, Timestamp, UserId};
use crate::policy;
use crate::store::{ATTACHMENT_PENDING_SECONDS, AttachmentRecord};
use serde::Serialize;

/// The most attachments one comment links (SPEC §13).
pub const MAX_ATTACHMENTS_PER_COMMENT: usize = 10;

/// What a client declares before uploading.
#[derive(Debug, Clone)]
pub struct NewAttachment {
    pub file_name: FileName,
    pub content_type: ContentType,
    /// As declared; checked against `CRM_ATTACHMENT_MAX_BYTES` here.
    pub size: u64,
}

/// `201`'s data: `{"attachmentId", "upload": {"url", "fields"}, "expiresAt"}`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadGrant {
    pub attachment_id: String,
    pub upload: PresignedPost,
    pub expires_at: String,
}

fn files(ctx: &Ctx) -> Result<&Files, ApiError> {
    ctx.files
        .as_ref()
        .ok_or_else(|| ApiError::unavailable("no attachment store is configured"))
}

fn files_down(e: crate::attachments::files::FilesError) -> ApiError {
    ApiError::unavailable(e.to_string())
}

/// POST /tickets/{ticketId}/attachments: a user who may comment on the ticket gets a
/// presigned upload of exactly the declared size and type (15 minutes), and a pending item
/// records who may link it.
pub async fn grant_upload(
    ctx: &Ctx,
    who: &Authed,
    id: &TicketId,
    new: NewAttachment,
) -> Result<UploadGrant, ApiError> {
    let files = files(ctx)?;
    let size = AttachmentSize::parse(new.size, ctx.attachment_max_bytes)?;
    let (caller, _ticket) = caller_and_ticket(ctx, who, id).await?;
    policy::comment(&caller.caller(), false)?;
    let now = ctx.clock.now();
    let attachment = AttachmentId::new();
    let key = object_key(id, &attachment);
    let upload = files
        .upload_form(&key, size, &new.content_type, now)
        .await
        .map_err(files_down)?;
    let record = AttachmentRecord {
        attachment_id: attachment.as_str().to_owned(),
        ticket_id: id.clone(),
        uploader: caller.user_id.clone(),
        file_name: new.file_name.as_str().to_owned(),
        content_type: new.content_type.as_str().to_owned(),
        size: size.bytes(),
        created_at: now.rfc3339(),
        expires_at: now.plus_seconds(ATTACHMENT_PENDING_SECONDS).seconds(),
        linked: false,
        comment_id: None,
        internal: false,
    };
    ctx.store.put_pending_attachment(&record).await?;
    Ok(UploadGrant {
        attachment_id: record.attachment_id,
        expires_at: upload.expires_at.rfc3339(),
        upload,
    })
}

/// The attachments a comment names, as read and seen beside the comment's other reads: the
/// items and what the file store holds under their keys.
pub(super) struct Uploads {
    found: Vec<(AttachmentId, Option<AttachmentRecord>, Option<u64>)>,
}

/// Reads the items and HEADs the files of `ids` at once (all of them concurrently).
pub(super) async fn read_uploads(
    ctx: &Ctx,
    ticket: &TicketId,
    ids: &[AttachmentId],
    now: Timestamp,
) -> Result<Uploads, ApiError> {
    if ids.is_empty() {
        return Ok(Uploads { found: Vec::new() });
    }
    let files = files(ctx)?;
    let reads = futures_util::future::try_join_all(ids.iter().map(|a| async move {
        let key = object_key(ticket, a);
        let (item, head) = tokio::try_join!(
            async {
                ctx.store
                    .get_attachment(a.as_str(), now)
                    .await
                    .map_err(ApiError::from)
            },
            async { files.head(&key, now).await.map_err(files_down) }
        )?;
        Ok::<_, ApiError>((a.clone(), item, head.map(|h| h.size)))
    }))
    .await?;
    Ok(Uploads { found: reads })
}

impl Uploads {
    /// The uploads the caller may link to a comment on `ticket` (SPEC §13: each uploaded by
    /// the caller to this ticket, with the declared size, not linked before; else `400`).
    pub(super) fn into_links(
        self,
        caller: &UserId,
        ticket: &TicketId,
    ) -> Result<Vec<AttachmentRecord>, ApiError> {
        self.found
            .into_iter()
            .map(|(id, item, size)| {
                let bad = |why: &str| {
                    ApiError::invalid("attachments", format!("attachments: {id} {why}"))
                };
                let a = item
                    .filter(|a| &a.uploader == caller && &a.ticket_id == ticket)
                    .ok_or_else(|| bad("is not an upload of yours to this ticket."))?;
                if a.linked {
                    return Err(bad("is already linked to a comment."));
                }
                match size {
                    None => Err(bad("has not been uploaded.")),
                    Some(s) if s != a.size => Err(bad("was not uploaded with its declared size.")),
                    Some(_) => Ok(a),
                }
            })
            .collect()
    }
}

/// Keeps the uploads a comment links (out of the pending prefix), all at once, before the
/// comment's transaction: a failed commit leaves a copy no comment names, never a linked
/// file the lifecycle rule deletes.
pub(super) async fn keep_uploads(
    ctx: &Ctx,
    linked: &[AttachmentRecord],
    now: Timestamp,
) -> Result<(), ApiError> {
    if linked.is_empty() {
        return Ok(());
    }
    let files = files(ctx)?;
    futures_util::future::try_join_all(linked.iter().map(|a| async move {
        let id = AttachmentId::parse(&a.attachment_id).map_err(ApiError::from)?;
        files
            .keep(&object_key(&a.ticket_id, &id), now)
            .await
            .map_err(files_down)
    }))
    .await?;
    Ok(())
}

/// GET /tickets/{ticketId}/attachments/{attachmentId}: a URL valid 5 minutes that serves the
/// file as a download of its name and stored type, for a user who may see its comment (an
/// internal note's attachments are staff-only, like the note).
pub async fn download_url(
    ctx: &Ctx,
    who: &Authed,
    id: &TicketId,
    attachment: &AttachmentId,
) -> Result<String, ApiError> {
    let files = files(ctx)?;
    let now = ctx.clock.now();
    let ((caller, _), item) = tokio::try_join!(caller_and_ticket(ctx, who, id), async {
        Ok::<_, ApiError>(ctx.store.get_attachment(attachment.as_str(), now).await?)
    })?;
    let a = item
        .filter(|a| a.linked && &a.ticket_id == id)
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::AttachmentNotFound,
                "No attachment with this id on this ticket.",
            )
        })?;
    if a.internal && !policy::sees_internal_notes(caller.user_type) {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "Access Forbidden. An internal note's attachments are for ENGINEERs and ADMINs only.",
        ));
    }
    let name = FileName::parse(&a.file_name).map_err(|e| ApiError::internal(e.message))?;
    let content_type =
        ContentType::parse(&a.content_type).map_err(|e| ApiError::internal(e.message))?;
    files
        .download_url(
            &object_key(id, attachment),
            &name,
            &content_type,
            a.size,
            now,
        )
        .await
        .map_err(files_down)
}
