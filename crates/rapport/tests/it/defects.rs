//! Regressions of issue 12's data and domain defects: what a careless user's file or an attacker's
//! request did to the store, on both backends.

use rapport::domain::ExternalId;
use rapport::import::{
    CustomerColumns, FileOptions, ImportError, TransactionColumns, import_customers, import_transactions,
};
use rapport::store::CustomerFilter;
use reqwest::StatusCode;
use serde_json::json;

use crate::api::TestServer;
use crate::contract;
use crate::helpers::TestDb;

contract!(
    an_unterminated_quote_fails_naming_the_line_it_opened_on_and_stores_nothing,
    a_quoted_field_past_the_limit_fails_near_where_it_opened,
    an_amount_past_the_maximum_is_refused_and_totals_never_wrap,
    an_order_id_reused_for_another_customer_fails_naming_both_lines_and_creates_nobody,
    an_order_id_reused_with_another_amount_is_a_conflict_not_a_duplicate,
    with_skip_invalid_a_conflicting_row_is_rejected_and_creates_nobody,
    an_order_id_stored_before_for_another_customer_is_a_conflict,
    the_importer_refuses_what_the_api_refuses,
    customer_lists_refuse_long_names_control_characters_and_huge_attributes,
    an_excel_export_with_a_byte_order_mark_imports,
    a_customer_cannot_refer_themself,
    the_api_refuses_an_order_id_reused_with_another_amount,
    a_search_with_a_nul_is_a_422_naming_q_not_a_500,
);

const HEADER: &str = "customer_id,date,amount,order_id\n";

/// A shop export of `rows` purchases, one customer per ten rows.
fn rows(rows: usize) -> String {
    let mut text = HEADER.to_owned();
    for i in 0..rows {
        text.push_str(&format!(
            "c{},2024-01-{:02},{}.00,O{i}\n",
            i / 10,
            1 + i % 28,
            1 + i % 50
        ));
    }
    text
}

async fn import(db: &TestDb, name: &str, text: &str) -> Result<rapport::import::TransactionImportReport, ImportError> {
    let options = FileOptions::csv(db.file(name, text));
    import_transactions(&db.store, &options, &TransactionColumns::default(), None).await
}

async fn customer_count(db: &TestDb) -> usize {
    let filter = CustomerFilter {
        limit: u32::MAX,
        ..Default::default()
    };
    db.store.list_customers(&filter).await.unwrap().len()
}

async fn an_unterminated_quote_fails_naming_the_line_it_opened_on_and_stores_nothing(db: &TestDb) {
    let mut text = rows(2_000);
    // A stray quote at the start of line 1,002's customer id.
    let at = text.match_indices('\n').nth(1_000).unwrap().0 + 1;
    text.insert(at, '"');
    let error = import(db, "stray.csv", &text).await.unwrap_err();
    assert!(matches!(error, ImportError::OpenQuote { line: 1_002, .. }), "{error}");
    let message = error.to_string();
    assert!(
        message.contains("stray.csv: line 1002") && message.contains("never closed"),
        "{message}"
    );
    assert_eq!(db.store.event_count().await.unwrap(), 0);
    assert_eq!(customer_count(db).await, 0);
}

async fn a_quoted_field_past_the_limit_fails_near_where_it_opened(db: &TestDb) {
    let mut text = rows(5);
    text.push_str("\"c9,2024-02-01,1.00,O-stray\n");
    text.push_str(&rows(20_000)[HEADER.len()..]);
    let mut options = FileOptions::csv(db.file("long.csv", &text));
    options.max_quoted = 4_096;
    let error = import_transactions(&db.store, &options, &TransactionColumns::default(), None)
        .await
        .unwrap_err();
    assert!(matches!(error, ImportError::OpenQuote { line: 7, .. }), "{error}");
    assert!(error.to_string().contains("runs past 4096 bytes"), "{error}");
    assert_eq!(db.store.event_count().await.unwrap(), 0);
}

