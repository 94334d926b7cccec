//! Attachments through `crm serve` (SPEC §13, the local path): the two steps over real
//! sockets, as a newcomer runs them with curl: the upload grant, the form posted to the
//! server's own `/files` (multipart, fields then the file), the comment that links it, the
//! `302` to a signed, expiring download URL served from the data dir. Its grants are the
//! server's own, so they are forged here with the server's secret to test expiry and
//! tampering. (The cloud path, on moto behind the POST-policy stand-in, is
//! tests/tests/service/tickets/attachments.rs.)

use crate::tickets::desk::{HttpDesk, assert_error, assert_invalid, id_of};
use crm_shared::attachments::local::{Grant, LocalSigner, Method};
use crm_shared::attachments::{AttachmentId, FileName, content_disposition, object_key};
use crm_shared::config::Secret;
use crm_shared::model::{TicketId, Timestamp};
use crm_tests::attach::post_fields;
use serde_json::{Value, json};

const SECRET: &str = "serve-attachments-secret-0123456789abcdef";

async fn desk() -> HttpDesk {
    HttpDesk::with_env(&[("CRM_JWT_SECRET", SECRET)]).await
}

/// A client that does not follow redirects (to see the `302`).
fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

fn fields_of(upload: &Value) -> Vec<(String, String)> {
    upload["fields"]
        .as_object()
        .expect("fields")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().expect("a string field").to_owned()))
        .collect()
}

async fn grant(d: &HttpDesk, token: &str, ticket: &str, body: Value) -> crm_tests::Resp {
    d.c.post(&format!("/tickets/{ticket}/attachments"), token, body)
        .await
}

/// Grants and uploads `bytes`: the attachment id.
async fn upload(
    d: &HttpDesk,
    token: &str,
    ticket: &str,
    name: &str,
    ct: &str,
    bytes: &[u8],
) -> String {
    let r = grant(
        d,
        token,
        ticket,
        json!({"fileName": name, "contentType": ct, "size": bytes.len()}),
    )
    .await;
    r.expect(201);
    let up = &r.data()["upload"];
    let (status, body) = post_fields(
        &reqwest::Client::new(),
        up["url"].as_str().expect("url"),
        fields_of(up),
        bytes,
    )
    .await;
    assert_eq!(status, 204, "{body}");
    r.data()["attachmentId"].as_str().expect("id").to_owned()
}

async fn comment(d: &HttpDesk, token: &str, ticket: &str, body: Value) -> crm_tests::Resp {
    d.c.post(&format!("/tickets/{ticket}/comments"), token, body)
        .await
}

/// The download: the `302`'s Location.
async fn location(d: &HttpDesk, token: &str, ticket: &str, id: &str) -> (u16, Option<String>) {
    let resp = no_redirects()
        .get(format!("{}/tickets/{ticket}/attachments/{id}", d.c.base()))
        .header("x-access-token", token)
        .send()
        .await
        .expect("GET");
    let loc = resp
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (resp.status().as_u16(), loc)
}

async fn fetch(url: &str) -> reqwest::Response {
    reqwest::get(url).await.expect("GET the file")
}

#[tokio::test]
async fn a_file_is_uploaded_linked_and_downloaded_with_its_bytes_name_and_type() {
    let d = desk().await;
    let cust = d.customer("cust").await;
    let t = id_of(&d.create(&cust, "Printer shows error 254").await);
    let bytes: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
    let r = grant(
        &d,
        &cust,
        &t,
        json!({"fileName": "display.png", "contentType": "image/png", "size": 5000}),
    )
    .await;
    r.expect(201);
    let data = r.data();
    let mut keys: Vec<&str> = data
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["attachmentId", "expiresAt", "upload"]);
    let id = data["attachmentId"].as_str().unwrap().to_owned();
    let url = data["upload"]["url"].as_str().unwrap();
    assert_eq!(url, format!("{}/files", d.server.url.trim_end_matches('/')));
    let (status, body) = post_fields(
        &reqwest::Client::new(),
        url,
        fields_of(&data["upload"]),
        &bytes,
    )
    .await;
    assert_eq!(status, 204, "{body}");
    // The file is under the data dir, named by the ids only, the owner's alone.
    let path = d.server.data_dir.join(object_key(
        &TicketId::parse(&t).unwrap(),
        &AttachmentId::parse(&id).unwrap(),
    ));
    assert_eq!(std::fs::read(&path).expect("stored"), bytes);
    // The same grant again: a stored file never changes.
    let (status, body) = post_fields(
        &reqwest::Client::new(),
        url,
        fields_of(&data["upload"]),
        &vec![0u8; 5000],
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(std::fs::read(&path).expect("stored"), bytes);

    let c = comment(
        &d,
        &cust,
        &t,
        json!({"body": "The display.", "attachments": [id]}),
    )
    .await;
    c.expect(201);
    assert_eq!(
        c.data()["attachments"],
        json!([{"attachmentId": id, "fileName": "display.png", "contentType": "image/png", "size": 5000}])
    );
    let listed = d.c.get(&format!("/tickets/{t}/comments"), &cust).await;
    assert_eq!(listed.data()[0]["attachments"], c.data()["attachments"]);

    let (status, loc) = location(&d, &cust, &t, &id).await;
    assert_eq!(status, 302);
    let loc = loc.expect("a Location");
    assert!(
        loc.starts_with(&format!(
            "{}/files/attachments/",
            d.server.url.trim_end_matches('/')
        )),
        "{loc}"
    );
    let resp = fetch(&loc).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "image/png");
    assert_eq!(
        resp.headers()["content-disposition"].to_str().unwrap(),
        content_disposition(&FileName::parse("display.png").unwrap())
    );
    assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
    assert_eq!(resp.bytes().await.unwrap().to_vec(), bytes);
    // Linked once only.
    let again = comment(
        &d,
        &cust,
        &t,
        json!({"body": "Again.", "attachments": [id]}),
    )
    .await;
    assert_invalid(&again, "attachments");
}

