//! Attachments (SPEC §13) through the use cases on both backends, on the cloud path: the
//! files go to a fresh bucket on moto through the stand-in that enforces S3's POST policies
//! (`crm_tests::s3_policy`), posted as a browser posts them (reqwest's multipart), and come
//! back through the presigned GET. Who may attach is who may comment; a comment links only
//! the caller's own uploads to this ticket, present with the declared size and not linked
//! before, in its own transaction; the download follows the comment's visibility.

use crate::tickets::comments::{note, public};
use crm_shared::attachments::files::{Files, pending_key};
use crm_shared::attachments::{
    AttachmentId, AttachmentSize, ContentType, FileName, MaxBytes, content_disposition, object_key,
};
use crm_shared::model::{CommentSnapshot, TicketId, Timestamp};
use crm_shared::service::{self, Authed, NewAttachment, NewComment, UploadGrant};
use crm_shared::store::{ATTACHMENT_PENDING_SECONDS, Store};
use crm_tests::attach::{cloud_files, post_form};
use crm_tests::desk::{Desk, assert_err, tid};
use crm_tests::s3_policy::S3PolicyStandIn;

crm_tests::on_both_backends!(
    an_upload_linked_to_a_comment_downloads_with_its_bytes_name_and_type,
    the_policy_refuses_another_size_and_an_unlinked_size_is_refused,
    the_policy_refuses_another_type_and_only_allowed_types_are_granted,
    an_expired_grant_stores_nothing_and_nothing_can_be_linked,
    only_the_uploaders_own_upload_to_this_ticket_is_linked_once,
    unlinked_uploads_expire_after_24_hours,
    who_may_attach_is_who_may_comment,
    an_internal_notes_attachments_are_staff_only,
    file_names_with_separators_line_breaks_or_bidi_controls_are_refused,
    a_file_name_reaches_the_download_header_escaped,
    a_comment_redirected_to_a_merge_target_refuses_the_sources_uploads,
);

struct Fixture {
    w: Desk,
    _standin: S3PolicyStandIn,
    http: reqwest::Client,
}

async fn fixture(store: Store) -> Fixture {
    let mut w = Desk::new(store).await;
    let (files, standin) = cloud_files().await;
    w.ctx.files = Some(files);
    Fixture {
        w,
        _standin: standin,
        http: reqwest::Client::new(),
    }
}

fn declared(name: &str, content_type: &str, size: u64) -> NewAttachment {
    NewAttachment {
        file_name: FileName::parse(name).expect("file name"),
        content_type: ContentType::parse(content_type).expect("content type"),
        size,
    }
}

fn with(c: NewComment, ids: &[&str]) -> NewComment {
    NewComment {
        attachments: ids
            .iter()
            .map(|i| AttachmentId::parse(i).expect("attachment id"))
            .collect(),
        ..c
    }
}

impl Fixture {
    async fn grant(&self, who: &Authed, ticket: &str, a: NewAttachment) -> UploadGrant {
        service::grant_upload(&self.w.ctx, who, &tid(ticket), a)
            .await
            .unwrap_or_else(|e| panic!("granting an upload to {}: {e:?}", who.id))
    }

    /// Grants and uploads `bytes` as `name` of `content_type`: the attachment id.
    async fn upload(
        &self,
        who: &Authed,
        ticket: &str,
        name: &str,
        content_type: &str,
        bytes: &[u8],
    ) -> String {
        let g = self
            .grant(
                who,
                ticket,
                declared(name, content_type, bytes.len() as u64),
            )
            .await;
        let (status, body) = post_form(&self.http, &g.upload, bytes).await;
        assert_eq!(status, 204, "the upload: {body}");
        g.attachment_id
    }

    async fn comment(
        &self,
        who: &Authed,
        ticket: &str,
        c: NewComment,
    ) -> Result<CommentSnapshot, crm_shared::ApiError> {
        service::add_comment(&self.w.ctx, who, &tid(ticket), c).await
    }

