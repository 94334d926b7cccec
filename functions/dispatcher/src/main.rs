//! The dispatcher Lambda: queued webhook deliveries from the webhooks queue (partial batch
//! failures; a message that keeps failing ends in its dead-letter queue) and the scheduled
//! sweep of the due index. Init builds the store, the delivery client and the queue once.

use crm_dispatcher::{Dispatcher, Input, Output, Policy, SystemResolver, WebhookClient};
use crm_shared::cloud;
use crm_shared::store::{DynamoBackend, Store};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use std::sync::Arc;
use std::time::Duration;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = cloud::config_or_exit();
    let sdk = cloud::function_sdk_config().await;
    let client = match WebhookClient::new() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("configuration error: the system's root certificates: {e}");
            std::process::exit(1)
        }
    };
    let dynamodb = cloud::dynamodb_client(&sdk);
    let dispatcher = Dispatcher {
        store: Store::dynamo(DynamoBackend::new(
            dynamodb.clone(),
            config.table_name.clone(),
        )),
        client,
        resolver: Arc::new(SystemResolver),
        policy: Policy {
            addresses: (&config.webhooks).into(),
            timeout: Duration::from_millis(config.webhooks.timeout_ms),
        },
        queue: cloud::webhook_queue(&config, &sdk),
        retry_scale: config.webhooks.retry_scale,
    };
    cloud::warm_up(&dynamodb, &config.table_name, &Default::default()).await;
    let dispatcher = &dispatcher;
    lambda_runtime::run(service_fn(move |ev: LambdaEvent<Input>| async move {
        dispatcher
            .handle_input(ev.payload)
            .await
            .map(|o: Output| o)
            .map_err(Error::from)
    }))
    .await
}
