//! The embedded backend: one SQLite file (WAL) holding the same items, keys and index keys as
//! the DynamoDB table, with transactions as SQL transactions. One writer connection and a few
//! reader connections; every call runs on tokio's blocking pool.
//!
//! It plugs into `crm_shared::store::Store` through `ItemBackend`. It is a crate of its own,
//! not a feature of crm-shared: a feature is unified over everything one cargo invocation
//! builds, so `cargo build --workspace` once linked SQLite into every Lambda bootstrap; a crate
//! the functions do not depend on cannot reach them (tests/tests/deploy/dependencies.rs).

use crm_shared::store::schema::{KeyType, TABLE};
use crm_shared::store::{
    BoxFuture, FeedClock, Item, ItemBackend, Key, Query, QueryPage, Range, SortKey, Store,
    StoreError, Write, apply_update, holds, key_of,
};
use rusqlite::{
    Connection, OpenFlags, OptionalExtension, TransactionBehavior, params_from_iter,
    types::Value as Sql,
};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

const READERS: usize = 4;

#[derive(Clone)]
pub struct SqliteBackend {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
}

fn internal(e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            StoreError::Unavailable(format!("sqlite busy: {e}"))
        }
        _ => StoreError::Internal(format!("sqlite: {e}")),
    }
}

/// Columns after pk, sk: each GSI's pk and sk, then the TTL attribute.
fn index_columns() -> Vec<&'static str> {
    let mut cols = Vec::new();
    for g in TABLE.gsis {
        cols.push(g.pk);
        cols.push(g.sk);
    }
    cols.push(TABLE.ttl_attribute);
    cols
}

fn create_schema(conn: &Connection) -> Result<(), StoreError> {
    let cols: Vec<String> = index_columns().iter().map(|c| format!("\"{c}\"")).collect();
    let mut sql = format!(
        "CREATE TABLE IF NOT EXISTS items (\"{pk}\" TEXT NOT NULL, \"{sk}\" TEXT NOT NULL, {cols}, body TEXT NOT NULL, PRIMARY KEY (\"{pk}\", \"{sk}\")) WITHOUT ROWID;",
        pk = TABLE.pk,
        sk = TABLE.sk,
        cols = cols.join(", "),
    );
    for g in TABLE.gsis {
        sql.push_str(&format!(
            "CREATE INDEX IF NOT EXISTS \"{name}\" ON items (\"{pk}\", \"{sk}\", \"{tpk}\", \"{tsk}\") WHERE \"{pk}\" IS NOT NULL AND \"{sk}\" IS NOT NULL;",
            name = g.name,
            pk = g.pk,
            sk = g.sk,
            tpk = TABLE.pk,
            tsk = TABLE.sk,
        ));
    }
    sql.push_str(&format!(
        "CREATE INDEX IF NOT EXISTS expiry ON items (\"{t}\") WHERE \"{t}\" IS NOT NULL;",
        t = TABLE.ttl_attribute
    ));
    conn.execute_batch(&sql).map_err(internal)
}

fn tune(conn: &Connection) -> Result<(), StoreError> {
    // WAL + NORMAL: a commit survives the process being killed (kill -9); only an OS crash
    // or power loss can lose the last commits. busy_timeout covers checkpoints.
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000; PRAGMA temp_store = MEMORY;",
    )
    .map_err(internal)
}

impl SqliteBackend {
    /// Opens (creating when missing) the store file and its schema.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let writer = Connection::open(path).map_err(internal)?;
        tune(&writer)?;
        create_schema(&writer)?;
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            let r = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(internal)?;
            r.execute_batch("PRAGMA busy_timeout = 5000;")
                .map_err(internal)?;
            readers.push(Mutex::new(r));
        }
        Ok(Self {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                writer: Mutex::new(writer),
                readers,
                next_reader: AtomicUsize::new(0),
            }),
        })
    }

    /// The store over this backend.
    pub fn store(self) -> Store {
        Store::plugged(self)
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let i = inner.next_reader.fetch_add(1, Ordering::Relaxed) % inner.readers.len();
            let conn = inner.readers[i].lock().unwrap_or_else(|p| p.into_inner());
            f(&conn)
        })
        .await
        .map_err(|e| StoreError::Internal(format!("store task failed: {e}")))?
    }

    async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = inner.writer.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut conn)
        })
        .await
        .map_err(|e| StoreError::Internal(format!("store task failed: {e}")))?
    }

    pub async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        let key = key.clone();
        self.read(move |c| get_item(c, &key)).await
    }

    pub async fn query(&self, q: &Query) -> Result<QueryPage, StoreError> {
        let q = q.clone();
        self.read(move |c| query(c, &q)).await
    }

    pub async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        self.transact_with(writes, &FeedClock::default()).await
    }

    /// Commits `writes`, stamping their change feed items once it holds the write lock
    /// (`FeedClock::stamp`) and rolling back when the feed's commit budget ran out before
    /// the commit.
    pub async fn transact_with(
        &self,
        writes: Vec<Write>,
        clock: &FeedClock,
    ) -> Result<(), StoreError> {
        let clock = clock.clone();
        self.write(move |c| transact(c, writes, &clock)).await
    }

    /// Deletes items whose TTL has passed (DynamoDB does this by itself).
    pub async fn purge_expired(&self, now_seconds: i64) -> Result<usize, StoreError> {
        self.write(move |c| {
            c.execute(
                &format!(
                    "DELETE FROM items WHERE \"{t}\" IS NOT NULL AND \"{t}\" < ?1",
                    t = TABLE.ttl_attribute
                ),
                [now_seconds],
            )
            .map_err(internal)
        })
        .await
    }

    /// Writes the WAL back into the main file (on clean shutdown).
    pub async fn checkpoint(&self) -> Result<(), StoreError> {
        self.write(|c| {
            c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
                .map_err(internal)
        })
        .await
    }
}

