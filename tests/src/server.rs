//! Spawns the real `crm` binary (`crm serve --port 0`) and waits for its
//! `listening on http://127.0.0.1:<port>` line. Dropping the `Server` kills the process and
//! removes its data dir (unless kept for a restart).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

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
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let profile_release = dir.ends_with("release");
        let mut cmd = Command::new(cargo);
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
    keep_data: bool,
    stderr_path: PathBuf,
}

pub fn temp_dir(prefix: &str) -> PathBuf {
    let d = std::env::temp_dir().join(crate::unique(prefix));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

impl Server {
    pub fn start() -> Server {
        Self::start_with(ServerOptions::default())
    }

    pub fn start_with(opts: ServerOptions) -> Server {
        let keep_data = opts.data_dir.is_some();
        let data_dir = opts
            .data_dir
            .clone()
            .unwrap_or_else(|| temp_dir("crm-serve"));
        let stderr_path = data_dir.join(format!("serve-{}.log", crate::unique("log")));
        let stderr = std::fs::File::create(&stderr_path).expect("log file");
        let mut cmd = Command::new(crm_bin());
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
        let _ = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(s)) = child.try_wait() {
                return s;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("crm serve did not exit after SIG{signal}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
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
            let _ = c.kill();
            let _ = c.wait();
        }
        if !self.keep_data && !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.data_dir);
        }
    }
}
