//! Typed settings from the environment (SPEC §5), checked once at start-up. A missing or
//! invalid value is one `ConfigError` that names the variable.

use std::fmt;

/// `CRM_FEED_HORIZON_SECONDS`' default: SPEC §8's 10 s (the store's `feed::DEFAULT_HORIZON`).
pub const DEFAULT_FEED_HORIZON_SECONDS: u64 = 10;

/// Where the process runs: decides the defaults that differ between the cloud and a laptop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    Cloud,
    Local,
}

/// How the notifier sends mail (`CRM_NOTIFIER_TRANSPORT`), with what that way needs, so a
/// transport cannot be chosen without it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailTransport {
    /// SES v2, from `CRM_MAIL_FROM`.
    Ses { from: String },
    /// The external notification API at `CRM_NOTIFICATION_SERVICE_URL`.
    Http { url: String },
    /// One JSON line per mail in the log (locally also `<data-dir>/mail.log`).
    Log,
}

/// A secret string whose Debug output is redacted, so it cannot reach a log by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub var: &'static str,
    pub problem: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "configuration error: {}: {}", self.var, self.problem)
    }
}

impl std::error::Error for ConfigError {}

fn err(var: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        var,
        problem: problem.into(),
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub table_name: String,
    pub queue_url: Option<String>,
    /// Absent in the cloud when the secret comes from SSM (`jwt_secret_parameter`), and
    /// locally when `crm serve` keeps its own in the data dir.
    pub jwt_secret: Option<Secret>,
    pub jwt_secret_parameter: Option<String>,
    pub token_ttl_seconds: u64,
    pub bcrypt_cost: u32,
    pub mail: MailTransport,
    /// Origins allowed by CORS; empty means CORS is off.
    pub cors_allowed_origins: Vec<String>,
    /// Outbox items older than this are re-pushed by the sweep.
    pub outbox_sweep_age_seconds: i64,
    /// `CRM_ENGINEER_CAPACITY`: the most open tickets auto-assigned to one engineer (None:
    /// unlimited).
    pub engineer_capacity: Option<i64>,
    /// `CRM_FEED_HORIZON_SECONDS`: how long after its commit an event may take to appear in
    /// the change feed (SPEC §8: 10 s). Never 0: the feed's ordering rests on it.
    pub feed_horizon_seconds: u64,
    /// Outbound webhooks (SPEC §7, §14).
    pub webhooks: WebhookSettings,
    /// `CRM_EVENT_BUS_NAME`: the EventBridge bus every event is put on (the cloud's notifier;
    /// `crm serve` has no bus).
    pub event_bus_name: Option<String>,
    /// `CRM_WEBHOOK_QUEUE_URL`: the SQS queue of webhook deliveries the dispatcher consumes
    /// (the cloud's notifier and dispatcher; `crm serve` dispatches in-process).
    pub webhook_queue_url: Option<String>,
    /// `CRM_ATTACHMENT_BUCKET` and `CRM_ATTACHMENT_MAX_BYTES` as given (SPEC §13, §14);
    /// `attachments::Settings::from_config` checks them (a layer above this one).
    pub attachment_bucket: Option<String>,
    pub attachment_max_bytes: Option<String>,
    /// `CRM_INBOUND_ADDRESS` (SPEC §9): the mail channel's address, as set (checked where the
    /// reply addresses are made: `cloud::reply_addresses`); unset, the channel is off.
    pub inbound_address: Option<String>,
    /// `CRM_INTAKE_DLQ_URL`: where the intake function sends a message that can never
    /// succeed, with its reason (SPEC §9; the intake function only).
    pub intake_dlq_url: Option<String>,
}