    async fn download(
        &self,
        who: &Authed,
        ticket: &str,
        id: &str,
    ) -> Result<String, crm_shared::ApiError> {
        service::attachment_download_url(
            &self.w.ctx,
            who,
            &tid(ticket),
            &AttachmentId::parse(id).expect("id"),
        )
        .await
    }

    /// GETs a download URL: the status, the headers that matter and the bytes.
    async fn fetch(&self, url: &str) -> (u16, Option<String>, Option<String>, Vec<u8>) {
        let resp = self.http.get(url).send().await.expect("GET the download");
        let header = |n: &str| {
            resp.headers()
                .get(n)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        };
        let (status, disposition, content_type) = (
            resp.status().as_u16(),
            header("content-disposition"),
            header("content-type"),
        );
        let bytes = resp.bytes().await.expect("the body").to_vec();
        (status, disposition, content_type, bytes)
    }

    async fn comments_as(&self, who: &Authed, ticket: &str) -> Vec<CommentSnapshot> {
        service::list_comments(&self.w.ctx, who, &tid(ticket), None, 100)
            .await
            .expect("the comments")
            .items
    }
}

async fn an_upload_linked_to_a_comment_downloads_with_its_bytes_name_and_type(store: Store) {
    let f = fixture(store).await;
    let cust = f.w.customer("cust").await;
    f.w.engineer("eng1").await;
    let t = f.w.create(&cust, "Printer shows error 254").await;
    let png: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
    let g = f
        .grant(&cust, &t.id, declared("display.png", "image/png", 3000))
        .await;
    assert_eq!(g.upload.fields.get("Content-Type"), Some("image/png"));
    // Uploads wait under the pending prefix the bucket's lifecycle rule empties.
    let key = object_key(&tid(&t.id), &AttachmentId::parse(&g.attachment_id).unwrap());
    assert_eq!(g.upload.fields.get("key"), Some(pending_key(&key).as_str()));
    let (status, body) = post_form(&f.http, &g.upload, &png).await;
    assert_eq!(status, 204, "{body}");
    let second = f
        .upload(&cust, &t.id, "log.txt", "text/plain", b"line 1\n")
        .await;

    let c = f
        .comment(
            &cust,
            &t.id,
            with(public("Here is the photo."), &[&g.attachment_id, &second]),
        )
        .await
        .expect("the comment");
    let shown = serde_json::to_value(&c).unwrap()["attachments"].clone();
    assert_eq!(
        shown,
        serde_json::json!([
            {"attachmentId": g.attachment_id, "fileName": "display.png", "contentType": "image/png", "size": 3000},
            {"attachmentId": second, "fileName": "log.txt", "contentType": "text/plain", "size": 7},
        ])
    );
    assert_eq!(
        f.comments_as(&cust, &t.id).await[0].attachments,
        c.attachments
    );

    for who in [&cust, &f.w.admin] {
        let url = f.download(who, &t.id, &g.attachment_id).await.expect("URL");
        let (status, disposition, content_type, bytes) = f.fetch(&url).await;
        assert_eq!(status, 200);
        assert_eq!(bytes, png, "the bytes uploaded");
        assert_eq!(content_type.as_deref(), Some("image/png"));
        assert_eq!(
            disposition.as_deref(),
            Some(content_disposition(&FileName::parse("display.png").unwrap()).as_str())
        );
        assert!(disposition.unwrap().starts_with("attachment"));
    }
    // Not an attachment of this ticket, or never linked: 404.
    let other = f.w.create(&cust, "Other").await;
    assert_err(
        f.download(&cust, &other.id, &g.attachment_id).await,
        404,
        "ATTACHMENT_NOT_FOUND",
    );
    let pending = f.upload(&cust, &t.id, "x.txt", "text/plain", b"x").await;
    assert_err(
        f.download(&cust, &t.id, &pending).await,
        404,
        "ATTACHMENT_NOT_FOUND",
    );
}

