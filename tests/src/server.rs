//! Spawns the real `crm` binary (`crm serve --port 0`) and waits for its
//! `listening on http://127.0.0.1:<port>` line. Dropping the `Server` kills the process and
//! removes its data dir (unless kept for a restart).
//!
//! With `CRM_TEST_TARGET=lambda` it starts the deployed shape instead: `crm-lambda-local`
//! (tools/lambda-local) runs the four function binaries under cargo-lambda's Runtime API
//! emulator behind an API Gateway stand-in routed from template.yaml, on a stack (table,
//! queues, SSM secret) of its own in the AWS emulators, and prints the same listening line.
//! The harness's settings become template parameters (CRM_BCRYPT_COST is BcryptCost, ...),
//! CRM_JWT_SECRET goes into the SSM parameter the functions read, and the rest is added to
//! every function's environment. docs/RELIABILITY.md lists the tests that cannot run there.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A `cargo` command for a build or a query from inside a test, without the variables cargo
/// sets for the test's own crate (`CARGO_MANIFEST_DIR`, `CARGO_PKG_*`, ...). Inherited, they
/// make the inner build's fingerprints differ from the outer one's (ring's build reads
/// `CARGO_MANIFEST_DIR`), so each test binary relinked crm and the functions, and the next
/// outer cargo command relinked them back: about 20 s each way.
pub fn cargo_command() -> Command {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    const SET_FOR_A_CRATE: [&str; 8] = [
        "CARGO_MANIFEST_DIR",
        "CARGO_MANIFEST_PATH",
        "CARGO_MANIFEST_LINKS",
        "CARGO_CRATE_NAME",
        "CARGO_BIN_NAME",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_TARGET_TMPDIR",
        "CARGO_RUSTC_CURRENT_DIR",
    ];
    for (k, _) in std::env::vars_os() {
        let Some(k) = k.to_str() else { continue };
        if SET_FOR_A_CRATE.contains(&k)
            || k.starts_with("CARGO_PKG_")
            || k.starts_with("CARGO_BIN_EXE_")
        {
            cmd.env_remove(k);
        }
    }
    cmd
}

/// Sends `signal` (`TERM`, `INT`, ...) to the process.
pub fn send_signal(child: &Child, signal: &str) {
    let ok = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .expect("kill");
    assert!(ok.success(), "kill -{signal} failed");
}

/// Waits for the process to end, killing it (and failing) after `secs`.
pub fn wait_exit(child: &mut Child, secs: u64, what: &str) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            return s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not exit within {secs} s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// An endpoint that takes every connection and never answers (a hung AWS endpoint): its
/// `http://127.0.0.1:<port>` URL, and a channel that gets one message per connection. The
/// connections are held open until the test process ends.
pub fn unanswering_endpoint() -> (String, std::sync::mpsc::Receiver<()>) {
    let hole = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", hole.local_addr().expect("addr"));
    let (accepted, connected) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in hole.incoming() {
            let Ok(conn) = conn else { break };
            held.push(conn);
            if accepted.send(()).is_err() {
                break;
            }
        }
    });
    (url, connected)
}

/// The `crm` binary: $CRM_BIN, else built next to this test binary (once per run).
pub fn crm_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Ok(p) = std::env::var("CRM_BIN") {
            return PathBuf::from(p);
        }
        let exe = std::env::current_exe().expect("test binary path");
        let dir = exe
            .parent()
            .and_then(|d| {
                if d.ends_with("deps") {
                    d.parent()
                } else {
                    Some(d)
                }
            })
            .expect("target dir")
            .to_path_buf();
        let bin = dir.join("crm");
        // Always (re)build: cargo makes this a no-op when it is fresh, and a stale binary
        // would test old code.
        let profile_release = dir.ends_with("release");
        let mut cmd = cargo_command();
        cmd.args(["build", "--quiet", "-p", "crm", "--bin", "crm"]);
        if profile_release {
            cmd.arg("--release");
        }
        let status = cmd
            .status()
            .expect("running cargo build for the crm binary");
        assert!(status.success(), "building the crm binary failed");
        assert!(bin.exists(), "crm binary not found at {}", bin.display());
        bin
    })
    .clone()
}

/// Whether the black-box tests drive the Lambda shape (`CRM_TEST_TARGET=lambda`) rather than
/// `crm serve` (unset or `serve`); any other value is a mistake and panics.
pub fn lambda_target() -> bool {
    match std::env::var("CRM_TEST_TARGET").as_deref() {
        Err(_) | Ok("") | Ok("serve") => false,
        Ok("lambda") => true,
        Ok(other) => panic!("CRM_TEST_TARGET={other:?}: expected serve or lambda"),
    }
}

