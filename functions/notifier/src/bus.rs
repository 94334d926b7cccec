//! The EventBridge bus (SPEC §7): every event is put on it (`Source: crm`, `DetailType` the
//! type, `Detail` the event's JSON), at least once, from the notifier's handling of the event:
//! the outbox item goes only after the put succeeded, so a failed put is retried with the
//! event (the queue's redelivery, the sweep). `crm serve` has no bus.

use crm_shared::model::Event;

/// Every entry's `Source`.
pub const SOURCE: &str = "crm";
/// PutEvents refuses an entry larger than 256 KB, counting its `Source`, `DetailType` and
/// `Detail` in UTF-8 bytes (and `Time`, `Resources`, which we do not send).
pub const MAX_ENTRY_BYTES: usize = 256 * 1024;

/// The bus and its client (built once at init).
#[derive(Clone)]
pub struct Bus {
    pub client: aws_sdk_eventbridge::Client,
    pub name: String,
}

/// The `Detail` of an event: its JSON, or, when the entry would pass PutEvents' 256 KB, a
/// reference to it (`{"id", "type", "timestamp", "truncated": true, "ticketId"?}`) that a
/// consumer follows through the API or the change feed. No event the API accepts today comes
/// near the limit (a ticket's largest texts are 5,000 and 10,000 characters); this keeps a
/// future larger one from blocking its outbox item for ever.
pub fn detail(e: &Event) -> Result<String, String> {
    let full = serde_json::to_string(e).map_err(|x| x.to_string())?;
    if SOURCE.len() + e.event_type.as_str().len() + full.len() <= MAX_ENTRY_BYTES {
        return Ok(full);
    }
    let mut reference = serde_json::json!({
        "id": e.id,
        "type": e.event_type.as_str(),
        "timestamp": e.timestamp,
        "truncated": true,
    });
    if let Some(t) = &e.data.ticket {
        reference["ticketId"] = serde_json::Value::String(t.id.clone());
    }
    tracing::warn!(event_id = %e.id, bytes = full.len(), "event over PutEvents' 256 KB: its reference is put on the bus instead");
    Ok(reference.to_string())
}

impl Bus {
    /// Puts one event. Fails when the call fails or EventBridge refused the entry.
    pub async fn put(&self, e: &Event) -> Result<(), String> {
        let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
            .event_bus_name(&self.name)
            .source(SOURCE)
            .detail_type(e.event_type.as_str())
            .detail(detail(e)?)
            .build();
        let out = self
            .client
            .put_events()
            .entries(entry)
            .send()
            .await
            .map_err(|x| {
                format!(
                    "PutEvents: {}",
                    aws_smithy_types::error::display::DisplayErrorContext(&x)
                )
            })?;
        if out.failed_entry_count() > 0 {
            let why = out
                .entries()
                .iter()
                .find_map(|r| {
                    r.error_code()
                        .map(|c| format!("{c}: {}", r.error_message().unwrap_or_default()))
                })
                .unwrap_or_default();
            return Err(format!("PutEvents refused the entry: {why}"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(description: &str) -> Event {
        serde_json::from_value(serde_json::json!({
            "id": "evt_01E", "type": "ticket.created",
            "timestamp": "2022-08-05T12:55:42.348Z",
            "data": {"actor": "cust1",
                "ticket": {"_id": "01T", "title": "ok", "ticketPriority": 4,
                    "description": description, "status": "OPEN", "reporter": "cust1",
                    "assignee": null, "createdAt": "a", "updatedAt": "a", "version": 1}}
        }))
        .unwrap()
    }

    #[test]
    fn an_event_goes_whole_and_one_over_the_limit_goes_as_its_reference() {
        let e = event("small");
        assert_eq!(detail(&e).unwrap(), serde_json::to_string(&e).unwrap());
        let big = event(&"é".repeat(MAX_ENTRY_BYTES / 2));
        let d: serde_json::Value = serde_json::from_str(&detail(&big).unwrap()).unwrap();
        assert_eq!(d["id"], "evt_01E");
        assert_eq!(d["type"], "ticket.created");
        assert_eq!(d["truncated"], true);
        assert_eq!(d["ticketId"], "01T");
    }
}
