//! Section 3: handler CPU time per endpoint, in-process on the embedded store: the same
//! `respond` + function `handle` a Lambda runs, called in a loop with nothing else running,
//! CPU read from the process clock (the store's work on tokio's blocking pool included).
//! bcrypt is measured on its own at several costs.

use crate::fixtures::{self, PASSWORD, call, put_user, request, token};
use crate::report::{dratio, median, table, us};
use crm_shared::auth::PasswordHasher;
use crm_shared::model::{Password, UserType};
use crm_shared::service::Ctx;
use http::Method;
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

/// CPU time of this process so far (every thread).
pub fn process_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the timespec we pass, which lives on our stack.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

pub struct Endpoint {
    pub name: String,
    pub cpu: Duration,
    pub wall: Duration,
    pub n: usize,
    /// CPU of the same bcrypt work alone, measured beside each request (to subtract).
    pub bcrypt: Option<Duration>,
}

pub struct Bcrypt {
    pub cost: u32,
    pub hash: Duration,
    pub verify: Duration,
    pub n: usize,
}

pub struct Section {
    pub endpoints: Vec<Endpoint>,
    pub bcrypt: Vec<Bcrypt>,
    pub budget: Duration,
}

type MakeReq<'a> = Box<dyn Fn(usize) -> crate::fixtures::Request + 'a>;

/// bcrypt work a request includes, repeated alone right after each request so that it can
/// be subtracted pair by pair.
enum Alone<'a> {
    Hash(&'a PasswordHasher, &'a Password),
    Verify(&'a PasswordHasher, &'a str),
}

impl Alone<'_> {
    async fn run(&self) {
        match self {
            Alone::Hash(h, pw) => {
                let _ = h.hash(pw).await;
            }
            Alone::Verify(h, hash) => {
                let _ = h.verify(PASSWORD, hash).await;
            }
        }
    }
}

async fn measure(
    ctx: &Ctx,
    name: &str,
    want: u16,
    budget: Duration,
    make: MakeReq<'_>,
    alone: Option<Alone<'_>>,
) -> anyhow::Result<Endpoint> {
    let mut i = 0;
    for _ in 0..10 {
        let r = call(ctx, make(i)).await;
        anyhow::ensure!(
            r.status.as_u16() == want,
            "{name}: status {} (wanted {want}): {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        );
        i += 1;
    }
    let w0 = Instant::now();
    let (mut cpu, mut wall, mut extra) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let mut n = 0;
    while n < 20 || w0.elapsed() < budget {
        let (c0, t0) = (process_cpu(), Instant::now());
        let r = call(ctx, make(i)).await;
        let (c1, t1) = (process_cpu(), Instant::now());
        anyhow::ensure!(r.status.as_u16() == want, "{name}: status {}", r.status);
        cpu += c1 - c0;
        wall += t1 - t0;
        if let Some(a) = &alone {
            a.run().await;
            extra += process_cpu() - c1;
        }
        i += 1;
        n += 1;
    }
    Ok(Endpoint {
        name: name.to_owned(),
        cpu: cpu / n as u32,
        wall: wall / n as u32,
        n,
        bcrypt: alone.map(|_| extra / n as u32),
    })
}

fn get(path: String, tok: &str) -> MakeReq<'static> {
    let tok = tok.to_owned();
    Box::new(move |_| request(Method::GET, &path, Some(&tok), None))
}

