//! SQL text both backends run unchanged (`$N` placeholders work in SQLite too): column lists,
//! upsert clauses and the customer list's query builder.

/// The customer columns every read selects, joined with the projection.
pub const CUSTOMER_SELECT: &str = "SELECT c.id, c.external_id, c.name, c.email, c.phone, c.attributes, c.created_at, \
     s.stage, s.max_stage, s.stage_changes, s.stage_changed_at, s.purchase_count, s.first_purchase_at, \
     s.second_purchase_at, s.last_purchase_at, s.total_spend_cents, s.interaction_count, s.first_interaction_at, \
     s.referral_count, s.first_referral_at, s.last_event_at, s.email_consent, s.email_consent_at, \
     s.nps_category, s.nps_at \
     FROM customers c LEFT JOIN customer_state s ON s.customer_id = c.id";

/// The event columns every read selects.
pub const EVENT_SELECT: &str = "SELECT id, customer_id, kind, occurred_at, recorded_at, event_key, amount_cents, \
     currency, order_id, quantity, data FROM events";

/// The projection's columns, in the order writes bind them.
pub const STATE_COLUMNS: [&str; 19] = [
    "customer_id",
    "stage",
    "max_stage",
    "stage_changes",
    "stage_changed_at",
    "purchase_count",
    "first_purchase_at",
    "second_purchase_at",
    "last_purchase_at",
    "total_spend_cents",
    "interaction_count",
    "first_interaction_at",
    "referral_count",
    "first_referral_at",
    "last_event_at",
    "email_consent",
    "email_consent_at",
    "nps_category",
    "nps_at",
];

/// The score columns after the customer, in the order writes bind them.
pub const SCORE_COLUMNS: [&str; 15] = [
    "frequency",
    "recency",
    "age",
    "monetary_value",
    "p_alive",
    "expected_purchases_90d",
    "expected_purchases_365d",
    "expected_spend",
    "clv_12m",
    "rfm_recency",
    "rfm_frequency",
    "rfm_monetary",
    "segment",
    "expected_days_to_next_purchase",
    "explanation",
];

/// `ON CONFLICT (key) DO UPDATE` clause that overwrites `columns` with the new row's values.
pub fn upsert_clause(key: &str, columns: &[&str]) -> String {
    let sets: Vec<String> = columns.iter().map(|c| format!("{c} = excluded.{c}")).collect();
    format!("ON CONFLICT ({key}) DO UPDATE SET {}", sets.join(", "))
}

/// The clause that overwrites a customer's state with the new one.
pub fn state_upsert_clause() -> String {
    upsert_clause("customer_id", &STATE_COLUMNS[1..])
}

/// The clause that overwrites a customer's scores with the new ones, keeping the P(alive) they
/// replace (customer.at_risk compares the two).
pub fn score_upsert_clause() -> String {
    let columns: Vec<&str> = ["fit_id", "scored_at"].into_iter().chain(SCORE_COLUMNS).collect();
    format!(
        "{}, previous_p_alive = customer_scores.p_alive",
        upsert_clause("customer_id", &columns)
    )
}

/// Expected value lost, as `CustomerSort::Risk` orders by it (`store::value_at_risk`, the same
/// arithmetic in the same order): the model's year if still active, capped at the purchases so
/// far, times the probability of being gone. An index of migration 0007 holds it.
pub const RISK_SQL: &str = "((CASE WHEN sc.clv_12m / (CASE WHEN sc.p_alive < 0.01 THEN 0.01 ELSE sc.p_alive END) \
     < (sc.frequency + 1) * sc.expected_spend \
     THEN sc.clv_12m / (CASE WHEN sc.p_alive < 0.01 THEN 0.01 ELSE sc.p_alive END) \
     ELSE (sc.frequency + 1) * sc.expected_spend END) * (1.0 - sc.p_alive))";

/// The at-risk list's condition (`CustomerQuery::at_risk_below`, `DashboardFigures::at_risk`):
/// clients and partners whose P(alive) is below the threshold bound at `placeholder`.
/// `|| ''` and the unary `+` keep SQLite from answering it through the stage or P(alive) index and
/// sorting what it finds (hundreds of thousands of rows): walking the risk index is what is fast.
pub fn at_risk_sql(placeholder: &str) -> String {
    format!("((s.stage || '') IN ('client', 'partner') AND +sc.p_alive < {placeholder})")
}

/// A value to bind to a query built at run time.
#[derive(Debug, Clone, PartialEq)]
pub enum Bind {
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    Text(String),
}

/// A search finding at least this many customers is a filter on the list's sort rather than
/// where the query starts: walking the sort's index finds a page of them after a few thousand
/// rows, while collecting and sorting them all grows with their number.
pub const BROAD_SEARCH: i64 = 2_000;

/// A backend's search predicate for the search text, its placeholders starting at `$n`.
pub type SearchPredicate = fn(&str, usize) -> (String, Vec<Bind>);

