//! Queries and row decoders both backends share, generated per backend by a macro (the SQL
//! text is in `sql.rs`).

/// Generates, for one backend, the queries and row decoders both backends share.
macro_rules! shared_queries {
    ($db:ty, $row:ty) => {
        use sqlx::Row as _;

        use crate::domain::funnel::FunnelRow;
        use crate::domain::state::day_of;
        use crate::domain::{CustomerId, CustomerState, StoredEvent};
        use crate::store::codec::{self, EventRow};
        use crate::store::sql::{CUSTOMER_SELECT, EVENT_SELECT};
        use crate::store::{CustomerFilter, CustomerRecord, NewCustomer, StoreError, StoreResult};

        fn state_from_row(row: &$row) -> StoreResult<CustomerState> {
            let stage: Option<String> = row.try_get("stage")?;
            let max_stage: Option<String> = row.try_get("max_stage")?;
            Ok(CustomerState {
                stage: stage.as_deref().map(codec::stage).transpose()?,
                max_stage: max_stage.as_deref().map(codec::stage).transpose()?,
                stage_changes: row
                    .try_get::<Option<i64>, _>("stage_changes")?
                    .unwrap_or_default(),
                stage_changed_at: row.try_get("stage_changed_at")?,
                purchase_count: row
                    .try_get::<Option<i64>, _>("purchase_count")?
                    .unwrap_or_default(),
                first_purchase_at: row.try_get("first_purchase_at")?,
                second_purchase_at: row.try_get("second_purchase_at")?,
                last_purchase_at: row.try_get("last_purchase_at")?,
                total_spend_cents: row
                    .try_get::<Option<i64>, _>("total_spend_cents")?
                    .unwrap_or_default(),
                interaction_count: row
                    .try_get::<Option<i64>, _>("interaction_count")?
                    .unwrap_or_default(),
                first_interaction_at: row.try_get("first_interaction_at")?,
                referral_count: row
                    .try_get::<Option<i64>, _>("referral_count")?
                    .unwrap_or_default(),
                first_referral_at: row.try_get("first_referral_at")?,
                last_event_at: row.try_get("last_event_at")?,
            })
        }

        fn customer_from_row(row: &$row) -> StoreResult<CustomerRecord> {
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
                state: state_from_row(row)?,
            })
        }

        /// Columns by position (the order of `EVENT_SELECT`): name lookups cost more than the decoding.
        fn event_from_row(row: &$row) -> StoreResult<StoredEvent> {
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

        async fn customer_by_external_id<'e>(
            ex: impl sqlx::Executor<'e, Database = $db>,
            external_id: &str,
        ) -> StoreResult<Option<CustomerRecord>> {
            let sql = format!("{CUSTOMER_SELECT} WHERE c.external_id = $1");
            let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(external_id)
                .fetch_optional(ex)
                .await?;
            row.as_ref().map(customer_from_row).transpose()
        }

        async fn list_customers<'e>(
            ex: impl sqlx::Executor<'e, Database = $db>,
            filter: &CustomerFilter,
        ) -> StoreResult<Vec<CustomerRecord>> {
            let sql =
                format!("{CUSTOMER_SELECT} WHERE ($1 IS NULL OR s.stage = $1) AND c.id > $2 ORDER BY c.id LIMIT $3");
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(filter.stage.map(|s| s.as_str()))
                .bind(filter.after.map_or(0, |c| c.0))
                .bind(i64::from(filter.limit))
                .fetch_all(ex)
                .await?;
            rows.iter().map(customer_from_row).collect()
        }

        async fn events_of<'e>(
            ex: impl sqlx::Executor<'e, Database = $db>,
            customer: CustomerId,
        ) -> StoreResult<Vec<StoredEvent>> {
            let sql = format!("{EVENT_SELECT} WHERE customer_id = $1 ORDER BY id");
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(customer.0)
                .fetch_all(ex)
                .await?;
            rows.iter().map(event_from_row).collect()
        }

        async fn events_page<'e>(
            ex: impl sqlx::Executor<'e, Database = $db>,
            after: (i64, i64),
            limit: u32,
        ) -> StoreResult<Vec<StoredEvent>> {
            let sql = format!("{EVENT_SELECT} WHERE (customer_id, id) > ($1, $2) ORDER BY customer_id, id LIMIT $3");
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(after.0)
                .bind(after.1)
                .bind(i64::from(limit))
                .fetch_all(ex)
                .await?;
            rows.iter().map(event_from_row).collect()
        }

        async fn funnel_rows<'e>(ex: impl sqlx::Executor<'e, Database = $db>) -> StoreResult<Vec<FunnelRow>> {
            let sql = "SELECT s.stage, s.max_stage, s.first_purchase_at, s.second_purchase_at, s.last_event_at \
                       FROM customers c JOIN customer_state s ON s.customer_id = c.id";
            let rows = sqlx::query(sql).fetch_all(ex).await?;
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

        async fn event_count<'e>(ex: impl sqlx::Executor<'e, Database = $db>) -> StoreResult<u64> {
            let n: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
                .fetch_one(ex)
                .await?;
            Ok(n as u64)
        }

        async fn update_profiles(
            conn: &mut <$db as sqlx::Database>::Connection,
            updates: &[(CustomerId, NewCustomer)],
        ) -> StoreResult<()> {
            for (id, profile) in updates {
                sqlx::query("UPDATE customers SET name = $1, email = $2, phone = $3, attributes = $4 WHERE id = $5")
                    .bind(&profile.name)
                    .bind(&profile.email)
                    .bind(&profile.phone)
                    .bind(serde_json::Value::Object(profile.attributes.clone()).to_string())
                    .bind(id.0)
                    .execute(&mut *conn)
                    .await?;
            }
            Ok(())
        }

        async fn max_event_id(conn: &mut <$db as sqlx::Database>::Connection) -> StoreResult<i64> {
            let max: Option<i64> = sqlx::query_scalar("SELECT max(id) FROM events")
                .fetch_one(conn)
                .await?;
            Ok(max.unwrap_or(0))
        }

        async fn purchase_log<'e>(ex: impl sqlx::Executor<'e, Database = $db>) -> StoreResult<Vec<(String, i64, i64)>> {
            let rows: Vec<(String, i64, Option<i64>)> = sqlx::query_as(
                "SELECT c.external_id, e.occurred_at, e.amount_cents FROM events e \
                 JOIN customers c ON c.id = e.customer_id WHERE e.kind = 'purchase'",
            )
            .fetch_all(ex)
            .await?;
            Ok(rows.into_iter().map(|(ext, at, cents)| (ext, at, cents.unwrap_or_default())).collect())
        }

        async fn save_fit<'e>(ex: impl sqlx::Executor<'e, Database = $db>, fit: &crate::store::FitRecord) -> StoreResult<i64> {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO model_fits (created_at, model, time_unit, calibration_end, summary, log_likelihood, customers) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            )
            .bind(fit.created_at)
            .bind(&fit.model)
            .bind(&fit.time_unit)
            .bind(&fit.calibration_end)
            .bind(fit.summary.to_string())
            .bind(fit.log_likelihood)
            .bind(fit.customers)
            .fetch_one(ex)
            .await?;
            Ok(id)
        }

        async fn latest_fit<'e>(ex: impl sqlx::Executor<'e, Database = $db>) -> StoreResult<Option<crate::store::FitRecord>> {
            let row = sqlx::query(
                "SELECT id, created_at, model, time_unit, calibration_end, summary, log_likelihood, customers \
                 FROM model_fits ORDER BY id DESC LIMIT 1",
            )
            .fetch_optional(ex)
            .await?;
            let Some(row) = row else { return Ok(None) };
            let summary: String = row.try_get(5)?;
            Ok(Some(crate::store::FitRecord {
                id: row.try_get(0)?,
                created_at: row.try_get(1)?,
                model: row.try_get(2)?,
                time_unit: row.try_get(3)?,
                calibration_end: row.try_get(4)?,
                summary: serde_json::from_str(&summary).map_err(|e| StoreError::Corrupt(format!("model fit: {e}")))?,
                log_likelihood: row.try_get(6)?,
                customers: row.try_get(7)?,
            }))
        }

        async fn score_of<'e>(
            ex: impl sqlx::Executor<'e, Database = $db>,
            customer: CustomerId,
        ) -> StoreResult<Option<crate::domain::score::ScoreRow>> {
            let row = sqlx::query(
                "SELECT c.external_id, s.frequency, s.recency, s.age, s.monetary_value, s.p_alive, s.expected_purchases_90d, s.expected_purchases_365d, s.expected_spend, \
                 s.clv_12m, s.rfm_recency, s.rfm_frequency, s.rfm_monetary, s.segment, \
                 s.expected_days_to_next_purchase, s.explanation \
                 FROM customer_scores s JOIN customers c ON c.id = s.customer_id WHERE s.customer_id = $1",
            )
            .bind(customer.0)
            .fetch_optional(ex)
            .await?;
            let Some(row) = row else { return Ok(None) };
            let segment: String = row.try_get(13)?;
            let quintile = |i: usize| -> StoreResult<u8> { Ok(row.try_get::<i64, _>(i)?.clamp(0, 5) as u8) };
            Ok(Some(crate::domain::score::ScoreRow {
                customer_id: row.try_get(0)?,
                frequency: row.try_get::<i64, _>(1)?.max(0) as u32,
                recency: row.try_get(2)?,
                age: row.try_get(3)?,
                monetary_value: row.try_get(4)?,
                p_alive: row.try_get(5)?,
                expected_purchases_90d: row.try_get(6)?,
                expected_purchases_365d: row.try_get(7)?,
                expected_spend: row.try_get(8)?,
                clv_12m: row.try_get(9)?,
                rfm_recency: quintile(10)?,
                rfm_frequency: quintile(11)?,
                rfm_monetary: quintile(12)?,
                segment: serde_json::from_value(serde_json::Value::String(segment.clone()))
                    .map_err(|_| StoreError::Corrupt(format!("unknown segment '{segment}'")))?,
                expected_days_to_next_purchase: row.try_get(14)?,
                explanation: row.try_get(15)?,
            }))
        }

        fn segment_of(name: &str) -> StoreResult<rapport_models::Segment> {
            serde_json::from_value(serde_json::Value::String(name.to_owned()))
                .map_err(|_| StoreError::Corrupt(format!("unknown segment '{name}'")))
        }

        fn list_item_from_row(row: &$row) -> StoreResult<crate::store::CustomerListItem> {
            let customer = customer_from_row(row)?;
            let p_alive: Option<f64> = row.try_get("sc_p_alive")?;
            let score = match p_alive {
                None => None,
                Some(p_alive) => {
                    let quintile = |name: &str| -> StoreResult<u8> { Ok(row.try_get::<i64, _>(name)?.clamp(0, 5) as u8) };
                    let segment: String = row.try_get("sc_segment")?;
                    Some(crate::domain::score::ScoreRow {
                        customer_id: customer.external_id.clone(),
                        frequency: row.try_get::<i64, _>("sc_frequency")?.max(0) as u32,
                        recency: row.try_get("sc_recency")?,
                        age: row.try_get("sc_age")?,
                        monetary_value: row.try_get("sc_monetary_value")?,
                        p_alive,
                        expected_purchases_90d: row.try_get("sc_expected_purchases_90d")?,
                        expected_purchases_365d: row.try_get("sc_expected_purchases_365d")?,
                        expected_spend: row.try_get("sc_expected_spend")?,
                        clv_12m: row.try_get("sc_clv_12m")?,
                        rfm_recency: quintile("sc_rfm_recency")?,
                        rfm_frequency: quintile("sc_rfm_frequency")?,
                        rfm_monetary: quintile("sc_rfm_monetary")?,
                        segment: segment_of(&segment)?,
                        expected_days_to_next_purchase: row.try_get("sc_expected_days_to_next_purchase")?,
                        explanation: row.try_get("sc_explanation")?,
                    })
                }
            };
            let previous_p_alive = row.try_get("sc_previous_p_alive")?;
            Ok(crate::store::CustomerListItem {
                customer,
                score,
                previous_p_alive,
            })
        }

        async fn query_customers(
            pool: &sqlx::Pool<$db>,
            query: &crate::store::CustomerQuery,
        ) -> StoreResult<Vec<crate::store::CustomerListItem>> {
            // The backend picks how a search joins the list (`search_plan`): its own index
            // first, or the sort's index walked with the search as a filter.
            let predicate = search_plan(pool, query).await?;
            let broad_stage = match query.stage {
                Some(stage) => {
                    let found: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                        "SELECT count(*) FROM (SELECT 1 FROM customer_state WHERE stage = $1 LIMIT {}) AS found",
                        crate::store::sql::BROAD_SEARCH
                    )))
                    .bind(stage.as_str())
                    .fetch_one(pool)
                    .await?;
                    found >= crate::store::sql::BROAD_SEARCH
                }
                None => false,
            };
            let (sql, binds) = crate::store::sql::customer_query_sql(query, predicate, broad_stage);
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for bind in binds {
                q = match bind {
                    crate::store::sql::Bind::Int(v) => q.bind(v),
                    crate::store::sql::Bind::Float(v) => q.bind(v),
                    crate::store::sql::Bind::Text(v) => q.bind(v),
                };
            }
            let rows = q.fetch_all(pool).await?;
            rows.iter().map(list_item_from_row).collect()
        }

        async fn count_customers(
            pool: &sqlx::Pool<$db>,
            query: &crate::store::CustomerQuery,
            at_most: u64,
        ) -> StoreResult<u64> {
            let (sql, binds) = crate::store::sql::customer_count_sql(query, search_predicate, at_most);
            let mut q = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql));
            for bind in binds {
                q = match bind {
                    crate::store::sql::Bind::Int(v) => q.bind(v),
                    crate::store::sql::Bind::Float(v) => q.bind(v),
                    crate::store::sql::Bind::Text(v) => q.bind(v),
                };
            }
            Ok(q.fetch_one(pool).await?.max(0) as u64)
        }

        /// The overview's aggregates, in the business's local days and months; `month_of` is the
        /// backend's `YYYY-MM` of a Unix-seconds expression.
        async fn dashboard_figures(
            pool: &sqlx::Pool<$db>,
            calendar: &crate::domain::calendar::Calendar,
        ) -> StoreResult<crate::store::DashboardFigures> {
            use crate::store::sql::AT_RISK_SQL;
            let customers: i64 = sqlx::query_scalar("SELECT count(*) FROM customers").fetch_one(pool).await?;
            let (buyers, repeat_buyers, first_purchase_at, last_purchase_at): (i64, i64, Option<i64>, Option<i64>) =
                sqlx::query_as(
                    "SELECT count(first_purchase_at), count(second_purchase_at), min(first_purchase_at), \
                     max(last_purchase_at) FROM customer_state",
                )
                .fetch_one(pool)
                .await?;
            let (scored, likely_active, predicted_revenue_12m, scored_at): (i64, i64, f64, Option<i64>) = sqlx::query_as(
                "SELECT count(*), coalesce(sum(CASE WHEN p_alive > 0.5 THEN 1 ELSE 0 END), 0), \
                 coalesce(sum(clv_12m), 0.0), max(scored_at) FROM customer_scores",
            )
            .fetch_one(pool)
            .await?;
            let at_risk: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT count(*) FROM customer_scores sc JOIN customer_state s ON s.customer_id = sc.customer_id \
                 WHERE {AT_RISK_SQL}"
            )))
            .fetch_one(pool)
            .await?;
            // Windows end now: old data show nothing recent rather than pretend to be current.
            let (revenue_30d_cents, revenue_365d_cents) = sqlx::query_as(
                "SELECT CAST(coalesce(sum(CASE WHEN occurred_at >= $1 THEN amount_cents ELSE 0 END), 0) AS BIGINT), \
                 CAST(coalesce(sum(amount_cents), 0) AS BIGINT) \
                 FROM events WHERE kind = 'purchase' AND occurred_at >= $2 AND occurred_at <= $3",
            )
            .bind(calendar.day_start(29))
            .bind(calendar.day_start(364))
            .bind(calendar.now)
            .fetch_one(pool)
            .await?;
            let spans = match (first_purchase_at, last_purchase_at) {
                (Some(first), Some(last)) => calendar.offsets(first, last),
                _ => Vec::new(),
            };
            let local = |column: &str| month_of(&crate::store::sql::local_seconds(column, &spans));
            let sql = format!(
                "SELECT {} AS month, count(*), CAST(coalesce(sum(amount_cents), 0) AS BIGINT), count(DISTINCT customer_id) \
                 FROM events WHERE kind = 'purchase' GROUP BY 1 ORDER BY 1",
                local("occurred_at")
            );
            let rows: Vec<(String, i64, i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(pool).await?;
            let sql = format!(
                "SELECT {} AS month, count(*) FROM customer_state WHERE first_purchase_at IS NOT NULL GROUP BY 1",
                local("first_purchase_at")
            );
            let new: std::collections::HashMap<String, i64> =
                sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(pool).await?.into_iter().collect();
            let months = rows
                .into_iter()
                .map(|(month, purchases, revenue_cents, buyers)| crate::store::MonthFigures {
                    new_buyers: new.get(&month).copied().unwrap_or_default(),
                    month,
                    purchases,
                    revenue_cents,
                    buyers,
                })
                .collect();
            Ok(crate::store::DashboardFigures {
                customers,
                buyers,
                repeat_buyers,
                last_purchase_at,
                revenue_30d_cents,
                revenue_365d_cents,
                scored,
                likely_active,
                predicted_revenue_12m,
                at_risk,
                scored_at,
                months,
            })
        }

        fn api_key_from_row(row: &$row) -> StoreResult<crate::store::ApiKeyRecord> {
            let role: String = row.try_get(2)?;
            Ok(crate::store::ApiKeyRecord {
                id: row.try_get(0)?,
                name: row.try_get(1)?,
                role: role.parse().map_err(|e: crate::domain::ParseError| StoreError::Corrupt(e.0))?,
                prefix: row.try_get(3)?,
                created_at: row.try_get(4)?,
                revoked_at: row.try_get(5)?,
            })
        }

        fn user_from_row(row: &$row) -> StoreResult<crate::store::UserRecord> {
            let role: String = row.try_get("role")?;
            Ok(crate::store::UserRecord {
                id: row.try_get("id")?,
                email: row.try_get("email")?,
                role: role.parse().map_err(|e: crate::domain::ParseError| StoreError::Corrupt(e.0))?,
                password_hash: row.try_get("password_hash")?,
                created_at: row.try_get("created_at")?,
            })
        }

        /// A unique-constraint violation as `Conflict` with this message; other errors unchanged.
        fn conflict(error: sqlx::Error, message: impl FnOnce() -> String) -> StoreError {
            match &error {
                sqlx::Error::Database(e) if e.is_unique_violation() => StoreError::Conflict(message()),
                _ => error.into(),
            }
        }

        async fn clear_states(conn: &mut <$db as sqlx::Database>::Connection) -> StoreResult<()> {
            sqlx::query("DELETE FROM customer_state").execute(conn).await?;
            Ok(())
        }
    };
}

pub(crate) use shared_queries;
