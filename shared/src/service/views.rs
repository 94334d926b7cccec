//! What clients see of users: never the password hash, `ticketsWorkingOnCount` for staff.

use crate::store::UserRecord;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    pub name: String,
    pub email: String,
    pub user_id: String,
    pub user_type: crate::model::UserType,
    pub user_status: crate::model::UserStatus,
    pub created_at: String,
    pub updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tickets_working_on_count: Option<i64>,
}

impl From<&UserRecord> for UserView {
    fn from(u: &UserRecord) -> Self {
        Self {
            name: u.name.as_str().to_owned(),
            email: u.email.as_str().to_owned(),
            user_id: u.user_id.as_str().to_owned(),
            user_type: u.user_type,
            user_status: u.user_status,
            created_at: u.created_at.clone(),
            updated_at: u.updated_at.clone(),
            tickets_working_on_count: u
                .user_type
                .shows_ticket_count()
                .then_some(u.tickets_working_on_count),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SigninView {
    #[serde(flatten)]
    pub user: UserView,
    pub access_token: String,
}
