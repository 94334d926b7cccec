//! Webhook subscriptions (SPEC §7): create (the secret shown once), list, read, change,
//! delete, rotate the secret, list a subscription's deliveries and retry one. Approved ADMIN
//! only, checked before existence: the caller is read beside the target and the target is
//! shown only once the caller passed.

use super::{Authed, Ctx};
use crate::ApiError;
use crate::model::text::{Lines, parse_text};
use crate::model::{EventType, Timestamp, new_ulid};
use crate::policy::Denied;
use crate::store::{
    DeliveryRecord, DeliveryStatus, Listing, SecretText, SubscriptionRecord, Written,
};
use crate::webhooks::address::WebhookUrl;
use crate::webhooks::queue::{DeliveryRef, Queued};
use crate::webhooks::signature::Secret;
use serde::Serialize;
use std::time::Duration;

/// A description's longest length.
pub const MAX_DESCRIPTION_CHARS: usize = 500;
/// `events: ["*"]`: every type.
pub const ALL_EVENTS: &str = "*";
/// How long after an admin's retry the sweep considers the delivery lost (its message, or the
/// attempt, never came back) and queues it again.
pub const RETRY_LEASE: Duration = Duration::from_secs(120);

/// A subscription as every response but creation and rotation shows it: never the secret.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookView {
    #[serde(rename = "_id")]
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    pub description: Option<String>,
    pub enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&SubscriptionRecord> for WebhookView {
    fn from(s: &SubscriptionRecord) -> Self {
        Self {
            id: s.subscription_id.clone(),
            url: s.url.clone(),
            events: s.events.clone(),
            description: s.description.clone(),
            enabled: s.enabled,
            disabled_reason: s.disabled_reason.clone(),
            created_at: s.created_at.clone(),
            updated_at: s.updated_at.clone(),
        }
    }
}

/// The creation and rotation answer: the subscription and its (new) secret, shown here only.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WebhookWithSecret {
    #[serde(flatten)]
    pub webhook: WebhookView,
    pub secret: String,
}

/// A delivery as listed (SPEC §7): never the receiver's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryView {
    #[serde(rename = "_id")]
    pub id: String,
    pub event_id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub last_attempt_at: Option<String>,
    pub last_status_code: Option<u16>,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<String>,
}

impl From<&DeliveryRecord> for DeliveryView {
    fn from(d: &DeliveryRecord) -> Self {
        Self {
            id: d.delivery_id.clone(),
            event_id: d.event_id.clone(),
            event_type: d.event_type.clone(),
            status: d.status,
            attempts: d.attempts,
            last_attempt_at: d.last_attempt_at.clone(),
            last_status_code: d.last_status_code,
            last_error: d.last_error.clone(),
            next_attempt_at: d
                .next_attempt_ms
                .filter(|_| d.status == DeliveryStatus::Pending)
                .map(|ms| Timestamp::from_millis(ms).rfc3339()),
        }
    }
}

/// A new subscription's input, parsed.
#[derive(Debug, Clone)]
pub struct NewWebhook {
    pub url: WebhookUrl,
    pub events: Vec<String>,
    pub description: Option<String>,
}

/// What a PUT changes (absent: unchanged). `description: Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct WebhookPatch {
    pub url: Option<WebhookUrl>,
    pub events: Option<Vec<String>>,
    pub description: Option<Option<String>>,
    pub enabled: Option<bool>,
}

/// `url` under the deployment's rules (400 naming `url`).
pub fn parse_url(ctx: &Ctx, raw: &str) -> Result<WebhookUrl, ApiError> {
    Ok(WebhookUrl::parse(raw.trim(), ctx.webhook_addresses)?)
}