async fn the_policy_refuses_another_size_and_an_unlinked_size_is_refused(store: Store) {
    let f = fixture(store).await;
    let cust = f.w.customer("cust").await;
    let t = f.w.create(&cust, "t").await;
    let g = f
        .grant(&cust, &t.id, declared("a.txt", "text/plain", 5))
        .await;
    for wrong in [&b"123456789"[..], b"1234"] {
        let (status, body) = post_form(&f.http, &g.upload, wrong).await;
        assert_eq!(status, 400, "{body}");
        assert!(body.contains("EntityToo"), "{body}");
    }
    // Nothing was stored: linking it is a 400 that writes no comment.
    let e = assert_err(
        f.comment(&cust, &t.id, with(public("see"), &[&g.attachment_id]))
            .await,
        400,
        "VALIDATION_FAILED",
    );
    assert_eq!(e.field, Some("attachments"));
    assert!(f.comments_as(&cust, &t.id).await.is_empty());
    // Declared sizes: at least 1 byte, at most CRM_ATTACHMENT_MAX_BYTES.
    for size in [0, MaxBytes::default().bytes() + 1] {
        let e = assert_err(
            service::grant_upload(
                &f.w.ctx,
                &cust,
                &tid(&t.id),
                declared("a.txt", "text/plain", size),
            )
            .await,
            400,
            "VALIDATION_FAILED",
        );
        assert_eq!(e.field, Some("size"));
    }
    assert!(AttachmentSize::parse(MaxBytes::default().bytes(), MaxBytes::default()).is_ok());
}

async fn the_policy_refuses_another_type_and_only_allowed_types_are_granted(store: Store) {
    let f = fixture(store).await;
    let cust = f.w.customer("cust").await;
    let t = f.w.create(&cust, "t").await;
    let g = f
        .grant(&cust, &t.id, declared("a.png", "image/png", 3))
        .await;
    let mut fields: Vec<(String, String)> = g
        .upload
        .fields
        .0
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    for (k, v) in &mut fields {
        if k == "Content-Type" {
            *v = "text/html".into();
        }
    }
    let (status, body) =
        crm_tests::attach::post_fields(&f.http, &g.upload.url, fields, b"<b>").await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("Policy Condition failed"), "{body}");
    assert_err(
        f.comment(&cust, &t.id, with(public("see"), &[&g.attachment_id]))
            .await,
        400,
        "VALIDATION_FAILED",
    );
    // A type outside the allowed list is not granted at all.
    for bad in ["text/html", "application/x-msdownload", "image/svg+xml"] {
        assert_eq!(
            ContentType::parse(bad).map_err(|e| e.field),
            Err("contentType"),
            "{bad}"
        );
    }
}

async fn an_expired_grant_stores_nothing_and_nothing_can_be_linked(store: Store) {
    let f = fixture(store).await;
    let cust = f.w.customer("cust").await;
    let t = f.w.create(&cust, "t").await;
    let g = f
        .grant(&cust, &t.id, declared("a.txt", "text/plain", 3))
        .await;
    // The same upload, signed by the same files 16 minutes ago: its policy has expired.
    let Some(files) = f.w.ctx.files.as_ref() else {
        panic!("files")
    };
    let key = object_key(&tid(&t.id), &AttachmentId::parse(&g.attachment_id).unwrap());
    let late = files
        .upload_form(
            &key,
            AttachmentSize::parse(3, MaxBytes::default()).unwrap(),
            &ContentType::parse("text/plain").unwrap(),
            Timestamp::now().plus_seconds(-16 * 60),
        )
        .await
        .expect("the form");
    let (status, body) = post_form(&f.http, &late, b"abc").await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("Policy expired"), "{body}");
    assert_err(
        f.comment(&cust, &t.id, with(public("see"), &[&g.attachment_id]))
            .await,
        400,
        "VALIDATION_FAILED",
    );
    assert!(matches!(files, Files::S3 { .. }));
}

