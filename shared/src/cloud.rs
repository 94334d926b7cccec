//! Start-up of a function in the cloud: settings, the AWS SDK configuration (timeouts and
//! bounded retries, so a slow dependency becomes a 503 instead of a hung request), the
//! store, and the shared context. Done once per Lambda instance. A function's init also opens
//! its connections (`warm_up`), so the first request does not pay the TLS handshakes.

use crate::config::{Config, ConfigError, MIN_SECRET_BYTES, Profile, Secret};
use crate::service::Ctx;
use crate::store::{DynamoBackend, Store};
use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use std::time::Duration;

/// The SDK configuration every client is built from: short connect and attempt timeouts and
/// three attempts in all, within a five-second budget per operation. (The push after a commit
/// narrows it to one attempt of `queue::REQUEST_PATH_PUSH_BUDGET`: the outbox and the sweep,
/// which keeps these retries, make delivery sure.) HTTPS trusts the system's certificate store
/// (for the CLI, which may run behind a proxy with its own CA).
pub async fn sdk_config() -> aws_config::SdkConfig {
    sdk_defaults().http_client(https_client()).load().await
}

/// The SDK's HTTPS client on rustls with ring, trusting the system's certificate store. The SDK
/// crates are built without `default-https-client` (which would be rustls on aws-lc, a second
/// and larger crypto library than the ring the JWTs use), so every configuration names its
/// client: this one, or a function's (`function_sdk_config`). Plain `http://` endpoints
/// (emulators) go through it too.
pub fn https_client() -> aws_sdk_dynamodb::config::SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// `sdk_config` for a Lambda function: the same, trusting the roots AWS endpoints chain to
/// (bundled, see `tls::function_trust_store`) instead of reading the system's certificate store.
pub async fn function_sdk_config() -> aws_config::SdkConfig {
    let client = match crate::tls::function_tls_context() {
        Ok(tls) => aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
            .tls_context(tls)
            .build_https(),
        Err(e) => {
            tracing::warn!(error = %e, "bundled trust store refused; using the system's");
            return sdk_config().await;
        }
    };
    let var = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
    lambda_environment(
        sdk_defaults().http_client(client),
        var("AWS_REGION"),
        var("AWS_ACCESS_KEY_ID").is_some(),
    )
    .load()
    .await
}

/// Lambda puts the execution role's credentials and the region in the environment
/// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`): what the
/// SDK's default chains would find first. Naming them skips building those chains (an STS
/// client, an IMDS client, the profile, web-identity and container providers), a measured
/// part of init (docs/BENCHMARKS.md, section 2). Without them (a binary run by hand) the
/// default chains stay.
fn lambda_environment(
    loader: aws_config::ConfigLoader,
    region: Option<String>,
    env_credentials: bool,
) -> aws_config::ConfigLoader {
    match region {
        Some(region) if env_credentials => loader
            .region(aws_config::Region::new(region))
            .credentials_provider(
                aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
            ),
        _ => loader,
    }
}

fn sdk_defaults() -> aws_config::ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(1))
                .read_timeout(Duration::from_secs(2))
                .operation_attempt_timeout(Duration::from_secs(2))
                .operation_timeout(Duration::from_secs(5))
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(3))
}

/// Settings for a function in the cloud; exits the process with one line on a bad value.
pub fn config_or_exit() -> Config {
    let config = match Config::from_env(Profile::Cloud) {
        Ok(c) => c,
        Err(e) => exit_with(&e),
    };
    if let Err(e) = crate::attachments::files::Settings::from_config(&config) {
        exit_with(&e);
    }
    config
}

