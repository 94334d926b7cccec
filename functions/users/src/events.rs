//! GET /events (SPEC §8), the HTTP side: the query string into `service::feed::EventsQuery`
//! (`after`, `since`, `type`, `limit` 1–1000, each bad one a 400 naming it) and the page into
//! the listings' envelope with `nextCursor`. In a file of its own so that it moves as it is to
//! the integrations function.

use crm_shared::ApiError;
use crm_shared::http::{ApiResponse, QueryParams};
use crm_shared::model::{Event, EventType, Invalid, Timestamp};
use crm_shared::service::feed::{self, EventsQuery};
use crm_shared::service::{Authed, Ctx};
use http::StatusCode;
use serde::Serialize;

/// `limit`'s bounds and default (SPEC §8).
const MAX_LIMIT: usize = 1000;
const DEFAULT_LIMIT: usize = 100;

/// The route's handler (`listEvents`).
pub async fn list(ctx: &Ctx, who: Authed, q: QueryParams) -> Result<ApiResponse, ApiError> {
    let query = parse(&q)?;
    let page = feed::events(ctx, &who, query).await?;
    Ok(envelope(&page.events, page.next_cursor))
}

/// The query string of GET /events.
pub fn parse(q: &QueryParams) -> Result<EventsQuery, ApiError> {
    Ok(EventsQuery {
        after: q.get("after").map(str::to_owned),
        since: q.parsed("since", |v| {
            Timestamp::parse_rfc3339(v).ok_or_else(|| {
                Invalid::new(
                    "since",
                    "since must be an RFC 3339 time, e.g. 2026-12-06T12:00:00.000Z.",
                )
            })
        })?,
        limit: q
            .parsed("limit", |v| {
                v.parse::<usize>()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or_else(|| {
                        Invalid::new("limit", "limit must be an integer from 1 to 1000.")
                    })
            })?
            .unwrap_or(DEFAULT_LIMIT),
        event_type: q.parsed("type", |v| {
            EventType::parse(v).ok_or_else(|| {
                let all: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
                Invalid::new("type", format!("type must be one of {}.", all.join(", ")))
            })
        })?,
    })
}

/// `{"success": true, "documentResultsCount": n, "data": [events], "nextCursor": "…"}`.
fn envelope(events: &[Event], next_cursor: String) -> ApiResponse {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Envelope<'a> {
        success: bool,
        document_results_count: usize,
        data: &'a [Event],
        next_cursor: String,
    }
    ApiResponse::json(
        StatusCode::OK,
        &Envelope {
            success: true,
            document_results_count: events.len(),
            data: events,
            next_cursor,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crm_shared::error::ErrorCode;

    fn parse_str(query: Option<&str>) -> Result<EventsQuery, ApiError> {
        parse(&QueryParams::parse(query)?)
    }

    #[test]
    fn each_parameter_parses_and_each_bad_one_is_a_400_naming_it() {
        let q = parse_str(Some(
            "after=abc&since=2026-12-06T12:00:00.000Z&limit=1000&type=comment.created",
        ))
        .unwrap();
        assert_eq!(q.after.as_deref(), Some("abc"));
        assert_eq!(
            q.since.map(|t| t.rfc3339()).as_deref(),
            Some("2026-12-06T12:00:00.000Z")
        );
        assert_eq!(q.limit, 1000);
        assert_eq!(q.event_type, Some(EventType::CommentCreated));
        let d = parse_str(None).unwrap();
        assert_eq!(
            (d.limit, d.after, d.since, d.event_type),
            (100, None, None, None)
        );
        for (query, field) in [
            ("limit=0", "limit"),
            ("limit=1001", "limit"),
            ("limit=x", "limit"),
            ("limit=", "limit"),
            ("type=TICKET_CREATED", "type"),
            ("type=", "type"),
            ("since=yesterday", "since"),
            ("since=2026-12-06", "since"),
        ] {
            let e = parse_str(Some(query)).unwrap_err();
            assert_eq!(
                (e.status(), e.code, e.field),
                (400, ErrorCode::InvalidQuery, Some(field)),
                "{query}"
            );
        }
        assert_eq!(
            parse_str(Some("limit=1&limit=2")).unwrap_err().code,
            ErrorCode::InvalidQuery
        );
    }
}
