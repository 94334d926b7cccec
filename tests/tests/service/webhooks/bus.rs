//! The bus on moto, end to end (SPEC §7): an EventBridge bus, a rule matching `source: ["crm"]`
//! with an SQS queue as its target; a ticket change committed through the use case and handled
//! by the notifier (the cloud's notifier code, with its bus); the event arrives on the rule's
//! queue with the same id, `Source: crm`, `DetailType` its type and `Detail` the event. The
//! outbox item goes only after the put; a bus that refuses keeps it.

use crm_notifier::bus::Bus;
use crm_notifier::integrations::Integrations;
use crm_notifier::{Notifier, Transport};
use crm_tests::desk::{Desk, ticket_event_channel};
use serde_json::Value;
use std::time::Duration;

async fn notifier(desk: &Desk, bus: Bus) -> Notifier {
    Notifier {
        store: desk.store().clone(),
        transport: Transport::Log {
            file: None,
            lock: tokio::sync::Mutex::new(()),
        },
        publisher: Default::default(),
        lease_seconds: 30,
        sweep_age_seconds: 120,
        jobs: Default::default(),
        capacity: None,
        integrations: Integrations {
            webhooks: Default::default(),
            bus: Some(bus),
        },
        replies: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_reaches_an_eventbridge_rule_s_queue_with_its_id() {
    let sdk = crm_tests::emulator::sdk_config().await;
    let events = aws_sdk_eventbridge::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let bus_name = crm_tests::unique("crm-bus");
    events
        .create_event_bus()
        .name(&bus_name)
        .send()
        .await
        .expect("create the bus on moto");
    let queue_url = sqs
        .create_queue()
        .queue_name(crm_tests::unique("crm-bus-target"))
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned();
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes()
        .and_then(|a| {
            a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                .cloned()
        })
        .unwrap();
    let rule = crm_tests::unique("crm-rule");
    events
        .put_rule()
        .name(&rule)
        .event_bus_name(&bus_name)
        .event_pattern(r#"{"source": ["crm"]}"#)
        .send()
        .await
        .unwrap();
    events
        .put_targets()
        .rule(&rule)
        .event_bus_name(&bus_name)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("queue")
                .arn(&queue_arn)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();

    let (publisher, mut pushed) = ticket_event_channel();
    let desk = Desk::new(crm_tests::emulator::sqlite_store())
        .await
        .with_publisher(publisher);
    let customer = desk.customer("buscust1").await;
    let t = desk.create(&customer, "Seen on the bus").await;
    let e = pushed.recv().await.expect("the committed event");
    assert_eq!(desk.outbox_events_of(&t.id).await.len(), 1);

    // A bus that does not exist refuses the put: the event stays in the outbox.
    let broken = notifier(
        &desk,
        Bus {
            client: events.clone(),
            name: crm_tests::unique("no-such-bus"),
        },
    )
    .await;
    assert!(broken.deliver(&e).await.is_err());
    assert_eq!(
        desk.outbox_events_of(&t.id).await.len(),
        1,
        "kept for a retry"
    );

    let n = notifier(
        &desk,
        Bus {
            client: events.clone(),
            name: bus_name.clone(),
        },
    )
    .await;
    n.deliver(&e).await.expect("handled");
    assert!(
        desk.outbox_events_of(&t.id).await.is_empty(),
        "the outbox item went"
    );

    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let message = loop {
        let got = sqs
            .receive_message()
            .queue_url(&queue_url)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        if let Some(m) = got.messages().first() {
            break m.body().unwrap().to_owned();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "nothing reached the rule's queue"
        );
    };
    let envelope: Value = serde_json::from_str(&message).unwrap();
    assert_eq!(envelope["source"], "crm");
    assert_eq!(envelope["detail-type"], "ticket.created");
    assert_eq!(envelope["detail"]["id"], e.id.as_str(), "the same event id");
    assert_eq!(envelope["detail"]["data"]["ticket"]["_id"], t.id.as_str());
    assert_eq!(envelope["detail"], serde_json::to_value(&e).unwrap());
}