/// The attachment bucket of a function with `CRM_ATTACHMENT_BUCKET` (SPEC §13, §14): signed
/// with the SDK configuration's credentials (the role's, refreshed as they rotate), in its
/// region, at `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL` when set (an emulator). None
/// without the setting; exits with one line on a bad one.
pub fn attachment_files(
    config: &Config,
    sdk: &aws_config::SdkConfig,
) -> Option<crate::attachments::files::Files> {
    use crate::attachments::download::HeadClient;
    use crate::attachments::files::{Files, Settings};
    use crate::attachments::location::{BucketAddress, Endpoint};
    fn fail(var: &'static str, problem: String) -> ! {
        exit_with(&ConfigError { var, problem })
    }
    let settings = Settings::from_config(config).unwrap_or_else(|e| exit_with(&e));
    let bucket = settings.bucket?;
    let endpoint = match std::env::var("AWS_ENDPOINT_URL_S3")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .or_else(|| sdk.endpoint_url().map(str::to_owned))
    {
        None => Endpoint::Aws,
        Some(url) => {
            Endpoint::parse_override(&url).unwrap_or_else(|e| fail("AWS_ENDPOINT_URL_S3", e))
        }
    };
    let region = sdk
        .region()
        .map(|r| r.as_ref().to_owned())
        .unwrap_or_default();
    let bucket =
        BucketAddress::new(bucket, &region, endpoint).unwrap_or_else(|e| fail("AWS_REGION", e));
    let credentials = sdk.credentials_provider().unwrap_or_else(|| {
        fail(
            "AWS_ACCESS_KEY_ID",
            "no AWS credentials are configured".into(),
        )
    });
    let heads = HeadClient::for_function().unwrap_or_else(|e| fail("CRM_ATTACHMENT_BUCKET", e));
    Some(Files::S3 {
        bucket,
        credentials,
        heads,
    })
}

pub fn exit_with(e: &ConfigError) -> ! {
    eprintln!("{e}");
    std::process::exit(1)
}

/// The JWT secret: `CRM_JWT_SECRET` when set, else the SSM SecureString parameter named by
/// `CRM_JWT_SECRET_PARAMETER`, fetched once (decrypted) with the instance's credentials.
/// Neither set, or the fetch failing, is a `ConfigError` (one line, naming the variable).
pub async fn jwt_secret(
    config: &Config,
    sdk: &aws_config::SdkConfig,
) -> Result<Secret, ConfigError> {
    if let Some(s) = &config.jwt_secret {
        return Ok(s.clone());
    }
    match &config.jwt_secret_parameter {
        Some(name) => fetch_ssm_secret(&aws_sdk_ssm::Client::new(sdk), name).await,
        None => config.require_jwt_secret().cloned(),
    }
}

/// The mail channel's reply addresses (SPEC §9), keyed with the deployment's JWT secret:
/// `None` when `CRM_INBOUND_ADDRESS` is unset (the channel is off), a `ConfigError` when it
/// is not an address the channel can use.
pub fn reply_addresses(
    config: &Config,
    secret: &Secret,
) -> Result<Option<crate::mail::ReplyAddresses>, ConfigError> {
    config
        .inbound_address
        .as_deref()
        .map(|raw| {
            crate::mail::InboundAddress::parse(raw)
                .map(|a| crate::mail::ReplyAddresses::new(a, secret))
                .map_err(|e| ConfigError {
                    var: "CRM_INBOUND_ADDRESS",
                    problem: e
                        .to_string()
                        .trim_start_matches("CRM_INBOUND_ADDRESS ")
                        .to_owned(),
                })
        })
        .transpose()
}

/// Reads one SSM parameter with decryption and checks it is long enough to be an HS256
/// secret. The value never appears in an error.
pub async fn fetch_ssm_secret(
    client: &aws_sdk_ssm::Client,
    name: &str,
) -> Result<Secret, ConfigError> {
    const VAR: &str = "CRM_JWT_SECRET_PARAMETER";
    let fail = |problem: String| ConfigError {
        var: VAR,
        problem: problem.replace(['\n', '\r'], " "),
    };
    let out = client
        .get_parameter()
        .name(name)
        .with_decryption(true)
        .send()
        .await
        .map_err(|e| {
            fail(format!(
                "cannot read SSM parameter {name:?}: {}",
                aws_sdk_ssm::error::DisplayErrorContext(&e)
            ))
        })?;
    let value = out
        .parameter()
        .and_then(|p| p.value())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| fail(format!("SSM parameter {name:?} has no value")))?;
    if value.len() < MIN_SECRET_BYTES {
        return Err(fail(format!(
            "SSM parameter {name:?} must hold at least {MIN_SECRET_BYTES} bytes"
        )));
    }
    Ok(Secret::new(value))
}

