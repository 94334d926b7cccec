//! SPEC §5, the local server and the admin command as processes: the listening line, data
//! and the generated JWT secret across restarts, the default admin, a clean SIGTERM, settings
//! refused at start-up, and `crm admin create`.

// Attachments' local path: under `serve::`, which the Lambda-shape run leaves out.
#[path = "serve_attachments.rs"]
mod attachments;

use crate::support::*;
use crm_tests::client::PASSWORD;
use crm_tests::server::{crm_bin, temp_dir, wait_exit as wait};
use crm_tests::{Client, Server, ServerOptions};
use serde_json::json;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The `crm` binary with the harness's environment (fast bcrypt, no inherited secret or
/// log level), run in `dir` so no stray `.env` is read.
fn crm(dir: &Path) -> Command {
    let mut cmd = Command::new(crm_bin());
    cmd.env("CRM_BCRYPT_COST", "4")
        .env_remove("CRM_JWT_SECRET")
        .env_remove("CRM_LOG")
        .env_remove("CRM_NOTIFIER_TRANSPORT")
        .current_dir(dir);
    cmd
}

struct Ran {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

/// Runs a command to completion with `stdin` as its input; output goes through files so
/// the child can never block on a full pipe.
fn run(mut cmd: Command, stdin: &str, out_dir: &Path) -> Ran {
    let tag = crm_tests::unique("run");
    let out_path = out_dir.join(format!("{tag}.out"));
    let err_path = out_dir.join(format!("{tag}.err"));
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(std::fs::File::create(&out_path).expect("stdout file"))
        .stderr(std::fs::File::create(&err_path).expect("stderr file"))
        .spawn()
        .expect("spawning crm");
    {
        let mut input = child.stdin.take().expect("stdin");
        let _ = input.write_all(stdin.as_bytes());
    }
    let status = wait(&mut child, 60, "crm");
    Ran {
        status,
        stdout: std::fs::read_to_string(&out_path).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err_path).unwrap_or_default(),
    }
}

fn sigterm(child: &Child) {
    crm_tests::server::send_signal(child, "TERM");
}

/// `crm serve` started by hand: the child, every stdout line as it comes, the data dir.
fn spawn_serve(extra: &[&str]) -> (Child, mpsc::Receiver<String>, PathBuf) {
    let dir = temp_dir("crm-serve-own");
    let mut child = crm(&dir)
        .args(["serve", "--data-dir"])
        .arg(&dir)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(dir.join("stderr.log")).expect("log"))
        .spawn()
        .expect("spawning crm serve");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx, dir)
}

#[tokio::test]
async fn serve_prints_exactly_one_listening_line_and_stops_with_status_0_on_sigterm() {
    let (mut child, lines, dir) = spawn_serve(&["--port", "0"]);
    let first = lines
        .recv_timeout(Duration::from_secs(60))
        .expect("the listening line");
    let port: u16 = first
        .strip_prefix("listening on http://127.0.0.1:")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("unexpected line {first:?}"));
    assert_ne!(port, 0);
    assert_eq!(first, format!("listening on http://127.0.0.1:{port}"));

    // It accepts connections as soon as the line is out.
    let c = Client::new(&format!("http://127.0.0.1:{port}/crmService/api/v1"));
    c.signup("jane", None).await.expect(201);
    c.signin("jane", PASSWORD).await.expect(200);

    sigterm(&child);
    let status = wait(&mut child, 30, "crm serve after SIGTERM");
    assert_eq!(status.code(), Some(0), "exit status {status:?}");
    let rest: Vec<String> = lines.iter().collect();
    assert!(
        rest.is_empty(),
        "more stdout after the listening line: {rest:?}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// A SIGTERM that comes while `crm serve` is still starting (here: hashing the default
/// admin's password at a slow bcrypt cost, after its store exists) is a clean stop with
/// status 0 at once, not death by the signal's default action and not a wait for the
/// start-up to finish: no listening line, and the cut step leaves nothing half-made, so the
/// next start makes the default admin. (CI once caught the handler being installed only
/// when first awaited, just after the listening line.)
#[tokio::test]
async fn serve_stops_with_status_0_on_a_sigterm_during_start_up() {
    let dir = temp_dir("crm-serve-early-term");
    let out = dir.join("stdout.log");
    let mut child = crm(&dir)
        .env("CRM_BCRYPT_COST", "10")
        .args(["serve", "--port", "0", "--data-dir"])
        .arg(&dir)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).expect("stdout file"))
        .stderr(std::fs::File::create(dir.join("stderr.log")).expect("log"))
        .spawn()
        .expect("spawning crm serve");
    let db = dir.join("crm.sqlite3");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !db.exists() {
        assert!(Instant::now() < deadline, "crm serve made no store in 30 s");
        std::thread::sleep(Duration::from_millis(2));
    }
    sigterm(&child);
    let status = wait(&mut child, 60, "crm serve after an early SIGTERM");
    let stderr = std::fs::read_to_string(dir.join("stderr.log")).unwrap_or_default();
    assert_eq!(
        status.code(),
        Some(0),
        "exit status {status:?}; stderr:\n{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(&out).expect("stdout"),
        "",
        "it went on to listen"
    );
    assert!(
        stderr.contains("stopped while starting"),
        "stderr:\n{stderr}"
    );
    assert!(!stderr.contains("crm admin create"), "stderr:\n{stderr}");
    let again = Server::start_with(ServerOptions {
        data_dir: Some(dir.clone()),
        ..Default::default()
    });
    again.client().signin("admin", PASSWORD).await.expect(200);
    drop(again);
    let _ = std::fs::remove_dir_all(dir);
}

