//! The DynamoDB backend: GetItem (strongly consistent), Query, and TransactWriteItems (or a
//! single conditional Put/Update/Delete when a "transaction" has one write, at half the
//! cost). Condition failures come back as `ConditionFailed` with the failing writes' indexes,
//! read from the cancellation reasons; throttling, timeouts and connection failures as
//! `Unavailable`.

use super::backend::{Cond, Item, Key, Query, QueryPage, Range, SortKey, StoreError, Write};
use super::feed::FeedClock;
use super::schema::{self, Index, TABLE};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, ConditionCheck, Delete, GlobalSecondaryIndex,
    KeySchemaElement, KeyType as DdbKeyType, Projection, ProjectionType, Put, ScalarAttributeType,
    TableStatus, TimeToLiveSpecification, TransactWriteItem, Update,
};
use serde_json::Value;
use std::collections::HashMap;

#[derive(Clone, Debug)]
pub struct DynamoBackend {
    client: Client,
    table: String,
}

type Attrs = HashMap<String, AttributeValue>;

fn to_attr(v: &Value) -> Result<AttributeValue, StoreError> {
    serde_dynamo::to_attribute_value(v).map_err(|e| StoreError::Internal(format!("encode: {e}")))
}

fn to_attrs(item: &Item) -> Result<Attrs, StoreError> {
    serde_dynamo::to_item(item).map_err(|e| StoreError::Internal(format!("encode: {e}")))
}

fn from_attrs(attrs: Attrs) -> Result<Item, StoreError> {
    serde_dynamo::from_item(attrs).map_err(|e| StoreError::Internal(format!("decode: {e}")))
}

fn key_attrs(key: &Key) -> Attrs {
    HashMap::from([
        (TABLE.pk.to_owned(), AttributeValue::S(key.pk.clone())),
        (TABLE.sk.to_owned(), AttributeValue::S(key.sk.clone())),
    ])
}

/// Builds expression strings with placeholder names and values.
#[derive(Default)]
struct Expr {
    names: HashMap<String, String>,
    values: Attrs,
}

impl Expr {
    fn name(&mut self, attr: &str) -> String {
        if let Some((k, _)) = self.names.iter().find(|(_, v)| v.as_str() == attr) {
            return k.clone();
        }
        let k = format!("#n{}", self.names.len());
        self.names.insert(k.clone(), attr.to_owned());
        k
    }

    fn value(&mut self, v: AttributeValue) -> String {
        let k = format!(":v{}", self.values.len());
        self.values.insert(k.clone(), v);
        k
    }

    /// The ConditionExpression for a write: None when it always holds.
    fn cond(&mut self, c: &Cond) -> Result<Option<String>, StoreError> {
        match c {
            Cond::Always => Ok(None),
            other => self.expr(other).map(Some),
        }
    }

    /// An expression equivalent to `c` (always-true and always-false parts are spelled out,
    /// so that AND, OR and a lone check mean what `backend::holds` says).
    fn expr(&mut self, c: &Cond) -> Result<String, StoreError> {
        Ok(match c {
            Cond::Always => {
                let pk = self.name(TABLE.pk);
                format!("attribute_exists({pk}) OR attribute_not_exists({pk})")
            }
            Cond::Exists => format!("attribute_exists({})", self.name(TABLE.pk)),
            Cond::NotExists => format!("attribute_not_exists({})", self.name(TABLE.pk)),
            Cond::Eq(a, v) => {
                let n = self.name(a);
                let v = self.value(to_attr(v)?);
                format!("{n} = {v}")
            }
            Cond::AttrExists(a) => format!("attribute_exists({})", self.name(a)),
            Cond::Ge(a, x) => {
                let n = self.name(a);
                let v = self.value(AttributeValue::N(x.to_string()));
                format!("{n} >= {v}")
            }
            Cond::Lt(a, x) => {
                let n = self.name(a);
                let v = self.value(AttributeValue::N(x.to_string()));
                format!("{n} < {v}")
            }
            Cond::All(cs) if cs.is_empty() => self.expr(&Cond::Always)?,
            Cond::Any(cs) if cs.is_empty() => {
                let pk = self.name(TABLE.pk);
                format!("attribute_exists({pk}) AND attribute_not_exists({pk})")
            }
            Cond::All(cs) => self.join(cs, " AND ")?,
            Cond::Any(cs) => self.join(cs, " OR ")?,
        })
    }

