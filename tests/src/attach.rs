//! Attachments' fixtures (SPEC §13): a fresh bucket on moto behind the POST-policy stand-in
//! (`s3_policy`) as a context's `Files`, the same files kept locally, and a form posted as a
//! browser posts it (reqwest's multipart, which no one here wrote).

use crate::s3_policy::{AccessKey, S3PolicyStandIn};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use crm_shared::attachments::download::HeadClient;
use crm_shared::attachments::files::Files;
use crm_shared::attachments::local::LocalSigner;
use crm_shared::attachments::location::{Bucket, BucketAddress, Endpoint};
use crm_shared::attachments::post_policy::PresignedPost;
use crm_shared::config::Secret;

/// The credentials the stand-in knows and the context signs with (moto's `testing`).
pub fn credentials() -> Credentials {
    Credentials::new("testing", "testing", None, None, "tests")
}

/// A fresh bucket on moto; its name.
pub async fn moto_bucket() -> String {
    let name = crate::unique("crm-attach").to_lowercase();
    let moto = crate::emulator::endpoint();
    // moto takes any signature; the header only names the account.
    let created = reqwest::Client::new()
        .put(format!("{}/{name}", moto.trim_end_matches('/')))
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0",
        )
        .send()
        .await
        .expect("creating the bucket");
    assert!(created.status().is_success(), "{}", created.status());
    name
}

/// The cloud path: a fresh bucket on moto, reached through the stand-in that enforces POST
/// policies. Keep the stand-in alive while the files are used.
pub async fn cloud_files() -> (Files, S3PolicyStandIn) {
    let standin = S3PolicyStandIn::start(vec![AccessKey {
        id: "testing".into(),
        secret: "testing".into(),
        session_token: None,
    }])
    .await;
    let name = moto_bucket().await;
    let bucket = BucketAddress::new(
        Bucket::parse(&name).expect("bucket name"),
        "us-east-1",
        Endpoint::parse_override(&standin.url).expect("stand-in URL"),
    )
    .expect("bucket address");
    let files = Files::S3 {
        bucket,
        credentials: SharedCredentialsProvider::new(credentials()),
        heads: HeadClient::for_function().expect("the HEAD client"),
    };
    (files, standin)
}

/// Local files under `data_dir` (the HEAD of the linking step reads them there), signed with
/// `secret`, their URLs naming `origin`.
pub fn local_files(secret: &str, data_dir: std::path::PathBuf, origin: &str) -> Files {
    Files::Local {
        signer: LocalSigner::new(&Secret::new(secret)),
        data_dir,
        origin: origin.to_owned(),
    }
}

/// Posts an upload form as a browser does: every field, then the file; the status and body.
pub async fn post_form(http: &reqwest::Client, post: &PresignedPost, file: &[u8]) -> (u16, String) {
    post_fields(
        http,
        &post.url,
        post.fields
            .0
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone())),
        file,
    )
    .await
}

/// Posts these fields, then the file.
pub async fn post_fields(
    http: &reqwest::Client,
    url: &str,
    fields: impl IntoIterator<Item = (String, String)>,
    file: &[u8],
) -> (u16, String) {
    let mut form = reqwest::multipart::Form::new();
    for (k, v) in fields {
        form = form.text(k, v);
    }
    form = form.part(
        "file",
        reqwest::multipart::Part::bytes(file.to_vec()).file_name("upload.bin"),
    );
    let resp = http
        .post(url)
        .multipart(form)
        .send()
        .await
        .expect("posting the form");
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap_or_default())
}
