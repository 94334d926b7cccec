//! The tickets suite (SPEC §3): the API over real sockets through `crm serve` (`http_*`),
//! the use cases called directly on both backends (`service_*`, `concurrency`, `costs`:
//! every case is written once and runs as `<module>::sqlite::<case>` on a fresh SQLite file
//! and `<module>::dynamodb::<case>` on a fresh table in DynamoDB Local, which must be
//! running). One test binary, one link step.

/// Generates, for each named `async fn case(store: Store)` of the calling module, one test
/// per backend. `concurrent:` runs them on a multi-threaded runtime; the default is tokio's
/// current_thread runtime (which the request-depth measurement needs). Either runtime runs on threads with
/// 16 MiB stacks: the AWS SDK's connect path in a debug build overflows the test harness's
/// default 2 MiB.
macro_rules! on_both_backends {
    (concurrent: $($case:ident),+ $(,)?) => {
        on_both_backends!(@gen true; $($case),+);
    };
    ($($case:ident),+ $(,)?) => {
        on_both_backends!(@gen false; $($case),+);
    };
    (@gen $multi:literal; $($case:ident),+) => {
        mod sqlite {
            $(
                #[test]
                fn $case() {
                    crate::run_case($multi, || async {
                        super::$case(crm_tests::emulator::sqlite_store()).await
                    });
                }
            )+
        }

        mod dynamodb {
            $(
                #[test]
                fn $case() {
                    crate::run_case($multi, || async {
                        super::$case(crm_tests::emulator::dynamo_store().await).await
                    });
                }
            )+
        }
    };
}

const STACK: usize = 16 << 20;

/// Runs a case on a fresh tokio runtime (current_thread, or multi-threaded with `multi`) on
/// its own big-stack thread, re-raising its panic.
fn run_case<F>(multi: bool, case: impl FnOnce() -> F + Send + 'static)
where
    F: std::future::Future<Output = ()>,
{
    let thread = std::thread::Builder::new()
        .stack_size(STACK)
        .spawn(move || {
            let mut b = if multi {
                tokio::runtime::Builder::new_multi_thread()
            } else {
                tokio::runtime::Builder::new_current_thread()
            };
            b.enable_all()
                .thread_stack_size(STACK)
                .build()
                .expect("a tokio runtime")
                .block_on(case())
        })
        .expect("a test thread");
    if let Err(panic) = thread.join() {
        std::panic::resume_unwind(panic);
    }
}

#[path = "tickets/world.rs"]
mod world;

#[path = "tickets/desk.rs"]
mod desk;

#[path = "tickets/http_create.rs"]
mod http_create;

#[path = "tickets/http_access.rs"]
mod http_access;

#[path = "tickets/http_assign.rs"]
mod http_assign;

#[path = "tickets/http_counts.rs"]
mod http_counts;

#[path = "tickets/http_update.rs"]
mod http_update;

#[path = "tickets/http_listing.rs"]
mod http_listing;

#[path = "tickets/http_history.rs"]
mod http_history;

#[path = "tickets/http_idempotency.rs"]
mod http_idempotency;

#[path = "tickets/http_comments.rs"]
mod http_comments;

#[path = "tickets/http_conflicts.rs"]
mod http_conflicts;

#[path = "tickets/service_assign.rs"]
mod service_assign;

#[path = "tickets/service_counts.rs"]
mod service_counts;

#[path = "tickets/service_update.rs"]
mod service_update;

#[path = "tickets/service_access.rs"]
mod service_access;

#[path = "tickets/service_listing.rs"]
mod service_listing;

#[path = "tickets/service_history.rs"]
mod service_history;

#[path = "tickets/service_idempotency.rs"]
mod service_idempotency;

#[path = "tickets/service_workload.rs"]
mod service_workload;

#[path = "tickets/service_conflicts.rs"]
mod service_conflicts;

#[path = "tickets/service_comments.rs"]
mod service_comments;

#[path = "tickets/concurrency.rs"]
mod concurrency;

#[path = "tickets/comment_races.rs"]
mod comment_races;

#[path = "tickets/costs.rs"]
mod costs;

#[path = "tickets/dependency.rs"]
mod dependency;