async fn only_the_uploaders_own_upload_to_this_ticket_is_linked_once(store: Store) {
    let f = fixture(store).await;
    let cust = f.w.customer("cust").await;
    let eng = f.w.engineer("eng1").await;
    let t = f.w.create(&cust, "t").await;
    let other = f.w.create(&cust, "other").await;
    let mine = f.upload(&cust, &t.id, "a.txt", "text/plain", b"abc").await;
    // Another user's upload.
    let e = assert_err(
        f.comment(&eng, &t.id, with(public("mine now"), &[&mine]))
            .await,
        400,
        "VALIDATION_FAILED",
    );
    assert!(
        e.message.contains("not an upload of yours"),
        "{}",
        e.message
    );
    // An upload to another ticket.
    assert_err(
        f.comment(&cust, &other.id, with(public("here?"), &[&mine]))
            .await,
        400,
        "VALIDATION_FAILED",
    );
    // An id no upload has.
    assert_err(
        f.comment(
            &cust,
            &t.id,
            with(public("?"), &[AttachmentId::new().as_str()]),
        )
        .await,
        400,
        "VALIDATION_FAILED",
    );
    assert!(f.comments_as(&cust, &t.id).await.is_empty());
    assert!(f.comments_as(&cust, &other.id).await.is_empty());
    // Linked once; a second link is refused and writes nothing.
    f.comment(&cust, &t.id, with(public("first"), &[&mine]))
        .await
        .expect("linked");
    let e = assert_err(
        f.comment(&cust, &t.id, with(public("again"), &[&mine]))
            .await,
        400,
        "VALIDATION_FAILED",
    );
    assert!(e.message.contains("already linked"), "{}", e.message);
    assert_eq!(f.comments_as(&cust, &t.id).await.len(), 1);
}

async fn unlinked_uploads_expire_after_24_hours(store: Store) {
    let f = fixture(store).await;
    let cust = f.w.customer("cust").await;
    let t = f.w.create(&cust, "t").await;
    let a = f.upload(&cust, &t.id, "a.txt", "text/plain", b"abc").await;
    f.w.ctx
        .clock
        .advance(ATTACHMENT_PENDING_SECONDS * 1000 + 1000);
    assert_err(
        f.comment(&cust, &t.id, with(public("late"), &[&a])).await,
        400,
        "VALIDATION_FAILED",
    );
    assert!(f.comments_as(&cust, &t.id).await.is_empty());
}

async fn who_may_attach_is_who_may_comment(store: Store) {
    let f = fixture(store).await;
    let cust = f.w.customer("cust").await;
    let stranger = f.w.customer("stranger").await;
    let follower = f.w.customer("follower").await;
    let t = f.w.create(&cust, "t").await;
    f.w.follow(&cust, &t.id, "follower").await;
    let a = || declared("a.txt", "text/plain", 3);
    assert_err(
        service::grant_upload(&f.w.ctx, &stranger, &tid(&t.id), a()).await,
        403,
        "FORBIDDEN",
    );
    assert_err(
        service::grant_upload(&f.w.ctx, &cust, &TicketId::new(), a()).await,
        404,
        "TICKET_NOT_FOUND",
    );
    // The reporter, a follower and staff may.
    for who in [&cust, &follower, &f.w.admin] {
        f.grant(who, &t.id, a()).await;
    }
}

async fn an_internal_notes_attachments_are_staff_only(store: Store) {
    let f = fixture(store).await;
    let cust = f.w.customer("cust").await;
    let eng = f.w.engineer("eng1").await;
    let follower = f.w.customer("follower").await;
    let staff_follower = f.w.engineer("eng2").await;
    let t = f.w.create(&cust, "t").await;
    assert_eq!(t.assignee.as_deref(), Some("eng1"));
    f.w.follow(&cust, &t.id, "follower").await;
    f.w.follow(&f.w.admin, &t.id, "eng2").await;
    let internal = f
        .upload(&eng, &t.id, "trace.txt", "text/plain", b"secret trace")
        .await;
    let public_file = f
        .upload(&cust, &t.id, "photo.png", "image/png", b"png")
        .await;
    f.comment(&eng, &t.id, with(note("Trace attached."), &[&internal]))
        .await
        .expect("the note");
    f.comment(&cust, &t.id, with(public("Photo."), &[&public_file]))
        .await
        .expect("the comment");
    for who in [&cust, &follower] {
        assert_err(f.download(who, &t.id, &internal).await, 403, "FORBIDDEN");
        let url = f.download(who, &t.id, &public_file).await.expect("public");
        assert_eq!(f.fetch(&url).await.3, b"png");
    }
    for who in [&eng, &staff_follower, &f.w.admin] {
        let url = f.download(who, &t.id, &internal).await.expect("staff");
        assert_eq!(f.fetch(&url).await.3, b"secret trace");
    }
    let stranger = f.w.customer("stranger").await;
    assert_err(
        f.download(&stranger, &t.id, &public_file).await,
        403,
        "FORBIDDEN",
    );
}

