//! The JWT secret from SSM Parameter Store (what template.yaml configures): fetched once at
//! init with decryption, against the moto emulator that scripts/test starts (missing
//! emulator = failure). A failure is one ConfigError line that names
//! CRM_JWT_SECRET_PARAMETER and never the secret.

use crm_shared::cloud;
use crm_shared::config::{Config, Profile};
use crm_tests::emulator;

fn config(vars: &[(&str, &str)]) -> Config {
    let vars: Vec<(String, String)> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::from_lookup(Profile::Cloud, |k| {
        vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    })
    .unwrap()
}

async fn put_secure_string(sdk: &aws_config::SdkConfig, name: &str, value: &str) {
    aws_sdk_ssm::Client::new(sdk)
        .put_parameter()
        .name(name)
        .value(value)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .overwrite(true)
        .send()
        .await
        .expect("put_parameter on the emulator");
}

#[tokio::test]
async fn the_secret_is_read_from_a_securestring_parameter() {
    let sdk = emulator::sdk_config().await;
    let name = format!("/{}/jwt-secret", crm_tests::unique("crm"));
    let secret = "ssm-secret-0123456789-abcdefghijklmnopqrstuvwxyz";
    put_secure_string(&sdk, &name, secret).await;
    let c = config(&[("CRM_JWT_SECRET_PARAMETER", &name)]);
    assert!(c.jwt_secret.is_none());
    let got = cloud::jwt_secret(&c, &sdk)
        .await
        .expect("fetching the secret");
    assert_eq!(got.expose(), secret);
}

#[tokio::test]
async fn the_environment_secret_wins_and_needs_no_call() {
    // A parameter that does not exist: fetching it would fail.
    let sdk = emulator::sdk_config().await;
    let env_secret = "env-secret-0123456789-abcdefghijklmnopqrst";
    let c = config(&[
        ("CRM_JWT_SECRET", env_secret),
        ("CRM_JWT_SECRET_PARAMETER", "/crm/does-not-exist"),
    ]);
    assert_eq!(
        cloud::jwt_secret(&c, &sdk).await.unwrap().expose(),
        env_secret
    );
}

#[tokio::test]
async fn a_missing_parameter_is_one_line_naming_the_variable() {
    let sdk = emulator::sdk_config().await;
    let name = format!("/{}/missing", crm_tests::unique("crm"));
    let e = cloud::jwt_secret(&config(&[("CRM_JWT_SECRET_PARAMETER", &name)]), &sdk)
        .await
        .unwrap_err();
    assert_eq!(e.var, "CRM_JWT_SECRET_PARAMETER");
    let line = e.to_string();
    assert!(!line.contains('\n'), "{line}");
    assert!(line.contains(&name), "{line}");
    assert!(line.starts_with("configuration error: CRM_JWT_SECRET_PARAMETER:"));
}

#[tokio::test]
async fn a_short_secret_is_refused_without_showing_it() {
    let sdk = emulator::sdk_config().await;
    let name = format!("/{}/short", crm_tests::unique("crm"));
    put_secure_string(&sdk, &name, "tiny-secret-value").await;
    let e = cloud::jwt_secret(&config(&[("CRM_JWT_SECRET_PARAMETER", &name)]), &sdk)
        .await
        .unwrap_err();
    assert_eq!(e.var, "CRM_JWT_SECRET_PARAMETER");
    assert!(!e.to_string().contains("tiny-secret-value"), "{e}");
}

#[tokio::test]
async fn neither_secret_nor_parameter_names_the_secret_variable() {
    let sdk = emulator::sdk_config().await;
    let e = cloud::jwt_secret(&config(&[]), &sdk).await.unwrap_err();
    assert_eq!(e.var, "CRM_JWT_SECRET");
}