async fn an_amount_past_the_maximum_is_refused_and_totals_never_wrap(db: &TestDb) {
    let text = format!("{HEADER}a,2024-01-01,92233720368547758.07,1\na,2024-01-02,92233720368547758.07,2\n");
    let error = import(db, "huge.csv", &text).await.unwrap_err();
    let ImportError::Row(row) = &error else {
        panic!("{error}")
    };
    assert_eq!((row.line, row.column.as_str()), (2, "amount"));
    assert!(
        row.reason.contains("larger than the largest amount accepted"),
        "{error}"
    );

    // The largest amount, twice, is a total the store and the overview add without overflow.
    let text = format!("{HEADER}a,2024-01-01,10000000000.00,1\na,2024-01-02,10000000000.00,2\n");
    import(db, "max.csv", &text).await.unwrap();
    let a = db
        .store
        .customer(&ExternalId::parse("a").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a.state.total_spend_cents, 2_000_000_000_000);
    let now = rapport::domain::calendar::Calendar {
        time_zone: chrono_tz::Tz::UTC,
        now: 1_704_240_000,
    };
    let figures = db.store.dashboard_figures(&now, 0.5).await.unwrap();
    assert_eq!(figures.buyers, 1);
}

async fn an_order_id_reused_for_another_customer_fails_naming_both_lines_and_creates_nobody(db: &TestDb) {
    let text = format!("{HEADER}a,2024-01-01,10.00,A-1\nb,2024-01-02,10.00,A-2\nc,2024-01-03,10.00,A-1\n");
    let error = import(db, "clash.csv", &text).await.unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, ImportError::Conflict { .. }), "{message}");
    assert!(
        message.contains("clash.csv: line 4") && message.contains("line 2") && message.contains("customer 'a'"),
        "{message}"
    );
    assert_eq!(customer_count(db).await, 0);
    assert_eq!(db.store.event_count().await.unwrap(), 0);
}

async fn an_order_id_reused_with_another_amount_is_a_conflict_not_a_duplicate(db: &TestDb) {
    let text = format!("{HEADER}a,2024-01-01,10.00,A-1\na,2024-01-01,12.00,A-1\n");
    let message = import(db, "amount.csv", &text).await.unwrap_err().to_string();
    assert!(message.contains("line 3") && message.contains("line 2"), "{message}");
    // The same row twice is still a repeat.
    let text = format!("{HEADER}a,2024-01-01,10.00,A-1\na,2024-01-01,10.00,A-1\n");
    let report = import(db, "repeat.csv", &text).await.unwrap();
    assert_eq!((report.stored, report.duplicates), (1, 1));
}

async fn with_skip_invalid_a_conflicting_row_is_rejected_and_creates_nobody(db: &TestDb) {
    let text = format!("{HEADER}a,2024-01-01,10.00,A-1\nb,2024-01-02,10.00,A-2\nc,2024-01-03,10.00,A-1\n");
    let mut options = FileOptions::csv(db.file("clash.csv", &text));
    options.skip_invalid = true;
    let report = import_transactions(&db.store, &options, &TransactionColumns::default(), None)
        .await
        .unwrap();
    assert_eq!(
        (report.rows, report.stored, report.rejected, report.duplicates),
        (3, 2, 1, 0)
    );
    assert_eq!(report.customers_created, 2);
    assert!(
        db.store
            .customer(&ExternalId::parse("c").unwrap())
            .await
            .unwrap()
            .is_none()
    );
    let rejects = std::fs::read_to_string(options.rejects_path()).unwrap();
    assert!(
        rejects.contains("\n4,order_id,A-1,") && rejects.contains("customer 'a'"),
        "{rejects}"
    );
}

async fn an_order_id_stored_before_for_another_customer_is_a_conflict(db: &TestDb) {
    import(db, "first.csv", &format!("{HEADER}a,2024-01-01,10.00,A-1\n"))
        .await
        .unwrap();
    let message = import(db, "second.csv", &format!("{HEADER}z,2024-01-05,10.00,A-1\n"))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("second.csv: line 2") && message.contains("already stored for customer 'a'"),
        "{message}"
    );
    assert!(
        db.store
            .customer(&ExternalId::parse("z").unwrap())
            .await
            .unwrap()
            .is_none()
    );
}

