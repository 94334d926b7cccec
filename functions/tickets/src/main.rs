//! The tickets Lambda: build the context once (with the SQS publisher for ticket events),
//! then serve API Gateway events.

crm_shared::lambda_api_main!(crm_tickets::router, queue = true);
