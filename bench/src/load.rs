//! Section 4: `crm serve` (release, embedded store) under load from keep-alive clients, beside
//! a bare hyper server answering a fixed JSON body (the ceiling), measured cell by cell in
//! turns so that the machine's noise hits both alike. Also both servers' peak RSS.

use crate::lambdas::vm_hwm_kib;
use crate::report::{bytes, dratio, percentile, ratio, table};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::io::BufRead as _;
use std::io::Write as _;
use std::path::Path;
use std::process::Stdio;
use std::process::{Child, Command};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};

const HELLO_BODY: &[u8] = br#"{"success":true,"data":{"hello":"world"}}"#;

/// `crm-bench hello-server`: the ceiling. Same shape as `crm serve`'s accept loop (tokio's
/// multi-thread runtime, one hyper HTTP/1 connection task per client, nodelay), no work.
pub async fn hello_server() -> anyhow::Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let port = listener.local_addr()?.port();
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on http://127.0.0.1:{port}")?;
        out.flush()?;
    }
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let svc = service_fn(|req: hyper::Request<hyper::body::Incoming>| async move {
            let _ = req.into_body().collect().await;
            let mut r = hyper::Response::new(Full::new(Bytes::from_static(HELLO_BODY)));
            r.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json; charset=utf-8"),
            );
            Ok::<_, std::convert::Infallible>(r)
        });
        tokio::spawn(async move {
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

/// A server process; dropping it kills it.
pub struct Server {
    child: Child,
    pub port: u16,
    pub pid: u32,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts it and waits for its `listening on http://127.0.0.1:<port>` line.
    async fn start(mut cmd: Command, what: &str, log: &Path) -> anyhow::Result<Self> {
        let stderr = std::fs::File::create(log)?;
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr);
        let mut child = cmd.spawn()?;
        let pid = child.id();
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| anyhow::anyhow!("no stdout"))?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        // Reads the port, then keeps draining stdout so the server never blocks on the pipe.
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(l) = line else { break };
                if let Some(p) = l.trim().strip_prefix("listening on http://127.0.0.1:")
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(p.parse::<u16>().ok());
                }
            }
        });
        let server = |port| Self { child, port, pid };
        match tokio::time::timeout(Duration::from_secs(30), rx).await {
            Ok(Ok(Some(port))) => Ok(server(port)),
            _ => {
                drop(server(0));
                anyhow::bail!(
                    "{what} did not start; its log: {}",
                    std::fs::read_to_string(log).unwrap_or_default()
                )
            }
        }
    }
}

/// One request of a load cell.
struct Spec {
    method: http::Method,
    path: String,
    token: Option<String>,
    body: Option<Bytes>,
    want: u16,
}

fn build(spec: &Spec, port: u16) -> anyhow::Result<hyper::Request<Full<Bytes>>> {
    let mut b = hyper::Request::builder()
        .method(spec.method.clone())
        .uri(&spec.path)
        .header(http::header::HOST, format!("127.0.0.1:{port}"));
    if let Some(t) = &spec.token {
        b = b.header("x-access-token", t);
    }
    if spec.body.is_some() {
        b = b.header(http::header::CONTENT_TYPE, "application/json");
    }
    Ok(b.body(Full::new(spec.body.clone().unwrap_or_default()))?)
}

/// One request on a fresh connection (setup only).
async fn once(port: u16, spec: &Spec) -> anyhow::Result<Value> {
    let stream = TcpStream::connect(("127.0.0.1", port)).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let resp = sender.send_request(build(spec, port)?).await?;
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await?.to_bytes();
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    anyhow::ensure!(
        status == spec.want,
        "{} {}: {status} (wanted {}): {v}",
        spec.method,
        spec.path,
        spec.want
    );
    Ok(v)
}

#[derive(Debug, Clone, Default)]
pub struct CellResult {
    pub rps: f64,
    pub p50: Duration,
    pub p99: Duration,
    pub n: usize,
    pub errors: usize,
}