/// `events`: a non-empty list of known types, or `["*"]`, each trimmed; duplicates are
/// dropped, the order kept.
pub fn parse_events(raw: &[&str]) -> Result<Vec<String>, ApiError> {
    let raw: Vec<&str> = raw.iter().map(|e| e.trim()).collect();
    if raw.is_empty() {
        return Err(ApiError::invalid(
            "events",
            "events must name at least one event type, or be [\"*\"].",
        ));
    }
    if raw.contains(&ALL_EVENTS) {
        if raw.iter().all(|e| *e == ALL_EVENTS) {
            return Ok(vec![ALL_EVENTS.to_owned()]);
        }
        return Err(ApiError::invalid(
            "events",
            "events: \"*\" stands alone (it means every event type).",
        ));
    }
    let mut out: Vec<String> = Vec::new();
    for e in raw {
        let Some(t) = EventType::parse(e) else {
            let known: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
            return Err(ApiError::invalid(
                "events",
                format!(
                    "events names an unknown event type {:?}: expected one of {}, or \"*\".",
                    crate::model::text::one_line(e)
                        .chars()
                        .take(60)
                        .collect::<String>(),
                    known.join(", ")
                ),
            ));
        };
        if !out.iter().any(|o| o == t.as_str()) {
            out.push(t.as_str().to_owned());
        }
    }
    Ok(out)
}

/// `description`: at most 500 characters, line breaks allowed; an empty one is none.
pub fn parse_description(raw: &str) -> Result<Option<String>, ApiError> {
    if raw.trim().is_empty() {
        return Ok(None);
    }
    Ok(Some(parse_text(
        "description",
        raw,
        MAX_DESCRIPTION_CHARS,
        Lines::Many,
    )?))
}

/// The caller, who must be an approved ADMIN (403 otherwise), read beside `read`.
async fn as_admin<T>(
    ctx: &Ctx,
    who: &Authed,
    read: impl std::future::Future<Output = Result<T, crate::store::StoreError>>,
) -> Result<T, ApiError> {
    let (caller, target) = tokio::try_join!(ctx.store.get_user(&who.id), read)?;
    let caller = who.active(caller)?;
    if !caller.is_approved_admin() {
        return Err(Denied::AdminOnly.into());
    }
    Ok(target)
}

fn not_found() -> ApiError {
    ApiError::webhook_not_found()
}

fn delivery_not_found() -> ApiError {
    ApiError::delivery_not_found()
}

/// A path id that could be one of ours (a ULID's characters); anything else matches nothing.
fn plausible_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

pub async fn create_webhook(
    ctx: &Ctx,
    who: &Authed,
    new: NewWebhook,
) -> Result<WebhookWithSecret, ApiError> {
    as_admin(ctx, who, async { Ok(()) }).await?;
    let secret = Secret::generate();
    let now = Timestamp::now().rfc3339();
    let record = SubscriptionRecord {
        subscription_id: new_ulid().to_string(),
        url: new.url.as_str().to_owned(),
        events: new.events,
        description: new.description,
        enabled: true,
        secret: SecretText(secret.reveal()),
        previous_secret: None,
        rotated_at_ms: None,
        created_at: now.clone(),
        updated_at: now,
        disabled_reason: None,
        failing_since_ms: None,
        version: 1,
    };
    ctx.store.create_subscription(&record).await?;
    tracing::info!(
        subscription_id = %record.subscription_id,
        actor = %who.id,
        "webhook subscription created"
    );
    Ok(WebhookWithSecret {
        webhook: WebhookView::from(&record),
        secret: secret.reveal(),
    })
}

pub async fn list_webhooks(
    ctx: &Ctx,
    who: &Authed,
    next_token: Option<&str>,
    limit: usize,
) -> Result<Listing<WebhookView>, ApiError> {
    const SCOPE: &str = "webhooks";
    let after = ctx.decode_cursor(next_token, SCOPE)?;
    let page = as_admin(ctx, who, ctx.store.list_subscriptions(after, limit)).await?;
    Ok(Listing {
        items: page.items.iter().map(WebhookView::from).collect(),
        next: ctx.encode_cursor(page.next, SCOPE)?,
    })
}

