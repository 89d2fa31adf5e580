//! The dashboard's lists as a shop owner acts on them: contact links, CSV exports, "mark
//! contacted", sorts, counts, the phone layout, local times and currencies.

use axum::http::StatusCode;

use crate::web::{Client, PASSWORD, demo_db, field};

/// The business ids the list links to, in page order.
fn listed_ids(html: &str) -> Vec<String> {
    html.split("<td data-label=\"Customer\"><a href=\"/customers/")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn both_lists_link_e_mail_and_phone_and_label_every_cell_for_the_phone_cards() {
    let db = demo_db(300).await;
    let mut client = Client::new(&db);
    client.login("viewer@example.com", PASSWORD).await;
    for path in ["/customers", "/at-risk"] {
        let page = client.get(path).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("href=\"mailto:"), "{path} links e-mail addresses");
        assert!(
            page.body.contains("href=\"tel:+442079460"),
            "{path} links phone numbers by their digits"
        );
        let rows = page.body.split("<tr>").skip(2);
        for row in rows {
            let cells = row.split("</tr>").next().unwrap();
            assert_eq!(
                cells.matches("<td").count(),
                cells.matches("<td data-label=\"").count(),
                "{path}: every cell carries the label its card shows: {cells}"
            );
        }
    }
    let css = client.get(rapport::server::dashboard::STYLESHEET_PATH).await;
    assert!(
        css.body.contains("@media (max-width: 40em)"),
        "the phone layout starts below 40em"
    );
    assert!(
        css.body.contains("content: attr(data-label)"),
        "cards show each cell's label"
    );
    assert!(css.body.contains("table.cards tr { background"), "rows become cards");
}

#[tokio::test]
async fn the_customer_list_exports_its_filtered_rows_as_a_csv_attachment_never_cached() {
    let db = demo_db(300).await;
    let mut client = Client::new(&db);
    client.login("viewer@example.com", PASSWORD).await;
    let page = client.get("/customers?stage=client&sort=spend").await;
    let link = page
        .body
        .split("href=\"/customers.csv")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let link = format!("/customers.csv{}", link.replace("&#38;", "&").replace("&amp;", "&"));
    assert_eq!(
        link, "/customers.csv?sort=spend&stage=client",
        "the link keeps the page's filters"
    );

    let file = client.get(&link).await;
    assert_eq!(file.status, StatusCode::OK);
    assert_eq!(file.headers["content-type"], "text/csv; charset=utf-8");
    assert_eq!(
        file.headers["content-disposition"],
        "attachment; filename=\"customers.csv\""
    );
    assert_eq!(
        file.headers["cache-control"], "no-store",
        "personal data is never cached"
    );
    let mut reader = csv::Reader::from_reader(file.body.as_bytes());
    let header = reader.headers().unwrap().clone();
    assert_eq!(&header[0], "id");
    assert_eq!(&header[7], "currency");
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let clients = db
        .store
        .count_customers(
            &rapport::store::CustomerQuery {
                stage: Some(rapport::domain::Stage::Client),
                ..Default::default()
            },
            u64::MAX,
        )
        .await
        .unwrap();
    assert_eq!(rows.len() as u64, clients, "every client, not only the first page");
    assert!(clients > 50, "the demo has more clients than a page: {clients}");
    assert!(rows.iter().all(|r| &r[4] == "client"));
    let spend: Vec<f64> = rows.iter().map(|r| r[6].parse().unwrap()).collect();
    assert!(spend.windows(2).all(|w| w[0] >= w[1]), "highest spend first");
    assert_eq!(
        listed_ids(&page.body)[0],
        rows[0][0].to_owned(),
        "the file starts where the page does"
    );

    let at_risk = client.get("/at-risk.csv").await;
    assert_eq!(at_risk.status, StatusCode::OK);
    assert_eq!(
        at_risk.headers["content-disposition"],
        "attachment; filename=\"at-risk.csv\""
    );
    assert!(at_risk.body.lines().count() > 1, "{}", at_risk.body);
    assert!(client.get("/at-risk").await.body.contains("href=\"/at-risk.csv\""));

    let mut stranger = client.sibling();
    assert_eq!(
        stranger.get("/customers.csv").await.status,
        StatusCode::SEE_OTHER,
        "a login first"
    );
}

