//! The customer list's store queries on both backends: substring search, the spend and orders
//! sorts, counts, and the value at risk's cap.

use rapport::domain::{EventKind, Money, NewEvent};
use rapport::import::{CustomerColumns, FileOptions, import_customers};
use rapport::ingest::Ingest;
use rapport::store::{CustomerQuery, CustomerSort, value_at_risk};

use crate::contract;
use crate::helpers::TestDb;

contract!(
    search_finds_any_part_of_a_name_email_or_id_whatever_the_case,
    search_follows_a_changed_profile,
    the_list_sorts_by_total_spend_and_by_purchases_and_pages_through_them,
    a_count_matches_the_filters_and_stops_where_asked,
    value_at_risk_sorts_the_at_risk_list_and_never_exceeds_the_purchases_so_far,
    a_search_that_finds_thousands_pages_through_them_in_the_sorts_order,
);

const PEOPLE: &str = "customer_id,name,email,phone\n\
    shop-0001,Ana Garcia,ana@example.com,+34 600 000 001\n\
    shop-0002,Bo Lind,bo.garcia@mail.example,\n\
    shop-0003,Cy Park,cy@example.com,\n\
    XGARC-7,Dee Holm,dee@example.org,\n\
    shop-0005,Éva Grün,eva@example.com,\n";

async fn people(db: &TestDb) {
    let options = FileOptions::csv(db.file("people.csv", PEOPLE));
    import_customers(&db.store, &options, &CustomerColumns::default())
        .await
        .unwrap();
}

async fn ids(db: &TestDb, query: CustomerQuery) -> Vec<String> {
    let query = CustomerQuery {
        limit: query.limit.max(100),
        ..query
    };
    let items = db.store.query_customers(&query).await.unwrap();
    items.into_iter().map(|i| i.customer.external_id).collect()
}

/// The ids a search finds, in text order (an import numbers customers in no promised order).
async fn found(db: &TestDb, text: &str) -> Vec<String> {
    let mut found = ids(db, search(text)).await;
    found.sort();
    found
}

fn search(text: &str) -> CustomerQuery {
    CustomerQuery {
        search: Some(text.into()),
        ..CustomerQuery::default()
    }
}

async fn search_finds_any_part_of_a_name_email_or_id_whatever_the_case(db: &TestDb) {
    people(db).await;
    // A surname inside the name, any case; inside an e-mail; inside an id.
    assert_eq!(found(db, "Garcia").await, ["shop-0001", "shop-0002"]);
    assert_eq!(found(db, "GARC").await, ["XGARC-7", "shop-0001", "shop-0002"]);
    assert_eq!(found(db, "example.org").await, ["XGARC-7"]);
    assert_eq!(found(db, "0003").await, ["shop-0003"]);
    assert_eq!(found(db, "grün").await, ["shop-0005"]);
    assert_eq!(
        found(db, "100%").await,
        Vec::<String>::new(),
        "% is text, not a wildcard"
    );
    assert_eq!(found(db, "a\"b").await, Vec::<String>::new(), "a quote is text");
    // One or two characters match the start, as before.
    assert_eq!(found(db, "cy").await, ["shop-0003"]);
    // Search goes with the other filters and orders.
    let sorted = CustomerQuery {
        sort: CustomerSort::Spend,
        ..search("garc")
    };
    assert_eq!(ids(db, sorted).await.len(), 3);
}

async fn search_follows_a_changed_profile(db: &TestDb) {
    people(db).await;
    let renamed = FileOptions::csv(db.file(
        "renamed.csv",
        "customer_id,name,email\nshop-0003,Cy Garcia,cy@example.com\n",
    ));
    import_customers(&db.store, &renamed, &CustomerColumns::default())
        .await
        .unwrap();
    assert_eq!(found(db, "garcia").await, ["shop-0001", "shop-0002", "shop-0003"]);
    assert_eq!(found(db, "park").await, Vec::<String>::new(), "the old name is gone");
}

async fn buy(db: &TestDb, customer: &str, key: &str, day: i64, cents: i64) {
    let mut ingest = Ingest::begin(&db.store, "test").await.unwrap();
    let event = NewEvent {
        key: key.into(),
        occurred_at: 1_700_000_000 + day * 86_400,
        kind: EventKind::Purchase {
            amount: Money(cents),
            currency: Default::default(),
            order_id: None,
            quantity: None,
        },
    };
    ingest.push(&crate::helpers::ext(customer), event).await.unwrap();
    ingest.finish().await.unwrap();
}

