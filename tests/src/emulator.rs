//! The AWS emulators that `scripts/test` starts on loopback ports: moto in server mode (SQS,
//! SES v2, SSM) announced through AWS_ENDPOINT_URL, and Amazon's DynamoDB Local announced
//! through the SDK's per-service override AWS_ENDPOINT_URL_DYNAMODB; plus a private DynamoDB
//! Local for a test that kills its table (`DynamoDbLocal`). Tests that need them fail loudly
//! when they are missing.

use std::time::Duration;

/// moto's URL; panics (fails the test) when it is not configured or not answering.
pub fn endpoint() -> String {
    checked_endpoint("AWS_ENDPOINT_URL", "the moto emulator (SQS, SES v2, SSM)")
}

/// DynamoDB Local's URL; panics (fails the test) when it is not configured or not answering.
pub fn dynamodb_endpoint() -> String {
    checked_endpoint("AWS_ENDPOINT_URL_DYNAMODB", "DynamoDB Local")
}

fn checked_endpoint(var: &str, what: &str) -> String {
    let url = std::env::var(var).unwrap_or_else(|_| {
        panic!("{var} is not set: these tests need {what}, which scripts/test starts")
    });
    let addr = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let sock: std::net::SocketAddr = addr
        .parse()
        .unwrap_or_else(|_| panic!("{var} must be http://127.0.0.1:<port>, got {url}"));
    std::net::TcpStream::connect_timeout(&sock, Duration::from_secs(2))
        .unwrap_or_else(|e| panic!("{what} at {url} is not answering: {e}"));
    url
}

/// Environment for a child process talking to the emulators: DynamoDB to DynamoDB Local,
/// every other service to moto, as the SDK resolves them.
pub fn env() -> Vec<(String, String)> {
    let url = endpoint();
    let dynamodb = dynamodb_endpoint();
    [
        ("AWS_ENDPOINT_URL", url.as_str()),
        ("AWS_ENDPOINT_URL_DYNAMODB", dynamodb.as_str()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// An SDK configuration for the emulators, with dummy credentials: the endpoints come from
/// the environment (both checked first), as in the product, so a DynamoDB client built from
/// it talks to DynamoDB Local and an SQS, SES or SSM client to moto.
pub async fn sdk_config() -> aws_config::SdkConfig {
    endpoint();
    dynamodb_endpoint();
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(crm_shared::cloud::https_client())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_credential_types::Credentials::new(
            "testing", "testing", None, None, "tests",
        ))
        .load()
        .await
}

/// An SDK configuration pointed at `url` for every service, with dummy credentials.
pub async fn sdk_config_for(url: String) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(crm_shared::cloud::https_client())
        .endpoint_url(url)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_credential_types::Credentials::new(
            "testing", "testing", None, None, "tests",
        ))
        .load()
        .await
}

/// A store on a fresh, uniquely named table in DynamoDB Local.
pub async fn dynamo_store() -> crm_shared::store::Store {
    store_on(sdk_config_for(dynamodb_endpoint()).await).await
}

async fn store_on(sdk: aws_config::SdkConfig) -> crm_shared::store::Store {
    let table = crate::unique("crm-test");
    let b = crm_shared::store::DynamoBackend::new(aws_sdk_dynamodb::Client::new(&sdk), table);
    b.ensure_table()
        .await
        .expect("creating the test table on DynamoDB Local");
    crm_shared::store::Store::dynamo(b)
}

/// A store on a fresh SQLite file in a temp dir.
pub fn sqlite_store() -> crm_shared::store::Store {
    let dir = crate::server::temp_dir("crm-store");
    let b = crm_embedded::SqliteBackend::open(&dir.join("crm.sqlite3")).expect("sqlite store");
    crm_shared::store::Store::plugged(b)
}

/// A DynamoDB Local of the calling test's own (in memory, on a free loopback port), for a
/// test that kills its table for real; started from the unpacked package that scripts/test
/// announces in CRM_DYNAMODB_LOCAL_LIB (the directory of DynamoDBLocal.jar), with Java from
/// PATH. Killed when dropped. Panics (fails the test) when it cannot start.
pub struct DynamoDbLocal {
    /// `127.0.0.1:<port>`.
    pub addr: String,
    child: std::process::Child,
}

impl DynamoDbLocal {
    pub fn start() -> DynamoDbLocal {
        use std::process::{Command, Stdio};
        let lib = std::env::var_os("CRM_DYNAMODB_LOCAL_LIB")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| {
                panic!("CRM_DYNAMODB_LOCAL_LIB is not set: this test starts a DynamoDB Local of its own from the package scripts/test installs")
            });
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let log = std::env::temp_dir()
            .join(crate::unique("dynamodb-local"))
            .with_extension("log");
        let out = std::fs::File::create(&log).expect("DynamoDB Local log file");
        let err = out.try_clone().expect("DynamoDB Local log file");
        let mut child = Command::new("java")
            .arg(format!(
                "-Djava.library.path={}",
                lib.join("DynamoDBLocal_lib").display()
            ))
            .arg("-jar")
            .arg(lib.join("DynamoDBLocal.jar"))
            .args([
                "-inMemory",
                "-sharedDb",
                "-disableTelemetry",
                "-port",
                &port.to_string(),
            ])
            // It writes a metadata file into its working directory.
            .current_dir(std::env::temp_dir())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("starting DynamoDB Local (java): {e}"));
        let addr = format!("127.0.0.1:{port}");
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(&addr).is_err() {
            let exited = child.try_wait().ok().flatten().is_some();
            if exited || std::time::Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "DynamoDB Local did not start; its log ({}):\n{}",
                    log.display(),
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        DynamoDbLocal { addr, child }
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for DynamoDbLocal {
    fn drop(&mut self) {
        self.kill();
    }
}
