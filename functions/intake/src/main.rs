//! The intake Lambda (SPEC §9): batches from the intake queue (partial batch failures), each
//! message SES receiving's stored mail (S3's notification) or a JSON command. Init builds the
//! context (the JWT secret keys the reply tokens), the S3 reader and the DLQ client once.

use crm_intake::queue::{DeadLetters, Intake, Mailbox};
use crm_shared::attachments::download::HeadClient;
use crm_shared::attachments::location::Endpoint;
use crm_shared::cloud;
use crm_shared::config::ConfigError;
use crm_shared::queue::Queues;
use crm_shared::service::Ctx;
use crm_shared::store::{DynamoBackend, Store};
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = cloud::config_or_exit();
    let sdk = cloud::function_sdk_config().await;
    let secret = match cloud::jwt_secret(&config, &sdk).await {
        Ok(s) => s,
        Err(e) => cloud::exit_with(&e),
    };
    let replies = match cloud::reply_addresses(&config, &secret) {
        Ok(r) => r,
        Err(e) => cloud::exit_with(&e),
    };
    let Some(dlq_url) = config.intake_dlq_url.clone() else {
        cloud::exit_with(&ConfigError {
            var: "CRM_INTAKE_DLQ_URL",
            problem: "is required by the intake function".into(),
        })
    };
    // S3 itself, or an emulator named as the SDK names one (AWS_ENDPOINT_URL_S3, else
    // AWS_ENDPOINT_URL: tools/lambda-local and the tests).
    let endpoint = match std::env::var("AWS_ENDPOINT_URL_S3")
        .or_else(|_| std::env::var("AWS_ENDPOINT_URL"))
        .ok()
        .filter(|v| !v.trim().is_empty())
    {
        None => Endpoint::Aws,
        Some(url) => match Endpoint::parse_override(&url) {
            Ok(e) => e,
            Err(e) => {
                eprintln!("configuration error: AWS_ENDPOINT_URL: {e}");
                std::process::exit(1)
            }
        },
    };
    let mailbox = match (HeadClient::for_function(), sdk.credentials_provider()) {
        (Ok(client), Some(credentials)) => Some(Mailbox {
            client,
            endpoint,
            credentials,
            region: sdk
                .region()
                .map(|r| r.to_string())
                .unwrap_or_else(|| "us-east-1".into()),
        }),
        (Err(e), _) => {
            eprintln!("configuration error: TLS roots for S3: {e}");
            std::process::exit(1)
        }
        (_, None) => {
            eprintln!("configuration error: no AWS credentials for S3");
            std::process::exit(1)
        }
    };
    let dynamodb = cloud::dynamodb_client(&sdk);
    let queues = Queues::beside(cloud::sqs_publisher(&config, &sdk));
    let store = Store::dynamo(DynamoBackend::new(
        dynamodb.clone(),
        config.table_name.clone(),
    ));
    let ctx = Ctx::configured(store, &secret, &config, queues);
    cloud::warm_up(&dynamodb, &config.table_name, &ctx.publisher).await;
    let intake = Intake {
        ctx,
        replies,
        mailbox,
        dead_letters: DeadLetters {
            client: aws_sdk_sqs::Client::new(&sdk),
            queue_url: dlq_url,
        },
    };
    let intake = &intake;
    lambda_runtime::run(service_fn(
        move |ev: LambdaEvent<aws_lambda_events::event::sqs::SqsEvent>| async move {
            Ok::<_, Error>(intake.handle(ev.payload).await)
        },
    ))
    .await
}
