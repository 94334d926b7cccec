//! What `crm serve`, the tests and the bench share: the API's functions (each a Lambda in
//! template.yaml) and the routes each declares beside its handlers.

use crm_shared::http::Router;

/// A function's declaration of its routes (its lib.rs's `router`).
pub type Routes = fn() -> Router;

/// The API's functions by name (their folder under functions/ and events/) and their routes.
pub const FUNCTIONS: &[(&str, Routes)] = &[
    ("auth", crm_auth::router),
    ("users", crm_users::router),
    ("tickets", crm_tickets::router),
    ("integrations", crm_integrations::router),
];

/// Every route of the API (what `crm serve` serves in one process).
pub fn router() -> Router {
    FUNCTIONS
        .iter()
        .fold(Router::new(), |all, (_, routes)| all.merge(routes()))
}
