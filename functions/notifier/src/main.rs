//! The notifier Lambda: SQS batches (partial batch failures) and the scheduled outbox sweep.
//! Init opens its DynamoDB and SQS connections (`cloud::warm_up`).

use crm_notifier::bus::Bus;
use crm_notifier::integrations::Integrations;
use crm_notifier::{Invocation, Notifier, Transport};
use crm_shared::cloud;
use crm_shared::queue::JobQueue;
use crm_shared::store::{DynamoBackend, Store};
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = cloud::config_or_exit();
    let sdk = cloud::function_sdk_config().await;
    let transport = match Transport::new(
        &config.mail,
        async || aws_sdk_sesv2::Client::new(&sdk),
        None,
    )
    .await
    {
        Ok(t) => t,
        Err(e) => {
            eprintln!("configuration error: CRM_NOTIFIER_TRANSPORT: {e}");
            std::process::exit(1)
        }
    };
    let dynamodb = cloud::dynamodb_client(&sdk);
    let publisher = cloud::sqs_publisher(&config, &sdk);
    let bus = match config.require_event_bus_name() {
        Ok(name) => Bus {
            client: aws_sdk_eventbridge::Client::new(&sdk),
            name: name.to_owned(),
        },
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1)
        }
    };
    let integrations = Integrations {
        webhooks: cloud::webhook_queue(&config, &sdk),
        bus: Some(bus),
    };
    // The mail channel (SPEC §9): its reply tokens are keyed with the JWT secret, fetched
    // only when the channel is on.
    let replies = match &config.inbound_address {
        None => None,
        Some(_) => {
            let made = match cloud::jwt_secret(&config, &sdk).await {
                Ok(secret) => cloud::reply_addresses(&config, &secret),
                Err(e) => Err(e),
            };
            match made {
                Ok(r) => r,
                Err(e) => cloud::exit_with(&e),
            }
        }
    };
    let notifier = Notifier {
        store: Store::dynamo(DynamoBackend::new(
            dynamodb.clone(),
            config.table_name.clone(),
        ))
        .with_feed_horizon(config.feed_horizon()),
        transport,
        jobs: JobQueue::beside(&publisher),
        publisher,
        lease_seconds: 90,
        sweep_age_seconds: config.outbox_sweep_age_seconds,
        capacity: config.engineer_capacity,
        integrations,
        replies,
    };
    cloud::warm_up(&dynamodb, &config.table_name, &notifier.publisher).await;
    let notifier = &notifier;
    lambda_runtime::run(service_fn(move |ev: LambdaEvent<Invocation>| async move {
        notifier.handle(ev.payload).await.map_err(Error::from)
    }))
    .await
}