#[tokio::test]
async fn staff_mark_an_at_risk_customer_contacted_once_and_viewers_may_not() {
    let db = demo_db(300).await;
    let mut staff = Client::new(&db);
    staff.login("staff@example.com", PASSWORD).await;
    let page = staff.get("/at-risk").await;
    let id = listed_ids(&page.body)[0].clone();
    let action = format!("/customers/{id}/contacted");
    assert!(page.body.contains(&format!("action=\"{action}\"")), "{}", page.body);
    let (csrf, key) = (field(&page.body, "csrf"), field(&page.body, "key"));
    let form = [("csrf", csrf.as_str()), ("key", key.as_str()), ("after", "")];
    let done = staff.post(&action, &form).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert_eq!(done.location(), format!("/at-risk?contacted={id}#contacted"));
    staff.post(&action, &form).await;
    let back = staff.get(&format!("/at-risk?contacted={id}")).await;
    assert!(back.body.contains(&format!("Marked {id} as contacted")));
    let customer = staff.get(&format!("/customers/{id}")).await;
    assert_eq!(
        customer
            .body
            .matches("contact: marked contacted from the at-risk list (staff@example.com)")
            .count(),
        1,
        "logged once through the event writer, though sent twice"
    );

    let mut viewer = staff.sibling();
    viewer.login("viewer@example.com", PASSWORD).await;
    let page = viewer.get("/at-risk").await;
    assert!(!page.body.contains("Mark contacted"), "viewers see no button");
    let csrf = field(&page.body, "csrf");
    let refused = viewer.post(&action, &[("csrf", &csrf), ("key", "v-1")]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let forged = staff.post(&action, &[("csrf", "wrong"), ("key", "s-2")]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "no token, no change");
}

#[tokio::test]
async fn the_customer_list_says_how_many_match_sorts_by_spend_and_orders_and_finds_part_of_a_name() {
    let db = demo_db(300).await;
    let mut client = Client::new(&db);
    client.login("viewer@example.com", PASSWORD).await;
    let all = client.get("/customers").await;
    assert!(all.body.contains("50 of 300 customers"), "{}", all.body);
    for (sort, column) in [("spend", "Total spend, USD"), ("orders", "Purchases")] {
        let page = client.get(&format!("/customers?sort={sort}")).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains(&format!("<option value=\"{sort}\" selected>")));
        let values: Vec<f64> = page
            .body
            .split(&format!("<td data-label=\"{column}\" class=\"num\">"))
            .skip(1)
            .map(|s| s.split([' ', '<']).next().unwrap().replace(',', "").parse().unwrap())
            .collect();
        assert_eq!(values.len(), 50);
        assert!(values.windows(2).all(|w| w[0] >= w[1]), "{sort}: {values:?}");
    }
    // The demo's D00001 has a name "First Last": a part of the surname, in another case, finds it.
    let customer = client.get("/customers/D00001").await;
    let name = customer
        .body
        .split("<dt>Name</dt><dd>")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_owned();
    let surname = name.split(' ').nth(1).unwrap();
    let part = surname[1..surname.len().min(5)].to_uppercase();
    let found = client.get(&format!("/customers?q={part}")).await;
    assert!(
        listed_ids(&found.body).contains(&"D00001".to_owned()),
        "{part} finds {name}"
    );
    assert!(found.body.contains(" of "), "{}", found.body);
}