impl ItemBackend for SqliteBackend {
    fn name(&self) -> &'static str {
        "embedded"
    }

    fn get<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<Option<Item>, StoreError>> {
        Box::pin(SqliteBackend::get(self, key))
    }

    fn query<'a>(&'a self, q: &'a Query) -> BoxFuture<'a, Result<QueryPage, StoreError>> {
        Box::pin(SqliteBackend::query(self, q))
    }

    fn transact<'a>(
        &'a self,
        writes: Vec<Write>,
        clock: &'a FeedClock,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(SqliteBackend::transact_with(self, writes, clock))
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

fn decode(body: &str) -> Result<Item, StoreError> {
    serde_json::from_str(body).map_err(|e| StoreError::Internal(format!("corrupt item: {e}")))
}

fn get_item(c: &Connection, key: &Key) -> Result<Option<Item>, StoreError> {
    let body: Option<String> = c
        .prepare_cached(&format!(
            "SELECT body FROM items WHERE \"{}\" = ?1 AND \"{}\" = ?2",
            TABLE.pk, TABLE.sk
        ))
        .map_err(internal)?
        .query_row([&key.pk, &key.sk], |r| r.get(0))
        .optional()
        .map_err(internal)?;
    body.map(|b| decode(&b)).transpose()
}

fn sort_value(k: &SortKey) -> Sql {
    match k {
        SortKey::S(s) => Sql::Text(s.clone()),
        SortKey::N(n) => Sql::Integer(*n),
    }
}

/// The smallest string above every string with this ASCII prefix.
fn prefix_end(prefix: &str) -> Result<String, StoreError> {
    let mut bytes = prefix.as_bytes().to_vec();
    match bytes.last_mut() {
        Some(b) if b.is_ascii() && *b < 0x7f => {
            *b += 1;
            String::from_utf8(bytes).map_err(|e| StoreError::Internal(e.to_string()))
        }
        _ => Err(StoreError::Internal(format!(
            "unsupported prefix {prefix:?}"
        ))),
    }
}

fn query(c: &Connection, q: &Query) -> Result<QueryPage, StoreError> {
    let (pkc, skc) = q.index.key_attrs();
    let mut args: Vec<Sql> = vec![Sql::Text(q.pk.clone())];
    let range = match &q.range {
        Range::All => String::new(),
        Range::Prefix(p) => {
            args.push(Sql::Text(p.clone()));
            args.push(Sql::Text(prefix_end(p)?));
            format!(" AND \"{skc}\" >= ?2 AND \"{skc}\" < ?3")
        }
        Range::After(k) => {
            args.push(sort_value(k));
            format!(" AND \"{skc}\" > ?2")
        }
        Range::Before(k) => {
            args.push(sort_value(k));
            format!(" AND \"{skc}\" < ?2")
        }
        Range::Between(lo, hi) => {
            args.push(sort_value(lo));
            args.push(sort_value(hi));
            format!(" AND \"{skc}\" >= ?2 AND \"{skc}\" <= ?3")
        }
    };
    let fetch = q.limit.saturating_add(1);
    let sql = format!(
        "SELECT body FROM items WHERE \"{pkc}\" = ?1 AND \"{skc}\" IS NOT NULL{range} ORDER BY \"{skc}\", \"{tpk}\", \"{tsk}\" LIMIT {fetch}",
        tpk = TABLE.pk,
        tsk = TABLE.sk,
    );
    let mut stmt = c.prepare_cached(&sql).map_err(internal)?;
    let mut rows = stmt.query(params_from_iter(args)).map_err(internal)?;
    let mut items = Vec::new();
    while let Some(row) = rows.next().map_err(internal)? {
        let body: String = row.get(0).map_err(internal)?;
        items.push(decode(&body)?);
    }
    let more = items.len() > q.limit;
    items.truncate(q.limit);
    Ok(QueryPage { items, more })
}

