//! The notifications suite (SPEC §4), one test binary: the cloud path on the moto emulator
//! (a real SQS queue with its DLQ, SES v2, DynamoDB), the notifier's rules and transports
//! in-process (with a loopback stand-in for the notification API), and `crm serve`'s
//! in-process queue through the real binary. The emulator must be running (scripts/test):
//! without it the emulator tests fail, never skip.

/// Generates, for each named `async fn case(store: Store)` of the calling module, one test
/// on a fresh SQLite file and one on a fresh table of DynamoDB Local: the concurrent cases.
macro_rules! on_both_stores {
    ($($case:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    super::$case(crm_tests::emulator::sqlite_store()).await;
                }
            )+
        }

        mod dynamodb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    super::$case(crm_tests::emulator::dynamo_store().await).await;
                }
            )+
        }
    };
}

#[path = "notify/support.rs"]
mod support;

#[path = "notify/cloud.rs"]
mod cloud;

#[path = "notify/notification_api.rs"]
mod notification_api;

#[path = "notify/ses.rs"]
mod ses;

#[path = "notify/poison.rs"]
mod poison;

#[path = "notify/idempotency.rs"]
mod idempotency;

#[path = "notify/publish.rs"]
mod publish;

#[path = "notify/sweep.rs"]
mod sweep;

#[path = "notify/http_transport.rs"]
mod http_transport;

#[path = "notify/recipients.rs"]
mod recipients;

#[path = "notify/comments.rs"]
mod comments;

#[path = "notify/serve.rs"]
mod serve;

#[path = "notify/standin.rs"]
mod standin;

#[path = "notify/privacy.rs"]
mod privacy;

#[path = "notify/unpushable.rs"]
mod unpushable;