/// The function binaries and `crm-lambda-local`, in one directory: $CRM_LAMBDA_BIN_DIR,
/// else built (once per run) next to this test binary.
pub fn lambda_bin_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        if let Ok(p) = std::env::var("CRM_LAMBDA_BIN_DIR") {
            return PathBuf::from(p);
        }
        let dir = crm_bin().parent().expect("target dir").to_path_buf();
        let mut cmd = cargo_command();
        cmd.args(["build", "--quiet"]);
        for p in LAMBDA_PACKAGES {
            cmd.args(["-p", p]);
        }
        if dir.ends_with("release") {
            cmd.arg("--release");
        }
        let status = cmd
            .status()
            .expect("running cargo build for the Lambda shape");
        assert!(status.success(), "building the Lambda shape failed");
        dir
    })
    .clone()
}

const LAMBDA_PACKAGES: [&str; 7] = [
    "crm-lambda-local",
    "crm-auth",
    "crm-users",
    "crm-tickets",
    "crm-integrations",
    "crm-dispatcher",
    "crm-notifier",
];

/// The workspace root (template.yaml is there).
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// `crm-lambda-local` for one server: a stack of its own, the harness's settings as template
/// parameters where the template has one. The stack's name and JWT secret are kept in the
/// data dir, so a restart on the same data dir is a redeploy of the same stack (same table,
/// queues and SSM secret), as a `crm serve` restart keeps its store and secret.
pub fn lambda_command(opts: &ServerOptions, data_dir: &Path) -> Command {
    let dir = lambda_bin_dir();
    let state = data_dir.join("lambda-stack");
    let (stack, secret) = match std::fs::read_to_string(&state) {
        Ok(s) => {
            let (stack, secret) = s
                .trim()
                .split_once(' ')
                .expect("lambda-stack: stack secret");
            (stack.to_owned(), secret.to_owned())
        }
        Err(_) => {
            let stack = crate::unique("crm-t");
            let secret = format!("{}-lambda-test-secret-0123456789abcdef", crate::unique("s"));
            std::fs::write(&state, format!("{stack} {secret}")).expect("writing lambda-stack");
            (stack, secret)
        }
    };
    let mut cmd = Command::new(dir.join("crm-lambda-local"));
    cmd.env("CRM_LAMBDA_LOCAL_JWT_SECRET", &secret);
    cmd.arg("--template")
        .arg(workspace_root().join("template.yaml"))
        .arg("--bin-dir")
        .arg(&dir)
        .args(["--stack", &stack, "--default-admin"])
        .arg("--log-dir")
        .arg(data_dir)
        .arg("--parameter")
        .arg(format!("JwtSecretParameterName=/{stack}/jwt-secret"))
        .args(["--parameter", "BcryptCost=4"]);
    for (k, v) in &opts.env {
        let parameter = match k.as_str() {
            "CRM_BCRYPT_COST" => Some("BcryptCost"),
            "CRM_TOKEN_TTL_SECONDS" => Some("TokenTtlSeconds"),
            "CRM_CORS_ALLOWED_ORIGINS" => Some("CorsAllowedOrigins"),
            "CRM_NOTIFIER_TRANSPORT" => Some("NotifierTransport"),
            "CRM_NOTIFICATION_SERVICE_URL" => Some("NotificationServiceUrl"),
            "CRM_MAIL_FROM" => Some("MailFrom"),
            _ => None,
        };
        if let Some(p) = parameter {
            cmd.arg("--parameter").arg(format!("{p}={v}"));
        } else if k == "CRM_JWT_SECRET" {
            cmd.env("CRM_LAMBDA_LOCAL_JWT_SECRET", v);
        } else if k == "CRM_TABLE_NAME" {
            cmd.arg("--table-name").arg(v);
        } else if k.starts_with("AWS_") || k.starts_with("CRM_LAMBDA_LOCAL_") || k == "CRM_LOG" {
            // The account (emulator endpoints, credentials), the tool's own settings (such as
            // CRM_LAMBDA_LOCAL_VISIBILITY_TIMEOUT) and the local log level are the tool's
            // environment; the functions log at the template's level.
            cmd.env(k, v);
        } else {
            cmd.arg("--env").arg(format!("{k}={v}"));
        }
    }
    // Its own process group: dropping the server kills the emulator and the functions too.
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    cmd
}