#[tokio::test]
async fn a_file_of_another_size_or_type_is_refused_and_cannot_be_linked() {
    let d = desk().await;
    let cust = d.customer("cust").await;
    let t = id_of(&d.create(&cust, "t").await);
    let r = grant(
        &d,
        &cust,
        &t,
        json!({"fileName": "a.txt", "contentType": "text/plain", "size": 5}),
    )
    .await;
    r.expect(201);
    let up = &r.data()["upload"];
    let url = up["url"].as_str().unwrap();
    let http = reqwest::Client::new();
    for wrong in [&b"123456789"[..], b"1234"] {
        let (status, body) = post_fields(&http, url, fields_of(up), wrong).await;
        assert_eq!(status, 400, "{body}");
    }
    let mut other_type = fields_of(up);
    for (k, v) in &mut other_type {
        if k.eq_ignore_ascii_case("content-type") {
            *v = "text/html".into();
        }
    }
    let (status, body) = post_fields(&http, url, other_type, b"12345").await;
    assert_eq!(status, 403, "{body}");
    let id = r.data()["attachmentId"].as_str().unwrap();
    let c = comment(&d, &cust, &t, json!({"body": "see", "attachments": [id]})).await;
    assert_invalid(&c, "attachments");
    assert_eq!(
        d.c.get(&format!("/tickets/{t}/comments"), &cust).await.body["documentResultsCount"],
        0
    );
}

#[tokio::test]
async fn an_expired_or_tampered_grant_stores_and_serves_nothing() {
    let d = desk().await;
    let cust = d.customer("cust").await;
    let t = id_of(&d.create(&cust, "t").await);
    let signer = LocalSigner::new(&Secret::new(SECRET));
    let key = object_key(&TicketId::parse(&t).unwrap(), &AttachmentId::new());
    let base = d.server.url.trim_end_matches('/').to_owned();
    let expired = Grant {
        method: Method::Upload,
        key: key.clone(),
        size: 3,
        content_type: "text/plain".into(),
        disposition: String::new(),
        expires: Timestamp::now().plus_seconds(-1),
    };
    let form = signer.upload_form(&format!("{base}/files"), &expired);
    let fields: Vec<(String, String)> = form
        .fields
        .0
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    let (status, body) = post_fields(&reqwest::Client::new(), &form.url, fields, b"abc").await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("expired"), "{body}");
    // Another secret's grant.
    let foreign = LocalSigner::new(&Secret::new("another-secret-0123456789abcdef-0123456"));
    let live = Grant {
        expires: Timestamp::now().plus_seconds(600),
        ..expired
    };
    let form = foreign.upload_form(&format!("{base}/files"), &live);
    let fields: Vec<(String, String)> = form
        .fields
        .0
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    let (status, _) = post_fields(&reqwest::Client::new(), &form.url, fields, b"abc").await;
    assert_eq!(status, 403);
    assert!(!d.server.data_dir.join(&key).exists());

    // A real download URL, then the same with another name or past its time.
    let id = upload(&d, &cust, &t, "a.txt", "text/plain", b"abc").await;
    comment(&d, &cust, &t, json!({"body": "x", "attachments": [id]}))
        .await
        .expect(201);
    let (_, loc) = location(&d, &cust, &t, &id).await;
    let loc = loc.unwrap();
    assert_eq!(fetch(&loc).await.status(), 200);
    let renamed = loc.replace("a.txt", "b.exe");
    assert_ne!(renamed, loc);
    assert_eq!(fetch(&renamed).await.status(), 403);
    let key = object_key(
        &TicketId::parse(&t).unwrap(),
        &AttachmentId::parse(&id).unwrap(),
    );
    let old = Grant {
        method: Method::Download,
        key,
        size: 3,
        content_type: "text/plain".into(),
        disposition: "attachment".into(),
        expires: Timestamp::now().plus_seconds(-1),
    };
    let r = fetch(&signer.download_url(&format!("{base}/files/"), &old)).await;
    assert_eq!(r.status(), 403);
    assert_eq!(
        fetch(&format!("{base}/files/{}", old.key)).await.status(),
        403
    );
}

