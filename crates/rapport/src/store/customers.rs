//! The customers room: profiles, the event log and the projection, and what is read from them
//! (one customer, the lists and their counts, the funnel's rows, the overview's figures).

mod dashboard;
mod list;

use async_trait::async_trait;
use sqlx::Row as _;

use super::backend::Backend;
use super::codec::{self, EventRow};
use super::sql::{CUSTOMER_SELECT, EVENT_SELECT};
use super::{
    CustomerFilter, CustomerListItem, CustomerQuery, CustomerRecord, DashboardFigures, SqlStore, StoreError,
    StoreResult,
};
use crate::domain::calendar::Calendar;
use crate::domain::funnel::FunnelRow;
use crate::domain::state::day_of;
use crate::domain::{CustomerId, CustomerState, ExternalId, StoredEvent};

use list::list_item_from_row;

/// Reads of customers, their events and their projected states. Writes go through `WriteTx`.
#[async_trait]
pub trait Customers: Send + Sync {
    /// One customer by the business's id.
    async fn customer(&self, external_id: &ExternalId) -> StoreResult<Option<CustomerRecord>>;
    /// A customer by Rapport's own id (the one signed links carry).
    async fn customer_by_id(&self, id: CustomerId) -> StoreResult<Option<CustomerRecord>>;
    /// Customers in id order.
    async fn list_customers(&self, filter: &CustomerFilter) -> StoreResult<Vec<CustomerRecord>>;
    /// A customer's events in log order.
    async fn events_of(&self, customer: CustomerId) -> StoreResult<Vec<StoredEvent>>;
    /// One row per customer for the funnel report.
    async fn funnel_rows(&self) -> StoreResult<Vec<FunnelRow>>;
    /// Number of events in the log.
    async fn event_count(&self) -> StoreResult<u64>;
    /// Up to `limit` purchases after event `after`, in log order: the models read the log a page at
    /// a time, without the customers' names.
    async fn purchases_after(&self, after: i64, limit: u32) -> StoreResult<PurchasePage>;
    /// Up to `limit` customers after `after` with their business ids, in id order.
    async fn external_ids_after(&self, after: CustomerId, limit: u32) -> StoreResult<Vec<(CustomerId, String)>>;
    /// One customer by the business's id, with the latest scores, in one query.
    async fn customer_with_score(&self, external_id: &ExternalId) -> StoreResult<Option<CustomerListItem>>;
    /// The overview's figures over every customer and purchase (full scans: cache the answer),
    /// windows and months counted in `calendar`'s local days up to its now.
    async fn dashboard_figures(&self, calendar: &Calendar, at_risk_threshold: f64) -> StoreResult<DashboardFigures>;
    /// A filtered, sorted page of customers with their scores.
    async fn query_customers(&self, query: &CustomerQuery) -> StoreResult<Vec<CustomerListItem>>;
    /// How many customers match `query`'s filters (its order, limit and cursor aside), counting
    /// at most `at_most`: a page can say "50 of 60" without counting a million rows.
    async fn count_customers(&self, query: &CustomerQuery, at_most: u64) -> StoreResult<u64>;
}