async fn the_importer_refuses_what_the_api_refuses(db: &TestDb) {
    let long_order = "o".repeat(201);
    let cases = [
        ("0000-06-01", "1.00", "o1", "date", "before 1970"),
        ("9999-12-31", "1.00", "o1", "date", "in the future"),
        ("2024-01-01", "-5.00", "o1", "amount", "negative"),
        ("2024-01-01", "1.005", "o1", "amount", "more than two decimals"),
        ("2024-01-01", "1.00", &long_order, "order_id", "the limit is 200"),
    ];
    for (i, (date, amount, order, column, reason)) in cases.into_iter().enumerate() {
        let text = format!("{HEADER}good,2024-01-01,1.00,g{i}\nbad,{date},{amount},{order}\n");
        let error = import(db, &format!("bad{i}.csv"), &text).await.unwrap_err();
        let ImportError::Row(row) = &error else {
            panic!("{date} {amount}: {error}")
        };
        assert_eq!((row.line, row.column.as_str()), (3, column), "{error}");
        assert!(row.reason.contains(reason), "{error}");
    }
    for id in ["a\u{0}b", "red\u{1b}[31m"] {
        let text = format!("{HEADER}{id},2024-01-01,1.00,x\n");
        let error = import(db, "control.csv", &text).await.unwrap_err();
        assert!(error.to_string().contains("control character"), "{error}");
    }
    assert_eq!(customer_count(db).await, 0);
}

async fn customer_lists_refuse_long_names_control_characters_and_huge_attributes(db: &TestDb) {
    let columns = CustomerColumns::default();
    let cases = [
        format!("customer_id,name\na,{}\n", "n".repeat(201)),
        "customer_id,name\na,Ann\u{1b}[2J\n".to_owned(),
        format!("customer_id,notes\na,\"{}\"\n", "x".repeat(20_000)),
    ];
    for (i, text) in cases.iter().enumerate() {
        let options = FileOptions::csv(db.file(&format!("c{i}.csv"), text));
        let error = import_customers(&db.store, &options, &columns).await.unwrap_err();
        assert!(error.to_string().contains("line 2"), "{error}");
    }
    assert_eq!(customer_count(db).await, 0);

    let text = "customer_id,name\na,Ann\nb,Bo\na,Ann Lee\n";
    let options = FileOptions::csv(db.file("repeat.csv", text));
    let report = import_customers(&db.store, &options, &columns).await.unwrap();
    assert_eq!((report.rows, report.customers_created, report.repeated_ids), (3, 2, 1));
}

async fn an_excel_export_with_a_byte_order_mark_imports(db: &TestDb) {
    let text = format!("\u{feff}{HEADER}a,2024-01-01,1.00,x\n");
    let report = import(db, "excel.csv", &text).await.unwrap();
    assert_eq!(report.stored, 1);
}

async fn a_customer_cannot_refer_themself(db: &TestDb) {
    let server = TestServer::start(db).await;
    let purchase = json!({"customer_id": "a1", "kind": "purchase", "amount": "10.00", "order_id": "R-1"});
    assert_eq!(server.post("/api/v1/events", &purchase).await.0, StatusCode::CREATED);
    let referral = json!({"customer_id": "a1", "kind": "referral", "referred": " a1 "});
    let (status, body) = server.post("/api/v1/events", &referral).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["field"], "referred");
    let a1 = db
        .store
        .customer(&ExternalId::parse("a1").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a1.state.stage, Some(rapport::domain::Stage::Customer));
}

async fn the_api_refuses_an_order_id_reused_with_another_amount(db: &TestDb) {
    let server = TestServer::start(db).await;
    let purchase = |amount: &str| json!({"customer_id": "a", "kind": "purchase", "amount": amount, "order_id": "P-1"});
    assert_eq!(
        server.post("/api/v1/events", &purchase("10.00")).await.0,
        StatusCode::CREATED
    );
    assert_eq!(
        server.post("/api/v1/events", &purchase("10.00")).await.0,
        StatusCode::OK
    );
    let (status, body) = server.post("/api/v1/events", &purchase("12.00")).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    for (amount, reason) in [("1.005", "two decimals"), ("92233720368547758.07", "largest amount")] {
        let (status, body) = server.post("/api/v1/events", &purchase(amount)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(body["error"]["message"].as_str().unwrap().contains(reason), "{body}");
    }
}

async fn a_search_with_a_nul_is_a_422_naming_q_not_a_500(db: &TestDb) {
    let server = TestServer::start(db).await;
    let (status, body) = server
        .get("/api/v1/customers?stage=customer&q=DU%F1%AF%84%8A%00%17")
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["field"], "q");
    let (status, _) = server.get("/api/v1/customers?q=garc").await;
    assert_eq!(status, StatusCode::OK);
}