#[tokio::test]
async fn only_the_uploader_links_and_an_internal_notes_file_is_staff_only() {
    let d = desk().await;
    let cust = d.customer("cust").await;
    let eng = d.engineer("eng1").await;
    let stranger = d.customer("stranger").await;
    let t = id_of(&d.create(&cust, "t").await);
    let mine = upload(&d, &cust, &t, "a.txt", "text/plain", b"abc").await;
    let c = comment(&d, &eng, &t, json!({"body": "mine", "attachments": [mine]})).await;
    assert_invalid(&c, "attachments");
    let trace = upload(&d, &eng, &t, "trace.txt", "text/plain", b"trace").await;
    comment(
        &d,
        &eng,
        &t,
        json!({"body": "note", "internal": true, "attachments": [trace]}),
    )
    .await
    .expect(201);
    let (status, _) = location(&d, &cust, &t, &trace).await;
    assert_eq!(status, 403);
    let (status, loc) = location(&d, &eng, &t, &trace).await;
    assert_eq!(status, 302);
    assert_eq!(
        fetch(&loc.unwrap()).await.bytes().await.unwrap().as_ref(),
        b"trace"
    );
    let (status, _) = location(&d, &stranger, &t, &trace).await;
    assert_eq!(status, 403);
    assert_error(
        &grant(
            &d,
            &stranger,
            &t,
            json!({"fileName": "a.txt", "contentType": "text/plain", "size": 1}),
        )
        .await,
        403,
        "FORBIDDEN",
    );
    let (status, _) = location(&d, &cust, &t, &mine).await;
    assert_eq!(status, 404, "an upload not linked is no attachment yet");
}

#[tokio::test]
async fn every_bad_declaration_or_link_is_a_400_that_changes_nothing() {
    let d = desk().await;
    let cust = d.customer("cust").await;
    let t = id_of(&d.create(&cust, "t").await);
    let ok = json!({"fileName": "a.txt", "contentType": "text/plain", "size": 3});
    let with = |k: &str, v: Value| {
        let mut b = ok.clone();
        b[k] = v;
        b
    };
    for (body, field) in [
        (with("fileName", json!("../../etc/passwd")), "fileName"),
        (with("fileName", json!("a\\b.txt")), "fileName"),
        (with("fileName", json!("a\r\nSet-Cookie: x=1")), "fileName"),
        (
            with("fileName", json!("invoice\u{202E}fdp.exe")),
            "fileName",
        ),
        (with("fileName", json!("")), "fileName"),
        (with("fileName", json!(7)), "fileName"),
        (with("contentType", json!("text/html")), "contentType"),
        (with("contentType", json!("image/svg+xml")), "contentType"),
        (with("size", json!(0)), "size"),
        (with("size", json!(-1)), "size"),
        (with("size", json!("3")), "size"),
        (with("size", json!(10 * 1024 * 1024 + 1)), "size"),
        (
            json!({"fileName": "a.txt", "contentType": "text/plain"}),
            "size",
        ),
    ] {
        let r = grant(&d, &cust, &t, body.clone()).await;
        assert_invalid(&r, field);
    }
    let (status, _) = location(&d, &cust, &t, "not-an-id").await;
    assert_eq!(status, 400);
    let eleven: Vec<String> = (0..11).map(|_| AttachmentId::new().to_string()).collect();
    let one = AttachmentId::new().to_string();
    for attachments in [
        json!("x"),
        json!(["not-an-id"]),
        json!(eleven),
        json!([one, one]),
        json!([AttachmentId::new().to_string()]),
    ] {
        let r = comment(
            &d,
            &cust,
            &t,
            json!({"body": "x", "attachments": attachments}),
        )
        .await;
        assert_invalid(&r, "attachments");
    }
    assert_eq!(
        d.c.get(&format!("/tickets/{t}/comments"), &cust).await.body["documentResultsCount"],
        0
    );
    // Paths under /files that are not a file's.
    for path in [
        "/files/",
        "/files/attachments/x/y?size=1",
        "/files/../crm.sqlite3",
    ] {
        let r = reqwest::get(format!("{}{path}", d.server.url.trim_end_matches('/')))
            .await
            .unwrap();
        assert!(
            matches!(r.status().as_u16(), 403 | 404),
            "{path}: {}",
            r.status()
        );
    }
}