    fn join(&mut self, cs: &[Cond], op: &str) -> Result<String, StoreError> {
        let mut parts = Vec::with_capacity(cs.len());
        for c in cs {
            parts.push(format!("({})", self.expr(c)?));
        }
        Ok(parts.join(op))
    }

    fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }

    fn values(&self) -> Option<Attrs> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }
}

fn update_expression(
    e: &mut Expr,
    set: &[(&'static str, Value)],
    add: &[(&'static str, i64)],
    remove: &[&'static str],
) -> Result<String, StoreError> {
    let mut clauses = Vec::new();
    if !set.is_empty() {
        let mut parts = Vec::new();
        for (a, v) in set {
            let n = e.name(a);
            let v = e.value(to_attr(v)?);
            parts.push(format!("{n} = {v}"));
        }
        clauses.push(format!("SET {}", parts.join(", ")));
    }
    if !add.is_empty() {
        let parts: Vec<String> = add
            .iter()
            .map(|(a, d)| {
                let n = e.name(a);
                let v = e.value(AttributeValue::N(d.to_string()));
                format!("{n} {v}")
            })
            .collect();
        clauses.push(format!("ADD {}", parts.join(", ")));
    }
    if !remove.is_empty() {
        let parts: Vec<String> = remove.iter().map(|a| e.name(a)).collect();
        clauses.push(format!("REMOVE {}", parts.join(", ")));
    }
    Ok(clauses.join(" "))
}

fn build_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(format!("request build: {e}"))
}

/// Maps an SDK failure: throttling, timeouts, dispatch failures and any 5xx answer (even
/// one without an error code) are `Unavailable`.
fn sdk_err<E>(e: SdkError<E, HttpResponse>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let server_error = match &e {
        SdkError::ServiceError(ctx) => ctx.raw().status().is_server_error(),
        SdkError::ResponseError(ctx) => ctx.raw().status().is_server_error(),
        _ => false,
    };
    match &e {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            StoreError::Unavailable(format!(
                "dynamodb: {}",
                aws_smithy_types::error::display::DisplayErrorContext(&e)
            ))
        }
        _ if server_error && e.code() != Some("ConditionalCheckFailedException") => {
            StoreError::Unavailable(format!(
                "dynamodb: {}",
                aws_smithy_types::error::display::DisplayErrorContext(&e)
            ))
        }
        _ => match e.code() {
            Some("ConditionalCheckFailedException") => StoreError::ConditionFailed(vec![0]),
            Some("TransactionConflictException") => StoreError::Contention,
            Some(
                "ProvisionedThroughputExceededException"
                | "ThrottlingException"
                | "RequestLimitExceeded"
                | "InternalServerError"
                | "ServiceUnavailable"
                | "TransactionInProgressException"
                | "LimitExceededException",
            ) => StoreError::Unavailable(format!("dynamodb: {}", e.code().unwrap_or_default())),
            _ => StoreError::Internal(format!(
                "dynamodb: {}",
                aws_smithy_types::error::display::DisplayErrorContext(&e)
            )),
        },
    }
}

impl DynamoBackend {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.get_with(key, true).await
    }

    /// A GetItem, strongly consistent or not: an eventually consistent read costs half (0.5
    /// RCU per 4 KB) and may miss a write of the last second
    /// (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.ReadConsistency.html).
    pub async fn get_with(&self, key: &Key, consistent: bool) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_attrs(key)))
            .consistent_read(consistent)
            .send()
            .await
            .map_err(sdk_err)?;
        out.item.map(from_attrs).transpose()
    }

    pub async fn query(&self, q: &Query) -> Result<QueryPage, StoreError> {
        let (pkc, skc) = q.index.key_attrs();
        let mut e = Expr::default();
        let pk_name = e.name(pkc);
        let pk_val = e.value(AttributeValue::S(q.pk.clone()));
        let mut key_cond = format!("{pk_name} = {pk_val}");
        let sort = |k: &SortKey| match k {
            SortKey::S(s) => AttributeValue::S(s.clone()),
            SortKey::N(n) => AttributeValue::N(n.to_string()),
        };
        match &q.range {
            Range::All => {}
            Range::Prefix(p) => {
                let n = e.name(skc);
                let v = e.value(AttributeValue::S(p.clone()));
                key_cond.push_str(&format!(" AND begins_with({n}, {v})"));
            }
            Range::After(k) => {
                let n = e.name(skc);
                let v = e.value(sort(k));
                key_cond.push_str(&format!(" AND {n} > {v}"));
            }
            Range::Before(k) => {
                let n = e.name(skc);
                let v = e.value(sort(k));
                key_cond.push_str(&format!(" AND {n} < {v}"));
            }
            // DynamoDB refuses a BETWEEN whose bounds are out of order: that range is empty.
            Range::Between(lo, hi) if lo.is_above(hi) => return Ok(QueryPage::default()),
            Range::Between(lo, hi) => {
                let n = e.name(skc);
                let lo = e.value(sort(lo));
                let hi = e.value(sort(hi));
                key_cond.push_str(&format!(" AND {n} BETWEEN {lo} AND {hi}"));
            }
        }
        // One more than asked, so that `more` is exact when the range ends at the limit.
        let want = q.limit.saturating_add(1);
        let mut items = Vec::new();
        let mut start: Option<Attrs> = None;
        loop {
            let mut req = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression(&key_cond)
                .set_expression_attribute_names(e.names())
                .set_expression_attribute_values(e.values())
                .limit(i32::try_from(want - items.len()).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start.take());
            req = match q.index.def() {
                Some(d) => req.index_name(d.name),
                None => req.consistent_read(true),
            };
            let out = req.send().await.map_err(sdk_err)?;
            for it in out.items.unwrap_or_default() {
                items.push(from_attrs(it)?);
            }
            match out.last_evaluated_key {
                Some(k) if items.len() < want && !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        let more = items.len() > q.limit;
        items.truncate(q.limit);
        Ok(QueryPage { items, more })
    }

    pub async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        self.transact_with(writes, &FeedClock::default()).await
    }

    /// Commits `writes`, stamping their change feed items right before the request is sent
    /// (`FeedClock::stamp`). Such a transaction is given what is left of the feed's commit
    /// budget as its operation timeout (and attempt timeout), whatever the client's own: the
    /// SDK abandons it then, and it is never sent once the budget is spent.
    pub async fn transact_with(
        &self,
        mut writes: Vec<Write>,
        clock: &FeedClock,
    ) -> Result<(), StoreError> {
        let stamped = clock.stamp(&mut writes);
        if stamped.is_some() {
            clock.after_stamp().await;
        }
        let budget = stamped.map(|at| (at, clock));
        match writes.len() {
            0 => Ok(()),
            1 if budget.is_none() => {
                self.single(
                    writes
                        .into_iter()
                        .next()
                        .ok_or_else(|| build_err("empty"))?,
                )
                .await
            }
            _ => self.multi(writes, budget).await,
        }
    }

    /// The client's timeouts, with the operation and each attempt cut to `left`.
    fn within(&self, left: std::time::Duration) -> aws_sdk_dynamodb::config::Builder {
        use aws_smithy_types::timeout::TimeoutConfig;
        let base = self
            .client
            .config()
            .timeout_config()
            .cloned()
            .unwrap_or_else(TimeoutConfig::disabled);
        let cap = |d: Option<std::time::Duration>| Some(d.map_or(left, |d| d.min(left)));
        let mut t = base.to_builder();
        t.set_operation_timeout(cap(base.operation_timeout()));
        t.set_operation_attempt_timeout(cap(base.operation_attempt_timeout()));
        aws_sdk_dynamodb::config::Builder::default().timeout_config(t.build())
    }

    async fn single(&self, w: Write) -> Result<(), StoreError> {
        let mut e = Expr::default();
        match w {
            Write::Put { item, cond } => {
                let c = e.cond(&cond)?;
                self.client
                    .put_item()
                    .table_name(&self.table)
                    .set_item(Some(to_attrs(&item)?))
                    .set_condition_expression(c)
                    .set_expression_attribute_names(e.names())
                    .set_expression_attribute_values(e.values())
                    .send()
                    .await
                    .map_err(sdk_err)?;
            }
            Write::Update {
                key,
                set,
                add,
                remove,
                cond,
            } => {
                let u = update_expression(&mut e, &set, &add, &remove)?;
                let c = e.cond(&cond)?;
                self.client
                    .update_item()
                    .table_name(&self.table)
                    .set_key(Some(key_attrs(&key)))
                    .update_expression(u)
                    .set_condition_expression(c)
                    .set_expression_attribute_names(e.names())
                    .set_expression_attribute_values(e.values())
                    .send()
                    .await
                    .map_err(sdk_err)?;
            }
            Write::Delete { key, cond } => {
                let c = e.cond(&cond)?;
                self.client
                    .delete_item()
                    .table_name(&self.table)
                    .set_key(Some(key_attrs(&key)))
                    .set_condition_expression(c)
                    .set_expression_attribute_names(e.names())
                    .set_expression_attribute_values(e.values())
                    .send()
                    .await
                    .map_err(sdk_err)?;
            }
            w @ Write::Check { .. } => return self.multi(vec![w], None).await,
        }
        Ok(())
    }

    /// A TransactWriteItems; `budget`: its feed stamp and clock, which bound when it may
    /// still be sent and how long the SDK may wait for it.
    async fn multi(
        &self,
        writes: Vec<Write>,
        budget: Option<(std::time::Instant, &FeedClock)>,
    ) -> Result<(), StoreError> {
        let mut items = Vec::with_capacity(writes.len());
        for w in writes {
            let mut e = Expr::default();
            let twi = match w {
                Write::Put { item, cond } => {
                    let c = e.cond(&cond)?;
                    TransactWriteItem::builder()
                        .put(
                            Put::builder()
                                .table_name(&self.table)
                                .set_item(Some(to_attrs(&item)?))
                                .set_condition_expression(c)
                                .set_expression_attribute_names(e.names())
                                .set_expression_attribute_values(e.values())
                                .build()
                                .map_err(build_err)?,
                        )
                        .build()
                }
                Write::Update {
                    key,
                    set,
                    add,
                    remove,
                    cond,
                } => {
                    let u = update_expression(&mut e, &set, &add, &remove)?;
                    let c = e.cond(&cond)?;
                    TransactWriteItem::builder()
                        .update(
                            Update::builder()
                                .table_name(&self.table)
                                .set_key(Some(key_attrs(&key)))
                                .update_expression(u)
                                .set_condition_expression(c)
                                .set_expression_attribute_names(e.names())
                                .set_expression_attribute_values(e.values())
                                .build()
                                .map_err(build_err)?,
                        )
                        .build()
                }
                Write::Delete { key, cond } => {
                    let c = e.cond(&cond)?;
                    TransactWriteItem::builder()
                        .delete(
                            Delete::builder()
                                .table_name(&self.table)
                                .set_key(Some(key_attrs(&key)))
                                .set_condition_expression(c)
                                .set_expression_attribute_names(e.names())
                                .set_expression_attribute_values(e.values())
                                .build()
                                .map_err(build_err)?,
                        )
                        .build()
                }
                Write::Check { key, cond } => {
                    let c = e.expr(&cond)?;
                    TransactWriteItem::builder()
                        .condition_check(
                            ConditionCheck::builder()
                                .table_name(&self.table)
                                .set_key(Some(key_attrs(&key)))
                                .condition_expression(c)
                                .set_expression_attribute_names(e.names())
                                .set_expression_attribute_values(e.values())
                                .build()
                                .map_err(build_err)?,
                        )
                        .build()
                }
            };
            items.push(twi);
        }
        let req = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items));
        let res = match budget {
            None => req.send().await,
            Some((at, clock)) => {
                let left = clock.left(at).ok_or_else(|| clock.too_late())?;
                req.customize()
                    .config_override(self.within(left))
                    .send()
                    .await
            }
        };
        match res {
            Ok(_) => Ok(()),
            Err(e) => {
                if let Some(TransactWriteItemsError::TransactionCanceledException(tce)) =
                    e.as_service_error()
                {
                    let codes: Vec<&str> = tce
                        .cancellation_reasons()
                        .iter()
                        .map(|r| r.code().unwrap_or("None"))
                        .collect();
                    return Err(cancellation(&codes));
                }
                Err(sdk_err(e))
            }
        }
    }

    /// Whether the table exists (an operator command must not create a stray table from a
    /// mistyped name).
    pub async fn table_exists(&self) -> Result<bool, StoreError> {
        match self
            .client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(false),
            Err(e) => Err(sdk_err(e)),
        }
    }

    /// Creates the table (keys, GSIs, TTL) from `schema::TABLE` unless it exists, and waits
    /// until it is ACTIVE; true when this call created it. For emulators and `crm serve
    /// --store dynamodb`; the cloud table comes from template.yaml.
    pub async fn ensure_table(&self) -> Result<bool, StoreError> {
        if self.table_exists().await? {
            self.wait_active().await?;
            return Ok(false);
        }
        let attr = |name: &str, ty: schema::KeyType| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(match ty {
                    schema::KeyType::S => ScalarAttributeType::S,
                    schema::KeyType::N => ScalarAttributeType::N,
                })
                .build()
                .map_err(build_err)
        };
        let key = |name: &str, ty: DdbKeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(ty)
                .build()
                .map_err(build_err)
        };
        let mut req = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr(TABLE.pk, schema::KeyType::S)?)
            .attribute_definitions(attr(TABLE.sk, schema::KeyType::S)?)
            .key_schema(key(TABLE.pk, DdbKeyType::Hash)?)
            .key_schema(key(TABLE.sk, DdbKeyType::Range)?);
        for idx in Index::GSIS {
            let Some(g) = idx.def() else { continue };
            req = req
                .attribute_definitions(attr(g.pk, schema::KeyType::S)?)
                .attribute_definitions(attr(g.sk, g.sk_type)?)
                .global_secondary_indexes(
                    GlobalSecondaryIndex::builder()
                        .index_name(g.name)
                        .key_schema(key(g.pk, DdbKeyType::Hash)?)
                        .key_schema(key(g.sk, DdbKeyType::Range)?)
                        .projection(
                            Projection::builder()
                                .projection_type(ProjectionType::All)
                                .build(),
                        )
                        .build()
                        .map_err(build_err)?,
                );
        }
        let created = match req.send().await {
            Ok(_) => true,
            // A concurrent creator got there first: the table is theirs.
            Err(e) if e.code() == Some("ResourceInUseException") => false,
            Err(e) => return Err(sdk_err(e)),
        };
        self.wait_active().await?;
        let ttl = TimeToLiveSpecification::builder()
            .enabled(true)
            .attribute_name(TABLE.ttl_attribute)
            .build()
            .map_err(build_err)?;
        match self
            .client
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(ttl)
            .send()
            .await
        {
            Ok(_) => Ok(created),
            // Already enabled (a concurrent creator got there first).
            Err(e) if e.code() == Some("ValidationException") => Ok(created),
            Err(e) => Err(sdk_err(e)),
        }
    }

    async fn wait_active(&self) -> Result<(), StoreError> {
        for _ in 0..120 {
            let out = self
                .client
                .describe_table()
                .table_name(&self.table)
                .send()
                .await
                .map_err(sdk_err)?;
            if out.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
                return Ok(());
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
        Err(StoreError::Unavailable(format!(
            "table {} did not become ACTIVE",
            self.table
        )))
    }
}