async fn the_list_sorts_by_total_spend_and_by_purchases_and_pages_through_them(db: &TestDb) {
    people(db).await;
    // shop-0001: 3 purchases, 30.00; shop-0002: 1 purchase, 99.00; XGARC-7: 2 purchases, 98.00.
    for (i, cents) in [1_000, 1_000, 1_000].into_iter().enumerate() {
        buy(db, "shop-0001", &format!("a{i}"), i as i64, cents).await;
    }
    buy(db, "shop-0002", "b0", 0, 9_900).await;
    buy(db, "XGARC-7", "x0", 0, 4_900).await;
    buy(db, "XGARC-7", "x1", 3, 4_900).await;
    let by = |sort| CustomerQuery {
        sort,
        ..CustomerQuery::default()
    };
    let spend = ids(db, by(CustomerSort::Spend)).await;
    assert_eq!(spend[..3], ["shop-0002", "XGARC-7", "shop-0001"]);
    assert_eq!(spend.len(), 5, "customers who spent nothing come last: {spend:?}");
    let orders = ids(db, by(CustomerSort::Orders)).await;
    assert_eq!(orders[..3], ["shop-0001", "XGARC-7", "shop-0002"]);
    // A page at a time gives the same order.
    for sort in [CustomerSort::Spend, CustomerSort::Orders] {
        let mut paged = Vec::new();
        let mut after = None;
        loop {
            let query = CustomerQuery {
                sort,
                limit: 2,
                after,
                ..CustomerQuery::default()
            };
            let page = db.store.query_customers(&query).await.unwrap();
            let Some(last) = page.last() else { break };
            after = Some(last.cursor(sort));
            paged.extend(page.iter().map(|i| i.customer.external_id.clone()));
        }
        assert_eq!(paged, ids(db, by(sort)).await, "{sort:?}");
    }
}

async fn a_count_matches_the_filters_and_stops_where_asked(db: &TestDb) {
    people(db).await;
    buy(db, "shop-0001", "a0", 0, 1_000).await;
    let count = |query: CustomerQuery, at_most| {
        let store = db.store.clone();
        async move { store.count_customers(&query, at_most).await.unwrap() }
    };
    assert_eq!(count(CustomerQuery::default(), u64::MAX).await, 5);
    assert_eq!(count(CustomerQuery::default(), 3).await, 3);
    assert_eq!(count(search("garc"), 100).await, 3);
    let customers = CustomerQuery {
        stage: Some(rapport::domain::Stage::Customer),
        ..CustomerQuery::default()
    };
    assert_eq!(count(customers, 100).await, 1);
    let bought = CustomerQuery {
        sort: CustomerSort::LastPurchase,
        ..CustomerQuery::default()
    };
    assert_eq!(
        count(bought, 100).await,
        1,
        "the list by last purchase holds buyers only"
    );
}

fn score(
    customer: &str,
    frequency: u32,
    p_alive: f64,
    clv_12m: f64,
    expected_spend: f64,
) -> rapport::radar::analysis::ScoreRow {
    rapport::radar::analysis::ScoreRow {
        customer_id: customer.into(),
        frequency,
        recency: 1.0,
        age: 2.0,
        monetary_value: expected_spend,
        p_alive,
        expected_purchases_90d: 0.5,
        expected_purchases_365d: 1.0,
        expected_spend,
        clv_12m,
        rfm_recency: 3,
        rfm_frequency: 3,
        rfm_monetary: 3,
        segment: rapport_models::Segment::AtRisk,
        expected_days_to_next_purchase: None,
        explanation: String::new(),
    }
}

