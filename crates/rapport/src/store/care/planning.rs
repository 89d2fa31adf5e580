//! Planning occurrences: the SQL that finds a trigger's causes among stored events (or over the
//! whole log when a plan is new), the anniversaries dated in Rust, the schedules' firings and the
//! scorings' drops below a threshold, each occurrence inserted once by its key.

use super::super::StoreResult;
use super::super::backend::Backend;
use super::PlanRecord;
use super::plans_where;
use crate::domain::CustomerId;
use crate::domain::plan::{DEFAULT_GAP, RHYTHM_MIN_CUSTOMERS, Trigger, TriggerEvent};

/// The occurrences a trigger plans from the events with ids from `$1` on: a query of
/// `(customer_id, cause, due_at)` rows, `$2` the offset in seconds; `None` for a trigger that
/// events do not plan (a scoring plans `p_alive_below`). With `whole_log` (`$1` is 0) the
/// customer-based triggers read the projection alone: every customer with a first purchase has
/// it in the log, and joining the log's millions of purchases to find them is the slow way.
fn occurrence_source<DB: Backend>(trigger: &Trigger, whole_log: bool) -> Option<String> {
    let events = |kind: &str, extra: &str| {
        format!(
            "SELECT customer_id, 'event:' || id AS cause, occurred_at + $2 AS due_at FROM events \
             WHERE id >= $1 AND kind = '{kind}'{extra}"
        )
    };
    // The customers whose first (or last) purchase is among the new events, each once, as a FROM
    // clause (the state as `s`) and its condition: a later or an older purchase does not plan (or
    // count as expired) their first-purchase cause again.
    let new_purchase = |moment: &str| {
        if whole_log {
            (
                "FROM customer_state s".to_owned(),
                // $1 is bound either way: PostgreSQL wants every parameter used.
                format!("s.{moment} IS NOT NULL AND CAST($1 AS BIGINT) >= 0"),
            )
        } else {
            (
                format!(
                    // `+e.customer_id` keeps SQLite off the per-customer index for the DISTINCT:
                    // with it, it walked the whole index (the log's every event) instead of the
                    // few new ids.
                    "FROM (SELECT DISTINCT +e.customer_id AS customer_id FROM events e JOIN customer_state x \
                     ON x.customer_id = e.customer_id \
                     WHERE e.id >= $1 AND e.kind = 'purchase' AND e.occurred_at = x.{moment}) n \
                     JOIN customer_state s ON s.customer_id = n.customer_id"
                ),
                "true".to_owned(),
            )
        }
    };
    // The business's gap at a percentile, while enough customers came back to trust it. Numbers
    // written into the text come from checked plans, never from input as such.
    let rhythm = |percent: i64| {
        format!(
            "(SELECT r.second_purchase_gap FROM business_rhythm r WHERE r.percent = {percent} \
             AND r.customers >= {RHYTHM_MIN_CUSTOMERS})"
        )
    };
    Some(match trigger {
        Trigger::After {
            event: TriggerEvent::FirstPurchase,
            ..
        } => {
            let (from, which) = new_purchase("first_purchase_at");
            format!(
                "SELECT s.customer_id, 'first_purchase' AS cause, s.first_purchase_at + $2 AS due_at {from} WHERE {which}"
            )
        }
        Trigger::After {
            event: TriggerEvent::Detractor,
            ..
        } => events(
            "feedback",
            &format!(" AND {} = 'detractor'", DB::json_text("data", "category")),
        ),
        Trigger::After { event, .. } => events(event.as_str(), ""),
        // Stage names are the domain's own words, never input: safe to write into the text.
        Trigger::StageEntered { stage } => events(
            "stage_change",
            &format!(" AND {} = '{}'", DB::json_text("data", "to"), stage.as_str()),
        ),
        Trigger::StageLeft { stage } => events(
            "stage_change",
            &format!(" AND {} = '{}'", DB::json_text("data", "from"), stage.as_str()),
        ),
        // A scoring plans these, the anniversaries are dated in Rust (`plan_anniversaries`), and
        // schedules when they fire (`CareTx::plan_fire`).
        Trigger::PAliveBelow { .. } | Trigger::Anniversary | Trigger::Schedule { .. } => return None,
        Trigger::SecondOrder { percentile } => {
            let (from, which) = new_purchase("first_purchase_at");
            format!(
                "SELECT s.customer_id, 'second_order' AS cause, s.first_purchase_at + $2 + coalesce(\
                 CAST(sc.expected_days_to_next_purchase * 86400 AS BIGINT), {}, {DEFAULT_GAP}) AS due_at \
                 {from} LEFT JOIN customer_scores sc ON sc.customer_id = s.customer_id \
                 WHERE {which} AND s.second_purchase_at IS NULL",
                rhythm((percentile * 100.0).round() as i64),
            )
        }
        Trigger::Overdue { factor } => {
            let (from, which) = new_purchase("last_purchase_at");
            format!(
                "SELECT s.customer_id, 'overdue:' || s.last_purchase_at AS cause, s.last_purchase_at + $2 + CAST({factor} * \
                 coalesce(CASE WHEN s.purchase_count >= 2 AND s.last_purchase_at > s.first_purchase_at \
                 THEN (s.last_purchase_at - s.first_purchase_at) / (s.purchase_count - 1) END, {}, {DEFAULT_GAP}) \
                 AS BIGINT) AS due_at {from} WHERE {which}",
                rhythm(50),
            )
        }
    })
}