async fn worker(
    port: u16,
    spec: Arc<Spec>,
    want: u16,
    measure_from: Instant,
    end: Instant,
) -> anyhow::Result<(Vec<Duration>, usize)> {
    let stream = TcpStream::connect(("127.0.0.1", port)).await?;
    stream.set_nodelay(true)?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let mut lat = Vec::new();
    let mut errors = 0;
    loop {
        let t = Instant::now();
        if t >= end {
            break;
        }
        let req = build(&spec, port)?;
        sender.ready().await?;
        let resp = sender.send_request(req).await?;
        let ok = resp.status().as_u16() == want;
        resp.into_body().collect().await?;
        if t >= measure_from {
            lat.push(t.elapsed());
            errors += usize::from(!ok);
        }
    }
    Ok((lat, errors))
}

async fn cell(
    port: u16,
    spec: &Arc<Spec>,
    want: u16,
    clients: usize,
    warmup: Duration,
    duration: Duration,
) -> anyhow::Result<CellResult> {
    let start = Instant::now();
    let measure_from = start + warmup;
    let end = measure_from + duration;
    let tasks: Vec<_> = (0..clients)
        .map(|_| tokio::spawn(worker(port, spec.clone(), want, measure_from, end)))
        .collect();
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await??;
        all.extend(l);
        errors += e;
    }
    let window = end.saturating_duration_since(measure_from).as_secs_f64();
    Ok(CellResult {
        rps: all.len() as f64 / window,
        p50: percentile(&all, 50.0),
        p99: percentile(&all, 99.0),
        n: all.len(),
        errors,
    })
}

pub struct Row {
    pub endpoint: &'static str,
    pub clients: usize,
    pub hello: CellResult,
    pub crm: CellResult,
}

pub struct Section {
    pub rows: Vec<Row>,
    pub crm_hwm_kib: u64,
    pub hello_hwm_kib: u64,
    pub duration: Duration,
    pub tickets_at_end: usize,
}

fn token_of(v: &Value) -> anyhow::Result<String> {
    v.pointer("/data/accessToken")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("no accessToken in {v}"))
}