/// The same while the store's first request hangs: a DynamoDB endpoint that takes the
/// connection and never answers. SIGTERM stops the server at once with status 0, instead of
/// a wait on the SDK's timeouts and retries (and then an error).
#[tokio::test]
async fn serve_stops_at_once_on_a_sigterm_while_the_dynamodb_endpoint_hangs() {
    let dir = temp_dir("crm-serve-hung-table");
    let (endpoint, connected) = crm_tests::server::unanswering_endpoint();
    let mut child = crm(&dir)
        .env("AWS_ENDPOINT_URL_DYNAMODB", &endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("CRM_TABLE_NAME", "crm-hung")
        .args(["serve", "--port", "0", "--store", "dynamodb", "--data-dir"])
        .arg(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("stderr.log")).expect("log"))
        .spawn()
        .expect("spawning crm serve");
    connected
        .recv_timeout(Duration::from_secs(30))
        .expect("crm serve never reached the table");
    sigterm(&child);
    let status = wait(&mut child, 10, "crm serve stopped while its table hangs");
    let stderr = std::fs::read_to_string(dir.join("stderr.log")).unwrap_or_default();
    assert_eq!(
        status.code(),
        Some(0),
        "exit status {status:?}; stderr:\n{stderr}"
    );
    assert!(
        stderr.contains("stopped while starting"),
        "stderr:\n{stderr}"
    );
    // A table this start may have made has no admin, and the next start will not make one.
    assert!(stderr.contains("crm admin create"), "stderr:\n{stderr}");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn serve_listens_on_the_port_given_with_dash_dash_port() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let (mut child, lines, dir) = spawn_serve(&["--port", &port.to_string()]);
    let first = lines
        .recv_timeout(Duration::from_secs(60))
        .expect("the listening line");
    assert_eq!(first, format!("listening on http://127.0.0.1:{port}"));
    let c = Client::new(&format!("http://127.0.0.1:{port}/crmService/api/v1"));
    c.signin("admin", PASSWORD).await.expect(200);
    sigterm(&child);
    assert!(wait(&mut child, 30, "crm serve").success());
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn serve_keeps_its_data_in_dot_crm_by_default() {
    let cwd = temp_dir("crm-serve-cwd");
    let mut child = crm(&cwd)
        .args(["serve", "--port", "0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawning crm serve");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the listening line");
    let url = line.trim().strip_prefix("listening on ").expect("line");
    let c = Client::new(&format!("{url}/crmService/api/v1"));
    c.signup("jane", None).await.expect(201);
    sigterm(&child);
    assert!(wait(&mut child, 30, "crm serve").success());
    let data = cwd.join(".crm");
    assert!(data.join("jwt-secret").is_file(), "{}", data.display());
    assert!(
        std::fs::read_dir(&data).expect(".crm").count() > 1,
        "the store lives in .crm too"
    );
    let _ = std::fs::remove_dir_all(cwd);
}

#[tokio::test]
async fn serve_creates_the_seed_default_admin_on_first_start() {
    let server = Server::start();
    let c = server.client();
    let r = c.signin("admin", "crmService@1").await;
    r.expect(200);
    let u = r.data();
    assert_eq!(u["name"], "John Doe");
    assert_eq!(u["email"], "john@email.com");
    assert_eq!(u["userType"], "ADMIN");
    assert_eq!(u["userStatus"], "APPROVED");
    let admin = u["accessToken"].as_str().expect("token");
    let r = c.list_users(admin, "").await;
    assert_eq!(ids(&r), ["admin"]);
    // Its email is taken like any other.
    let r = c
        .signup_with(
            json!({"name": "J", "userId": "john", "email": "JOHN@email.com", "password": PASSWORD}),
        )
        .await;
    assert_error(&r, 409, "EMAIL_TAKEN");
}

#[tokio::test]
async fn serve_keeps_users_tokens_and_the_generated_jwt_secret_across_a_restart() {
    let mut first = Server::start();
    let dir = first.keep_data().to_path_buf();
    let c = first.client();
    let admin = c.admin().await;
    let jane = c.engineer(&admin, "jane").await;
    let bob = c.customer("bob").await;
    c.update_user(&admin, "admin", json!({"name": "Renamed Admin"}))
        .await
        .expect(200);
    c.update_user(&bob, "bob", json!({"name": "Bob Before Stop"}))
        .await
        .expect(200);
    let users_before = c.list_users(&admin, "").await.data().clone();
    let secret_before = std::fs::read_to_string(dir.join("jwt-secret")).expect("jwt-secret");
    assert!(secret_before.trim().len() >= 32, "a generated secret");
    let status = first.signal_and_wait("TERM");
    assert_eq!(status.code(), Some(0), "{status:?}");
    drop(first);

    let second = Server::start_with(ServerOptions {
        data_dir: Some(dir.clone()),
        ..Default::default()
    });
    let c = second.client();
    assert_eq!(
        std::fs::read_to_string(dir.join("jwt-secret")).expect("jwt-secret"),
        secret_before
    );
    // Tokens issued before the restart still work.
    c.get_user(&jane, "jane").await.expect(200);
    let r = c.list_users(&admin, "").await;
    r.expect(200);
    assert_eq!(r.data(), &users_before, "the same users after the restart");
    assert_eq!(
        c.get_user(&bob, "bob").await.data()["name"],
        "Bob Before Stop"
    );
    // The default admin is neither recreated nor duplicated nor reset.
    let admins = c.list_users(&admin, "userType=ADMIN").await;
    assert_eq!(ids(&admins), ["admin"]);
    assert_eq!(admins.data()[0]["name"], "Renamed Admin");
    c.signin("admin", PASSWORD).await.expect(200);
    drop(second);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn signin_lock_is_kept_in_the_store_across_a_restart() {
    let mut first = Server::start();
    let dir = first.keep_data().to_path_buf();
    let c = first.client();
    c.signup("jane", None).await.expect(201);
    for _ in 0..5 {
        c.signin("jane", "wrongPassword@1").await.expect(401);
    }
    assert!(first.signal_and_wait("TERM").success());
    drop(first);
    let second = Server::start_with(ServerOptions {
        data_dir: Some(dir.clone()),
        ..Default::default()
    });
    let r = second.client().signin("jane", PASSWORD).await;
    assert_error(&r, 429, "TOO_MANY_REQUESTS");
    assert!(r.header("retry-after").is_some());
    drop(second);
    let _ = std::fs::remove_dir_all(dir);
}

/// Issue 11 item 7: the embedded store drops items whose TTL has passed, on a schedule that
/// starts with the server. An expired item and a live one are put in the data dir while the
/// server is down; after the restart the expired one is gone and the live one is kept.
#[tokio::test]
async fn serve_purges_expired_items_from_the_embedded_store() {
    use crm_embedded::SqliteBackend;
    use crm_shared::store::{Cond, Key, Write};
    let mut first = Server::start();
    let dir = first.keep_data().to_path_buf();
    assert!(first.signal_and_wait("TERM").success());
    drop(first);
    let now = crm_shared::model::Timestamp::now().seconds();
    let item = |pk: &str, ttl: i64| {
        let mut m = crm_shared::store::Item::new();
        m.insert("pk".into(), json!(pk));
        m.insert("sk".into(), json!("FAILURES"));
        m.insert("ttl".into(), json!(ttl));
        m
    };
    let db = dir.join("crm.sqlite3");
    {
        let b = SqliteBackend::open(&db).expect("open the data dir's store");
        b.transact(vec![
            Write::Put {
                item: item("SIGNIN#expired", now - 10),
                cond: Cond::Always,
            },
            Write::Put {
                item: item("SIGNIN#live", now + 3600),
                cond: Cond::Always,
            },
        ])
        .await
        .expect("seed items");
    }
    let second = Server::start_with(ServerOptions {
        data_dir: Some(dir.clone()),
        ..Default::default()
    });
    let b = SqliteBackend::open(&db).expect("open again");
    let expired = Key::new("SIGNIN#expired", "FAILURES");
    let mut gone = false;
    for _ in 0..100 {
        if b.get(&expired).await.expect("read").is_none() {
            gone = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(gone, "the expired item is still there after 5 s");
    assert!(
        b.get(&Key::new("SIGNIN#live", "FAILURES"))
            .await
            .expect("read")
            .is_some(),
        "a live item was purged"
    );
    drop(second);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn serve_refuses_an_invalid_setting_with_one_stderr_line_naming_it() {
    let dir = temp_dir("crm-bad-config");
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("CRM_BCRYPT_COST", "99")], "CRM_BCRYPT_COST"),
        (&[("CRM_BCRYPT_COST", "cheap")], "CRM_BCRYPT_COST"),
        (&[("CRM_TOKEN_TTL_SECONDS", "0")], "CRM_TOKEN_TTL_SECONDS"),
        (
            &[("CRM_TOKEN_TTL_SECONDS", "soon")],
            "CRM_TOKEN_TTL_SECONDS",
        ),
        (&[("CRM_JWT_SECRET", "short")], "CRM_JWT_SECRET"),
        (
            &[("CRM_NOTIFIER_TRANSPORT", "smtp")],
            "CRM_NOTIFIER_TRANSPORT",
        ),
        (
            &[("CRM_NOTIFIER_TRANSPORT", "http")],
            "CRM_NOTIFICATION_SERVICE_URL",
        ),
        (&[("CRM_MAIL_FROM", "nobody")], "CRM_MAIL_FROM"),
        (&[("CRM_TABLE_NAME", "a b")], "CRM_TABLE_NAME"),
        (
            &[("CRM_CORS_ALLOWED_ORIGINS", "example.com")],
            "CRM_CORS_ALLOWED_ORIGINS",
        ),
    ];
    for (env, var) in cases {
        let mut cmd = crm(&dir);
        cmd.args(["serve", "--port", "0", "--data-dir"]).arg(&dir);
        for (k, v) in *env {
            cmd.env(k, v);
        }
        let ran = run(cmd, "", &dir);
        assert!(!ran.status.success(), "{env:?} started: {}", ran.stdout);
        assert!(!ran.stdout.contains("listening"), "{env:?}: {}", ran.stdout);
        let lines: Vec<&str> = ran
            .stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect();
        assert_eq!(lines.len(), 1, "{env:?}: one line, got {:?}", ran.stderr);
        assert!(
            lines[0].contains(var),
            "{env:?}: {:?} should name {var}",
            lines[0]
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}

fn admin_create(dir: &Path, user_id: &str, name: &str, email: &str, password: &str) -> Ran {
    let mut cmd = crm(dir);
    cmd.args([
        "admin",
        "create",
        "--user-id",
        user_id,
        "--name",
        name,
        "--email",
        email,
    ])
    .arg("--data-dir")
    .arg(dir);
    run(cmd, &format!("{password}\n"), dir)
}

/// Issue 14: `crm admin set-password` reads the password from stdin (never argv), sets it
/// in the store the running server uses, and revokes every token the user held.
#[tokio::test]
async fn admin_set_password_reads_stdin_and_revokes_the_users_tokens() {
    let server = Server::start();
    let c = server.client();
    let admin = c.admin().await;
    let mut cmd = crm(&server.data_dir);
    cmd.args(["admin", "set-password", "--user-id", "admin"])
        .arg("--data-dir")
        .arg(&server.data_dir);
    let ran = run(cmd, "Reset-pass-99\n", &server.data_dir);
    assert!(ran.status.success(), "{}{}", ran.stdout, ran.stderr);
    assert!(!ran.stdout.contains("Reset-pass-99"), "{}", ran.stdout);
    assert!(!ran.stderr.contains("Reset-pass-99"), "{}", ran.stderr);
    assert_error(&c.get_user(&admin, "admin").await, 401, "TOKEN_REVOKED");
    assert_error(
        &c.signin("admin", PASSWORD).await,
        401,
        "INVALID_CREDENTIALS",
    );
    c.signin("admin", "Reset-pass-99").await.expect(200);
    // An unknown user or a weak password: a failure with a message, nothing changed.
    let mut cmd = crm(&server.data_dir);
    cmd.args(["admin", "set-password", "--user-id", "nobody"])
        .arg("--data-dir")
        .arg(&server.data_dir);
    let ran = run(cmd, "Reset-pass-99\n", &server.data_dir);
    assert!(!ran.status.success());
    assert!(ran.stderr.contains("No user"), "{}", ran.stderr);
    let mut cmd = crm(&server.data_dir);
    cmd.args(["admin", "set-password", "--user-id", "admin"])
        .arg("--data-dir")
        .arg(&server.data_dir);
    let ran = run(cmd, "weak\n", &server.data_dir);
    assert!(!ran.status.success());
    c.signin("admin", "Reset-pass-99").await.expect(200);
}

#[tokio::test]
async fn admin_create_reads_the_password_from_stdin_and_makes_an_approved_admin() {
    let server = Server::start();
    let c = server.client();
    let ran = admin_create(
        &server.data_dir,
        "ops",
        "Ops Person",
        "Ops@Email.com",
        "Opsword@2024",
    );
    assert!(ran.status.success(), "{}{}", ran.stdout, ran.stderr);
    assert!(!ran.stdout.contains("Opsword"), "{}", ran.stdout);
    assert!(!ran.stderr.contains("Opsword"), "{}", ran.stderr);

    // The running server sees it at once (same embedded store).
    let r = c.signin("ops", "Opsword@2024").await;
    r.expect(200);
    let token = r.data()["accessToken"].as_str().expect("token").to_owned();
    let me = c.get_user(&token, "ops").await;
    assert_user_object(me.data(), "ops", "ADMIN", "APPROVED");
    assert_eq!(me.data()["name"], "Ops Person");
    assert_eq!(me.data()["email"], "ops@email.com");
    let admins = c
        .list_users(&token, "userType=ADMIN&userStatus=APPROVED")
        .await;
    assert_eq!(ids(&admins), ["admin", "ops"]);
    // With two approved admins, the default one may now step down.
    let admin = c.admin().await;
    c.update_user(&admin, "admin", json!({"userType": "CUSTOMER"}))
        .await
        .expect(200);
}

#[tokio::test]
async fn admin_create_refuses_an_invalid_password_or_a_taken_user_id() {
    let server = Server::start();
    let c = server.client();
    let admin = c.admin().await;
    for (user_id, email, password) in [
        ("ops", "ops@email.com", "short"),
        ("ops", "ops@email.com", "no uppercase@1"),
        ("ops", "ops@email.com", "Has Space@123"),
        ("ops", "ops@email.com", ""),
        ("ops", "ops@email.com", &format!("Aa1@{}", "x".repeat(69))),
        ("admin", "other@email.com", "Opsword@2024"),
        ("ops", "john@email.com", "Opsword@2024"),
        ("bad id", "ops@email.com", "Opsword@2024"),
    ] {
        let ran = admin_create(&server.data_dir, user_id, "Ops", email, password);
        assert!(
            !ran.status.success(),
            "{user_id}/{email}/{password:?} was accepted: {}",
            ran.stdout
        );
        assert!(!ran.stderr.trim().is_empty());
    }
    c.get_user(&admin, "ops").await.expect(404);
    let admins = c.list_users(&admin, "userType=ADMIN").await;
    assert_eq!(ids(&admins), ["admin"]);
    assert_eq!(
        c.get_user(&admin, "admin").await.data()["email"],
        "john@email.com"
    );
}

#[test]
fn env_sample_lists_every_setting_of_spec_5() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.env.sample");
    let text = std::fs::read_to_string(&path).expect(".env.sample at the repository root");
    for var in [
        "CRM_TABLE_NAME",
        "CRM_QUEUE_URL",
        "CRM_JWT_SECRET",
        "CRM_TOKEN_TTL_SECONDS",
        "CRM_BCRYPT_COST",
        "CRM_NOTIFIER_TRANSPORT",
        "CRM_NOTIFICATION_SERVICE_URL",
        "CRM_MAIL_FROM",
        "CRM_CORS_ALLOWED_ORIGINS",
        "AWS_ENDPOINT_URL",
    ] {
        let listed = text.lines().any(|l| {
            l.trim_start_matches(['#', ' '])
                .split('=')
                .next()
                .is_some_and(|k| k.trim() == var)
        });
        assert!(listed, "{var} is not in .env.sample");
    }
}

#[tokio::test]
async fn admin_create_on_dynamodb_refuses_a_missing_table_and_writes_into_an_existing_one() {
    let dir = temp_dir("admin-ddb");
    let table = crm_tests::unique("admin-tbl");
    let with_emulator = |mut cmd: Command| {
        for (k, v) in crm_tests::emulator::env() {
            cmd.env(k, v);
        }
        cmd.env("CRM_TABLE_NAME", &table)
            .args(["--store", "dynamodb"]);
        cmd
    };
    let create = |dir: &Path| {
        let mut cmd = crm(dir);
        cmd.args([
            "admin",
            "create",
            "--user-id",
            "ops",
            "--name",
            "Ops",
            "--email",
            "ops@email.com",
        ]);
        cmd
    };
    // A mistyped table name must not make a stray table.
    let ran = run(with_emulator(create(&dir)), "Opsword@2024\n", &dir);
    assert!(!ran.status.success(), "{}", ran.stdout);
    assert!(ran.stderr.contains("does not exist"), "{}", ran.stderr);
    let sdk = crm_tests::emulator::sdk_config().await;
    let ddb = aws_sdk_dynamodb::Client::new(&sdk);
    assert!(
        ddb.describe_table()
            .table_name(&table)
            .send()
            .await
            .is_err(),
        "admin create made a table"
    );
    // The local server creates the table; then the command writes the admin into it.
    let server = Server::start_with(ServerOptions {
        dynamodb: true,
        env: crm_tests::emulator::env()
            .into_iter()
            .chain([("CRM_TABLE_NAME".to_owned(), table.clone())])
            .collect(),
        ..ServerOptions::default()
    });
    let ran = run(with_emulator(create(&dir)), "Opsword@2024\n", &dir);
    assert!(ran.status.success(), "{}{}", ran.stdout, ran.stderr);
    server
        .client()
        .signin("ops", "Opsword@2024")
        .await
        .expect(200);
    let _ = std::fs::remove_dir_all(dir);
}

/// What a raw HTTP/1.1 exchange got back: the status, the head's lines, the body, and how
/// long until the server closed the connection (None: still open at the deadline).
struct Raw {
    status: u16,
    head: String,
    body: serde_json::Value,
    closed_after: Option<Duration>,
}

/// Sends `request` on a new connection to `port` (stopping there, however incomplete) and
/// reads until the server closes the connection, for at most `within`.
async fn raw_exchange(port: u16, request: &[u8], within: Duration) -> Raw {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut conn = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connecting to crm serve");
    conn.write_all(request).await.expect("sending the request");
    let started = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let closed_after = loop {
        let left = within.saturating_sub(started.elapsed());
        match tokio::time::timeout(left, conn.read(&mut buf)).await {
            Err(_) => break None,
            Ok(Ok(0)) | Ok(Err(_)) => break Some(started.elapsed()),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    };
    let text = String::from_utf8_lossy(&got).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Raw {
        status,
        head: head.to_ascii_lowercase(),
        body: serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
        closed_after,
    }
}

/// Issue 26 item 6: requests the HTTP parser refuses before any of our code runs still get
/// SPEC §1's envelope (before: hyper's own 414 and 400 with empty bodies).
#[tokio::test]
async fn requests_the_http_parser_refuses_get_the_json_envelope() {
    let server = Server::start();
    let long_uri = format!(
        "GET /crmService/api/v1/tickets?title={} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        "a".repeat(100_000)
    );
    let del_in_a_header = "POST /crmService/api/v1/tickets HTTP/1.1\r\nHost: 127.0.0.1\r\n\
         Idempotency-Key: a\x7fb\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
    for (what, request, status, code) in [
        ("a 100 KB URI", long_uri.as_str(), 414, "URI_TOO_LONG"),
        ("DEL in a header", del_in_a_header, 400, "MALFORMED_REQUEST"),
    ] {
        let r = raw_exchange(server.port, request.as_bytes(), Duration::from_secs(30)).await;
        assert_eq!(r.status, status, "{what}: {}", r.head);
        assert_eq!(r.body["success"], false, "{what}: {}", r.head);
        assert_eq!(r.body["code"], code, "{what}: {}", r.body);
        assert!(
            r.body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{what}: {}",
            r.body
        );
        for h in [
            "content-type: application/json",
            "x-content-type-options: nosniff",
            "cache-control: no-store",
            "x-request-id: ",
            "connection: close",
        ] {
            assert!(r.head.contains(h), "{what}: no {h} in\n{}", r.head);
        }
        assert!(
            r.closed_after.is_some(),
            "{what}: the connection stays open"
        );
    }
    // The server goes on serving.
    server.client().signin("admin", PASSWORD).await.expect(200);
}

/// Issue 26 item 8: a connection that stops halfway through its headers, or halfway through
/// its body, is closed after a bounded time (before: held open for as long as the client
/// liked, so a few thousand of them exhaust the process's file limit). A stalled body is
/// answered first, with a JSON 408.
#[tokio::test]
async fn a_connection_that_stalls_mid_request_is_closed() {
    let server = Server::start();
    let bound = Duration::from_secs(45);
    let half_head =
        b"POST /crmService/api/v1/auth/signin HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty";
    let half_body = b"POST /crmService/api/v1/auth/signin HTTP/1.1\r\nHost: 127.0.0.1\r\n\
        Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"userId\": ";
    let (head, body) = tokio::join!(
        raw_exchange(server.port, half_head, bound),
        raw_exchange(server.port, half_body, bound),
    );
    let head_closed = head
        .closed_after
        .expect("a half-sent head is never timed out");
    let body_closed = body
        .closed_after
        .expect("a half-sent body is never timed out");
    println!(
        "FIGURE stalled connections closed after {head_closed:?} (head), {body_closed:?} (body)"
    );
    assert_eq!(body.status, 408, "{}", body.head);
    assert_eq!(body.body["code"], "REQUEST_TIMEOUT", "{}", body.body);
    // The server goes on serving.
    server.client().signin("admin", PASSWORD).await.expect(200);
}

/// Issue 26 item 8: the data dir's store (it holds the bcrypt hashes), its WAL and shared
/// memory, and the mail log are readable by the owner only, like the JWT secret (before:
/// 0644 under the usual umask).
#[tokio::test]
async fn the_data_dirs_files_are_the_owners_alone() {
    use std::os::unix::fs::PermissionsExt;
    let server = Server::start();
    let c = server.client();
    let customer = c.customer("cust1").await;
    c.post(
        "/tickets",
        &customer,
        json!({"title": "Mailed", "description": "So the mail log exists"}),
    )
    .await
    .expect(201);
    let mail_log = server.data_dir.join("mail.log");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !mail_log.exists() {
        assert!(Instant::now() < deadline, "no mail.log after 30 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for name in [
        "jwt-secret",
        "crm.sqlite3",
        "crm.sqlite3-wal",
        "crm.sqlite3-shm",
        "mail.log",
    ] {
        let meta =
            std::fs::metadata(server.data_dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            meta.permissions().mode() & 0o777,
            0o600,
            "{name} is {:o}",
            meta.permissions().mode() & 0o777
        );
    }
}