/// Maps a transaction's cancellation reasons (one per write, in order) to a StoreError.
pub(crate) fn cancellation(codes: &[&str]) -> StoreError {
    let failed: Vec<usize> = codes
        .iter()
        .enumerate()
        .filter(|(_, c)| **c == "ConditionalCheckFailed")
        .map(|(i, _)| i)
        .collect();
    if !failed.is_empty() {
        return StoreError::ConditionFailed(failed);
    }
    if codes.contains(&"TransactionConflict") {
        return StoreError::Contention;
    }
    if codes
        .iter()
        .any(|c| matches!(*c, "ThrottlingError" | "ProvisionedThroughputExceeded"))
    {
        return StoreError::Unavailable("dynamodb: transaction throttled".into());
    }
    StoreError::Internal(format!("transaction cancelled: {codes:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cancellation_reasons_map_to_the_failing_writes() {
        assert_eq!(
            cancellation(&["None", "ConditionalCheckFailed", "None"]),
            StoreError::ConditionFailed(vec![1])
        );
        assert_eq!(
            cancellation(&["ConditionalCheckFailed", "ConditionalCheckFailed"]),
            StoreError::ConditionFailed(vec![0, 1])
        );
        assert_eq!(
            cancellation(&["None", "TransactionConflict"]),
            StoreError::Contention
        );
        assert!(matches!(
            cancellation(&["ThrottlingError"]),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            cancellation(&["ValidationError"]),
            StoreError::Internal(_)
        ));
    }

    #[test]
    fn conditions_become_expressions_with_placeholders() {
        let mut e = Expr::default();
        let c = e
            .cond(&Cond::All(vec![
                Cond::Exists,
                Cond::Eq("version", json!(3)),
                Cond::Ge("approvedAdmins", 2),
            ]))
            .unwrap()
            .unwrap();
        assert_eq!(
            c,
            "(attribute_exists(#n0)) AND (#n1 = :v0) AND (#n2 >= :v1)"
        );
        assert_eq!(e.names.get("#n0").map(String::as_str), Some("pk"));
        assert_eq!(e.names.get("#n1").map(String::as_str), Some("version"));
        assert_eq!(e.values.get(":v0"), Some(&AttributeValue::N("3".into())));
        assert_eq!(Expr::default().cond(&Cond::Always).unwrap(), None);
        let mut e = Expr::default();
        let c = e
            .cond(&Cond::Any(vec![Cond::NotExists, Cond::Lt("lease", 5)]))
            .unwrap()
            .unwrap();
        assert_eq!(c, "(attribute_not_exists(#n0)) OR (#n1 < :v0)");
        let mut e = Expr::default();
        let c = e
            .cond(&Cond::Any(vec![Cond::All(vec![]), Cond::Lt("n", 1)]))
            .unwrap()
            .unwrap();
        assert_eq!(
            c,
            "(attribute_exists(#n0) OR attribute_not_exists(#n0)) OR (#n1 < :v0)"
        );
        let never = Expr::default().cond(&Cond::Any(vec![])).unwrap().unwrap();
        assert_eq!(never, "attribute_exists(#n0) AND attribute_not_exists(#n0)");
    }

    #[test]
    fn update_expression_has_set_add_remove() {
        let mut e = Expr::default();
        let u = update_expression(
            &mut e,
            &[("name", json!("x"))],
            &[("count", 1), ("version", 1)],
            &["gsi4pk"],
        )
        .unwrap();
        assert_eq!(u, "SET #n0 = :v0 ADD #n1 :v1, #n2 :v2 REMOVE #n3");
    }
}
