//! The AWS emulator (moto in server mode) that `scripts/test` starts on a loopback port and
//! announces through AWS_ENDPOINT_URL, and a serialized one of our own for concurrency tests
//! (`serialized_endpoint`). Tests that need them fail loudly when they are missing.

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
    sdk_config_for(endpoint()).await
}

/// An SDK configuration pointed at `url`, with dummy credentials.
pub async fn sdk_config_for(url: String) -> aws_config::SdkConfig {
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
    store_on(sdk_config().await).await
}

/// A store on a fresh table in this process's serialized emulator (`serialized_endpoint`),
/// for tests that fire concurrent transactions.
pub async fn serialized_dynamo_store() -> crm_shared::store::Store {
    store_on(sdk_config_for(serialized_endpoint()).await).await
}

async fn store_on(sdk: aws_config::SdkConfig) -> crm_shared::store::Store {
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

/// The test venv (moto[server] is installed there): $CRM_VENV (scripts/test exports it),
/// else $CRM_CACHE_DIR/venv, else the workspace's .cache/venv. Panics when missing.
pub fn venv_python() -> std::path::PathBuf {
    use std::path::PathBuf;
    let venv = std::env::var_os("CRM_VENV")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("CRM_CACHE_DIR").map(|d| PathBuf::from(d).join("venv")))
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.cache/venv"));
    let py = venv.join("bin/python");
    assert!(
        py.exists(),
        "the test venv's python is missing at {} (run scripts/test, which installs it, or set CRM_VENV)",
        py.display()
    );
    py
}

/// moto's server app behind one lock: requests are handled one at a time. Exits when its
/// standard input closes, that is when the test process that started it ends.
pub const SERIALIZED_MOTO: &str = r#"
import os, sys, threading
from werkzeug.serving import make_server
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication, MotoRequestHandler, create_backend_app)

app = DomainDispatcherApplication(create_backend_app)
lock = threading.Lock()

def serialized(environ, start_response):
    with lock:
        return list(app(environ, start_response))

def exit_with_parent():
    sys.stdin.read()
    os._exit(0)

server = make_server("127.0.0.1", 0, serialized, threaded=True,
                     request_handler=MotoRequestHandler)
os.environ["MOTO_PORT"] = str(server.server_port)
threading.Thread(target=exit_with_parent, daemon=True).start()
print(server.server_port, flush=True)
server.serve_forever()
"#;

/// A second moto, private to this test process, that handles one request at a time; started
/// on first use from the test venv. Stock moto (5.2.5) runs requests on parallel threads
/// and its TransactWriteItems is not isolated: it checks conditions and writes without a
/// lock and, on a cancelled transaction, restores a copy of the whole table taken before it
/// began, undoing other requests' writes. So concurrent transactions on it can both
/// succeed, or a cancelled one can leave items behind; DynamoDB serializes them. Concurrency
/// tests of the DynamoDB backend run here. Panics (fails the test) when it cannot start.
pub fn serialized_endpoint() -> String {
    use std::io::BufRead;
    use std::process::{Child, Command, Stdio};
    use std::sync::{Mutex, OnceLock};
    static SERVER: OnceLock<(String, Mutex<Child>)> = OnceLock::new();
    let (url, _) = SERVER.get_or_init(|| {
        let log = std::env::temp_dir()
            .join(crate::unique("moto-serialized"))
            .with_extension("log");
        let stderr = std::fs::File::create(&log).expect("moto log file");
        let mut child = Command::new(venv_python())
            .arg("-c")
            .arg(SERIALIZED_MOTO)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("starting the serialized moto: {e}"));
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = std::io::BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(Duration::from_secs(60)).unwrap_or_default();
        let port: u16 = line.trim().parse().unwrap_or_else(|_| {
            let _ = child.kill();
            panic!(
                "the serialized moto did not start; its log ({}):\n{}",
                log.display(),
                std::fs::read_to_string(&log).unwrap_or_default()
            )
        });
        // The child (and the pipe to its stdin) lives as long as this process.
        (format!("http://127.0.0.1:{port}"), Mutex::new(child))
    });
    url.clone()
}
