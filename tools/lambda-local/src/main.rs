//! `crm-lambda-local`: the deployed shape of template.yaml on one machine (scripts/lambda-local
//! runs it; the black-box suite drives it with CRM_TEST_TARGET=lambda).
//!
//! It creates the stack's resources on the AWS emulators the environment points at
//! (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_DYNAMODB): the table with the product's own table
//! creation (and, with `--default-admin`, the default admin `crm serve` gives a new table),
//! the queues with the template's attributes and redrive policy, the JWT secret's SSM
//! parameter and the sender's SES identity (what an operator creates before deploying). Then
//! it runs cargo-lambda's Runtime API emulator, the four function binaries polling it with the
//! environment template.yaml gives each, an API Gateway stand-in routed from the template's
//! HttpApi events, the SQS event source and the schedule, and prints
//! `listening on http://127.0.0.1:<port>` as `crm serve` does. SIGTERM or Ctrl-C stops it all.

mod events;
mod front;
mod template;

use anyhow::{Context, bail};
use clap::Parser;
use crm_shared::config::Secret;
use crm_shared::service::{Ctx, ensure_default_admin};
use crm_shared::store::{DynamoBackend, Store};
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use template::{Function, Names};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio::signal::unix::{SignalKind, signal};

#[derive(Parser, Debug)]
#[command(about = "template.yaml's deployed shape on one machine (see scripts/lambda-local)")]
struct Args {
    /// The SAM template (its directory is the workspace the emulator runs in).
    #[arg(long, default_value = "template.yaml")]
    template: PathBuf,
    /// Where the function binaries are (`cargo build` output, e.g. target/debug).
    #[arg(long)]
    bin_dir: PathBuf,
    /// The stack name (${AWS::StackName}); resources are named after it.
    #[arg(long, default_value = "crm-local")]
    stack: String,
    /// The table's physical name (default: <stack>-<logical id>, as CloudFormation would
    /// generate one).
    #[arg(long)]
    table_name: Option<String>,
    /// Port of the API front (0: any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// A template parameter override, Key=Value (repeatable).
    #[arg(long = "parameter", value_parser = key_value)]
    parameters: Vec<(String, String)>,
    /// Extra environment for every function, KEY=VALUE (repeatable; tests use it for
    /// settings the template fixes, such as CRM_OUTBOX_SWEEP_AGE_SECONDS).
    #[arg(long = "env", value_parser = key_value)]
    env: Vec<(String, String)>,
    /// The JWT secret stored in the SSM parameter the functions read (random when absent).
    #[arg(long, env = "CRM_LAMBDA_LOCAL_JWT_SECRET", hide_env_values = true)]
    jwt_secret: Option<String>,
    /// Create the default admin in a table this run has just created, as `crm serve` does.
    #[arg(long)]
    default_admin: bool,
    /// Run each schedule every this many seconds instead of the template's rate.
    #[arg(long, env = "CRM_LAMBDA_LOCAL_SCHEDULE_SECONDS")]
    schedule_seconds: Option<u64>,
    /// The queues' VisibilityTimeout instead of the template's (retries sooner in tests).
    #[arg(long, env = "CRM_LAMBDA_LOCAL_VISIBILITY_TIMEOUT")]
    visibility_timeout: Option<u64>,
    /// Directory for the emulator's and the functions' logs (default: a temp dir).
    #[arg(long)]
    log_dir: Option<PathBuf>,
    /// The cargo-lambda executable.
    #[arg(long, env = "CRM_CARGO_LAMBDA", default_value = "cargo-lambda")]
    cargo_lambda: String,
    /// A Python with PyYAML, to read the template (default: $CRM_VENV/bin/python, else python3).
    #[arg(long)]
    python: Option<String>,
    /// Instances (processes) per function; each serves one request at a time, as in Lambda.
    #[arg(long, default_value_t = 1)]
    instances: usize,
}

