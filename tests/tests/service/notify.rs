//! The notifications suite (SPEC §4): the cloud path on the moto emulator
//! (a real SQS queue with its DLQ, SES v2, DynamoDB), the notifier's rules and transports
//! in-process (with a loopback stand-in for the notification API), and `crm serve`'s
//! in-process queue through the real binary. The emulator must be running (scripts/test):
//! without it the emulator tests fail, never skip.

mod support;

pub(crate) mod cloud;

mod notification_api;

mod ses;

mod poison;

mod idempotency;

mod publish;

mod sweep;

mod http_transport;

mod recipients;

mod comments;

mod followers;

mod serve;

mod standin;

mod privacy;

mod unpushable;

mod undeliverable;

mod threads;

mod sla;
