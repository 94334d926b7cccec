//! Attachments over HTTP on whichever shape the suite drives (SPEC §13): through `crm serve`
//! the files go to its own `/files`; on the Lambda shape (`CRM_TEST_TARGET=lambda`) the tickets
//! function presigns for the stack's bucket on moto. Either way a file declared, posted as a
//! form, linked on a comment and fetched through the `302` comes back byte for byte, as an
//! attachment of its type. (The local path's refusals are `serve::attachments`; the cloud
//! path's, with S3's POST-policy checks, tests/tests/service/tickets/attachments.rs.)

use super::desk::{HttpDesk, id_of};
use crm_shared::attachments::{FileName, content_disposition};
use serde_json::json;

#[tokio::test]
async fn a_file_goes_up_and_comes_back_through_the_api() {
    let d = HttpDesk::new().await;
    let cust = d.customer("cust").await;
    let t = id_of(&d.create(&cust, "Scanner jams").await);
    let bytes: Vec<u8> = (0..=255u8).rev().cycle().take(2048).collect();
    let r =
        d.c.post(
            &format!("/tickets/{t}/attachments"),
            &cust,
            json!({"fileName": "scan log.txt", "contentType": "text/plain", "size": 2048}),
        )
        .await;
    r.expect(201);
    let up = &r.data()["upload"];
    let fields: Vec<(String, String)> = up["fields"]
        .as_object()
        .expect("fields")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().expect("a string").to_owned()))
        .collect();
    let (status, body) = crm_tests::attach::post_fields(
        &reqwest::Client::new(),
        up["url"].as_str().expect("url"),
        fields,
        &bytes,
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let id = r.data()["attachmentId"].as_str().unwrap().to_owned();
    let c =
        d.c.post(
            &format!("/tickets/{t}/comments"),
            &cust,
            json!({"body": "The log.", "attachments": [id]}),
        )
        .await;
    c.expect(201);
    assert_eq!(c.data()["attachments"][0]["size"], 2048);

    let resp = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/tickets/{t}/attachments/{id}", d.c.base()))
        .header("x-access-token", &cust)
        .send()
        .await
        .expect("GET");
    assert_eq!(resp.status(), 302, "{:?}", resp.headers());
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    let file = reqwest::get(&location).await.expect("the file");
    assert_eq!(file.status(), 200);
    assert_eq!(file.headers()["content-type"], "text/plain");
    assert_eq!(
        file.headers()["content-disposition"].to_str().unwrap(),
        content_disposition(&FileName::parse("scan log.txt").unwrap())
    );
    assert_eq!(file.bytes().await.unwrap().to_vec(), bytes);
}
