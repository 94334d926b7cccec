//! The tickets Lambda: build the context once (with the SQS publisher), then serve API
//! Gateway events.

use crm_shared::events::Publisher;
use crm_shared::{
    cloud,
    http::{ApiRequest, respond},
};
use lambda_http::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let config = cloud::config_or_exit();
    let queue_url = match config.require_queue_url() {
        Ok(q) => q.to_owned(),
        Err(e) => cloud::exit_with(&e),
    };
    let sdk = cloud::sdk_config().await;
    let mut ctx = cloud::api_ctx(&config, &sdk).await;
    ctx.publisher = Publisher::Sqs {
        client: aws_sdk_sqs::Client::new(&sdk),
        queue_url,
    };
    let ctx = &ctx;
    lambda_http::run(service_fn(move |event| async move {
        let req = ApiRequest::from_lambda(event);
        let resp = respond(req, &ctx.cors_allowed_origins, |route, req| {
            crm_tickets::handle(ctx, route, req)
        })
        .await;
        Ok::<_, std::convert::Infallible>(resp.into_lambda())
    }))
    .await
}