pub async fn run(scratch: &Path, budget: Duration) -> anyhow::Result<Section> {
    let store = fixtures::sqlite_store(&scratch.join("cpu"))?;
    let ctx = fixtures::ctx(store.clone());
    put_user(&store, "admin", UserType::Admin).await?;
    for e in ["eng1", "eng2", "eng3"] {
        put_user(&store, e, UserType::Engineer).await?;
    }
    put_user(&store, "ccust", UserType::Customer).await?;
    put_user(&store, "cposter", UserType::Customer).await?;
    for i in 0..50 {
        put_user(&store, &format!("filler{i:02}"), UserType::Customer).await?;
    }
    let admin = token(&ctx, "admin", UserType::Admin);
    let cust = token(&ctx, "ccust", UserType::Customer);
    let poster = token(&ctx, "cposter", UserType::Customer);
    let new_ticket = json!({"title": "Printer", "description": "Printer is not working, showing error 254 while printing."});
    let mut ticket = String::new();
    for _ in 0..50 {
        let r = call(
            &ctx,
            request(Method::POST, "/tickets", Some(&cust), Some(&new_ticket)),
        )
        .await;
        let v: Value = serde_json::from_slice(&r.body)?;
        ticket = v
            .pointer("/data/_id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
    }
    anyhow::ensure!(!ticket.is_empty(), "no ticket was created");

    let mut eps = Vec::new();
    let hasher = PasswordHasher::new(fixtures::BENCH_COST);
    let pw = Password::parse(PASSWORD)?;
    let stored_hash = fixtures::password_hash().await.to_owned();
    eps.push(
        measure(
            &ctx,
            "no route (404): the glue alone",
            404,
            budget,
            Box::new(|_| request(Method::GET, "/nothing", None, None)),
            None,
        )
        .await?,
    );
    eps.push(
        measure(
            &ctx,
            "POST /auth/signup",
            201,
            budget,
            Box::new(|i| {
                let id = format!("su{i:06}");
                request(
                    Method::POST,
                    "/auth/signup",
                    None,
                    Some(&json!({"name": "New Customer", "userId": id, "email": format!("{id}@bench.example"), "password": PASSWORD})),
                )
            }),
            Some(Alone::Hash(&hasher, &pw)),
        )
        .await?,
    );
    let signin = json!({"userId": "ccust", "password": PASSWORD});
    eps.push(
        measure(
            &ctx,
            "POST /auth/signin",
            200,
            budget,
            Box::new(|_| request(Method::POST, "/auth/signin", None, Some(&signin))),
            Some(Alone::Verify(&hasher, &stored_hash)),
        )
        .await?,
    );
    eps.push(
        measure(
            &ctx,
            "GET /users/{self}",
            200,
            budget,
            get("/users/ccust".into(), &cust),
            None,
        )
        .await?,
    );
    eps.push(
        measure(
            &ctx,
            "GET /users?limit=50 (admin, 50 users)",
            200,
            budget,
            get("/users?limit=50".into(), &admin),
            None,
        )
        .await?,
    );
    eps.push(
        measure(
            &ctx,
            "GET /tickets/{id}",
            200,
            budget,
            get(format!("/tickets/{ticket}"), &cust),
            None,
        )
        .await?,
    );
    eps.push(
        measure(
            &ctx,
            "GET /tickets (customer, 50 tickets)",
            200,
            budget,
            get("/tickets".into(), &cust),
            None,
        )
        .await?,
    );
    eps.push(
        measure(
            &ctx,
            "GET /tickets/{id}/history",
            200,
            budget,
            get(format!("/tickets/{ticket}/history"), &cust),
            None,
        )
        .await?,
    );
    eps.push(
        measure(
            &ctx,
            "POST /tickets",
            201,
            budget,
            Box::new(|_| request(Method::POST, "/tickets", Some(&poster), Some(&new_ticket))),
            None,
        )
        .await?,
    );
    eps.push(
        measure(
            &ctx,
            "GET /tickets?limit=100 (admin, 3 partitions merged)",
            200,
            budget,
            get("/tickets?limit=100".into(), &admin),
            None,
        )
        .await?,
    );
    let path = format!("/tickets/{ticket}");
    eps.push(
        measure(
            &ctx,
            "PUT /tickets/{id} (status)",
            200,
            budget,
            Box::new(|i| {
                let s = if i % 2 == 0 { "CLOSED" } else { "OPEN" };
                request(Method::PUT, &path, Some(&cust), Some(&json!({"status": s})))
            }),
            None,
        )
        .await?,
    );

    let mut bcrypt = Vec::new();
    for (cost, n) in [(4u32, 40usize), (8, 8), (10, 4), (12, 2)] {
        let h = PasswordHasher::new(cost);
        let (mut hashes, mut verifies) = (Vec::new(), Vec::new());
        let mut last = String::new();
        for _ in 0..n {
            let c0 = process_cpu();
            last = h.hash(&pw).await.map_err(anyhow::Error::msg)?;
            hashes.push(process_cpu() - c0);
        }
        for _ in 0..n {
            let c0 = process_cpu();
            anyhow::ensure!(h.verify(PASSWORD, &last).await, "bcrypt verify failed");
            verifies.push(process_cpu() - c0);
        }
        bcrypt.push(Bcrypt {
            cost,
            hash: median(&hashes),
            verify: median(&verifies),
            n,
        });
    }
    Ok(Section {
        endpoints: eps,
        bcrypt,
        budget,
    })
}

pub fn render(s: &Section, out: &mut String) {
    let floor = s.endpoints.first().map(|e| e.cpu).unwrap_or_default();
    let rows: Vec<Vec<String>> = s
        .endpoints
        .iter()
        .map(|e| {
            let less = e.bcrypt.map(|b| e.cpu.saturating_sub(b));
            vec![
                e.name.clone(),
                format!("{} ({})", us(e.cpu), dratio(e.cpu, floor)),
                less.map(|l| format!("{} ({})", us(l), dratio(l, floor)))
                    .unwrap_or_else(|| "–".into()),
                us(e.wall),
                e.n.to_string(),
            ]
        })
        .collect();
    let _ = writeln!(
        out,
        "CPU per request (user + system, every thread of the process, so the SQLite work on tokio's blocking pool counts) over at least {:.1} s per endpoint after 10 warm-up requests; the ratio is to the no-route request, which is the glue alone (routing, envelope, headers). Users sign in and up at bcrypt cost {} here; the column *without bcrypt* subtracts the same hash or verify at cost {}, run alone right after each request (paired, so drift cancels; what remains is small beside bcrypt and so the noisiest figure here).\n",
        s.budget.as_secs_f64(),
        fixtures::BENCH_COST,
        fixtures::BENCH_COST
    );
    out.push_str(&table(
        &[
            "endpoint",
            "CPU / request (× no-route)",
            "without bcrypt (× no-route)",
            "wall / request",
            "requests",
        ],
        &rows,
    ));
    out.push_str("\nbcrypt, alone (the product's `PasswordHasher`, median CPU per operation; the default cost is 10, so a sign-in pays one verify at 10 and a sign-up one hash):\n\n");
    let rows: Vec<Vec<String>> = s
        .bcrypt
        .iter()
        .map(|b| {
            vec![
                b.cost.to_string(),
                crate::report::ms(b.hash),
                crate::report::ms(b.verify),
                b.n.to_string(),
            ]
        })
        .collect();
    out.push_str(&table(&["cost", "hash", "verify", "samples"], &rows));
    out.push('\n');
}
