//! Start-up of a function in the cloud: settings, the AWS SDK configuration (timeouts and
//! bounded retries, so a slow dependency becomes a 503 instead of a hung request), the
//! store, and the shared context. Done once per Lambda instance; no network call here
//! except fetching the JWT secret when it comes from SSM.

use crate::config::{Config, ConfigError, Profile};
use crate::service::Ctx;
use crate::store::{DynamoBackend, Store};
use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use std::time::Duration;

/// The SDK configuration every client is built from: short connect and attempt timeouts and
/// three attempts in all, within a five-second budget per operation.
pub async fn sdk_config() -> aws_config::SdkConfig {
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
        .load()
        .await
}

/// Settings for a function in the cloud; exits the process with one line on a bad value.
pub fn config_or_exit() -> Config {
    match Config::from_env(Profile::Cloud) {
        Ok(c) => c,
        Err(e) => exit_with(&e),
    }
}

pub fn exit_with(e: &ConfigError) -> ! {
    eprintln!("{e}");
    std::process::exit(1)
}

/// The context for an API function: DynamoDB store, token keys, hasher.
pub async fn api_ctx(config: &Config, sdk: &aws_config::SdkConfig) -> Ctx {
    let secret = match config.require_jwt_secret() {
        Ok(s) => s.clone(),
        Err(e) => exit_with(&e),
    };
    let client = aws_sdk_dynamodb::Client::new(sdk);
    let store = Store::dynamo(DynamoBackend::new(client, config.table_name.clone()));
    let mut ctx = Ctx::new(store, &secret, config.token_ttl_seconds, config.bcrypt_cost);
    ctx.cors_allowed_origins = config.cors_allowed_origins.clone();
    ctx
}