/// What a customer query's filters come to: the join to the scores and the conditions, with
/// their binds.
struct Filter {
    join: &'static str,
    conditions: Vec<String>,
    binds: Vec<Bind>,
}

impl Filter {
    /// Adds a bind and returns its placeholder.
    fn bind(&mut self, value: Bind) -> String {
        self.binds.push(value);
        format!("${}", self.binds.len())
    }

    fn clause(&self) -> String {
        if self.conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", self.conditions.join(" AND "))
        }
    }
}

/// The sort's key, the direction its cursor moves in, and the id that breaks ties.
fn sort_key(sort: crate::store::CustomerSort) -> (&'static str, &'static str, &'static str) {
    use crate::store::CustomerSort;
    match sort {
        CustomerSort::Id => ("c.id", ">", "c.id"),
        CustomerSort::Clv => ("sc.clv_12m", "<", "sc.customer_id"),
        CustomerSort::Risk => (RISK_SQL, "<", "sc.customer_id"),
        CustomerSort::PAlive => ("sc.p_alive", ">", "sc.customer_id"),
        CustomerSort::LastPurchase => ("s.last_purchase_at", "<", "s.customer_id"),
        CustomerSort::Spend => ("s.total_spend_cents", "<", "s.customer_id"),
        CustomerSort::Orders => ("s.purchase_count", "<", "s.customer_id"),
    }
}

/// The join and conditions of `query` (its cursor aside): the rows a list of it shows.
/// `walk_sort` says a stage filter must not be answered through the stage's index (see
/// `customer_query_sql`).
fn customer_filter(query: &crate::store::CustomerQuery, search: SearchPredicate, walk_sort: bool) -> Filter {
    use crate::store::CustomerSort;
    let by_score = matches!(
        query.sort,
        CustomerSort::Clv | CustomerSort::Risk | CustomerSort::PAlive
    );
    let scored_only = by_score || query.segment.is_some() || query.at_risk_below.is_some();
    let mut filter = Filter {
        join: if scored_only { "JOIN" } else { "LEFT JOIN" },
        conditions: Vec::new(),
        binds: Vec::new(),
    };
    if let Some(stage) = query.stage {
        let p = filter.bind(Bind::Text(stage.as_str().to_owned()));
        let column = if walk_sort { "(s.stage || '')" } else { "s.stage" };
        filter.conditions.push(format!("{column} = {p}"));
    }
    if let Some(segment) = query.segment {
        let name = serde_json::to_value(segment).expect("segments serialize");
        let p = filter.bind(Bind::Text(name.as_str().unwrap_or_default().to_owned()));
        // Migration 0005's indexes lead with the segment and hold the sort: the filter uses them.
        filter.conditions.push(format!("sc.segment = {p}"));
    }
    if let Some(text) = query.search.as_deref().filter(|t| !t.trim().is_empty()) {
        let (sql, values) = search(text.trim(), filter.binds.len() + 1);
        filter.binds.extend(values);
        filter.conditions.push(sql);
    }
    if let Some(threshold) = query.at_risk_below {
        let p = filter.bind(Bind::Float(threshold));
        filter.conditions.push(at_risk_sql(&p));
    }
    // Customers who never bought have no last purchase: left out rather than sorted differently
    // by each backend's NULL order.
    if query.sort == CustomerSort::LastPurchase {
        filter.conditions.push("s.last_purchase_at IS NOT NULL".into());
    }
    filter
}

/// Sorted by the projection, the projection is joined, not left-joined: customers without one
/// (none, once anything was stored for them) are left out rather than sorted differently by each
/// backend's NULL order, and SQLite may then walk the sort's index first (a left join keeps
/// `customers` outermost, so a search made a filter scanned every customer and sorted).
fn state_join(sql: &str, sort: crate::store::CustomerSort) -> String {
    use crate::store::CustomerSort;
    if matches!(
        sort,
        CustomerSort::LastPurchase | CustomerSort::Spend | CustomerSort::Orders
    ) {
        sql.replacen(" LEFT JOIN customer_state s ", " JOIN customer_state s ", 1)
    } else {
        sql.to_owned()
    }
}