fn key_value(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("{s:?} is not KEY=VALUE"))
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// What runs; dropping it kills every process (kill_on_drop).
struct Processes {
    emulator: Child,
    _emulator_stdin: Option<tokio::process::ChildStdin>,
    functions: Vec<(String, Child)>,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run(Args::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lambda-local: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    // Installed first, so a signal at any time (start-up, or right after the listening line)
    // is a clean stop and not the default death by signal: a handler registers when made,
    // not when first awaited.
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    // Start-up is cut short by a signal too (its processes are killed on drop), so Ctrl-C
    // works while an emulator or the table takes its time.
    let startup = async {
        let template_path = std::fs::canonicalize(&args.template)
            .with_context(|| format!("finding {}", args.template.display()))?;
        let workspace = template_path
            .parent()
            .context("the template's directory")?
            .to_path_buf();
        let python = args.python.clone().unwrap_or_else(|| {
            std::env::var("CRM_VENV")
                .map(|v| format!("{v}/bin/python"))
                .unwrap_or_else(|_| "python3".into())
        });
        let doc = template::load(&python, &template_path)?;
        let sdk = crm_shared::cloud::sdk_config().await;
        let region = sdk
            .region()
            .map(|r| r.to_string())
            .unwrap_or_else(|| "us-east-1".into());
        let mut names = Names::new(&doc, &args.stack, &region, &args.parameters)?;
        let log_dir = match &args.log_dir {
            Some(d) => d.clone(),
            None => std::env::temp_dir().join(format!("crm-lambda-local-{}", args.stack)),
        };
        std::fs::create_dir_all(&log_dir)
            .with_context(|| format!("creating {}", log_dir.display()))?;

        let sqs = aws_sdk_sqs::Client::new(&sdk);
        create_queues(&doc, &mut names, &sqs, args.visibility_timeout).await?;
        create_event_buses(&doc, &mut names, &aws_sdk_eventbridge::Client::new(&sdk)).await?;
        create_buckets(&doc, &mut names).await?;
        let tables = template::resources(&doc, "AWS::DynamoDB::Table");
        let [(table_id, _)] = tables.as_slice() else {
            bail!("expected one AWS::DynamoDB::Table in the template");
        };
        let table_name = args
            .table_name
            .clone()
            .unwrap_or_else(|| format!("{}-{table_id}", args.stack));
        names
            .refs
            .insert((*table_id).to_owned(), table_name.clone());

        let mut functions = template::functions(&doc, &names)?;
        for f in &mut functions {
            for (k, v) in &args.env {
                f.env.retain(|(ek, _)| ek != k);
                f.env.push((k.clone(), v.clone()));
            }
        }
        let secret = args
            .jwt_secret
            .clone()
            .unwrap_or_else(|| format!("{}{}", ulid::Ulid::generate(), ulid::Ulid::generate()));
        operator_setup(&sdk, &functions, &secret).await?;
        create_table(&sdk, &table_name, &functions, &secret, args.default_admin).await?;

        let emulator_port = free_port()?;
        let emulator = format!("http://127.0.0.1:{emulator_port}");
        let mut procs = start_emulator(&args.cargo_lambda, &workspace, emulator_port, &log_dir)?;
        wait_listening(emulator_port, &mut procs.emulator).await?;
        for f in &functions {
            for i in 0..args.instances.max(1) {
                let child = start_function(f, &args.bin_dir, &emulator, &log_dir, i)?;
                procs.functions.push((f.logical_id.clone(), child));
            }
        }

        // A function's redirect (an attachment's 302, SPEC §13) is its answer, as API Gateway
        // passes it on: never followed here.
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .context("an HTTP client")?;
        let mut tasks = tokio::task::JoinSet::new();
        for f in &functions {
            for s in &f.sqs {
                let queue_url = names.refs.get(&s.queue).cloned().unwrap_or_default();
                let queue_arn = names
                    .atts
                    .get(&(s.queue.clone(), "Arn".into()))
                    .cloned()
                    .unwrap_or_default();
                tasks.spawn(
                    events::Poller {
                        sqs: sqs.clone(),
                        http: http.clone(),
                        emulator: emulator.clone(),
                        function: f.binary.clone(),
                        timeout: f.timeout + Duration::from_secs(5),
                        queue_url,
                        queue_arn,
                        region: region.clone(),
                        batch_size: s.batch_size,
                        report_failures: s.report_batch_item_failures,
                        wait_seconds: 1,
                    }
                    .run(),
                );
            }
            for s in &f.schedules {
                let every = args
                    .schedule_seconds
                    .map(Duration::from_secs)
                    .unwrap_or(s.every);
                tasks.spawn(events::schedule(
                    http.clone(),
                    emulator.clone(),
                    f.binary.clone(),
                    s.input.clone(),
                    every,
                    f.timeout + Duration::from_secs(5),
                ));
            }
        }

        let front = front::Front {
            router: Arc::new(front::Router::new(&functions)?),
            emulator: emulator.as_str().into(),
            http,
        };
        let listener = TcpListener::bind(("127.0.0.1", args.port))
            .await
            .with_context(|| format!("binding 127.0.0.1:{}", args.port))?;
        let banner = format!(
            "lambda-local: stack {} (table {table_name}), Runtime API emulator on {emulator}, logs in {}",
            args.stack,
            log_dir.display()
        );
        anyhow::Ok((procs, tasks, front, listener, log_dir, banner))
    };
    let (mut procs, mut tasks, front, listener, log_dir, banner) = tokio::select! {
        started = startup => started?,
        _ = term.recv() => return Ok(()),
        _ = int.recv() => return Ok(()),
    };
    let port = listener.local_addr()?.port();
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on http://127.0.0.1:{port}")?;
        out.flush()?;
    }
    eprintln!("{banner}");