/// The webhook settings (SPEC §14), with the test knobs beside them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WebhookSettings {
    /// `CRM_WEBHOOK_ALLOW_HTTP`: plain `http://` URLs (`true` in `crm serve`, `false` in the
    /// cloud). The webhooks layer reads these two as its `AddressPolicy`.
    pub allow_http: bool,
    /// `CRM_WEBHOOK_ALLOW_PRIVATE`: any address and any host name (as `allow_http`).
    pub allow_private: bool,
    /// `CRM_WEBHOOK_RETRY_SCALE`: multiplies SPEC's retry waits (default 1; tests shorten
    /// them, e.g. 0.001 makes 5 s → 5 ms and 5 min → 300 ms). Greater than 0, at most 1.
    pub retry_scale: f64,
    /// `CRM_WEBHOOK_TIMEOUT_MS`: the deadline of one attempt (SPEC's 15 s by default; tests
    /// shorten it to meet a hanging receiver sooner). 100 to 15000.
    pub timeout_ms: u64,
}

impl Default for WebhookSettings {
    /// The cloud's.
    fn default() -> Self {
        Self {
            allow_http: false,
            allow_private: false,
            retry_scale: 1.0,
            timeout_ms: 15_000,
        }
    }
}

pub const MIN_SECRET_BYTES: usize = 32;

impl Config {
    /// Reads the process environment.
    pub fn from_env(profile: Profile) -> Result<Self, ConfigError> {
        Self::from_lookup(profile, |k| std::env::var(k).ok())
    }

