//! What clients see of a sign-in: the user (`model::UserView`) and the access token.

pub use crate::model::UserView;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SigninView {
    #[serde(flatten)]
    pub user: UserView,
    pub access_token: String,
}