pub async fn run(
    crm_bin: &Path,
    scratch: &Path,
    warmup: Duration,
    duration: Duration,
) -> anyhow::Result<Section> {
    let mut hello_cmd = Command::new(std::env::current_exe()?);
    hello_cmd.arg("hello-server");
    let hello = Server::start(hello_cmd, "the hello server", &scratch.join("hello.log")).await?;
    let data = scratch.join("serve");
    let mut crm_cmd = Command::new(crm_bin);
    crm_cmd
        .args(["serve", "--port", "0", "--data-dir"])
        .arg(&data)
        .current_dir(scratch)
        .env_clear()
        .env("CRM_BCRYPT_COST", "4");
    let crm = Server::start(crm_cmd, "crm serve", &scratch.join("serve.log")).await?;

    let base = crm_shared::http::BASE_PATH;
    let post = |path: &str, token: Option<&str>, body: Value, want: u16| Spec {
        method: http::Method::POST,
        path: format!("{base}{path}"),
        token: token.map(str::to_owned),
        body: Some(Bytes::from(body.to_string())),
        want,
    };
    let signup = |id: &str| {
        post(
            "/auth/signup",
            None,
            json!({"name": id, "userId": id, "email": format!("{id}@bench.example"), "password": crate::fixtures::PASSWORD}),
            201,
        )
    };
    let signin = |id: &str| {
        post(
            "/auth/signin",
            None,
            json!({"userId": id, "password": crate::fixtures::PASSWORD}),
            200,
        )
    };
    once(crm.port, &signup("loadcust")).await?;
    once(crm.port, &signup("loadposter")).await?;
    let cust = token_of(&once(crm.port, &signin("loadcust")).await?)?;
    let poster = token_of(&once(crm.port, &signin("loadposter")).await?)?;
    let new_ticket = json!({"title": "Printer", "description": "Printer is not working, showing error 254 while printing."});
    let mut ticket = String::new();
    for _ in 0..50 {
        let v = once(
            crm.port,
            &post("/tickets", Some(&cust), new_ticket.clone(), 201),
        )
        .await?;
        ticket = v
            .pointer("/data/_id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
    }

    let specs: Vec<(&'static str, Arc<Spec>)> = vec![
        (
            "GET /tickets/{id}",
            Arc::new(Spec {
                method: http::Method::GET,
                path: format!("{base}/tickets/{ticket}"),
                token: Some(cust.clone()),
                body: None,
                want: 200,
            }),
        ),
        (
            "GET /tickets (customer, 50 tickets)",
            Arc::new(Spec {
                method: http::Method::GET,
                path: format!("{base}/tickets"),
                token: Some(cust.clone()),
                body: None,
                want: 200,
            }),
        ),
        (
            "POST /tickets",
            Arc::new(post("/tickets", Some(&poster), new_ticket.clone(), 201)),
        ),
    ];
    let mut rows = Vec::new();
    for (endpoint, spec) in &specs {
        for clients in [1usize, 16, 64] {
            let h = cell(hello.port, spec, 200, clients, warmup, duration).await?;
            let c = cell(crm.port, spec, spec.want, clients, warmup, duration).await?;
            rows.push(Row {
                endpoint,
                clients,
                hello: h,
                crm: c,
            });
        }
    }
    let crm_hwm_kib = vm_hwm_kib(crm.pid);
    let hello_hwm_kib = vm_hwm_kib(hello.pid);
    let tickets_at_end = rows
        .iter()
        .filter(|r| r.endpoint == "POST /tickets")
        .map(|r| r.crm.n)
        .sum::<usize>()
        + 50;
    drop(crm);
    drop(hello);
    Ok(Section {
        rows,
        crm_hwm_kib,
        hello_hwm_kib,
        duration,
        tickets_at_end,
    })
}

pub fn render(s: &Section, out: &mut String) {
    let _ = writeln!(
        out,
        "Each cell: N keep-alive HTTP/1.1 connections (tokio + hyper client, in the bench process, on the same 2 cores) sending back-to-back for {:.1} s after a 0.5 s warm-up; the ceiling (a bare hyper server answering a fixed 41-byte JSON body, as a separate process) and `crm serve` take turns cell by cell. Ratios are `crm serve` ÷ ceiling.\n",
        s.duration.as_secs_f64()
    );
    let rows: Vec<Vec<String>> = s
        .rows
        .iter()
        .map(|r| {
            vec![
                r.endpoint.to_owned(),
                r.clients.to_string(),
                format!("{:.0}", r.hello.rps),
                format!("{:.0} ({})", r.crm.rps, ratio(r.crm.rps, r.hello.rps)),
                format!(
                    "{} / {}",
                    crate::report::ms(r.hello.p50),
                    crate::report::ms(r.hello.p99)
                ),
                format!(
                    "{} ({}) / {} ({})",
                    crate::report::ms(r.crm.p50),
                    dratio(r.crm.p50, r.hello.p50),
                    crate::report::ms(r.crm.p99),
                    dratio(r.crm.p99, r.hello.p99)
                ),
                if r.crm.errors + r.hello.errors == 0 {
                    "0".into()
                } else {
                    format!("**{} / {}**", r.crm.errors, r.hello.errors)
                },
            ]
        })
        .collect();
    out.push_str(&table(
        &[
            "endpoint",
            "clients",
            "ceiling req/s",
            "crm serve req/s (× ceiling)",
            "ceiling p50 / p99",
            "crm serve p50 / p99 (× ceiling)",
            "unexpected statuses (crm / ceiling)",
        ],
        &rows,
    ));
    out.push_str("\n`crm serve`'s throughput follows its CPU per request (section 3) on two cores shared with the load generator. A `POST /tickets` there also sets off the in-process notifier (claim, one mail-log line, finish: two more SQLite transactions per ticket), running beside the requests; the ceiling does none of it. Creations in one process take turns choosing an engineer (`Ctx::assign_gate`) and SQLite has a single writer, so `POST` throughput stays flat as clients are added and its latency grows with the queue instead.\n");
    let _ = writeln!(
        out,
        "\nPeak RSS (VmHWM) after the whole load test: `crm serve` {} (its store grew to about {} tickets, each mailed to the log by the in-process notifier), the ceiling {} ({}).\n",
        bytes(s.crm_hwm_kib * 1024),
        s.tickets_at_end,
        bytes(s.hello_hwm_kib * 1024),
        ratio(s.crm_hwm_kib as f64, s.hello_hwm_kib as f64)
    );
}