/// Builds the customer-list query for `query`; `search` writes a backend's search predicate.
///
/// `broad_stage` says the stage filter matches many customers (`BROAD_SEARCH` or more). Sorted by
/// a score or the projection, such a stage is a filter on the sort's index, walked until a page
/// is full: `|| ''` keeps the planner from collecting every row of the stage through its index
/// and sorting them all (300 ms with a million customers by a score, 1.1 s by spend). A stage of
/// few customers is collected through its own index instead, since walking the sort's index
/// would read all of it before giving up (3.9 s for the partners of a shop that has none).
pub fn customer_query_sql(
    query: &crate::store::CustomerQuery,
    search: SearchPredicate,
    broad_stage: bool,
) -> (String, Vec<Bind>) {
    use crate::store::CustomerSort;
    let walk_sort = broad_stage && query.sort != CustomerSort::Id;
    let mut filter = customer_filter(query, search, walk_sort);
    let (key, direction, id) = sort_key(query.sort);
    if let Some(after) = query.after {
        let p_id = filter.bind(Bind::Int(after.id));
        if query.sort == CustomerSort::Id {
            filter.conditions.push(format!("c.id > {p_id}"));
        } else {
            let value = match query.sort {
                CustomerSort::LastPurchase | CustomerSort::Spend | CustomerSort::Orders => {
                    Bind::Int(after.value as i64)
                }
                _ => Bind::Float(after.value),
            };
            let p_value = filter.bind(value);
            filter.conditions.push(format!(
                "({key} {direction} {p_value} OR ({key} = {p_value} AND {id} > {p_id}))"
            ));
        }
    }
    let order = match query.sort {
        CustomerSort::Id => "c.id".to_owned(),
        _ => format!("{key} {}, {id}", if direction == "<" { "DESC" } else { "ASC" }),
    };
    let limit = filter.bind(Bind::Int(i64::from(query.limit)));
    let sql = format!(
        "{CUSTOMER_SELECT} {} customer_scores sc ON sc.customer_id = c.id {} ORDER BY {order} LIMIT {limit}",
        filter.join,
        filter.clause()
    )
    .replacen(" FROM customers c", &format!(", {SCORE_SELECT} FROM customers c"), 1);
    (state_join(&sql, query.sort), filter.binds)
}

/// Counts the customers `query` matches (order, limit and cursor aside), stopping at `at_most`.
pub fn customer_count_sql(
    query: &crate::store::CustomerQuery,
    search: SearchPredicate,
    at_most: u64,
) -> (String, Vec<Bind>) {
    // A count has no order to keep: the stage's own index serves it best.
    let mut filter = customer_filter(query, search, false);
    let limit = filter.bind(Bind::Int(i64::try_from(at_most).unwrap_or(i64::MAX)));
    let sql = format!(
        "SELECT count(*) FROM (SELECT 1 FROM customers c LEFT JOIN customer_state s ON s.customer_id = c.id \
         {} customer_scores sc ON sc.customer_id = c.id {} LIMIT {limit}) AS matching",
        filter.join,
        filter.clause()
    );
    (state_join(&sql, query.sort), filter.binds)
}

/// One customer by external id (`$1`) with the columns `list_item_from_row` reads.
pub fn customer_with_score_sql() -> String {
    format!("{CUSTOMER_SELECT} LEFT JOIN customer_scores sc ON sc.customer_id = c.id WHERE c.external_id = $1")
        .replacen(" FROM customers c", &format!(", {SCORE_SELECT} FROM customers c"), 1)
}

/// The score columns lists select, prefixed so they do not clash with the customer's.
const SCORE_SELECT: &str = "sc.frequency AS sc_frequency, sc.recency AS sc_recency, sc.age AS sc_age, \
     sc.monetary_value AS sc_monetary_value, sc.p_alive AS sc_p_alive, sc.expected_purchases_90d AS sc_expected_purchases_90d, \
     sc.expected_purchases_365d AS sc_expected_purchases_365d, sc.expected_spend AS sc_expected_spend, sc.clv_12m AS sc_clv_12m, \
     sc.rfm_recency AS sc_rfm_recency, sc.rfm_frequency AS sc_rfm_frequency, sc.rfm_monetary AS sc_rfm_monetary, \
     sc.segment AS sc_segment, sc.expected_days_to_next_purchase AS sc_expected_days_to_next_purchase, \
     sc.explanation AS sc_explanation, sc.previous_p_alive AS sc_previous_p_alive";

/// The columns of an API key row.
pub const API_KEY_SELECT: &str = "SELECT id, name, role, prefix, created_at, revoked_at FROM api_keys";

/// `column` (Unix seconds) shifted to the business's local time by the zone's offsets over the
/// data's range: a CASE split in halves, so a row meets about log2(spans) comparisons however
/// many clock changes the data span.
pub fn local_seconds(column: &str, spans: &[crate::domain::calendar::OffsetSpan]) -> String {
    fn offset(column: &str, spans: &[crate::domain::calendar::OffsetSpan]) -> String {
        match spans {
            [] => "0".to_owned(),
            [only] => only.offset.to_string(),
            _ => {
                let (before, after) = spans.split_at(spans.len() / 2);
                format!(
                    "(CASE WHEN {column} < {} THEN {} ELSE {} END)",
                    after[0].from,
                    offset(column, before),
                    offset(column, after)
                )
            }
        }
    }
    match spans {
        [] => column.to_owned(),
        [only] if only.offset == 0 => column.to_owned(),
        _ => format!("({column} + {})", offset(column, spans)),
    }
}
