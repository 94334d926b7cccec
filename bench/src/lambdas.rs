//! Sections 2 and 6: each function binary run as Lambda runs it, against the stub Runtime
//! API, with the hello-world binary as the floor, reaching "AWS" over TLS (the counting proxy
//! as a loopback HTTPS front, with a CA the bench makes) so the handshake is paid as in the
//! cloud. Cold start = process start to its first `GET .../invocation/next`; then the first
//! invocation's latency; the connections opened before the first poll and during the first
//! invocation; binary sizes; and peak RSS over a run of many invocations. With a second
//! binary directory (`--before-bin-dir`) the same run measures an older build beside.

use crate::fixtures::{self, PASSWORD, put_user, token};
use crate::proxy::Proxy;
use crate::report::{bytes, dratio, median, ms, percentile, table};
use crate::runtime_api::{Outcome, RuntimeApi};
use aws_sdk_dynamodb::types::AttributeValue;
use crm_shared::model::UserType;
use crm_shared::store::keys;
use crm_shared::store::schema::TABLE;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(15);

/// A function binary and the invocation it is measured with.
pub struct Func {
    pub name: &'static str,
    pub bin: PathBuf,
    pub event: Value,
    pub what: &'static str,
    /// For API functions, the HTTP status the invocation must answer.
    pub status: Option<u16>,
    /// Environment on top of the common one.
    pub extra_env: Vec<(String, String)>,
    /// A variant run only to see where init time goes (not in the memory run).
    pub diagnostic: bool,
}

#[derive(Default)]
pub struct Measured {
    pub init: Vec<Duration>,
    pub first: Vec<Duration>,
    /// Remote ends of the process's TCP connections at its first poll, over all runs.
    pub sockets_at_init: HashSet<String>,
    /// Connections the function made to the AWS endpoint before its first poll, over all runs.
    pub aws_connections_at_init: usize,
    /// Connections it opened during its first invocation, over all runs.
    pub aws_connections_in_first: usize,
    /// Process start to its first connection to the AWS endpoint, when that came before the
    /// first poll: the init work before the warm-up (else the whole init).
    pub init_local: Vec<Duration>,
    pub size: u64,
    pub stripped: bool,
    pub hwm_kib: u64,
    pub warm: Vec<Duration>,
    pub invocations: usize,
}

pub struct Section {
    pub funcs: Vec<(Func, Measured)>,
    /// Sizes of the cargo-lambda `bootstrap`s (`--lambda-dir`), by function.
    pub lambda_sizes: Vec<(String, u64)>,
    /// One GetItem on the emulator through the proxy (median, warm connection).
    pub emulator_rtt: Duration,
    pub cold_runs: usize,
    pub memory_invocations: usize,
}

pub fn apigw(method: &str, path: &str, token: Option<&str>, body: Option<&Value>) -> Value {
    let mut headers = json!({
        "accept": "application/json",
        "host": "bench.execute-api.us-east-1.amazonaws.com",
        "user-agent": "crm-bench",
        "x-forwarded-proto": "https"
    });
    if let Some(t) = token {
        headers["authorization"] = Value::String(format!("Bearer {t}"));
    }
    if body.is_some() {
        headers["content-type"] = Value::String("application/json".into());
    }
    let mut ev = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "bench",
            "domainName": "bench.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "bench",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "crm-bench"
            },
            "requestId": "bench-request",
            "routeKey": "$default",
            "stage": "$default",
            "time": "05/Aug/2025:12:35:23 +0000",
            "timeEpoch": 1754397323673u64
        },
        "isBase64Encoded": false
    });
    if let Some(b) = body {
        ev["body"] = Value::String(b.to_string());
    }
    ev
}

struct Env {
    vars: Vec<(String, String)>,
}

const SYSTEM_BUNDLES: [&str; 2] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
];
const SYSTEM_DIRS: [&str; 2] = ["/etc/ssl/certs", "/etc/pki/tls/certs"];

fn before_name(name: &str) -> &'static str {
    match name {
        "crm-auth" => "crm-auth (before)",
        "crm-users" => "crm-users (before)",
        "crm-tickets" => "crm-tickets (before)",
        "crm-notifier" => "crm-notifier (before)",
        _ => "(before)",
    }
}