    let exited = watch_children(&mut procs);
    tokio::pin!(exited);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let svc = TowerToHyperService::new(front.clone());
                tokio::spawn(async move {
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
            msg = &mut exited => bail!("{msg}; see the logs in {}", log_dir.display()),
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    tasks.abort_all();
    Ok(())
}

/// Resolves when any process exits, with what exited.
async fn watch_children(procs: &mut Processes) -> String {
    let mut waits = Vec::new();
    let Processes {
        emulator,
        functions,
        ..
    } = procs;
    waits.push(Box::pin(async move {
        format!(
            "the Runtime API emulator exited ({:?})",
            emulator.wait().await
        )
    })
        as std::pin::Pin<
            Box<dyn std::future::Future<Output = String> + Send + '_>,
        >);
    for (id, child) in functions.iter_mut() {
        waits.push(Box::pin(async move {
            format!("function {id} exited ({:?})", child.wait().await)
        }));
    }
    futures_select_all(waits).await
}

async fn futures_select_all(
    futs: Vec<std::pin::Pin<Box<dyn std::future::Future<Output = String> + Send + '_>>>,
) -> String {
    let mut set = futs;
    std::future::poll_fn(move |cx| {
        for f in set.iter_mut() {
            if let std::task::Poll::Ready(s) = f.as_mut().poll(cx) {
                return std::task::Poll::Ready(s);
            }
        }
        std::task::Poll::Pending
    })
    .await
}

fn log_file(dir: &Path, name: &str) -> anyhow::Result<std::fs::File> {
    let p = dir.join(format!("{name}.log"));
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&p)
        .with_context(|| format!("opening {}", p.display()))
}

/// cargo-lambda's emulator without building or starting anything (`--only-lambda-apis`),
/// without its default CORS layer (API Gateway adds none unless configured). It exits when
/// its stdin closes, so it gets a pipe this process holds.
fn start_emulator(
    cargo_lambda: &str,
    workspace: &Path,
    port: u16,
    log_dir: &Path,
) -> anyhow::Result<Processes> {
    let log = log_file(log_dir, "emulator")?;
    let mut child = Command::new(cargo_lambda)
        .args(["lambda", "watch", "--only-lambda-apis", "--disable-cors"])
        .args(["-A", "127.0.0.1", "-P", &port.to_string()])
        .current_dir(workspace)
        .stdin(Stdio::piped())
        .stdout(log.try_clone()?)
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {cargo_lambda} lambda watch"))?;
    let stdin = child.stdin.take();
    Ok(Processes {
        emulator: child,
        _emulator_stdin: stdin,
        functions: Vec::new(),
    })
}

/// Waits until the emulator accepts connections (an HTTP probe could start an invocation
/// of its default function and wait for it).
async fn wait_listening(port: u16, child: &mut Child) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while tokio::time::Instant::now() < deadline {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok(());
        }
        if let Some(status) = child.try_wait()? {
            bail!("the Runtime API emulator exited at start ({status})");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("the Runtime API emulator did not listen on port {port} within 60 s")
}

/// The environment Lambda gives a function: its own variables, the runtime's, and the
/// credentials and endpoints of this machine's "account".
fn start_function(
    f: &Function,
    bin_dir: &Path,
    emulator: &str,
    log_dir: &Path,
    instance: usize,
) -> anyhow::Result<Child> {
    let bin = bin_dir.join(&f.binary);
    if !bin.is_file() {
        bail!(
            "{} not found (build it: cargo build -p {})",
            bin.display(),
            f.binary
        );
    }
    let log = log_file(log_dir, &format!("{}-{instance}", f.logical_id))?;
    let mut cmd = Command::new(&bin);
    cmd.env_clear();
    for (k, v) in std::env::vars() {
        if k.starts_with("AWS_") || k == "PATH" || k == "RUST_BACKTRACE" {
            cmd.env(k, v);
        }
    }
    cmd.envs(f.env.iter().map(|(k, v)| (k, v)))
        .env(
            "AWS_LAMBDA_RUNTIME_API",
            format!("{emulator}/.rt/{}", f.binary),
        )
        .env("AWS_LAMBDA_FUNCTION_NAME", &f.function_name)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", f.memory_mb.to_string())
        .env(
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/{}", f.function_name),
        )
        .env("AWS_LAMBDA_LOG_STREAM_NAME", format!("local/{instance}"))
        .env("_HANDLER", "bootstrap")
        .env("TZ", ":UTC");
    if let Some(fmt) = &f.log_format {
        cmd.env("AWS_LAMBDA_LOG_FORMAT", fmt);
    }
    if let Some(level) = &f.log_level {
        cmd.env("AWS_LAMBDA_LOG_LEVEL", level);
    }
    cmd.stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))
}

