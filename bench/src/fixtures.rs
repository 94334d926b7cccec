//! What the sections share: a context over either backend, users made straight in the
//! store, tokens, in-process requests through the same glue the Lambdas and `crm serve`
//! use, and the emulator's SDK configuration.

use crm_embedded::SqliteBackend;
use crm_shared::config::Secret;
use crm_shared::http::{ApiResponse, Router, answer};
use crm_shared::model::{Email, Name, Timestamp, UserId, UserStatus, UserType};
use crm_shared::service::Ctx;
use crm_shared::store::{DynamoBackend, Store, UserRecord};
use http::{HeaderValue, Method};
use serde_json::Value;
use std::path::{Path, PathBuf};

pub const PASSWORD: &str = "crmService@1";
pub const SECRET: &str = "crm-bench-secret-0123456789abcdef0123456789abcdef";
/// bcrypt cost for the users the bench makes (the cost itself is measured on its own).
pub const BENCH_COST: u32 = 4;

pub fn secret() -> Secret {
    Secret::new(SECRET)
}

pub fn ctx(store: Store) -> Ctx {
    Ctx::new(store, &secret(), 3600, BENCH_COST)
}

/// One bcrypt hash of PASSWORD at BENCH_COST, shared by every user the bench makes.
pub async fn password_hash() -> &'static str {
    static HASH: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    HASH.get_or_init(|| async {
        let pw = crm_shared::model::Password::parse(PASSWORD).expect("the bench password is valid");
        crm_shared::auth::PasswordHasher::new(BENCH_COST)
            .hash(&pw)
            .await
            .expect("bcrypt")
    })
    .await
}

/// A user record (approved, unless an engineer should wait), not yet stored.
pub async fn user(id: &str, t: UserType, status: UserStatus) -> UserRecord {
    let hash = password_hash().await.to_owned();
    UserRecord::new(
        UserId::parse(id).expect("bench user id"),
        Name::parse(id).expect("bench name"),
        Email::parse(&format!("{}@bench.example", id.to_lowercase())).expect("bench email"),
        t,
        status,
        hash,
        Timestamp::now(),
    )
}

/// Stores an approved user of this type straight in the store.
pub async fn put_user(store: &Store, id: &str, t: UserType) -> anyhow::Result<UserRecord> {
    let u = user(id, t, UserStatus::Approved).await;
    store
        .create_user(&u)
        .await
        .map_err(|e| anyhow::anyhow!("creating {id}: {e}"))?;
    Ok(u)
}

pub fn token(ctx: &Ctx, id: &str, t: UserType) -> String {
    ctx.tokens
        .issue(
            &UserId::parse(id).expect("bench user id"),
            t,
            Timestamp::now(),
        )
        .expect("signing a token")
}

/// A request as the API reads one.
pub type Request = http::Request<http_body_util::Full<bytes::Bytes>>;

/// A request under the API's base path.
pub fn request(method: Method, path: &str, token: Option<&str>, body: Option<&Value>) -> Request {
    let json = body.is_some();
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut r = http::Request::new(http_body_util::Full::new(bytes::Bytes::from(body)));
    *r.method_mut() = method;
    if let Ok(uri) = format!("{}{path}", crm_shared::http::BASE_PATH).parse() {
        *r.uri_mut() = uri;
    }
    if let Some(t) = token
        && let Ok(v) = HeaderValue::from_str(t)
    {
        r.headers_mut().insert("x-access-token", v);
    }
    if json {
        r.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    r
}

/// Every function's routes, built once.
fn routes() -> &'static Router {
    static ROUTES: std::sync::OnceLock<Router> = std::sync::OnceLock::new();
    ROUTES.get_or_init(crm::router)
}

/// Serves one request in-process the way the owning function would (the pipeline of the
/// `Api` service every Lambda and `crm serve` run).
pub async fn call(ctx: &Ctx, req: Request) -> ApiResponse {
    answer(ctx, routes(), req).await
}

/// `call`, checking the status; returns the body as JSON.
pub async fn call_ok(ctx: &Ctx, req: Request, want: u16) -> anyhow::Result<Value> {
    let what = format!("{} {}", req.method(), req.uri().path());
    let r = call(ctx, req).await;
    let body: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
    anyhow::ensure!(
        r.status.as_u16() == want,
        "{what}: status {} (wanted {want}): {body}",
        r.status
    );
    Ok(body)
}

/// A fresh SQLite store in `dir`.
pub fn sqlite_store(dir: &Path) -> anyhow::Result<Store> {
    std::fs::create_dir_all(dir)?;
    let b = SqliteBackend::open(&dir.join("crm.sqlite3"))
        .map_err(|e| anyhow::anyhow!("opening sqlite in {}: {e}", dir.display()))?;
    Ok(Store::plugged(b))
}

/// An SDK configuration for the emulator (or the counting proxy in front of it).
pub async fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(crm_shared::cloud::https_client())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_credential_types::Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "crm-bench",
        ))
        .load()
        .await
}

/// A store on `table` through `endpoint`, creating the table when needed (the creation goes
/// through `admin_endpoint`, so it is not counted).
pub async fn dynamo_store(
    endpoint: &str,
    admin_endpoint: &str,
    table: &str,
) -> anyhow::Result<Store> {
    let admin = DynamoBackend::new(
        aws_sdk_dynamodb::Client::new(&sdk_config(admin_endpoint).await),
        table,
    );
    admin
        .ensure_table()
        .await
        .map_err(|e| anyhow::anyhow!("creating table {table}: {e}"))?;
    Ok(Store::dynamo(DynamoBackend::new(
        aws_sdk_dynamodb::Client::new(&sdk_config(endpoint).await),
        table,
    )))
}

/// Creates an SQS queue on the emulator; returns its URL.
pub async fn queue(endpoint: &str, name: &str) -> anyhow::Result<String> {
    let sqs = aws_sdk_sqs::Client::new(&sdk_config(endpoint).await);
    let out = sqs.create_queue().queue_name(name).send().await?;
    out.queue_url
        .ok_or_else(|| anyhow::anyhow!("create_queue gave no URL"))
}

/// A unique name with this prefix.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        crm_shared::model::new_ulid().to_string().to_lowercase()
    )
}

/// A scratch directory for this run (removed by `Scratch::drop`).
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(prefix: &str) -> anyhow::Result<Self> {
        let p = std::env::temp_dir().join(unique(prefix));
        std::fs::create_dir_all(&p)?;
        Ok(Self(p))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