/// The context for an API function: DynamoDB store, token keys, hasher. Exits with one line
/// when the JWT secret is missing or cannot be fetched.
/// The store is on `client` (a clone shares its connections, for `warm_up`).
pub async fn api_ctx(
    config: &Config,
    sdk: &aws_config::SdkConfig,
    client: aws_sdk_dynamodb::Client,
    queues: crate::queue::Queues,
) -> Ctx {
    let secret = match jwt_secret(config, sdk).await {
        Ok(s) => s,
        Err(e) => exit_with(&e),
    };
    let store = Store::dynamo(DynamoBackend::new(client, config.table_name.clone()));
    Ctx::configured(store, &secret, config, queues)
}

/// The whole `main` of an API function: JSON logs, settings, the SDK configuration and the
/// context (built once), its connections opened (`warm_up`), then API Gateway events served
/// by the function's routes (`$router()`, the `Router` of its lib.rs) through the one `Api`
/// service. `queue` also pushes ticket events to the `CRM_QUEUE_URL` queue (required then);
/// `webhooks` hands retried deliveries to the `CRM_WEBHOOK_QUEUE_URL` queue (required then).
#[macro_export]
macro_rules! lambda_api_main {
    ($router:path) => {
        $crate::lambda_api_main!($router, queue = false);
    };
    ($router:path, queue = $queue:expr) => {
        $crate::lambda_api_main!($router, queue = $queue, webhooks = false);
    };
    ($router:path, webhooks = $webhooks:expr) => {
        $crate::lambda_api_main!($router, queue = false, webhooks = $webhooks);
    };
    ($router:path, queue = $queue:expr, webhooks = $webhooks:expr) => {
        #[tokio::main]
        async fn main() -> Result<(), lambda_http::Error> {
            lambda_http::tracing::init_default_subscriber();
            let config = $crate::cloud::config_or_exit();
            let sdk = $crate::cloud::function_sdk_config().await;
            let dynamodb = $crate::cloud::dynamodb_client(&sdk);
            let queues = if $queue {
                // Workload jobs travel on the events' queue; the notifier runs them.
                $crate::queue::Queues::beside($crate::cloud::sqs_publisher(&config, &sdk))
            } else {
                $crate::queue::Queues::default()
            };
            let mut ctx = $crate::cloud::api_ctx(&config, &sdk, dynamodb.clone(), queues).await;
            ctx.files = $crate::cloud::attachment_files(&config, &sdk);
            if $webhooks {
                ctx.webhook_queue = $crate::cloud::webhook_queue(&config, &sdk);
            }
            $crate::cloud::warm_up(&dynamodb, &config.table_name, &ctx.publisher).await;
            let api = $crate::http::Api::new(std::sync::Arc::new(ctx), $router())
                .allow_origins(config.cors_allowed_origins.clone());
            lambda_http::run(api).await
        }
    };
}

/// The SQS publisher for `CRM_QUEUE_URL`; exits with one line when it is not set.
pub fn sqs_publisher(config: &Config, sdk: &aws_config::SdkConfig) -> crate::queue::Publisher {
    match config.require_queue_url() {
        Ok(q) => crate::queue::Publisher::Sqs {
            client: aws_sdk_sqs::Client::new(sdk),
            queue_url: q.to_owned(),
        },
        Err(e) => exit_with(&e),
    }
}

/// The webhooks queue at `CRM_WEBHOOK_QUEUE_URL`; exits with one line when it is not set.
pub fn webhook_queue(
    config: &Config,
    sdk: &aws_config::SdkConfig,
) -> crate::webhooks::queue::WebhookQueue {
    match config.require_webhook_queue_url() {
        Ok(q) => crate::webhooks::queue::WebhookQueue::Sqs {
            client: aws_sdk_sqs::Client::new(sdk),
            queue_url: q.to_owned(),
        },
        Err(e) => exit_with(&e),
    }
}