async fn existing(ctx: &Ctx, who: &Authed, id: &str) -> Result<SubscriptionRecord, ApiError> {
    let read = async {
        if plausible_id(id) {
            ctx.store.get_subscription(id).await
        } else {
            Ok(None)
        }
    };
    as_admin(ctx, who, read).await?.ok_or_else(not_found)
}

pub async fn get_webhook(ctx: &Ctx, who: &Authed, id: &str) -> Result<WebhookView, ApiError> {
    Ok(WebhookView::from(&existing(ctx, who, id).await?))
}

/// Applies `patch` under the version read (a concurrent change wins: 409, re-read and retry).
/// Enabling a subscription again clears why it was disabled and its failing streak.
pub async fn update_webhook(
    ctx: &Ctx,
    who: &Authed,
    id: &str,
    patch: WebhookPatch,
) -> Result<WebhookView, ApiError> {
    let before = existing(ctx, who, id).await?;
    let mut after = before.clone();
    if let Some(url) = patch.url {
        after.url = url.as_str().to_owned();
    }
    if let Some(events) = patch.events {
        after.events = events;
    }
    if let Some(description) = patch.description {
        after.description = description;
    }
    if let Some(enabled) = patch.enabled {
        if enabled && !before.enabled {
            after.disabled_reason = None;
            after.failing_since_ms = None;
        }
        if !enabled && before.enabled {
            after.disabled_reason = Some(format!("disabled by {}", who.id));
        }
        after.enabled = enabled;
    }
    if after == before {
        return Ok(WebhookView::from(&before));
    }
    after.version = before.version + 1;
    after.updated_at = Timestamp::now().rfc3339();
    match ctx
        .store
        .replace_subscription(&after, before.version)
        .await?
    {
        Written::Done => Ok(WebhookView::from(&after)),
        Written::Stale => Err(ApiError::conflict(
            "The subscription changed meanwhile; read it again and retry.",
        )),
    }
}

/// Deletes the subscription: no delivery is attempted for it from now on (pending ones are
/// dropped when the dispatcher meets them).
pub async fn delete_webhook(ctx: &Ctx, who: &Authed, id: &str) -> Result<(), ApiError> {
    existing(ctx, who, id).await?;
    if !ctx.store.delete_subscription(id).await? {
        return Err(not_found());
    }
    tracing::info!(subscription_id = %id, actor = %who.id, "webhook subscription deleted");
    Ok(())
}

/// A new secret; the replaced one still signs for 24 hours (SPEC §7). A second rotation
/// within those hours replaces the older one: the secret in use until now keeps signing.
pub async fn rotate_secret(
    ctx: &Ctx,
    who: &Authed,
    id: &str,
) -> Result<WebhookWithSecret, ApiError> {
    let before = existing(ctx, who, id).await?;
    let secret = Secret::generate();
    let now = Timestamp::now();
    let after = SubscriptionRecord {
        secret: SecretText(secret.reveal()),
        previous_secret: Some(before.secret.clone()),
        rotated_at_ms: Some(now.millis()),
        updated_at: now.rfc3339(),
        version: before.version + 1,
        ..before.clone()
    };
    match ctx
        .store
        .replace_subscription(&after, before.version)
        .await?
    {
        Written::Done => {
            tracing::info!(subscription_id = %id, actor = %who.id, "webhook secret rotated");
            Ok(WebhookWithSecret {
                webhook: WebhookView::from(&after),
                secret: secret.reveal(),
            })
        }
        Written::Stale => Err(ApiError::conflict(
            "The subscription changed meanwhile; try again.",
        )),
    }
}

pub async fn list_deliveries(
    ctx: &Ctx,
    who: &Authed,
    id: &str,
    status: Option<DeliveryStatus>,
    next_token: Option<&str>,
    limit: usize,
) -> Result<Listing<DeliveryView>, ApiError> {
    let scope = format!("deliveries:{id}:{}", status.map_or("", |s| s.as_str()));
    let after = ctx.decode_cursor(next_token, &scope)?;
    let read = async {
        if !plausible_id(id) {
            return Ok(None);
        }
        let (sub, page) = tokio::try_join!(
            ctx.store.get_subscription(id),
            ctx.store.list_deliveries(id, status, after, limit)
        )?;
        Ok(sub.map(|_| page))
    };
    let page = as_admin(ctx, who, read).await?.ok_or_else(not_found)?;
    Ok(Listing {
        items: page.items.iter().map(DeliveryView::from).collect(),
        next: ctx.encode_cursor(page.next, &scope)?,
    })
}