fn offset_of(trigger: &Trigger) -> i64 {
    match trigger {
        Trigger::After { offset, .. } => offset.seconds,
        _ => 0,
    }
}

/// Plans one plan's occurrences caused by the events from `from_event_id` on; returns how many
/// were planned and how many were already past expiry (counted on the plan's version).
pub(in crate::store) async fn plan_occurrences<DB: Backend>(
    conn: &mut DB::Connection,
    plan: &PlanRecord,
    from_event_id: i64,
    now: i64,
) -> StoreResult<(u64, u64)> {
    if plan.spec.trigger == Trigger::Anniversary {
        return Ok((plan_anniversaries::<DB>(conn, plan, from_event_id, now).await?, 0));
    }
    let Some(source) = occurrence_source::<DB>(&plan.spec.trigger, from_event_id <= 0) else {
        return Ok((0, 0));
    };
    let offset = offset_of(&plan.spec.trigger);
    let horizon = now - plan.spec.expire_after.seconds;
    let insert = format!(
        "INSERT INTO plan_occurrences (plan_id, customer_id, cause, due_at, planned_at) \
         SELECT $4, customer_id, cause, due_at, $5 FROM ({source}) o WHERE due_at >= $3 \
         ON CONFLICT (plan_id, customer_id, cause) DO NOTHING"
    );
    let done = sqlx::query(sqlx::AssertSqlSafe(insert))
        .bind(from_event_id)
        .bind(offset)
        .bind(horizon)
        .bind(plan.id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    let planned = DB::rows_affected(&done);
    let count = format!("SELECT count(*) FROM ({source}) o WHERE due_at < $3");
    let expired: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(count))
        .bind(from_event_id)
        .bind(offset)
        .bind(horizon)
        .fetch_one(&mut *conn)
        .await?;
    count_expired::<DB>(conn, plan, expired).await?;
    Ok((planned, expired as u64))
}

