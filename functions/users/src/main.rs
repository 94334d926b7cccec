//! The users Lambda: build the context once (with the SQS queue for the workload jobs an
//! engineer's approval or departure starts), then serve API Gateway events.

crm_shared::lambda_api_main!(crm_users::router, queue = true);