/// The S3 buckets (attachments, SPEC §13) on the emulator the environment names
/// (AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL), named `<stack>-<id>` in S3's alphabet; their
/// name and Arn go into `names`. A bucket left by an earlier run of the stack is reused. The
/// emulator takes any signature, so the request only names the account.
async fn create_buckets(doc: &Value, names: &mut Names) -> anyhow::Result<()> {
    let buckets = template::resources(doc, "AWS::S3::Bucket");
    if buckets.is_empty() {
        return Ok(());
    }
    let endpoint = ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.trim().is_empty()))
        .context("the template has an S3 bucket: set AWS_ENDPOINT_URL (the emulator)")?;
    let http = reqwest::Client::new();
    for (id, _) in buckets {
        let mut name: String = format!("{}-{id}", names.stack)
            .to_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        name.truncate(63);
        let name = name.trim_matches('-').to_owned();
        let resp = http
            .put(format!("{}/{name}", endpoint.trim_end_matches('/')))
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0",
            )
            .send()
            .await
            .with_context(|| format!("creating bucket {name}"))?;
        // 409: BucketAlreadyOwnedByYou, from an earlier run.
        if !(resp.status().is_success() || resp.status().as_u16() == 409) {
            bail!("creating bucket {name}: {}", resp.status());
        }
        names.refs.insert(id.to_owned(), name.clone());
        names.atts.insert(
            (id.to_owned(), "Arn".into()),
            format!("arn:aws:s3:::{name}"),
        );
    }
    Ok(())
}

/// The EventBridge buses (the notifier puts every event on one), by the template's name;
/// their name and Arn go into `names`. A bus left by an earlier run of the stack is reused.
async fn create_event_buses(
    doc: &Value,
    names: &mut Names,
    events: &aws_sdk_eventbridge::Client,
) -> anyhow::Result<()> {
    for (id, b) in template::resources(doc, "AWS::Events::EventBus") {
        let name = match b["Properties"].get("Name") {
            Some(n) => names.resolve(n)?,
            None => format!("{}-{id}", names.stack),
        };
        let arn = match events.create_event_bus().name(&name).send().await {
            Ok(out) => out.event_bus_arn().unwrap_or_default().to_owned(),
            Err(_) => events
                .describe_event_bus()
                .name(&name)
                .send()
                .await
                .map_err(|e| {
                    anyhow::anyhow!(
                        "creating event bus {name}: {}",
                        aws_smithy_types::error::display::DisplayErrorContext(&e)
                    )
                })?
                .arn()
                .unwrap_or_default()
                .to_owned(),
        };
        names.refs.insert(id.to_owned(), name.clone());
        names.atts.insert((id.to_owned(), "Arn".into()), arn);
        names.atts.insert((id.to_owned(), "Name".into()), name);
    }
    Ok(())
}

