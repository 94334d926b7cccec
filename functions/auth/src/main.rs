//! The auth Lambda: build the context once, then serve API Gateway events.

crm_shared::lambda_api_main!(crm_auth::router);
