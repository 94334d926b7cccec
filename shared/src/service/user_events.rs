//! The events a user change records (SPEC §6): `user.created`, and `user.updated` with the
//! fields that changed; a password change says so with no values. Never a password or hash.

use crate::model::{Change, Changes, Event, EventData, EventType, Timestamp, UserView};
use crate::store::UserRecord;
use serde_json::{Value, json};

/// The fields of a user an event shows changing, in order.
fn fields(u: &UserRecord) -> [(&'static str, Value); 3] {
    [
        ("name", json!(u.name.as_str())),
        ("userType", json!(u.user_type.as_str())),
        ("userStatus", json!(u.user_status.as_str())),
    ]
}

fn event(t: EventType, actor: &str, user: &UserRecord, changes: Option<Vec<Change>>) -> Event {
    Event::new(
        t,
        Timestamp::now().rfc3339(),
        EventData {
            actor: Some(actor.to_owned()),
            user: Some(UserView::from(user)),
            changes: changes.map(Changes),
            ..EventData::default()
        },
    )
}

pub(super) fn created(actor: &str, user: &UserRecord) -> Event {
    event(EventType::UserCreated, actor, user, None)
}

/// `before` became `after`: the fields that differ, from and to.
pub(super) fn updated(actor: &str, before: &UserRecord, after: &UserRecord) -> Event {
    let changes = fields(before)
        .into_iter()
        .zip(fields(after))
        .filter(|((_, from), (_, to))| from != to)
        .map(|((field, from), (_, to))| Change {
            field: field.to_owned(),
            from,
            to,
        })
        .collect();
    event(EventType::UserUpdated, actor, after, Some(changes))
}

/// The user's password changed (values withheld).
pub(super) fn password_changed(actor: &str, user: &UserRecord) -> Event {
    event(
        EventType::UserUpdated,
        actor,
        user,
        Some(vec![Change::withheld("password")]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Email, Name, UserId, UserStatus, UserType};

    fn user() -> UserRecord {
        UserRecord::new(
            UserId::parse("eng").unwrap(),
            Name::parse("E").unwrap(),
            Email::parse("e@x.co").unwrap(),
            UserType::Engineer,
            UserStatus::Pending,
            "$2b$hash".into(),
            Timestamp::from_millis(1),
        )
    }

    #[test]
    fn an_update_event_names_what_changed_and_never_the_hash() {
        let before = user();
        let mut after = before.clone();
        after.user_status = UserStatus::Approved;
        let e = updated("admin", &before, &after);
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["type"], "user.updated");
        assert_eq!(
            v["data"]["changes"],
            json!({"userStatus": {"from": "PENDING", "to": "APPROVED"}})
        );
        assert_eq!(v["data"]["user"]["userStatus"], "APPROVED");
        let text = v.to_string();
        assert!(!text.contains("hash") && !text.contains("$2b$"), "{text}");
        let p = serde_json::to_value(password_changed("eng", &after)).unwrap();
        assert_eq!(p["data"]["changes"], json!({"password": {}}));
        assert!(!p.to_string().contains("$2b$"));
    }
}