/// The table, queue and data the functions run against; the env they get.
async fn prepare(
    moto: &str,
    proxy: &Proxy,
    front: &Proxy,
    ca_file: &Path,
    bin_dir: &Path,
    before_dir: Option<&Path>,
    scratch: &Path,
) -> anyhow::Result<(Env, Vec<Func>, Duration)> {
    let table = fixtures::unique("bench-lambda");
    let store = fixtures::dynamo_store(moto, moto, &table).await?;
    let queue_url = fixtures::queue(moto, &fixtures::unique("bench-lambda")).await?;
    let ctx = fixtures::ctx(store.clone());
    put_user(&store, "admin", UserType::Admin).await?;
    put_user(&store, "lcust", UserType::Customer).await?;
    let tok = token(&ctx, "lcust", UserType::Customer);
    let who = crm_shared::http::authenticate(&ctx.tokens, &{
        let mut h = http::HeaderMap::new();
        h.insert("x-access-token", tok.parse()?);
        h
    })
    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let t = crm_shared::service::create_ticket(
        &ctx,
        &who,
        crm_shared::service::NewTicket {
            title: crm_shared::model::Title::parse("Cold start")?,
            description: crm_shared::model::Description::parse("A ticket to read.")?,
            priority: None,
            tags: None,
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let base = crm_shared::http::BASE_PATH;
    let vars = [
        ("AWS_LAMBDA_FUNCTION_NAME", "crm-bench"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_ENDPOINT_URL", front.url.as_str()),
        ("CRM_JWT_SECRET", fixtures::SECRET),
        ("CRM_TABLE_NAME", table.as_str()),
        ("CRM_QUEUE_URL", queue_url.as_str()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let mut funcs = vec![
        Func {
            name: "hello-lambda (floor)",
            bin: bin_dir.join("hello-lambda"),
            event: json!({"ping": 1}),
            what: "echo of the payload",
            status: None,
            extra_env: Vec::new(),
            diagnostic: false,
        },
        Func {
            name: "crm-auth",
            bin: bin_dir.join("crm-auth"),
            event: apigw(
                "POST",
                &format!("{base}/auth/signin"),
                None,
                Some(&json!({"userId": "lcust", "password": PASSWORD})),
            ),
            what: "POST /auth/signin (2 reads, bcrypt cost 4)",
            status: Some(200),
            extra_env: Vec::new(),
            diagnostic: false,
        },
        Func {
            name: "crm-users",
            bin: bin_dir.join("crm-users"),
            event: apigw("GET", &format!("{base}/users/lcust"), Some(&tok), None),
            what: "GET /users/{self} (1 read)",
            status: Some(200),
            extra_env: Vec::new(),
            diagnostic: false,
        },
        Func {
            name: "crm-tickets",
            bin: bin_dir.join("crm-tickets"),
            event: apigw("GET", &format!("{base}/tickets/{}", t.id), Some(&tok), None),
            what: "GET /tickets/{id} (2 reads)",
            status: Some(200),
            extra_env: Vec::new(),
            diagnostic: false,
        },
        Func {
            name: "crm-notifier",
            bin: bin_dir.join("crm-notifier"),
            event: json!({"sweep": true}),
            what: "scheduled sweep `{\"sweep\": true}` (2 queries at once)",
            status: None,
            extra_env: Vec::new(),
            diagnostic: false,
        },
    ];
    // The functions trust the bench's CA through SSL_CERT_FILE. A build that loads the
    // system's trust store (rustls-native-certs: the bundle, then every file of the
    // certificate directory) gets the system's bundle with the CA appended, and
    // SSL_CERT_DIR = the system's directory, so it pays the same scan as without the bench.
    let ca = ca_file.to_string_lossy().into_owned();
    for f in funcs.iter_mut().skip(1) {
        f.extra_env.push(("SSL_CERT_FILE".into(), ca.clone()));
    }
    if let Some(dir) = before_dir {
        let mut bundle_and_ca = SYSTEM_BUNDLES
            .into_iter()
            .find_map(|p| std::fs::read(p).ok())
            .unwrap_or_default();
        bundle_and_ca.push(b'\n');
        bundle_and_ca.extend(std::fs::read(ca_file)?);
        let system = scratch.join("system-bundle-and-bench-ca.pem");
        std::fs::write(&system, bundle_and_ca)?;
        let system = system.to_string_lossy().into_owned();
        let mut env = vec![("SSL_CERT_FILE".to_owned(), system)];
        if let Some(d) = SYSTEM_DIRS.into_iter().find(|d| Path::new(d).is_dir()) {
            env.push(("SSL_CERT_DIR".to_owned(), d.to_owned()));
        }
        let mut older = Vec::new();
        for f in funcs.iter().skip(1) {
            let file = f.bin.file_name().unwrap_or_default().to_owned();
            older.push(Func {
                name: before_name(f.name),
                bin: dir.join(file),
                event: f.event.clone(),
                what: f.what,
                status: f.status,
                extra_env: env.clone(),
                diagnostic: false,
            });
        }
        // Where the older build's init goes: the same binary with the bench's CA alone.
        if let Some(users) = older.iter().find(|f| f.name == "crm-users (before)") {
            let diag = Func {
                name: "crm-users (before), SSL_CERT_FILE = the bench CA alone",
                bin: users.bin.clone(),
                event: users.event.clone(),
                what: "as crm-users (before), without the system trust store",
                status: users.status,
                extra_env: vec![("SSL_CERT_FILE".into(), ca.clone())],
                diagnostic: true,
            };
            older.push(diag);
        }
        funcs.extend(older);
    }
    for f in &funcs {
        anyhow::ensure!(
            f.bin.exists(),
            "{} is missing: build it with cargo build --release",
            f.bin.display()
        );
    }
    // For scale: one GetItem on this emulator through the proxy, warm connection.
    let client = aws_sdk_dynamodb::Client::new(&fixtures::sdk_config(&proxy.url).await);
    let user_key = keys::user(&crm_shared::model::UserId::parse("lcust")?);
    let mut rtts = Vec::new();
    for i in 0..31 {
        let t = Instant::now();
        client
            .get_item()
            .table_name(&table)
            .key(TABLE.pk, AttributeValue::S(user_key.pk.clone()))
            .key(TABLE.sk, AttributeValue::S(user_key.sk.clone()))
            .send()
            .await?;
        if i > 0 {
            rtts.push(t.elapsed());
        }
    }
    proxy.take();
    Ok((Env { vars }, funcs, median(&rtts)))
}

/// A running function: the process and its Runtime API. Dropping it kills the process.
struct Running {
    child: Child,
    api: RuntimeApi,
    pid: u32,
    started: Instant,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(f: &Func, env: &Env, api: RuntimeApi, log: &Path) -> anyhow::Result<Running> {
    let stderr = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)?;
    let mut cmd = Command::new(&f.bin);
    cmd.env_clear()
        .envs(env.vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .envs(f.extra_env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("AWS_LAMBDA_RUNTIME_API", &api.addr)
        .stdin(Stdio::null())
        .stdout(stderr.try_clone()?)
        .stderr(stderr);
    let started = Instant::now();
    let child = cmd.spawn()?;
    let pid = child.id();
    Ok(Running {
        child,
        api,
        pid,
        started,
    })
}

impl Running {
    /// Waits for the next poll of the Runtime API.
    async fn poll(&mut self, f: &Func, log: &Path) -> anyhow::Result<Instant> {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            match tokio::time::timeout(Duration::from_millis(100), self.api.polls.recv()).await {
                Ok(Some(at)) => return Ok(at),
                Ok(None) => anyhow::bail!("the stub Runtime API stopped"),
                Err(_) => {
                    if let Ok(Some(status)) = self.child.try_wait() {
                        anyhow::bail!(
                            "{} exited ({status}) before polling; its log: {}",
                            f.name,
                            tail(log)
                        );
                    }
                    anyhow::ensure!(
                        Instant::now() < deadline,
                        "{} never polled the Runtime API; its log: {}",
                        f.name,
                        tail(log)
                    );
                }
            }
        }
    }

    /// One invocation: hands the event over, waits for the answer; returns the latency.
    async fn invoke(&mut self, f: &Func, log: &Path) -> anyhow::Result<Duration> {
        let sent = self.api.invoke(&f.event);
        let outcome = match tokio::time::timeout(TIMEOUT, self.api.outcomes.recv()).await {
            Ok(Some(o)) => o,
            _ => anyhow::bail!("{} did not answer; its log: {}", f.name, tail(log)),
        };
        let took = outcome.at().saturating_duration_since(sent);
        match outcome {
            Outcome::Response { body, .. } => {
                if let Some(want) = f.status {
                    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    let got = v.get("statusCode").and_then(Value::as_u64);
                    anyhow::ensure!(
                        got == Some(u64::from(want)),
                        "{} answered {got:?} (wanted {want}): {v}",
                        f.name
                    );
                }
            }
            Outcome::Error { body, .. } | Outcome::InitError { body, .. } => {
                anyhow::bail!(
                    "{} failed the invocation: {}",
                    f.name,
                    String::from_utf8_lossy(&body)
                )
            }
        }
        Ok(took)
    }
}

fn tail(log: &Path) -> String {
    let s = std::fs::read_to_string(log).unwrap_or_default();
    let start = s.len().saturating_sub(2000);
    s.get(start..).unwrap_or("").to_owned()
}

/// The remote ends of a process's TCP connections ("127.0.0.1:port").
pub fn tcp_remotes(pid: u32) -> Vec<(u16, String)> {
    let mut inodes = HashSet::new();
    if let Ok(rd) = std::fs::read_dir(format!("/proc/{pid}/fd")) {
        for e in rd.flatten() {
            if let Ok(link) = std::fs::read_link(e.path())
                && let Some(n) = link
                    .to_str()
                    .and_then(|s| s.strip_prefix("socket:["))
                    .and_then(|s| s.strip_suffix(']'))
            {
                inodes.insert(n.to_owned());
            }
        }
    }
    let mut out = Vec::new();
    for file in ["tcp", "tcp6"] {
        let text = std::fs::read_to_string(format!("/proc/{pid}/net/{file}")).unwrap_or_default();
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.len() < 10 || !inodes.contains(cols[9]) {
                continue;
            }
            let Some((_, port_hex)) = cols[2].rsplit_once(':') else {
                continue;
            };
            let port = u16::from_str_radix(port_hex, 16).unwrap_or(0);
            if port != 0 {
                out.push((port, cols[2].to_owned()));
            }
        }
    }
    out
}

/// Peak resident set size (VmHWM) of a live process, in KiB.
pub fn vm_hwm_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn stripped(path: &Path) -> bool {
    std::fs::read(path)
        .map(|b| !b.windows(7).any(|w| w == b".symtab"))
        .unwrap_or(false)
}

/// Where the cold-start section's inputs are.
pub struct Bins<'a> {
    pub dir: &'a Path,
    /// An older build of the four functions, measured beside in the same run.
    pub before_dir: Option<&'a Path>,
    /// cargo-lambda's output (`<dir>/<function>/bootstrap`), for the shipped sizes.
    pub lambda_dir: Option<&'a Path>,
}

fn log_name(f: &Func, suffix: &str) -> String {
    let base: String = f
        .name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("{base}{suffix}.log")
}

pub async fn run(
    moto: &str,
    proxy: &Proxy,
    bins: Bins<'_>,
    scratch: &Path,
    cold_runs: usize,
    memory_invocations: usize,
) -> anyhow::Result<Section> {
    let tls = crate::tls::make(scratch)?;
    let front = Proxy::start_tls(moto, tls.acceptor.clone()).await?;
    let (env, funcs, emulator_rtt) = prepare(
        moto,
        proxy,
        &front,
        &tls.ca_file,
        bins.dir,
        bins.before_dir,
        scratch,
    )
    .await?;
    let mut measured: Vec<Measured> = funcs
        .iter()
        .map(|f| Measured {
            size: std::fs::metadata(&f.bin).map(|m| m.len()).unwrap_or(0),
            stripped: stripped(&f.bin),
            ..Measured::default()
        })
        .collect();
    // Cold starts, the binaries taking turns so that drift hits them all alike.
    for _ in 0..cold_runs {
        for (f, m) in funcs.iter().zip(measured.iter_mut()) {
            let log = scratch.join(log_name(f, ""));
            let before = front.connections();
            let mut r = spawn(f, &env, RuntimeApi::start().await?, &log)?;
            let polled = r.poll(f, &log).await?;
            let at_init = front.accepted_since(before);
            m.aws_connections_at_init += at_init.len();
            let local = at_init.iter().min().copied().unwrap_or(polled);
            m.init_local
                .push(local.saturating_duration_since(r.started));
            for (port, remote) in tcp_remotes(r.pid) {
                let what = if port == r.api.port {
                    "the Runtime API".to_owned()
                } else if port == front.port {
                    "the AWS endpoint (TLS)".to_owned()
                } else {
                    format!("other ({remote})")
                };
                m.sockets_at_init.insert(what);
            }
            m.init.push(polled.saturating_duration_since(r.started));
            let before_first = front.connections();
            m.first.push(r.invoke(f, &log).await?);
            m.aws_connections_in_first += front.connections() - before_first;
            drop(r);
        }
    }
    // Peak memory (and warm latency) over many invocations in one process.
    for (f, m) in funcs.iter().zip(measured.iter_mut()) {
        if f.diagnostic {
            continue;
        }
        let log = scratch.join(log_name(f, "-memory"));
        let mut r = spawn(f, &env, RuntimeApi::start().await?, &log)?;
        r.poll(f, &log).await?;
        for i in 0..memory_invocations {
            let took = r.invoke(f, &log).await?;
            if i > 0 {
                m.warm.push(took);
            }
        }
        // Every answer is followed by a poll: after the last one it waits for the next
        // event, still alive, and its peak is final.
        for _ in 0..memory_invocations {
            r.poll(f, &log).await?;
        }
        m.hwm_kib = vm_hwm_kib(r.pid);
        m.invocations = memory_invocations;
        drop(r);
    }
    let mut lambda_sizes = Vec::new();
    if let Some(dir) = bins.lambda_dir {
        for name in ["crm-auth", "crm-users", "crm-tickets", "crm-notifier"] {
            let b = dir.join(name).join("bootstrap");
            let size = std::fs::metadata(&b)
                .map(|m| m.len())
                .map_err(|e| anyhow::anyhow!("{}: {e}", b.display()))?;
            lambda_sizes.push((name.to_owned(), size));
        }
    }
    Ok(Section {
        funcs: funcs.into_iter().zip(measured).collect(),
        lambda_sizes,
        emulator_rtt,
        cold_runs,
        memory_invocations,
    })
}

const MIB: f64 = 1024.0 * 1024.0;

pub fn render(s: &Section, out: &mut String) {
    let Some((_, floor)) = s.funcs.first() else {
        return;
    };
    let (fi, ff, fw) = (
        median(&floor.init),
        median(&floor.first),
        median(&floor.warm),
    );
    let fs = floor.size as f64;
    let fm = floor.hwm_kib as f64;
    let _ = writeln!(
        out,
        "Medians of {} runs per binary (the binaries take turns). *Init*: process start (spawn) to its first `GET /2018-06-01/runtime/invocation/next` on the stub Runtime API; *of which before the first connection*: process start to the moment the TLS front accepted the function's first connection (the warm-up's), that is init without its network part (the whole init when it makes no connection). *First invocation*: event handed over to the function's `POST .../response`, also as a ratio to the function's own warm p50. *Warm*: the same invocation in a warm process, median and p99 of the following {} invocations. *(before)* rows are the build of `--before-bin-dir`, run in the same turns.\n",
        s.cold_runs,
        s.memory_invocations.saturating_sub(1)
    );
    let rows: Vec<Vec<String>> = s
        .funcs
        .iter()
        .filter(|(f, _)| !f.diagnostic)
        .map(|(f, m)| {
            let (i, il, first, w) = (
                median(&m.init),
                median(&m.init_local),
                median(&m.first),
                median(&m.warm),
            );
            vec![
                f.name.to_owned(),
                f.what.to_owned(),
                format!("{} ({})", ms(i), dratio(i, fi)),
                format!("{} ({})", ms(il), dratio(il, fi)),
                format!(
                    "{} ({}; {} own warm)",
                    ms(first),
                    dratio(first, ff),
                    dratio(first, w)
                ),
                format!(
                    "{} / {} ({})",
                    ms(w),
                    ms(percentile(&m.warm, 99.0)),
                    dratio(w, fw)
                ),
                format!(
                    "{} ({}){}",
                    bytes(m.size),
                    crate::report::ratio(m.size as f64, fs),
                    if m.stripped { "" } else { ", NOT stripped" }
                ),
                format!(
                    "{} ({})",
                    bytes(m.hwm_kib * 1024),
                    crate::report::ratio(m.hwm_kib as f64, fm)
                ),
            ]
        })
        .collect();
    out.push_str(&table(
        &[
            "binary",
            "invocation",
            "init (× floor)",
            "of which before the first connection (× floor init)",
            "first invocation (× floor; × own warm p50)",
            "warm p50 / p99 (× floor)",
            "size, stripped, host (× floor)",
            &format!(
                "peak RSS over {} invocations (× floor)",
                s.memory_invocations
            ),
        ],
        &rows,
    ));
    let _ = writeln!(
        out,
        "\nFor scale: one `GetItem` on this emulator, through the plain-HTTP counting proxy on a warm connection, takes {} (median of 30); the invocations above are mostly that wait (a GET with a token is two reads at once, a sign-in two reads then bcrypt at cost 4).\n",
        ms(s.emulator_rtt)
    );
    // The goals of issue 18, after against before, from this run.
    let find = |name: &str| s.funcs.iter().find(|(f, _)| f.name == name);
    let mut goals = Vec::new();
    for name in ["crm-auth", "crm-users", "crm-tickets", "crm-notifier"] {
        let Some((_, a)) = find(name) else { continue };
        let b = find(before_name(name)).map(|(_, m)| m);
        let ratio_first = |m: &Measured| dratio(median(&m.first), median(&m.warm));
        let arm = s
            .lambda_sizes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, b)| {
                let mib = *b as f64 / MIB;
                format!(
                    "{} ({})",
                    bytes(*b),
                    if mib <= 8.0 { "met" } else { "NOT met" }
                )
            })
            .unwrap_or_else(|| "–".into());
        let il = median(&a.init_local);
        goals.push(vec![
            name.to_owned(),
            format!(
                "{} → **{}**",
                b.map(ratio_first).unwrap_or_else(|| "–".into()),
                ratio_first(a)
            ),
            format!(
                "{} → **{}** ({})",
                b.map(|m| dratio(median(&m.init), fi))
                    .unwrap_or_else(|| "–".into()),
                dratio(il, fi),
                if il.as_secs_f64() <= 1.5 * fi.as_secs_f64() {
                    "met"
                } else {
                    "NOT met"
                }
            ),
            format!(
                "{} → **{}**",
                b.map(|m| bytes(m.size)).unwrap_or_else(|| "–".into()),
                bytes(a.size)
            ),
            arm,
            format!(
                "{} → **{}**",
                b.map(|m| ms(median(&m.warm))).unwrap_or_else(|| "–".into()),
                ms(median(&a.warm))
            ),
        ]);
    }
    out.push_str("The goals, before → after, from this run:\n\n");
    out.push_str(&table(
        &[
            "function",
            "first invocation ÷ own warm p50 (goal ≤ 2×)",
            "init without the warm-up ÷ floor init (goal ≤ 1.5×)",
            "size, host",
            "size, arm64 `scripts/package` (goal ≤ 8 MiB)",
            "warm p50 (no loss beyond noise)",
        ],
        &goals,
    ));
    out.push('\n');
    let diag: Vec<Vec<String>> = s
        .funcs
        .iter()
        .filter(|(f, _)| f.diagnostic)
        .map(|(f, m)| {
            let i = median(&m.init);
            let base = find("crm-users (before)")
                .map(|(_, u)| median(&u.init))
                .unwrap_or_default();
            vec![
                f.name.to_owned(),
                f.what.to_owned(),
                format!("{} ({})", ms(i), dratio(i, fi)),
                format!("{:+.2} ms", (i.as_secs_f64() - base.as_secs_f64()) * 1e3),
            ]
        })
        .collect();
    if !diag.is_empty() {
        let _ = write!(
            out,
            "Where the older build's init went: its HTTPS client loads the system's root certificates when the clients are built (`rustls-native-certs`: the bundle file, then every file of the certificate directory, here {} files). The same binary with only the bench's CA as its trust store:\n\n",
            SYSTEM_DIRS
                .into_iter()
                .find_map(|d| std::fs::read_dir(d).ok())
                .map(|d| d.count())
                .unwrap_or(0)
        );
        out.push_str(&table(
            &["variant", "what", "init (× floor)", "vs crm-users (before)"],
            &diag,
        ));
        out.push('\n');
    }
    for (f, m) in s.funcs.iter().filter(|(f, _)| !f.diagnostic) {
        let mut socks: Vec<&String> = m.sockets_at_init.iter().collect();
        socks.sort();
        let _ = writeln!(
            out,
            "- {}: over {} starts, connections to the AWS endpoint before the first poll **{}**, during the first invocation **{}**; TCP connections open at the first poll: {}.",
            f.name,
            s.cold_runs,
            m.aws_connections_at_init,
            m.aws_connections_in_first,
            if socks.is_empty() {
                "none".to_owned()
            } else {
                socks
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        );
    }
    out.push('\n');
}
