//! User items: the user, its email sentinel (uniqueness without check-then-insert), the
//! approved-admin counter (the last admin cannot go), and the indexes that list users and
//! rank approved engineers by load.

use super::backend::{Cond, Item, Query, Range, Refused, SortKey, StoreError, Tx, Write};
use super::keys::{self, ENGINEERS_BY_LOAD, USERS_ALL};
use super::paging::{Listing, Source, Spec};
use super::schema::{GSI1, GSI2, GSI4, Index, TABLE};
use super::{Store, from_item, to_item};
use crate::model::{Email, Name, Timestamp, UserId, UserStatus, UserType};
use crate::policy;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// A user as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserRecord {
    pub user_id: UserId,
    pub name: Name,
    pub email: Email,
    pub user_type: UserType,
    pub user_status: UserStatus,
    pub password_hash: String,
    pub created_at: String,
    pub updated_at: String,
    pub created_ms: i64,
    /// OPEN tickets assigned to this user (kept for every user, shown for staff).
    pub tickets_working_on_count: i64,
    /// `count × LOAD_STEP + approval ms`: the engineers-by-load sort key (GSI4).
    #[serde(rename = "gsi4sk")]
    pub load_key: i64,
    pub version: i64,
    /// Tokens must carry this generation (SPEC §2): a password change, a reset and a
    /// sign-out add one, so every token issued before stops working. Absent on users from
    /// before it existed: 0.
    #[serde(default)]
    pub token_generation: i64,
}

impl UserRecord {
    /// A new user as of `now`, not yet stored.
    pub fn new(
        user_id: UserId,
        name: Name,
        email: Email,
        user_type: UserType,
        user_status: UserStatus,
        password_hash: String,
        now: Timestamp,
    ) -> Self {
        Self {
            user_id,
            name,
            email,
            user_type,
            user_status,
            password_hash,
            created_at: now.rfc3339(),
            updated_at: now.rfc3339(),
            created_ms: now.millis(),
            tickets_working_on_count: 0,
            load_key: keys::load_key(0, now.millis()),
            version: 1,
            token_generation: 0,
        }
    }

    pub fn is_approved_admin(&self) -> bool {
        policy::is_approved_admin(self.user_type, self.user_status)
    }

    pub fn is_assignable(&self) -> bool {
        policy::is_assignable(self.user_type, self.user_status)
    }

    pub fn caller(&self) -> policy::Caller {
        policy::Caller {
            id: self.user_id.clone(),
            user_type: self.user_type,
            status: self.user_status,
        }
    }

    fn order_key(&self) -> String {
        keys::user_order(Timestamp::from_millis(self.created_ms), &self.user_id)
    }

    fn to_item(&self) -> Result<Item, StoreError> {
        let k = keys::user(&self.user_id);
        let order = self.order_key();
        let mut attrs = vec![
            (TABLE.pk, Value::String(k.pk)),
            (TABLE.sk, Value::String(k.sk)),
            (GSI1.pk, Value::String(USERS_ALL.into())),
            (GSI1.sk, Value::String(order.clone())),
            (
                GSI2.pk,
                Value::String(keys::users_by(self.user_type, self.user_status)),
            ),
            (GSI2.sk, Value::String(order)),
        ];
        if self.is_assignable() {
            attrs.push((GSI4.pk, Value::String(ENGINEERS_BY_LOAD.into())));
        }
        to_item(self, &attrs)
    }
}

impl From<&UserRecord> for crate::model::UserView {
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

/// Which users a listing returns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UserFilter {
    pub user_type: Option<UserType>,
    pub user_status: Option<UserStatus>,
}