#[tokio::test]
async fn pages_show_the_business_time_zone_and_currency_and_say_why_a_prospect_has_no_score() {
    let db = demo_db(300).await;
    let locale = rapport::server::dashboard::Locale {
        time_zone: "Europe/Berlin".parse().unwrap(),
        currency: rapport::domain::Currency::parse("EUR").unwrap(),
    };
    let mut client = Client::with_locale(&db, locale);
    client.login("viewer@example.com", PASSWORD).await;
    let customer = client.get("/customers/D00001").await;
    assert!(
        customer.body.contains(" CET</time>") || customer.body.contains(" CEST</time>"),
        "times in Berlin time with the zone's abbreviation: {}",
        customer.body
    );
    assert!(!customer.body.contains(" UTC</time>"));
    assert!(customer.body.contains("<dt>Total spend</dt><dd>"));
    let total = customer.body.split("<dt>Total spend</dt><dd>").nth(1).unwrap();
    assert!(total.contains("EUR"), "the total says its currency");
    assert!(
        customer.body.contains("title=\"Value at risk is"),
        "the definition is one hover away"
    );
    let list = client.get("/customers?sort=spend").await;
    assert!(
        list.body.contains("Total spend, EUR</th>") && list.body.contains("12-month value, EUR</th>"),
        "the amount columns name the currency"
    );
    let at_risk = client.get("/at-risk").await;
    assert!(
        at_risk.body.contains("id=\"value-at-risk\""),
        "the definition is one click away"
    );

    // A customer who never bought (a prospect after an interaction) is never scored, and says why.
    let mut ingest = rapport::ingest::Ingest::begin(&db.store, "test").await.unwrap();
    let talk = rapport::domain::NewEvent {
        key: "talk".into(),
        occurred_at: 1_780_000_000,
        kind: rapport::domain::EventKind::Interaction {
            channel: "phone".into(),
            note: "asked about prices".into(),
        },
    };
    ingest.push(&crate::helpers::ext("P-NEW"), talk).await.unwrap();
    ingest.finish().await.unwrap();
    let prospect = client.get("/customers/P-NEW").await;
    assert!(
        prospect
            .body
            .contains("No purchases yet, so no score: scores need at least one purchase"),
        "{}",
        prospect.body
    );
    assert!(!prospect.body.contains("Not scored yet"));
}

#[tokio::test]
async fn one_at_risk_threshold_serves_the_at_risk_list_its_export_and_the_overview() {
    let db = demo_db(300).await;
    let mut settings = rapport::config::Settings::default();
    settings.scoring.at_risk_threshold = 0.3;
    let mut client = Client::with_settings(&db, &settings);
    client.login("viewer@example.com", PASSWORD).await;
    let page = client.get("/at-risk").await;
    assert!(page.body.contains("P(alive) is below 0.3"), "{}", page.body);
    let p_alive: Vec<f64> = page
        .body
        .split("<td data-label=\"P(alive)\" class=\"num\">")
        .skip(1)
        .map(|s| s.split(' ').next().unwrap().parse().unwrap())
        .collect();
    assert!(!p_alive.is_empty());
    assert!(p_alive.iter().all(|p| *p < 30.0), "{p_alive:?}");
    let total: u64 = page
        .body
        .split("<p class=\"count\">")
        .nth(1)
        .unwrap()
        .split(" of ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let csv = client.get("/at-risk.csv").await;
    assert_eq!(
        csv.body.lines().count() as u64,
        total + 1,
        "a header and every at-risk customer"
    );
    // The overview's figures come from the background: wait for them.
    let mut overview = client.get("/").await;
    for _ in 0..50 {
        if overview.body.contains("At-risk clients") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        overview = client.get("/").await;
    }
    assert!(overview.body.contains("P(alive) below 0.3"), "{}", overview.body);
    let tile = overview.body.split("At-risk clients").nth(1).unwrap();
    assert!(
        tile.contains(&format!(">{total}<")),
        "the tile counts the list's {total}: {tile}"
    );
}
