//! Publishing ticket events after their transaction commits. The outbox item written in the
//! same transaction is the durable record; a push here only makes delivery prompt, so a
//! failed push is logged and never fails the request (the sweep re-pushes it).

use crate::model::TicketEvent;

/// Where committed events are pushed.
#[derive(Clone, Default)]
pub enum Publisher {
    /// No queue: events wait in the outbox for the sweep.
    #[default]
    Outbox,
    /// The local server's in-process queue.
    Channel(tokio::sync::mpsc::UnboundedSender<TicketEvent>),
}

impl Publisher {
    /// Pushes one committed event; never fails the caller.
    pub async fn publish(&self, event: &TicketEvent) {
        match self {
            Publisher::Outbox => {}
            Publisher::Channel(tx) => {
                if tx.send(event.clone()).is_err() {
                    tracing::warn!(event_id = %event.event_id, "event queue closed; the outbox keeps the event");
                }
            }
        }
    }
}
