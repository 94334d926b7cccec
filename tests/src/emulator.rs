//! The AWS emulator (moto in server mode) that `scripts/test` starts on a loopback port and
//! announces through AWS_ENDPOINT_URL. Tests that need it fail loudly when it is missing.

use std::time::Duration;

/// The emulator's URL; panics (fails the test) when it is not configured or not answering.
pub fn endpoint() -> String {
    let url = std::env::var("AWS_ENDPOINT_URL").unwrap_or_else(|_| {
        panic!("AWS_ENDPOINT_URL is not set: these tests need the moto emulator that scripts/test starts")
    });
    let addr = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let sock: std::net::SocketAddr = addr
        .parse()
        .unwrap_or_else(|_| panic!("AWS_ENDPOINT_URL must be http://127.0.0.1:<port>, got {url}"));
    std::net::TcpStream::connect_timeout(&sock, Duration::from_secs(2))
        .unwrap_or_else(|e| panic!("the emulator at {url} is not answering: {e}"));
    url
}

/// Environment for a child process talking to the emulator.
pub fn env() -> Vec<(String, String)> {
    let url = endpoint();
    [
        ("AWS_ENDPOINT_URL", url.as_str()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// An SDK configuration pointed at the emulator, with dummy credentials.
pub async fn sdk_config() -> aws_config::SdkConfig {
    let url = endpoint();
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(url)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_credential_types::Credentials::new(
            "testing", "testing", None, None, "tests",
        ))
        .load()
        .await
}

/// A store on a fresh, uniquely named table in the emulator.
pub async fn dynamo_store() -> crm_shared::store::Store {
    let sdk = sdk_config().await;
    let table = crate::unique("crm-test");
    let b = crm_shared::store::DynamoBackend::new(aws_sdk_dynamodb::Client::new(&sdk), table);
    b.ensure_table()
        .await
        .expect("creating the test table on the emulator");
    crm_shared::store::Store::dynamo(b)
}

/// A store on a fresh SQLite file in a temp dir.
pub fn sqlite_store() -> crm_shared::store::Store {
    let dir = crate::server::temp_dir("crm-store");
    let b = crm_shared::store::SqliteBackend::open(&dir.join("crm.sqlite3")).expect("sqlite store");
    crm_shared::store::Store::sqlite(b)
}