impl UserFilter {
    /// The index partitions that hold exactly the matching users.
    fn sources(&self) -> Vec<Source> {
        let by = |t, s| Source::new(Index::Gsi2, keys::users_by(t, s));
        match (self.user_type, self.user_status) {
            (None, None) => vec![Source::new(Index::Gsi1, USERS_ALL)],
            (Some(t), Some(s)) => vec![by(t, s)],
            (Some(t), None) => UserStatus::ALL.iter().map(|s| by(t, *s)).collect(),
            (None, Some(s)) => UserType::ALL.iter().map(|t| by(*t, s)).collect(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CreateUserError {
    #[error("userId taken")]
    UserIdTaken,
    #[error("email taken")]
    EmailTaken,
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpdateUserError {
    /// The user changed since it was read: re-read and re-apply.
    #[error("user changed concurrently")]
    Conflict,
    /// The change would leave no approved admin.
    #[error("last approved admin")]
    LastAdmin,
    #[error(transparent)]
    Store(#[from] StoreError),
}

const APPROVED_ADMINS: &str = "approvedAdmins";

/// The writes of a user transaction, by what they guard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    User,
    Email,
    AdminCount,
    /// A workload job or an event committed with the change.
    Extra,
}
const TOKEN_GENERATION: &str = "tokenGeneration";

fn admin_delta(delta: i64) -> Write {
    Write::Update {
        key: keys::admin_counter(),
        set: vec![],
        add: vec![(APPROVED_ADMINS, delta)],
        remove: vec![],
        // Removing an approved admin needs another one to remain.
        cond: if delta < 0 {
            Cond::Ge(APPROVED_ADMINS, 1 - delta)
        } else {
            Cond::Always
        },
    }
}

/// A condition a ticket change may carry: the user is still APPROVED when it commits (a new
/// follower, SPEC §11).
pub fn approved_user_check(id: &UserId) -> Write {
    Write::Check {
        key: keys::user(id),
        cond: Cond::Eq(
            "userStatus",
            serde_json::Value::String(UserStatus::Approved.as_str().to_owned()),
        ),
    }
}

impl Store {
    pub async fn get_user(&self, id: &UserId) -> Result<Option<UserRecord>, StoreError> {
        self.get(&keys::user(id)).await?.map(from_item).transpose()
    }

    /// The user, read eventually consistent (see `Store::get_eventually`): the notifier's
    /// recipients, resolved at send time, where a second's lag is as good.
    pub async fn get_user_eventually(&self, id: &UserId) -> Result<Option<UserRecord>, StoreError> {
        self.get_eventually(&keys::user(id))
            .await?
            .map(from_item)
            .transpose()
    }

    /// The userId registered with `email`, read from its email sentinel (SPEC §9: a mail's
    /// sender is the user whose address it is).
    pub async fn user_id_by_email(&self, email: &Email) -> Result<Option<UserId>, StoreError> {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Sentinel {
            user_id: UserId,
        }
        Ok(self
            .get(&keys::email(email))
            .await?
            .map(from_item::<Sentinel>)
            .transpose()?
            .map(|s| s.user_id))
    }

    /// Stores a new user, its email sentinel and (for an approved admin) the admin count in
    /// one transaction, so concurrent sign-ups cannot share a userId or an email.
    pub async fn create_user(&self, user: &UserRecord) -> Result<(), CreateUserError> {
        self.create_user_with(user, vec![]).await
    }

    /// As `create_user`, with more items in the same transaction (the user's event).
    pub async fn create_user_with(
        &self,
        user: &UserRecord,
        extra: Vec<Write>,
    ) -> Result<(), CreateUserError> {
        let mut tx = Tx::new();
        tx.push(
            Part::User,
            Write::Put {
                item: user.to_item()?,
                cond: Cond::NotExists,
            },
        );
        tx.push(
            Part::Email,
            Write::Put {
                item: to_item(
                    &json!({ "userId": user.user_id }),
                    &[
                        (TABLE.pk, Value::String(keys::email(&user.email).pk)),
                        (TABLE.sk, Value::String(keys::email(&user.email).sk)),
                    ],
                )?,
                cond: Cond::NotExists,
            },
        );
        if user.is_approved_admin() {
            tx.push(Part::AdminCount, admin_delta(1));
        }
        for w in extra {
            tx.push(Part::Extra, w);
        }
        // A concurrent transaction on the same keys cancels with a conflict (DynamoDB);
        // retrying then meets the other's item and reports it as taken.
        for attempt in crate::retry::attempts() {
            match self.commit(tx.clone()).await {
                Ok(()) => return Ok(()),
                Err(Refused::Conditions(f)) if f.contains(&Part::User) => {
                    return Err(CreateUserError::UserIdTaken);
                }
                Err(Refused::Conditions(f)) if f.contains(&Part::Email) => {
                    return Err(CreateUserError::EmailTaken);
                }
                Err(Refused::Conditions(f)) => {
                    return Err(
                        StoreError::Internal(format!("user creation refused: {f:?}")).into(),
                    );
                }
                Err(Refused::Store(StoreError::Contention)) => {
                    crate::retry::pause(attempt).await;
                }
                Err(Refused::Store(e)) => return Err(e.into()),
            }
        }
        Err(StoreError::Contention.into())
    }

    /// Replaces `before` with `after` if nobody changed it since it was read (version
    /// check), keeping the admin count (and so the last-admin rule) in the same write.
    /// Returns the stored record (version bumped).
    pub async fn update_user(
        &self,
        before: &UserRecord,
        after: UserRecord,
    ) -> Result<UserRecord, UpdateUserError> {
        self.update_user_with(before, after, vec![]).await
    }

    /// As `update_user`, with more items in the same transaction (a workload job); they
    /// come after the user's own writes.
    pub async fn update_user_with(
        &self,
        before: &UserRecord,
        mut after: UserRecord,
        extra: Vec<Write>,
    ) -> Result<UserRecord, UpdateUserError> {
        after.version = before.version + 1;
        let mut tx = Tx::new();
        tx.push(
            Part::User,
            Write::Put {
                item: after.to_item()?,
                cond: Cond::Eq("version", Value::from(before.version)),
            },
        );
        match (before.is_approved_admin(), after.is_approved_admin()) {
            (true, false) => tx.push(Part::AdminCount, admin_delta(-1)),
            (false, true) => tx.push(Part::AdminCount, admin_delta(1)),
            _ => {}
        }
        for w in extra {
            tx.push(Part::Extra, w);
        }
        match self.commit(tx).await {
            Ok(()) => Ok(after),
            Err(Refused::Conditions(f))
                if f.contains(&Part::AdminCount) && !f.contains(&Part::User) =>
            {
                Err(UpdateUserError::LastAdmin)
            }
            Err(Refused::Conditions(_)) | Err(Refused::Store(StoreError::Contention)) => {
                Err(UpdateUserError::Conflict)
            }
            Err(Refused::Store(e)) => Err(e.into()),
        }
    }

    /// Sets a new password hash and moves the token generation on in one write (every token
    /// the user held stops working), clearing the failed sign-ins in the same transaction.
    /// Conditioned on the hash it replaces, so of two concurrent changes exactly one wins;
    /// false when the user changed password meanwhile (or is gone). Other changes of the
    /// user item (counts, sign-outs) do not conflict with it.
    pub async fn change_password(
        &self,
        before: &UserRecord,
        new_hash: String,
        now: Timestamp,
        extra: Vec<Write>,
    ) -> Result<bool, StoreError> {
        let mut writes = vec![
            Write::Update {
                key: keys::user(&before.user_id),
                set: vec![
                    ("passwordHash", Value::String(new_hash)),
                    ("updatedAt", Value::String(now.rfc3339())),
                ],
                add: vec![(TOKEN_GENERATION, 1), ("version", 1)],
                remove: vec![],
                cond: Cond::All(vec![
                    Cond::Exists,
                    Cond::Eq("passwordHash", Value::String(before.password_hash.clone())),
                ]),
            },
            Write::Delete {
                key: keys::signin_failures(&before.user_id),
                cond: Cond::Always,
            },
        ];
        writes.extend(extra);
        match self.transact(writes).await {
            Ok(()) => Ok(true),
            Err(StoreError::ConditionFailed(_) | StoreError::Contention) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Moves the user's token generation on (sign-out everywhere): one write. False when the
    /// user does not exist.
    pub async fn revoke_tokens(&self, id: &UserId) -> Result<bool, StoreError> {
        match self
            .transact(vec![Write::Update {
                key: keys::user(id),
                set: vec![],
                add: vec![(TOKEN_GENERATION, 1), ("version", 1)],
                remove: vec![],
                cond: Cond::Exists,
            }])
            .await
        {
            Ok(()) => Ok(true),
            Err(StoreError::ConditionFailed(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    pub async fn list_users(
        &self,
        filter: UserFilter,
        after: Option<String>,
        limit: usize,
    ) -> Result<Listing<UserRecord>, StoreError> {
        let page = self
            .list(Spec {
                sources: filter.sources(),
                after,
                limit,
                keep: None,
                max_rounds: 1,
            })
            .await?;
        page.decode()
    }

    /// Whether any ADMIN exists, whatever its status (three one-item reads at once).
    pub async fn any_admin(&self) -> Result<bool, StoreError> {
        let queries: Vec<super::Query> = UserStatus::ALL
            .iter()
            .map(|s| super::Query {
                index: Index::Gsi2,
                pk: keys::users_by(UserType::Admin, *s),
                range: super::Range::All,
                limit: 1,
            })
            .collect();
        let pages =
            futures_util::future::try_join_all(queries.iter().map(|q| self.query(q))).await?;
        Ok(pages.iter().any(|p| !p.items.is_empty()))
    }

    pub async fn approved_admin_count(&self) -> Result<i64, StoreError> {
        Ok(self
            .get(&keys::admin_counter())
            .await?
            .and_then(|i| i.get(APPROVED_ADMINS).and_then(Value::as_i64))
            .unwrap_or(0))
    }

    /// The approved engineer with the fewest open tickets (ties: earliest approved): one
    /// indexed read of one item.
    pub async fn least_loaded_engineer(&self) -> Result<Option<UserRecord>, StoreError> {
        Ok(self.least_loaded_engineers(1).await?.into_iter().next())
    }

    /// The `limit` approved engineers with the fewest open tickets, least loaded first: one
    /// indexed read (eventually consistent on DynamoDB: it may lag the user items).
    pub async fn least_loaded_engineers(
        &self,
        limit: usize,
    ) -> Result<Vec<UserRecord>, StoreError> {
        let page = self
            .query(&super::Query {
                index: Index::Gsi4,
                pk: ENGINEERS_BY_LOAD.into(),
                range: super::Range::All,
                limit,
            })
            .await?;
        page.items.into_iter().map(from_item).collect()
    }
}

impl Store {
    /// Every approved ADMIN (all pages of one index partition).
    pub async fn approved_admins(&self) -> Result<Vec<UserRecord>, StoreError> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self
                .query(&Query {
                    index: Index::Gsi2,
                    pk: keys::users_by(UserType::Admin, UserStatus::Approved),
                    range: match &after {
                        Some(a) => Range::After(SortKey::S(a.clone())),
                        None => Range::All,
                    },
                    limit: 100,
                })
                .await?;
            for item in page.items {
                after = item.get(GSI2.sk).and_then(Value::as_str).map(str::to_owned);
                out.push(from_item(item)?);
            }
            if !page.more || after.is_none() {
                return Ok(out);
            }
        }
    }
}