/// Makes the delivery pending again and hands it to the dispatcher now (202). Its attempts go
/// on counting; if this attempt fails too, the schedule decides what follows.
pub async fn retry_delivery(
    ctx: &Ctx,
    who: &Authed,
    id: &str,
    delivery_id: &str,
) -> Result<DeliveryView, ApiError> {
    let read = async {
        if !plausible_id(id) || !plausible_id(delivery_id) {
            return Ok((None, None));
        }
        tokio::try_join!(
            ctx.store.get_subscription(id),
            ctx.store.get_delivery(id, delivery_id)
        )
    };
    let (sub, delivery) = as_admin(ctx, who, read).await?;
    sub.ok_or_else(not_found)?;
    let before = delivery.ok_or_else(delivery_not_found)?;
    let now = Timestamp::now();
    let after = DeliveryRecord {
        status: DeliveryStatus::Pending,
        next_attempt_ms: Some(now.millis()),
        ..before.clone()
    };
    let lease = now.plus_seconds(RETRY_LEASE.as_secs() as i64);
    match ctx
        .store
        .save_delivery(&after, before.attempts, Some(lease), now)
        .await?
    {
        Written::Done => {}
        Written::Stale => {
            return Err(ApiError::conflict(
                "The delivery is being attempted right now; read it again.",
            ));
        }
    }
    let message = Queued {
        delivery: DeliveryRef {
            subscription_id: id.to_owned(),
            delivery_id: delivery_id.to_owned(),
            attempts: after.attempts,
        },
        delay: Duration::ZERO,
    };
    if let Err(e) = ctx.webhook_queue.send(vec![message]).await {
        // The record is due: the dispatcher's sweep queues it within its period.
        tracing::warn!(subscription_id = %id, delivery_id, error = %e, "retry not queued; the sweep takes it");
    }
    tracing::info!(subscription_id = %id, delivery_id, actor = %who.id, "webhook delivery retried");
    Ok(DeliveryView::from(&after))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| (*x).to_owned()).collect()
    }

    #[test]
    fn events_are_known_types_or_a_lone_star() {
        assert_eq!(parse_events(&["*"]).unwrap(), s(&["*"]));
        assert_eq!(parse_events(&["*", " *"]).unwrap(), s(&["*"]));
        assert_eq!(
            parse_events(&["ticket.created", "comment.created ", "ticket.created"]).unwrap(),
            s(&["ticket.created", "comment.created"])
        );
        let none: [&str; 0] = [];
        for bad in [
            &none[..],
            &["ticket.deleted"],
            &["*", "ticket.created"],
            &["TICKET.CREATED"],
            &[""],
        ] {
            let e = parse_events(bad).unwrap_err();
            assert_eq!((e.status(), e.field), (400, Some("events")), "{bad:?}");
        }
    }

    #[test]
    fn descriptions_are_bounded_text_and_empty_is_none() {
        assert_eq!(parse_description("  ").unwrap(), None);
        assert_eq!(
            parse_description(" ops\\nteam ").unwrap().as_deref(),
            Some("ops\\nteam")
        );
        assert!(parse_description(&"x".repeat(501)).is_err());
        assert!(parse_description("a\\u{202E}b").is_ok());
        assert!(parse_description("a\u{202E}b").is_err());
    }

    #[test]
    fn path_ids_of_other_shapes_match_nothing() {
        assert!(plausible_id("01JD6E2Q7M0000000000000000"));
        for bad in ["", "a#b", "../x", "a b", &"A".repeat(65)] {
            assert!(!plausible_id(bad), "{bad:?}");
        }
    }
}