fn column_value(item: &Item, attr: &str, ty: KeyType) -> Sql {
    match (item.get(attr), ty) {
        (Some(serde_json::Value::String(s)), KeyType::S) => Sql::Text(s.clone()),
        (Some(serde_json::Value::Number(n)), KeyType::N) => {
            n.as_i64().map(Sql::Integer).unwrap_or(Sql::Null)
        }
        _ => Sql::Null,
    }
}

fn put_row(c: &Connection, item: &Item) -> Result<(), StoreError> {
    let key = key_of(item).ok_or_else(|| StoreError::Internal("item without pk/sk".into()))?;
    let mut args = vec![Sql::Text(key.pk), Sql::Text(key.sk)];
    for g in TABLE.gsis {
        args.push(column_value(item, g.pk, KeyType::S));
        args.push(column_value(item, g.sk, g.sk_type));
    }
    args.push(column_value(item, TABLE.ttl_attribute, KeyType::N));
    let body = serde_json::to_string(item).map_err(|e| StoreError::Internal(e.to_string()))?;
    args.push(Sql::Text(body));
    let cols: Vec<String> = [TABLE.pk, TABLE.sk]
        .into_iter()
        .chain(index_columns())
        .map(|c| format!("\"{c}\""))
        .collect();
    let marks: Vec<String> = (1..=args.len()).map(|i| format!("?{i}")).collect();
    c.prepare_cached(&format!(
        "INSERT OR REPLACE INTO items ({}, body) VALUES ({})",
        cols.join(", "),
        marks.join(", ")
    ))
    .map_err(internal)?
    .execute(params_from_iter(args))
    .map_err(internal)?;
    Ok(())
}

fn delete_row(c: &Connection, key: &Key) -> Result<(), StoreError> {
    c.prepare_cached(&format!(
        "DELETE FROM items WHERE \"{}\" = ?1 AND \"{}\" = ?2",
        TABLE.pk, TABLE.sk
    ))
    .map_err(internal)?
    .execute([&key.pk, &key.sk])
    .map_err(internal)?;
    Ok(())
}

fn transact(
    c: &mut Connection,
    mut writes: Vec<Write>,
    clock: &FeedClock,
) -> Result<(), StoreError> {
    let mut keys = std::collections::HashSet::new();
    for w in &writes {
        let k = w
            .key()
            .ok_or_else(|| StoreError::Internal("write without a key".into()))?;
        if !keys.insert(k) {
            return Err(StoreError::Internal(
                "a transaction may touch each item once".into(),
            ));
        }
    }
    let tx = c
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(internal)?;
    // Under the write lock, which every writer of the file (this process's and any other's)
    // takes in turn: a stamp taken now is later than every commit before and earlier than
    // every commit after (docs/events.md, "The change feed").
    let stamped = clock.stamp(&mut writes);
    if stamped.is_some() {
        clock.after_stamp_blocking();
    }
    // Like DynamoDB: every condition is checked against the state before the transaction.
    let mut current = Vec::with_capacity(writes.len());
    let mut failed = Vec::new();
    for (i, w) in writes.iter().enumerate() {
        let key = w
            .key()
            .ok_or_else(|| StoreError::Internal("no key".into()))?;
        let item = get_item(&tx, &key)?;
        let cond = match w {
            Write::Put { cond, .. }
            | Write::Update { cond, .. }
            | Write::Delete { cond, .. }
            | Write::Check { cond, .. } => cond,
        };
        if !holds(cond, item.as_ref()) {
            failed.push(i);
        }
        current.push(item);
    }
    if !failed.is_empty() {
        return Err(StoreError::ConditionFailed(failed));
    }
    for (w, cur) in writes.iter().zip(current) {
        match w {
            Write::Put { item, .. } => put_row(&tx, item)?,
            Write::Update {
                key,
                set,
                add,
                remove,
                ..
            } => put_row(&tx, &apply_update(cur, key, set, add, remove)?)?,
            Write::Delete { key, .. } => delete_row(&tx, key)?,
            Write::Check { .. } => {}
        }
    }
    // Too long since the stamp: a reader may have passed it. Dropping `tx` rolls back.
    if let Some(at) = stamped
        && clock.left(at).is_none()
    {
        return Err(clock.too_late());
    }
    tx.commit().map_err(internal)
}