    /// Reads settings through `get` (the environment, or a map in tests).
    pub fn from_lookup(
        profile: Profile,
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let get = |k: &str| {
            get(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };

        let table_name = get("CRM_TABLE_NAME").unwrap_or_else(|| "crm".into());
        if table_name.len() < 3
            || table_name.len() > 255
            || !table_name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        {
            return Err(err(
                "CRM_TABLE_NAME",
                "must be 3-255 characters of A-Z a-z 0-9 _ - .",
            ));
        }

        let queue_url = get("CRM_QUEUE_URL");
        if let Some(u) = &queue_url
            && !(u.starts_with("http://") || u.starts_with("https://"))
        {
            return Err(err("CRM_QUEUE_URL", "must be an http(s) URL"));
        }

        let jwt_secret = get("CRM_JWT_SECRET").map(Secret::new);
        if let Some(s) = &jwt_secret
            && s.expose().len() < MIN_SECRET_BYTES
        {
            return Err(err(
                "CRM_JWT_SECRET",
                format!("must be at least {MIN_SECRET_BYTES} bytes long"),
            ));
        }
        let jwt_secret_parameter = get("CRM_JWT_SECRET_PARAMETER");

        let token_ttl_seconds = match get("CRM_TOKEN_TTL_SECONDS") {
            None => 3600,
            Some(v) => v
                .parse::<u64>()
                .ok()
                .filter(|n| (1..=31 * 24 * 3600).contains(n))
                .ok_or_else(|| {
                    err(
                        "CRM_TOKEN_TTL_SECONDS",
                        format!("must be a whole number of seconds from 1 to 2678400 (got {v:?})"),
                    )
                })?,
        };

        let bcrypt_cost = match get("CRM_BCRYPT_COST") {
            None => 10,
            Some(v) => v
                .parse::<u32>()
                .ok()
                .filter(|n| (4..=31).contains(n))
                .ok_or_else(|| {
                    err(
                        "CRM_BCRYPT_COST",
                        format!("must be an integer from 4 to 31 (got {v:?})"),
                    )
                })?,
        };

        let notification_service_url = get("CRM_NOTIFICATION_SERVICE_URL");
        if let Some(u) = &notification_service_url
            && !(u.starts_with("http://") || u.starts_with("https://"))
        {
            return Err(err(
                "CRM_NOTIFICATION_SERVICE_URL",
                "must be an http(s) URL",
            ));
        }
        let mail_from = get("CRM_MAIL_FROM").unwrap_or_else(|| "no-reply@crm.local".into());
        crate::model::Email::parse(&mail_from)
            .map_err(|_| err("CRM_MAIL_FROM", "must be a valid email address"))?;
        let mail = match get("CRM_NOTIFIER_TRANSPORT").as_deref() {
            None if profile == Profile::Local => MailTransport::Log,
            None | Some("ses") => MailTransport::Ses { from: mail_from },
            Some("http") => MailTransport::Http {
                url: notification_service_url.ok_or_else(|| {
                    err(
                        "CRM_NOTIFICATION_SERVICE_URL",
                        "is required when CRM_NOTIFIER_TRANSPORT=http",
                    )
                })?,
            },
            Some("log") => MailTransport::Log,
            Some(other) => {
                return Err(err(
                    "CRM_NOTIFIER_TRANSPORT",
                    format!("must be one of ses, http, log (got {other:?})"),
                ));
            }
        };

        let cors_allowed_origins = get("CRM_CORS_ALLOWED_ORIGINS")
            .map(|v| {
                v.split(',')
                    .map(|o| o.trim().trim_end_matches('/').to_owned())
                    .filter(|o| !o.is_empty())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        if let Some(bad) = cors_allowed_origins
            .iter()
            .find(|o| !(o.starts_with("http://") || o.starts_with("https://")))
        {
            return Err(err(
                "CRM_CORS_ALLOWED_ORIGINS",
                format!("each origin must be an http(s) origin (got {bad:?})"),
            ));
        }

        let outbox_sweep_age_seconds = match get("CRM_OUTBOX_SWEEP_AGE_SECONDS") {
            None => 120,
            Some(v) => v
                .parse::<i64>()
                .ok()
                .filter(|n| (1..=86_400).contains(n))
                .ok_or_else(|| {
                    err(
                        "CRM_OUTBOX_SWEEP_AGE_SECONDS",
                        format!("must be a whole number of seconds from 1 to 86400 (got {v:?})"),
                    )
                })?,
        };

        let engineer_capacity = match get("CRM_ENGINEER_CAPACITY") {
            None => None,
            Some(v) if v.trim().is_empty() => None,
            Some(v) => Some(
                v.trim()
                    .parse::<i64>()
                    .ok()
                    .filter(|n| (1..=1_000_000).contains(n))
                    .ok_or_else(|| {
                        err(
                            "CRM_ENGINEER_CAPACITY",
                            format!(
                                "must be a whole number from 1 to 1000000, or unset (got {v:?})"
                            ),
                        )
                    })?,
            ),
        };

        let feed_horizon_seconds = match get("CRM_FEED_HORIZON_SECONDS") {
            None => DEFAULT_FEED_HORIZON_SECONDS,
            Some(v) => v
                .parse::<u64>()
                .ok()
                .filter(|n| (1..=300).contains(n))
                .ok_or_else(|| {
                    err(
                        "CRM_FEED_HORIZON_SECONDS",
                        format!("must be a whole number of seconds from 1 to 300 (got {v:?})"),
                    )
                })?,
        };
        let webhooks = webhook_settings(profile, &get)?;
        let event_bus_name = get("CRM_EVENT_BUS_NAME");
        let webhook_queue_url = get("CRM_WEBHOOK_QUEUE_URL");
        if let Some(u) = &webhook_queue_url
            && !(u.starts_with("http://") || u.starts_with("https://"))
        {
            return Err(err("CRM_WEBHOOK_QUEUE_URL", "must be an http(s) URL"));
        }
        let attachment_bucket = get("CRM_ATTACHMENT_BUCKET");
        let attachment_max_bytes = get("CRM_ATTACHMENT_MAX_BYTES");

        Ok(Self {
            table_name,
            queue_url,
            jwt_secret,
            jwt_secret_parameter,
            token_ttl_seconds,
            bcrypt_cost,
            mail,
            cors_allowed_origins,
            outbox_sweep_age_seconds,
            engineer_capacity,
            feed_horizon_seconds,
            webhooks,
            event_bus_name,
            webhook_queue_url,
            attachment_bucket,
            attachment_max_bytes,
            inbound_address: get("CRM_INBOUND_ADDRESS"),
            intake_dlq_url: get("CRM_INTAKE_DLQ_URL"),
        })
    }

    /// The change feed's visibility horizon (`CRM_FEED_HORIZON_SECONDS`).
    pub fn feed_horizon(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.feed_horizon_seconds)
    }

    pub fn require_queue_url(&self) -> Result<&str, ConfigError> {
        self.queue_url
            .as_deref()
            .ok_or_else(|| err("CRM_QUEUE_URL", "is required"))
    }

    pub fn require_event_bus_name(&self) -> Result<&str, ConfigError> {
        self.event_bus_name
            .as_deref()
            .ok_or_else(|| err("CRM_EVENT_BUS_NAME", "is required"))
    }

    pub fn require_webhook_queue_url(&self) -> Result<&str, ConfigError> {
        self.webhook_queue_url
            .as_deref()
            .ok_or_else(|| err("CRM_WEBHOOK_QUEUE_URL", "is required"))
    }

    /// The secret itself, or a ConfigError naming CRM_JWT_SECRET when there is none.
    pub fn require_jwt_secret(&self) -> Result<&Secret, ConfigError> {
        self.jwt_secret.as_ref().ok_or_else(|| {
            err(
                "CRM_JWT_SECRET",
                "is required (or CRM_JWT_SECRET_PARAMETER naming an SSM SecureString)",
            )
        })
    }
}

/// `true` or `false` (any case), else an error naming the variable.
fn flag(
    var: &'static str,
    get: &impl Fn(&str) -> Option<String>,
    default: bool,
) -> Result<bool, ConfigError> {
    match get(var) {
        None => Ok(default),
        Some(v) => match v.to_ascii_lowercase().as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(err(var, format!("must be true or false (got {v:?})"))),
        },
    }
}

fn webhook_settings(
    profile: Profile,
    get: &impl Fn(&str) -> Option<String>,
) -> Result<WebhookSettings, ConfigError> {
    let local = profile == Profile::Local;
    let allow_http = flag("CRM_WEBHOOK_ALLOW_HTTP", get, local)?;
    let allow_private = flag("CRM_WEBHOOK_ALLOW_PRIVATE", get, local)?;
    let retry_scale = match get("CRM_WEBHOOK_RETRY_SCALE") {
        None => 1.0,
        Some(v) => v
            .parse::<f64>()
            .ok()
            .filter(|x| *x > 0.0 && *x <= 1.0)
            .ok_or_else(|| {
                err(
                    "CRM_WEBHOOK_RETRY_SCALE",
                    format!("must be a number greater than 0 and at most 1 (got {v:?})"),
                )
            })?,
    };
    let timeout_ms = match get("CRM_WEBHOOK_TIMEOUT_MS") {
        None => 15_000,
        Some(v) => v
            .parse::<u64>()
            .ok()
            .filter(|n| (100..=15_000).contains(n))
            .ok_or_else(|| {
                err(
                    "CRM_WEBHOOK_TIMEOUT_MS",
                    format!("must be a whole number of milliseconds from 100 to 15000 (got {v:?})"),
                )
            })?,
    };
    Ok(WebhookSettings {
        allow_http,
        allow_private,
        retry_scale,
        timeout_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load(profile: Profile, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(profile, |k| map.get(k).cloned())
    }

    #[test]
    fn defaults_match_the_spec_table() {
        let c = load(Profile::Cloud, &[]).unwrap();
        assert_eq!(c.table_name, "crm");
        assert_eq!(c.token_ttl_seconds, 3600);
        assert_eq!(c.bcrypt_cost, 10);
        assert_eq!(
            c.mail,
            MailTransport::Ses {
                from: "no-reply@crm.local".into()
            }
        );
        assert!(c.cors_allowed_origins.is_empty());
        assert_eq!(c.outbox_sweep_age_seconds, 120);
        assert_eq!(c.feed_horizon(), std::time::Duration::from_secs(10));
        assert_eq!(load(Profile::Local, &[]).unwrap().mail, MailTransport::Log);
    }

    #[test]
    fn each_bad_value_names_its_variable_in_one_line() {
        let cases: &[(&str, &str)] = &[
            ("CRM_TOKEN_TTL_SECONDS", "soon"),
            ("CRM_TOKEN_TTL_SECONDS", "0"),
            ("CRM_BCRYPT_COST", "3"),
            ("CRM_BCRYPT_COST", "32"),
            ("CRM_NOTIFIER_TRANSPORT", "smtp"),
            ("CRM_JWT_SECRET", "short"),
            ("CRM_TABLE_NAME", "a b"),
            ("CRM_QUEUE_URL", "queue"),
            ("CRM_MAIL_FROM", "nobody"),
            ("CRM_NOTIFICATION_SERVICE_URL", "ftp://x"),
            ("CRM_CORS_ALLOWED_ORIGINS", "example.com"),
            ("CRM_OUTBOX_SWEEP_AGE_SECONDS", "0"),
            ("CRM_FEED_HORIZON_SECONDS", "0"),
            ("CRM_FEED_HORIZON_SECONDS", "301"),
            ("CRM_FEED_HORIZON_SECONDS", "2.5"),
            ("CRM_WEBHOOK_ALLOW_HTTP", "yes"),
            ("CRM_WEBHOOK_ALLOW_PRIVATE", "1"),
            ("CRM_WEBHOOK_RETRY_SCALE", "0"),
            ("CRM_WEBHOOK_RETRY_SCALE", "2"),
            ("CRM_WEBHOOK_TIMEOUT_MS", "20000"),
        ];
        for (var, value) in cases {
            let e = load(Profile::Cloud, &[(var, value)]).unwrap_err();
            assert_eq!(e.var, *var, "{var}={value}");
            let line = e.to_string();
            assert!(line.contains(var) && !line.contains('\n'), "{line}");
        }
    }

    #[test]
    fn http_transport_requires_the_notification_url() {
        let e = load(Profile::Local, &[("CRM_NOTIFIER_TRANSPORT", "http")]).unwrap_err();
        assert_eq!(e.var, "CRM_NOTIFICATION_SERVICE_URL");
        let c = load(
            Profile::Local,
            &[
                ("CRM_NOTIFIER_TRANSPORT", "http"),
                ("CRM_NOTIFICATION_SERVICE_URL", "http://127.0.0.1:9/notify"),
            ],
        )
        .unwrap();
        assert_eq!(
            c.mail,
            MailTransport::Http {
                url: "http://127.0.0.1:9/notify".into()
            }
        );
    }

    #[test]
    fn required_values_are_reported_by_name() {
        let c = load(Profile::Cloud, &[]).unwrap();
        assert_eq!(c.require_queue_url().unwrap_err().var, "CRM_QUEUE_URL");
        assert_eq!(c.require_jwt_secret().unwrap_err().var, "CRM_JWT_SECRET");
    }

    #[test]
    fn cors_list_is_split_and_trimmed() {
        let c = load(
            Profile::Cloud,
            &[(
                "CRM_CORS_ALLOWED_ORIGINS",
                " https://a.example/ , http://b.example ",
            )],
        )
        .unwrap();
        assert_eq!(
            c.cors_allowed_origins,
            vec!["https://a.example", "http://b.example"]
        );
    }

    #[test]
    fn webhook_addresses_are_open_locally_and_closed_in_the_cloud() {
        let cloud = load(Profile::Cloud, &[]).unwrap().webhooks;
        assert_eq!(cloud, WebhookSettings::default());
        assert!(!cloud.allow_http && !cloud.allow_private);
        let local = load(Profile::Local, &[]).unwrap().webhooks;
        assert!(local.allow_http && local.allow_private);
        let narrowed = load(
            Profile::Local,
            &[
                ("CRM_WEBHOOK_ALLOW_HTTP", "FALSE"),
                ("CRM_WEBHOOK_ALLOW_PRIVATE", "false"),
                ("CRM_WEBHOOK_RETRY_SCALE", "0.001"),
                ("CRM_WEBHOOK_TIMEOUT_MS", "500"),
            ],
        )
        .unwrap()
        .webhooks;
        assert!(!narrowed.allow_http && !narrowed.allow_private);
        assert_eq!(narrowed.retry_scale, 0.001);
        assert_eq!(narrowed.timeout_ms, 500);
        assert_eq!(load(Profile::Cloud, &[]).unwrap().event_bus_name, None);
    }

    #[test]
    fn secret_debug_is_redacted() {
        let c = load(Profile::Cloud, &[("CRM_JWT_SECRET", &"s".repeat(40))]).unwrap();
        assert!(!format!("{c:?}").contains("ssss"));
    }
}