async fn file_names_with_separators_line_breaks_or_bidi_controls_are_refused(store: Store) {
    let f = fixture(store).await;
    let cust = f.w.customer("cust").await;
    let t = f.w.create(&cust, "t").await;
    for bad in [
        "../../etc/passwd",
        "a/b.txt",
        "a\\b.txt",
        "a\r\nSet-Cookie: x=y.txt",
        "a\nb.txt",
        "invoice\u{202E}fdp.exe",
        "a\u{2066}b.txt",
        "",
        "..",
    ] {
        assert_eq!(
            FileName::parse(bad).map_err(|e| e.field),
            Err("fileName"),
            "{bad:?}"
        );
    }
    // Nothing was granted for them: the ticket has no attachment to link.
    assert!(f.comments_as(&cust, &t.id).await.is_empty());
}

async fn a_file_name_reaches_the_download_header_escaped(store: Store) {
    let f = fixture(store).await;
    let cust = f.w.customer("cust").await;
    let t = f.w.create(&cust, "t").await;
    let name = "Rechnung \"März\"; filename=evil.exe ü.pdf";
    let a = f
        .upload(&cust, &t.id, name, "application/pdf", b"%PDF")
        .await;
    f.comment(&cust, &t.id, with(public("pdf"), &[&a]))
        .await
        .expect("linked");
    let url = f.download(&cust, &t.id, &a).await.expect("URL");
    let (status, disposition, content_type, bytes) = f.fetch(&url).await;
    assert_eq!(status, 200);
    assert_eq!(bytes, b"%PDF");
    assert_eq!(content_type.as_deref(), Some("application/pdf"));
    let d = disposition.expect("a disposition");
    assert_eq!(d, content_disposition(&FileName::parse(name).unwrap()));
    assert!(d.is_ascii() && !d.contains(['\r', '\n']), "{d:?}");
    assert!(!d.contains("filename=evil.exe"), "{d:?}");
}

/// SPEC §12 meets §13: a comment to a merged ticket goes to its target, but files are
/// granted to one ticket and shown by it, so such a comment with the source's uploads is
/// refused (409 TICKET_MERGED) and links nothing; the same upload is then still linkable
/// nowhere else, and a comment without files still reaches the target.
async fn a_comment_redirected_to_a_merge_target_refuses_the_sources_uploads(store: Store) {
    let f = fixture(store).await;
    let cust = f.w.customer("cust").await;
    f.w.engineer("eng1").await;
    let source = f.w.create(&cust, "source").await;
    let target = f.w.create(&cust, "target").await;
    let file = f
        .upload(&cust, &source.id, "a.txt", "text/plain", b"abc")
        .await;
    service::merge_ticket(&f.w.ctx, &f.w.admin, &tid(&source.id), &tid(&target.id))
        .await
        .expect("merge");
    assert_err(
        f.comment(&cust, &source.id, with(public("with the file"), &[&file]))
            .await,
        409,
        "TICKET_MERGED",
    );
    let c = f
        .comment(&cust, &source.id, public("without the file"))
        .await
        .expect("a comment without files reaches the target");
    assert_eq!(c.ticket_id, target.id);
    assert!(c.attachments.is_empty());
}
