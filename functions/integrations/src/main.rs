//! The integrations Lambda: build the context once (with the webhooks queue, where an admin's
//! retry of a delivery goes), then serve API Gateway events.

crm_shared::lambda_api_main!(crm_integrations::router, webhooks = true);