async fn value_at_risk_sorts_the_at_risk_list_and_never_exceeds_the_purchases_so_far(db: &TestDb) {
    people(db).await;
    for customer in ["shop-0001", "shop-0002", "shop-0003"] {
        buy(db, customer, &format!("{customer}-1"), 0, 1_000).await;
        buy(db, customer, &format!("{customer}-2"), 40, 1_000).await;
    }
    // shop-0001: P(alive) 2 %, 12-month value 4: the model's year if active is 200, but two
    // purchases of 10 are all it ever bought, so at most 20 is at risk.
    let rows = [
        score("shop-0001", 1, 0.02, 4.0, 10.0),
        score("shop-0002", 1, 0.4, 6.0, 10.0),
        score("shop-0003", 1, 0.3, 1.0, 10.0),
    ];
    let fit = rapport::store::FitRecord {
        id: 0,
        created_at: 0,
        model: "gaps".into(),
        time_unit: "day".into(),
        calibration_end: "2024-01-01".into(),
        summary: serde_json::json!({}),
        log_likelihood: 0.0,
        customers: 3,
    };
    let fit_id = db.store.save_fit(&fit).await.unwrap();
    let mut tx = db.store.begin().await.unwrap();
    tx.save_scores(fit_id, 1_700_000_000, &rows).await.unwrap();
    tx.commit().await.unwrap();
    assert!((value_at_risk(&rows[0]) - 20.0 * 0.98).abs() < 1e-9);
    assert!(
        (value_at_risk(&rows[1]) - 15.0 * 0.6).abs() < 1e-9,
        "below the cap: 12-month value / P(alive)"
    );
    for row in &rows {
        assert!(value_at_risk(row) <= f64::from(row.frequency + 1) * row.expected_spend);
    }
    let at_risk = CustomerQuery {
        at_risk_below: Some(0.5),
        sort: CustomerSort::Risk,
        ..CustomerQuery::default()
    };
    assert_eq!(ids(db, at_risk.clone()).await, ["shop-0001", "shop-0002", "shop-0003"]);
    let first = db
        .store
        .query_customers(&CustomerQuery {
            limit: 1,
            ..at_risk.clone()
        })
        .await
        .unwrap();
    let rest = CustomerQuery {
        after: Some(first[0].cursor(CustomerSort::Risk)),
        ..at_risk
    };
    assert_eq!(
        ids(db, rest).await,
        ["shop-0002", "shop-0003"],
        "the cursor lands exactly"
    );
}

/// More matches than SQLite collects and sorts (`BROAD_SEARCH`): the search becomes a filter on
/// the sort's index, and the pages must still hold every match once, in order; for a search
/// within names ("GARCIA") and one too short for a trigram, from the start ("an").
async fn a_search_that_finds_thousands_pages_through_them_in_the_sorts_order(db: &TestDb) {
    let mut text = String::from("customer_id,name\n");
    for i in 0..2_300 {
        let name = if i % 10 == 9 { "Kim Park" } else { "Ana Garcia" };
        text.push_str(&format!("g{i:05},{name} {i}\n"));
    }
    let options = FileOptions::csv(db.file("many.csv", &text));
    import_customers(&db.store, &options, &CustomerColumns::default())
        .await
        .unwrap();
    let mut ingest = Ingest::begin(&db.store, "test").await.unwrap();
    for i in (0..2_300).step_by(7) {
        let event = NewEvent {
            key: format!("p{i}"),
            occurred_at: 1_700_000_000 + i64::from(i),
            kind: EventKind::Purchase {
                amount: Money(i64::from(i % 50) * 100),
                currency: Default::default(),
                order_id: None,
                quantity: None,
            },
        };
        ingest
            .push(&crate::helpers::ext(&format!("g{i:05}")), event)
            .await
            .unwrap();
    }
    ingest.finish().await.unwrap();
    for (text, sort) in ["GARCIA", "an"]
        .into_iter()
        .flat_map(|text| [CustomerSort::Spend, CustomerSort::Id, CustomerSort::LastPurchase].map(|sort| (text, sort)))
    {
        let mut paged = Vec::new();
        let mut after = None;
        loop {
            let query = CustomerQuery {
                search: Some(text.into()),
                sort,
                limit: 500,
                after,
                ..CustomerQuery::default()
            };
            let page = db.store.query_customers(&query).await.unwrap();
            let Some(last) = page.last() else { break };
            after = Some(last.cursor(sort));
            paged.extend(
                page.iter()
                    .map(|i| (i.customer.state.clone(), i.customer.external_id.clone())),
            );
        }
        let expected = if sort == CustomerSort::LastPurchase { 296 } else { 2_070 };
        assert_eq!(paged.len(), expected, "{text} by {sort:?}: every Garcia");
        let unique: std::collections::HashSet<&String> = paged.iter().map(|(_, id)| id).collect();
        assert_eq!(unique.len(), expected, "{sort:?}: once each");
        assert!(
            paged.iter().all(|(_, id)| id[1..].parse::<u32>().unwrap() % 10 != 9),
            "{sort:?}: only Garcias"
        );
        let keys: Vec<i64> = paged
            .iter()
            .map(|(state, _)| match sort {
                CustomerSort::Spend => -state.total_spend_cents,
                CustomerSort::LastPurchase => -state.last_purchase_at.unwrap(),
                _ => 0,
            })
            .collect();
        assert!(keys.windows(2).all(|w| w[0] <= w[1]), "{sort:?} in order");
    }
    let counted = db.store.count_customers(&search("garcia"), u64::MAX).await.unwrap();
    assert_eq!(counted, 2_070);
    let counted = db.store.count_customers(&search("an"), u64::MAX).await.unwrap();
    assert_eq!(counted, 2_070);
}