#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    /// Extra environment for the process.
    pub env: Vec<(String, String)>,
    /// Serve from DynamoDB (the emulator) instead of the embedded store.
    pub dynamodb: bool,
    /// Reuse this data dir (for restarts); a fresh temp dir otherwise.
    pub data_dir: Option<PathBuf>,
}

pub struct Server {
    pub url: String,
    pub port: u16,
    pub data_dir: PathBuf,
    child: Option<Child>,
    /// Started as a process group of its own (the Lambda shape).
    group: bool,
    keep_data: bool,
    stderr_path: PathBuf,
}

/// A new empty directory under the system's temp dir. The name is unique within the
/// process; a leftover of an earlier run whose pid was the same (a data dir a killed run
/// kept, holding its users) is removed first, so a test never starts on another's data.
pub fn temp_dir(prefix: &str) -> PathBuf {
    let d = std::env::temp_dir().join(crate::unique(prefix));
    if d.exists() {
        std::fs::remove_dir_all(&d).expect("remove a leftover temp dir");
    }
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

impl Server {
    pub fn start() -> Server {
        Self::start_with(ServerOptions::default())
    }

    pub fn start_with(opts: ServerOptions) -> Server {
        Self::start_on(opts, lambda_target())
    }

    /// The Lambda shape whatever CRM_TEST_TARGET says (tests of the shape itself).
    pub fn start_lambda(opts: ServerOptions) -> Server {
        Self::start_on(opts, true)
    }

    /// The stack name of a Lambda-shape server (its resources are named `<stack>-<logical
    /// id>`); None for `crm serve`.
    pub fn lambda_stack(&self) -> Option<String> {
        let s = std::fs::read_to_string(self.data_dir.join("lambda-stack")).ok()?;
        s.split(' ').next().map(str::to_owned)
    }

    fn start_on(opts: ServerOptions, lambda: bool) -> Server {
        let keep_data = opts.data_dir.is_some();
        let data_dir = opts
            .data_dir
            .clone()
            .unwrap_or_else(|| temp_dir("crm-serve"));
        let stderr_path = data_dir.join(format!("serve-{}.log", crate::unique("log")));
        let stderr = std::fs::File::create(&stderr_path).expect("log file");
        let mut cmd = if lambda {
            lambda_command(&opts, &data_dir)
        } else {
            Command::new(crm_bin())
        };
        if lambda {
            cmd.current_dir(&data_dir)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(stderr);
        } else {
            cmd.arg("serve")
                .arg("--port")
                .arg("0")
                .arg("--data-dir")
                .arg(&data_dir);
            if opts.dynamodb {
                cmd.args(["--store", "dynamodb"]);
            }
            cmd.env("CRM_BCRYPT_COST", "4")
                .env("CRM_LOG", "warn")
                .env_remove("CRM_JWT_SECRET")
                .env_remove("CRM_NOTIFIER_TRANSPORT")
                .current_dir(&data_dir)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(stderr);
            for (k, v) in &opts.env {
                cmd.env(k, v);
            }
        }
        let mut child = cmd.spawn().expect("spawning crm serve");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = tx.send(line);
            }
            // Keep draining so the server never blocks on a full pipe.
            for _ in lines {}
        });
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| {
                let _ = child.kill();
                panic!(
                    "crm serve did not print its listening line; stderr:\n{}",
                    std::fs::read_to_string(&stderr_path).unwrap_or_default()
                )
            });
        let url = line
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        let port = url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("port");
        Server {
            url,
            port,
            data_dir,
            child: Some(child),
            group: lambda,
            keep_data,
            stderr_path,
        }
    }

    /// The API base: `http://127.0.0.1:<port>/crmService/api/v1`.
    pub fn api(&self) -> String {
        format!("{}/crmService/api/v1", self.url)
    }

    pub fn client(&self) -> crate::Client {
        crate::Client::new(&self.api())
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Sends a signal and waits for the process to exit; returns its exit status.
    pub fn signal_and_wait(&mut self, signal: &str) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("running");
        send_signal(&child, signal);
        wait_exit(&mut child, 30, &format!("crm serve after SIG{signal}"))
    }

    /// Keeps the data dir when this server goes (for a restart on the same data).
    pub fn keep_data(&mut self) -> &Path {
        self.keep_data = true;
        &self.data_dir
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            if self.group {
                // The tool, its emulator and its functions.
                let _ = Command::new("kill")
                    .args(["-KILL", "--", &format!("-{}", c.id())])
                    .status();
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        if !self.keep_data && !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.data_dir);
        }
    }
}