/// The DynamoDB client of a function (its clones share the connections).
pub fn dynamodb_client(sdk: &aws_config::SdkConfig) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(sdk)
}

/// Connections opened to DynamoDB during init: an API request reads the caller beside its
/// target, two requests at once, so two connections.
const WARM_DYNAMODB_CONNECTIONS: usize = 2;
/// The most init waits for the warm-up (it never fails init: a function must start when the
/// table is briefly unreachable; its first request then connects, as without a warm-up).
const WARM_UP_BUDGET: Duration = Duration::from_secs(2);

/// Opens the function's connections during init, so its first request does not pay the TCP
/// and TLS handshakes (nor the SDK's first-request work): `WARM_DYNAMODB_CONNECTIONS` reads
/// at once of a key no item has (`GetItem`, which every function's policy allows), and, when
/// the function sends to SQS, one `GetQueueAttributes` of the queue. A failure is logged as a
/// warning, never fatal.
pub async fn warm_up(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
    publisher: &crate::queue::Publisher,
) {
    use aws_sdk_dynamodb::types::AttributeValue;
    let schema = &crate::store::schema::TABLE;
    let read = || async {
        dynamodb
            .get_item()
            .table_name(table)
            .key(schema.pk, AttributeValue::S("WARMUP#".into()))
            .key(schema.sk, AttributeValue::S("WARMUP#".into()))
            .projection_expression("#pk")
            .expression_attribute_names("#pk", schema.pk)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string())
    };
    let reads = futures_util::future::join_all((0..WARM_DYNAMODB_CONNECTIONS).map(|_| read()));
    let queue = async {
        match publisher {
            crate::queue::Publisher::Sqs { client, queue_url } => client
                .get_queue_attributes()
                .queue_url(queue_url)
                .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string()),
            _ => Ok(()),
        }
    };
    match tokio::time::timeout(WARM_UP_BUDGET, futures_util::future::join(reads, queue)).await {
        Ok((reads, queue)) => {
            if let Some(Err(e)) = reads.into_iter().find(Result::is_err) {
                tracing::warn!(error = %e, "warm-up: DynamoDB read failed (not fatal)");
            }
            if let Err(e) = queue {
                tracing::warn!(error = %e, "warm-up: SQS GetQueueAttributes failed (not fatal)");
            }
        }
        Err(_) => tracing::warn!(
            budget_ms = WARM_UP_BUDGET.as_millis() as u64,
            "warm-up: gave up waiting (not fatal)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lambdas_environment_names_the_region_and_the_environments_credentials() {
        let named = lambda_environment(sdk_defaults(), Some("eu-west-3".into()), true)
            .load()
            .await;
        assert_eq!(named.region().map(|r| r.as_ref()), Some("eu-west-3"));
        // The provider is the environment's own, not the default chain that would search for it.
        let provider = format!("{:?}", named.credentials_provider());
        assert!(
            provider.contains("EnvironmentVariableCredentialsProvider")
                && !provider.contains("DefaultCredentialsChain"),
            "{provider}"
        );
        // Without credentials in the environment (a binary run by hand) the default chain stays.
        let by_hand = lambda_environment(
            sdk_defaults().http_client(https_client()),
            Some("eu-west-3".into()),
            false,
        )
        .load()
        .await;
        let provider = format!("{:?}", by_hand.credentials_provider());
        assert!(provider.contains("DefaultCredentialsChain"), "{provider}");
    }

    #[tokio::test]
    async fn warm_up_is_never_fatal() {
        use aws_sdk_dynamodb::config::{Credentials, Region};
        let conf = aws_sdk_dynamodb::Config::builder()
            .behavior_version_latest()
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("a", "b", None, None, "test"))
            .endpoint_url("http://127.0.0.1:1")
            .retry_config(RetryConfig::disabled())
            .http_client(https_client())
            .build();
        let client = aws_sdk_dynamodb::Client::from_conf(conf);
        let started = std::time::Instant::now();
        warm_up(&client, "no-table", &crate::queue::Publisher::Outbox).await;
        assert!(started.elapsed() <= WARM_UP_BUDGET + Duration::from_millis(500));
    }
}
