//! The webhooks (SPEC §7): our signatures verified by a Standard Webhooks library (`sign`),
//! the subscription endpoints' rules (`api`), deliveries through `crm serve` (`serve`), the
//! fan-out and the dispatcher in-process (`dispatch`) and the EventBridge bus on moto (`bus`).

mod api;
mod bus;
mod dispatch;
mod serve;
mod sign;