#[async_trait]
impl<DB: Backend> Customers for SqlStore<DB> {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn customer(&self, external_id: &ExternalId) -> StoreResult<Option<CustomerRecord>> {
        let sql = format!("{CUSTOMER_SELECT} WHERE c.external_id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(external_id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(customer_from_row::<DB>).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(customer = id.0))]
    async fn customer_by_id(&self, id: CustomerId) -> StoreResult<Option<CustomerRecord>> {
        let sql = format!("{CUSTOMER_SELECT} WHERE c.id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(customer_from_row::<DB>).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(limit = filter.limit))]
    async fn list_customers(&self, filter: &CustomerFilter) -> StoreResult<Vec<CustomerRecord>> {
        let sql = format!("{CUSTOMER_SELECT} WHERE ($1 IS NULL OR s.stage = $1) AND c.id > $2 ORDER BY c.id LIMIT $3");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(filter.stage.map(|s| s.as_str()))
            .bind(filter.after.map_or(0, |c| c.0))
            .bind(i64::from(filter.limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(customer_from_row::<DB>).collect()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(customer = customer.0))]
    async fn events_of(&self, customer: CustomerId) -> StoreResult<Vec<StoredEvent>> {
        let sql = format!("{EVENT_SELECT} WHERE customer_id = $1 ORDER BY id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(customer.0)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(event_from_row::<DB>).collect()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn funnel_rows(&self) -> StoreResult<Vec<FunnelRow>> {
        let sql = "SELECT s.stage, s.max_stage, s.first_purchase_at, s.second_purchase_at, s.last_event_at \
                   FROM customers c JOIN customer_state s ON s.customer_id = c.id";
        let rows = sqlx::query(sql).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| {
                let stage: String = row.try_get(0)?;
                let max_stage: String = row.try_get(1)?;
                let first: Option<i64> = row.try_get(2)?;
                let second: Option<i64> = row.try_get(3)?;
                let last: Option<i64> = row.try_get(4)?;
                Ok(FunnelRow {
                    stage: codec::stage(&stage)?,
                    max_stage: codec::stage(&max_stage)?,
                    first_purchase_day: first.map(day_of),
                    second_purchase_day: second.map(day_of),
                    last_event_day: last.map(day_of),
                })
            })
            .collect()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn event_count(&self) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
            .fetch_one(&self.pool)
            .await?;
        Ok(n as u64)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn purchases_after(&self, after: i64, limit: u32) -> StoreResult<PurchasePage> {
        // A page comes back as one text of `customer,time,cents` triples: fetched row by row, the
        // driver costs about 2.5 µs a row, ten times what the database takes to read it.
        let sql = format!(
            "SELECT max(id), count(*), {}(customer_id || ',' || occurred_at || ',' || coalesce(amount_cents, 0), ';') \
             FROM (SELECT id, customer_id, occurred_at, amount_cents FROM events \
             WHERE id > $1 AND kind = 'purchase' ORDER BY id LIMIT $2) AS page",
            DB::STRING_AGG
        );
        let (last, count, text): (Option<i64>, i64, Option<String>) = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(after)
            .bind(i64::from(limit))
            .fetch_one(&self.pool)
            .await?;
        let purchases = parse_purchases(text.as_deref().unwrap_or_default(), count)?;
        Ok(PurchasePage { last, purchases })
    }

    #[tracing::instrument(level = "debug", skip_all, fields(after = after.0, limit))]
    async fn external_ids_after(&self, after: CustomerId, limit: u32) -> StoreResult<Vec<(CustomerId, String)>> {
        let rows: Vec<(i64, String)> =
            sqlx::query_as("SELECT id, external_id FROM customers WHERE id > $1 ORDER BY id LIMIT $2")
                .bind(after.0)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().map(|(id, ext)| (CustomerId(id), ext)).collect())
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn customer_with_score(&self, external_id: &ExternalId) -> StoreResult<Option<CustomerListItem>> {
        let sql = super::sql::customer_with_score_sql();
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(external_id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(list_item_from_row::<DB>).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn dashboard_figures(&self, calendar: &Calendar, at_risk_threshold: f64) -> StoreResult<DashboardFigures> {
        dashboard::dashboard_figures(&self.pool, calendar, at_risk_threshold).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(sort = ?query.sort, limit = query.limit))]
    async fn query_customers(&self, query: &CustomerQuery) -> StoreResult<Vec<CustomerListItem>> {
        list::query_customers(&self.pool, query).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(at_most))]
    async fn count_customers(&self, query: &CustomerQuery, at_most: u64) -> StoreResult<u64> {
        list::count_customers(&self.pool, query, at_most).await
    }
}

/// A projected state from a row with its columns by name.
pub(super) fn state_from_row<DB: Backend>(row: &DB::Row) -> StoreResult<CustomerState> {
    let stage: Option<String> = row.try_get("stage")?;
    let max_stage: Option<String> = row.try_get("max_stage")?;
    Ok(CustomerState {
        stage: stage.as_deref().map(codec::stage).transpose()?,
        max_stage: max_stage.as_deref().map(codec::stage).transpose()?,
        stage_changes: row.try_get::<Option<i64>, _>("stage_changes")?.unwrap_or_default(),
        stage_changed_at: row.try_get("stage_changed_at")?,
        purchase_count: row.try_get::<Option<i64>, _>("purchase_count")?.unwrap_or_default(),
        first_purchase_at: row.try_get("first_purchase_at")?,
        second_purchase_at: row.try_get("second_purchase_at")?,
        last_purchase_at: row.try_get("last_purchase_at")?,
        total_spend_cents: row.try_get::<Option<i64>, _>("total_spend_cents")?.unwrap_or_default(),
        interaction_count: row.try_get::<Option<i64>, _>("interaction_count")?.unwrap_or_default(),
        first_interaction_at: row.try_get("first_interaction_at")?,
        referral_count: row.try_get::<Option<i64>, _>("referral_count")?.unwrap_or_default(),
        first_referral_at: row.try_get("first_referral_at")?,
        last_event_at: row.try_get("last_event_at")?,
        email_consent: row.try_get("email_consent")?,
        email_consent_at: row.try_get("email_consent_at")?,
        nps_category: row
            .try_get::<Option<String>, _>("nps_category")?
            .map(|c| c.parse().map_err(StoreError::Corrupt))
            .transpose()?,
        nps_at: row.try_get("nps_at")?,
    })
}

pub(super) fn customer_from_row<DB: Backend>(row: &DB::Row) -> StoreResult<CustomerRecord> {
    let attributes: String = row.try_get("attributes")?;
    let id: i64 = row.try_get("id")?;
    Ok(CustomerRecord {
        id: CustomerId(id),
        external_id: row.try_get("external_id")?,
        name: row.try_get("name")?,
        email: row.try_get("email")?,
        phone: row.try_get("phone")?,
        attributes: serde_json::from_str(&attributes)
            .map_err(|e| StoreError::Corrupt(format!("customer {id}: attributes: {e}")))?,
        created_at: row.try_get("created_at")?,
        state: state_from_row::<DB>(row)?,
    })
}

/// Columns by position (the order of `EVENT_SELECT`): name lookups cost more than the decoding.
pub(super) fn event_from_row<DB: Backend>(row: &DB::Row) -> StoreResult<StoredEvent> {
    let kind: &str = row.try_get(2)?;
    EventRow {
        customer_id: row.try_get(1)?,
        kind: codec::kind_name(kind)?,
        occurred_at: row.try_get(3)?,
        recorded_at: row.try_get(4)?,
        key: row.try_get(5)?,
        amount_cents: row.try_get(6)?,
        currency: row.try_get(7)?,
        order_id: row.try_get(8)?,
        quantity: row.try_get(9)?,
        data: row.try_get(10)?,
    }
    .decode(row.try_get(0)?)
}

/// A page of the purchase log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PurchasePage {
    /// The last event id read: the next page starts after it. `None` past the end.
    pub last: Option<i64>,
    /// Customer, when (Unix seconds) and amount in cents of each purchase.
    pub purchases: Vec<(CustomerId, i64, i64)>,
}

/// The `customer,time,cents` triples of a page, separated by `;`; `count` of them.
fn parse_purchases(text: &str, count: i64) -> StoreResult<Vec<(CustomerId, i64, i64)>> {
    let mut purchases = Vec::with_capacity(usize::try_from(count).unwrap_or_default());
    if text.is_empty() {
        return Ok(purchases);
    }
    for triple in text.split(';') {
        let mut fields = triple.split(',').map(str::parse::<i64>);
        match (fields.next(), fields.next(), fields.next(), fields.next()) {
            (Some(Ok(customer)), Some(Ok(at)), Some(Ok(cents)), None) => {
                purchases.push((CustomerId(customer), at, cents))
            }
            _ => return Err(StoreError::Corrupt(format!("a purchase read as '{triple}'"))),
        }
    }
    if purchases.len() as i64 != count {
        return Err(StoreError::Corrupt(format!(
            "a page of {count} purchases read as {}",
            purchases.len()
        )));
    }
    Ok(purchases)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_of_purchases_reads_back_and_a_damaged_one_is_refused() {
        let page = parse_purchases("3,1700000000,1250;7,1700086400,-300", 2).unwrap();
        assert_eq!(
            page,
            [
                (CustomerId(3), 1_700_000_000, 1_250),
                (CustomerId(7), 1_700_086_400, -300)
            ]
        );
        assert!(parse_purchases("", 0).unwrap().is_empty());
        assert!(matches!(parse_purchases("3,17,x", 1), Err(StoreError::Corrupt(_))));
        assert!(matches!(parse_purchases("3,17", 1), Err(StoreError::Corrupt(_))));
        assert!(matches!(parse_purchases("3,17,5", 2), Err(StoreError::Corrupt(_))));
    }
}