/// The queues, DLQs first, with the template's attributes and the redrive policy resolved;
/// their URL, Arn and QueueName go into `names`.
async fn create_queues(
    doc: &Value,
    names: &mut Names,
    sqs: &aws_sdk_sqs::Client,
    visibility_timeout: Option<u64>,
) -> anyhow::Result<()> {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let mut queues = template::resources(doc, "AWS::SQS::Queue");
    // Queues without a redrive policy (the DLQs) first, so their Arn is known.
    queues.sort_by_key(|(_, q)| q["Properties"].get("RedrivePolicy").is_some());
    for (id, q) in queues {
        let p = &q["Properties"];
        let name = format!("{}-{id}", names.stack);
        let mut attrs: BTreeMap<A, String> = BTreeMap::new();
        for (key, attr) in [
            ("VisibilityTimeout", A::VisibilityTimeout),
            ("MessageRetentionPeriod", A::MessageRetentionPeriod),
            ("DelaySeconds", A::DelaySeconds),
            ("MaximumMessageSize", A::MaximumMessageSize),
            (
                "ReceiveMessageWaitTimeSeconds",
                A::ReceiveMessageWaitTimeSeconds,
            ),
            ("SqsManagedSseEnabled", A::SqsManagedSseEnabled),
        ] {
            if let Some(v) = p.get(key) {
                attrs.insert(attr, names.resolve(v)?);
            }
        }
        if let Some(v) = visibility_timeout {
            attrs.insert(A::VisibilityTimeout, v.to_string());
        }
        if let Some(r) = p.get("RedrivePolicy") {
            let policy = serde_json::json!({
                "deadLetterTargetArn": names.resolve(&r["deadLetterTargetArn"])?,
                "maxReceiveCount": names.resolve(&r["maxReceiveCount"])?.parse::<u64>()
                    .context("maxReceiveCount")?,
            });
            attrs.insert(A::RedrivePolicy, policy.to_string());
        }
        let out = sqs
            .create_queue()
            .queue_name(&name)
            .set_attributes(Some(attrs.into_iter().collect()))
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "creating queue {name}: {}",
                    aws_sdk_sqs::error::DisplayErrorContext(&e)
                )
            })?;
        let url = out
            .queue_url()
            .context("CreateQueue gave no URL")?
            .to_owned();
        let got = sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(A::QueueArn)
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "reading queue {name}: {}",
                    aws_sdk_sqs::error::DisplayErrorContext(&e)
                )
            })?;
        let arn = got
            .attributes()
            .and_then(|a| a.get(&A::QueueArn))
            .context("no QueueArn")?
            .clone();
        names.refs.insert(id.to_owned(), url);
        names.atts.insert((id.to_owned(), "Arn".into()), arn);
        names.atts.insert((id.to_owned(), "QueueName".into()), name);
    }
    Ok(())
}

/// What an operator creates before deploying (docs/deploy.md): the SSM SecureString each
/// function's CRM_JWT_SECRET_PARAMETER names, and an SES identity for each CRM_MAIL_FROM.
async fn operator_setup(
    sdk: &aws_config::SdkConfig,
    functions: &[Function],
    secret: &str,
) -> anyhow::Result<()> {
    let var = |name: &str| -> Vec<String> {
        let mut v: Vec<String> = functions
            .iter()
            .flat_map(|f| f.env.iter())
            .filter(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.clone())
            .collect();
        v.sort();
        v.dedup();
        v
    };
    let ssm = aws_sdk_ssm::Client::new(sdk);
    for name in var("CRM_JWT_SECRET_PARAMETER") {
        ssm.put_parameter()
            .name(&name)
            .value(secret)
            .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
            .overwrite(true)
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "putting SSM parameter {name}: {}",
                    aws_sdk_ssm::error::DisplayErrorContext(&e)
                )
            })?;
    }
    let ses = aws_sdk_sesv2::Client::new(sdk);
    for from in var("CRM_MAIL_FROM") {
        if let Err(e) = ses
            .create_email_identity()
            .email_identity(&from)
            .send()
            .await
        {
            let already = e
                .as_service_error()
                .is_some_and(|s| s.is_already_exists_exception());
            if !already {
                bail!(
                    "creating the SES identity {from}: {}",
                    aws_sdk_sesv2::error::DisplayErrorContext(&e)
                );
            }
        }
    }
    Ok(())
}

/// The table through the product's own creation (`crm serve --store dynamodb` makes a
/// missing table the same way) and, when asked and new, the default admin.
async fn create_table(
    sdk: &aws_config::SdkConfig,
    table: &str,
    functions: &[Function],
    secret: &str,
    default_admin: bool,
) -> anyhow::Result<()> {
    let backend = DynamoBackend::new(aws_sdk_dynamodb::Client::new(sdk), table);
    let created = backend
        .ensure_table()
        .await
        .map_err(|e| anyhow::anyhow!("creating table {table}: {e}"))?;
    if !(created && default_admin) {
        return Ok(());
    }
    let cost = functions
        .iter()
        .flat_map(|f| f.env.iter())
        .find(|(k, _)| k == "CRM_BCRYPT_COST")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(10);
    let ctx = Ctx::new(Store::dynamo(backend), &Secret::new(secret), 3600, cost);
    ensure_default_admin(&ctx).await.map_err(|e| {
        anyhow::anyhow!(
            "creating the default admin: {}",
            e.internal.unwrap_or(e.message.into_owned())
        )
    })?;
    Ok(())
}