/// Adds `n` occurrences that were past their expiry when planned to the plan version's count.
async fn count_expired<DB: Backend>(conn: &mut DB::Connection, plan: &PlanRecord, n: i64) -> StoreResult<()> {
    if n > 0 {
        sqlx::query(
            "UPDATE plan_versions SET expired_at_planning = expired_at_planning + $3 \
             WHERE plan_id = $1 AND version = $2",
        )
        .bind(plan.id)
        .bind(plan.version)
        .bind(n)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Plans the next anniversary of every customer whose first purchase is among the events from
/// `from_event_id` on (the whole history: every customer's next one from the plan's expiry
/// horizon on; each later year is planned when the one before is run).
async fn plan_anniversaries<DB: Backend>(
    conn: &mut DB::Connection,
    plan: &PlanRecord,
    from_event_id: i64,
    now: i64,
) -> StoreResult<u64> {
    let firsts: Vec<(i64, i64)> = sqlx::query_as(
        // The new purchases first, by their ids (`+` keeps SQLite off the per-customer index),
        // then the states of their customers whose first purchase they are.
        "SELECT s.customer_id, s.first_purchase_at FROM (SELECT DISTINCT +e.customer_id AS customer_id, \
         e.occurred_at FROM events e WHERE e.id >= $1 AND e.kind = 'purchase') n \
         JOIN customer_state s ON s.customer_id = n.customer_id AND s.first_purchase_at = n.occurred_at",
    )
    .bind(from_event_id)
    .fetch_all(&mut *conn)
    .await?;
    let horizon = now - plan.spec.expire_after.seconds;
    let rows: Vec<(CustomerId, String, i64)> = firsts
        .into_iter()
        .filter_map(|(customer, first)| {
            let (n, due) = crate::domain::plan::next_anniversary(first, horizon)?;
            Some((CustomerId(customer), format!("anniversary:{n}"), due))
        })
        .collect();
    let mut planned = 0;
    for chunk in rows.chunks(10_000) {
        planned += insert_occurrences::<DB>(conn, plan.id, chunk, now).await?;
    }
    Ok(planned)
}

/// Inserts occurrences of one plan, `(customer, cause, due_at)`, each cause once.
async fn insert_occurrences<DB: Backend>(
    conn: &mut DB::Connection,
    plan_id: i64,
    rows: &[(CustomerId, String, i64)],
    now: i64,
) -> StoreResult<u64> {
    if rows.is_empty() {
        return Ok(0);
    }
    let json: Vec<serde_json::Value> = rows
        .iter()
        .map(|(customer, cause, due)| serde_json::json!([customer.0, cause, due]))
        .collect();
    let sql = format!(
        "INSERT INTO plan_occurrences (plan_id, customer_id, cause, due_at, planned_at) \
         SELECT $2, CAST(value->>0 AS BIGINT), value->>1, CAST(value->>2 AS BIGINT), $3 FROM {} \
         WHERE true ON CONFLICT (plan_id, customer_id, cause) DO NOTHING",
        DB::JSON_ROWS
    );
    let done = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(serde_json::Value::Array(json).to_string())
        .bind(plan_id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(DB::rows_affected(&done))
}

/// `CareTx::plan_new_events` for a backend's write transaction.
pub(in crate::store) async fn plan_new_events<DB: Backend>(
    conn: &mut DB::Connection,
    from_event_id: i64,
    now: i64,
) -> StoreResult<u64> {
    let mut planned = 0;
    for plan in plans_where::<DB>(conn, None).await? {
        planned += plan_occurrences::<DB>(conn, &plan, from_event_id, now).await?.0;
    }
    Ok(planned)
}

pub(in crate::store) async fn plan_from_scoring<DB: Backend>(
    conn: &mut DB::Connection,
    scored_at: i64,
    now: i64,
) -> StoreResult<u64> {
    let mut planned = 0;
    for plan in plans_where::<DB>(conn, None).await? {
        let Trigger::PAliveBelow { threshold } = plan.spec.trigger else {
            continue;
        };
        let done = sqlx::query(
            "INSERT INTO plan_occurrences (plan_id, customer_id, cause, due_at, planned_at) \
             SELECT $3, customer_id, 'scoring:' || scored_at, scored_at, $4 FROM customer_scores \
             WHERE scored_at = $1 AND previous_p_alive >= $2 AND p_alive < $2 \
             ON CONFLICT (plan_id, customer_id, cause) DO NOTHING",
        )
        .bind(scored_at)
        .bind(threshold)
        .bind(plan.id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
        planned += DB::rows_affected(&done);
    }
    Ok(planned)
}

pub(in crate::store) async fn last_fire<DB: Backend>(
    conn: &mut DB::Connection,
    plan_id: i64,
) -> StoreResult<Option<i64>> {
    let last: Option<i64> =
        sqlx::query_scalar("SELECT max(due_at) FROM plan_occurrences WHERE plan_id = $1 AND cause LIKE 'schedule:%'")
            .bind(plan_id)
            .fetch_one(&mut *conn)
            .await?;
    Ok(last)
}

pub(in crate::store) async fn plan_fire<DB: Backend>(
    conn: &mut DB::Connection,
    plan: &PlanRecord,
    at: i64,
    now: i64,
    expired: bool,
) -> StoreResult<u64> {
    // Stage names are the domain's own words, never input: safe to write into the text.
    let stages: Vec<String> = plan
        .spec
        .when
        .stage
        .iter()
        .map(|s| format!("'{}'", s.as_str()))
        .collect();
    // SQLite reads `ON CONFLICT` after a SELECT without WHERE as a join's: there is always one.
    let filter = if stages.is_empty() {
        " WHERE true".to_owned()
    } else {
        format!(" WHERE stage IN ({})", stages.join(", "))
    };
    if expired {
        let sql = format!("SELECT count(*) FROM customer_state{filter}");
        let missed: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_one(&mut *conn)
            .await?;
        count_expired::<DB>(conn, plan, missed).await?;
        return Ok(0);
    }
    let sql = format!(
        "INSERT INTO plan_occurrences (plan_id, customer_id, cause, due_at, planned_at) \
         SELECT $1, customer_id, $2, $3, $4 FROM customer_state{filter} \
         ON CONFLICT (plan_id, customer_id, cause) DO NOTHING"
    );
    let done = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(plan.id)
        .bind(format!("schedule:{at}"))
        .bind(at)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(DB::rows_affected(&done))
}
