//! Every store-level case runs on both backends: `on_both_backends!` turns each named
//! `async fn case(store: Store)` of the calling module into `sqlite::case` (a fresh SQLite
//! file) and `dynamodb::case` (a fresh table in DynamoDB Local, which must be running).

/// Generates, for each named `async fn case(store: Store)` of the calling module, one test
/// per backend: `sqlite::case` and `dynamodb::case`. A case runs on tokio's current_thread
/// runtime (which the request-depth measurement needs); one marked `#[concurrent]`, or every
/// case after a leading `concurrent:`, on a multi-threaded runtime with four workers. Either
/// runtime runs on threads with 16 MiB stacks: the AWS SDK's connect path in a debug build
/// overflows the test harness's default 2 MiB.
#[macro_export]
macro_rules! on_both_backends {
    (concurrent: $($case:ident),+ $(,)?) => {
        $crate::on_both_backends!($(#[concurrent] $case),+);
    };
    (@multi concurrent) => { true };
    (@multi) => { false };
    ($($(#[$marker:ident])? $case:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $case() {
                    $crate::backends::run_case($crate::on_both_backends!(@multi $($marker)?), || async {
                        super::$case($crate::emulator::sqlite_store()).await
                    });
                }
            )+
        }

        mod dynamodb {
            $(
                #[test]
                fn $case() {
                    $crate::backends::run_case($crate::on_both_backends!(@multi $($marker)?), || async {
                        super::$case($crate::emulator::dynamo_store().await).await
                    });
                }
            )+
        }
    };
}

const STACK: usize = 16 << 20;

/// Runs a case on a fresh tokio runtime (current_thread, or multi-threaded with four workers
/// with `multi`) on its own big-stack thread, re-raising its panic.
pub fn run_case<F>(multi: bool, case: impl FnOnce() -> F + Send + 'static)
where
    F: std::future::Future<Output = ()>,
{
    let thread = std::thread::Builder::new()
        .stack_size(STACK)
        .spawn(move || {
            let mut b = if multi {
                let mut b = tokio::runtime::Builder::new_multi_thread();
                b.worker_threads(4);
                b
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
