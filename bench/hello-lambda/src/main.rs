//! The floor for cold starts: what `cargo lambda new` makes (tracing set up, then an echo
//! handler), with the same runtime crate, tokio and release profile as the real functions.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    lambda_runtime::run(service_fn(|ev: LambdaEvent<Value>| async move {
        Ok::<_, Error>(json!({ "hello": ev.payload }))
    }))
    .await
}
