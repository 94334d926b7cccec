//! The integrations function: what other systems use to follow the desk. Today the webhook
//! subscriptions (SPEC §7); the change feed's `GET /events` (SPEC §8) joins this router.
//! Every route is an approved ADMIN's, checked (by the use cases) after the request's shape
//! and before the subscription's existence; a webhookId or deliveryId is taken as sent.

use crm_shared::ApiError;
use crm_shared::http::{ApiResponse, Body, Path, QueryParams, Router};
use crm_shared::model::Invalid;
use crm_shared::service::webhooks::{
    self as hooks, NewWebhook, WebhookPatch, parse_description, parse_events, parse_url,
};
use crm_shared::service::{Authed, Ctx};
use crm_shared::store::DeliveryStatus;
use http::{Method, StatusCode};

/// The integrations function's routes.
pub fn router() -> Router {
    Router::new()
        .authenticated(Method::POST, "/webhooks", "createWebhook", create_webhook)
        .authenticated(Method::GET, "/webhooks", "listWebhooks", list_webhooks)
        .authenticated(
            Method::GET,
            "/webhooks/{webhookId}",
            "getWebhook",
            get_webhook,
        )
        .authenticated(
            Method::PUT,
            "/webhooks/{webhookId}",
            "updateWebhook",
            update_webhook,
        )
        .authenticated(
            Method::DELETE,
            "/webhooks/{webhookId}",
            "deleteWebhook",
            delete_webhook,
        )
        .authenticated(
            Method::POST,
            "/webhooks/{webhookId}/rotate-secret",
            "rotateWebhookSecret",
            rotate_secret,
        )
        .authenticated(
            Method::GET,
            "/webhooks/{webhookId}/deliveries",
            "listDeliveries",
            list_deliveries,
        )
        .authenticated(
            Method::POST,
            "/webhooks/{webhookId}/deliveries/{deliveryId}/retry",
            "retryDelivery",
            retry_delivery,
        )
}

async fn create_webhook(ctx: &Ctx, who: Authed, b: Body) -> Result<ApiResponse, ApiError> {
    let url = parse_url(ctx, b.required_str("url")?)?;
    let events = parse_events(
        &b.strings("events")?
            .ok_or_else(|| ApiError::invalid("events", "events is required."))?,
    )?;
    let description = b.str("description")?.map(parse_description).transpose()?;
    let new = NewWebhook {
        url,
        events,
        description: description.flatten(),
    };
    let created = hooks::create_webhook(ctx, &who, new).await?;
    Ok(ApiResponse::data(StatusCode::CREATED, None, &created)
        .with_header(http::header::CACHE_CONTROL, "no-store"))
}

async fn list_webhooks(ctx: &Ctx, who: Authed, q: QueryParams) -> Result<ApiResponse, ApiError> {
    let page = hooks::list_webhooks(ctx, &who, q.next_token(), q.limit()?).await?;
    Ok(ApiResponse::list(&page.items, page.next))
}

async fn get_webhook(
    ctx: &Ctx,
    who: Authed,
    Path(id): Path<String>,
) -> Result<ApiResponse, ApiError> {
    let view = hooks::get_webhook(ctx, &who, &id).await?;
    Ok(ApiResponse::data(StatusCode::OK, None, &view))
}

async fn update_webhook(
    ctx: &Ctx,
    who: Authed,
    Path(id): Path<String>,
    b: Body,
) -> Result<ApiResponse, ApiError> {
    let patch = WebhookPatch {
        url: b.str("url")?.map(|u| parse_url(ctx, u)).transpose()?,
        events: b.strings("events")?.map(|e| parse_events(&e)).transpose()?,
        description: if b.is_null("description") {
            Some(None)
        } else {
            b.str("description")?.map(parse_description).transpose()?
        },
        enabled: b.bool("enabled")?,
    };
    let view = hooks::update_webhook(ctx, &who, &id, patch).await?;
    Ok(ApiResponse::data(StatusCode::OK, None, &view))
}

async fn delete_webhook(
    ctx: &Ctx,
    who: Authed,
    Path(id): Path<String>,
) -> Result<ApiResponse, ApiError> {
    hooks::delete_webhook(ctx, &who, &id).await?;
    Ok(ApiResponse::message(
        StatusCode::OK,
        "Webhook subscription deleted.",
    ))
}

async fn rotate_secret(
    ctx: &Ctx,
    who: Authed,
    Path(id): Path<String>,
) -> Result<ApiResponse, ApiError> {
    let rotated = hooks::rotate_secret(ctx, &who, &id).await?;
    Ok(ApiResponse::data(StatusCode::OK, None, &rotated)
        .with_header(http::header::CACHE_CONTROL, "no-store"))
}

async fn list_deliveries(
    ctx: &Ctx,
    who: Authed,
    Path(id): Path<String>,
    q: QueryParams,
) -> Result<ApiResponse, ApiError> {
    let status = q.parsed("status", |s| {
        DeliveryStatus::parse(s).ok_or_else(|| {
            Invalid::new(
                "status",
                "status must be one of pending, succeeded, failed.",
            )
        })
    })?;
    let page = hooks::list_deliveries(ctx, &who, &id, status, q.next_token(), q.limit()?).await?;
    Ok(ApiResponse::list(&page.items, page.next))
}

async fn retry_delivery(
    ctx: &Ctx,
    who: Authed,
    Path((id, delivery_id)): Path<(String, String)>,
) -> Result<ApiResponse, ApiError> {
    let view = hooks::retry_delivery(ctx, &who, &id, &delivery_id).await?;
    Ok(ApiResponse::data(
        StatusCode::ACCEPTED,
        Some("Delivery queued for another attempt."),
        &view,
    ))
}
