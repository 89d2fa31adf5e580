//! The demo played with its care plans: tasks left on the agenda, plans that acted on time and
//! held customers out, a report with both groups showing the care's effect, surveys answered in
//! the customers' own words, and the same seed giving the same business.

use rapport::care::DueWindow;
use rapport::demo::{DemoConfig, Played, play};
use rapport::domain::calendar::Calendar;
use rapport::domain::plan_report::plan_report;
use rapport::store::TaskQuery;
use rapport::voice::analysis::{GroupBy, summarise, themes};
use rapport::voice::themes::{ThemeOptions, ThemeRules};

use crate::helpers::{Backend, TestDb};

fn config(customers: u32, seed: u64) -> DemoConfig {
    DemoConfig {
        customers,
        seed,
        end: chrono::NaiveDate::from_ymd_opt(2026, 6, 30).unwrap(),
        days: 730,
    }
}

async fn played(customers: u32, seed: u64) -> (TestDb, Played) {
    let db = TestDb::new(Backend::Sqlite).await.expect("sqlite is always available");
    let played = play(&db.store, &config(customers, seed)).await.unwrap();
    (db, played)
}

/// Open tasks in `window`, as the agenda would list them at the history's end.
async fn open(db: &TestDb, played: &Played, window: DueWindow) -> usize {
    let calendar = Calendar {
        time_zone: chrono_tz::Tz::UTC,
        now: played.end,
    };
    let (due_from, due_before) = window.range(&calendar);
    let query = TaskQuery {
        due_from,
        due_before,
        assignee: None,
        limit: 10_000,
    };
    db.store.agenda(&query).await.unwrap().len()
}

#[tokio::test]
async fn the_demo_leaves_tasks_due_today_and_this_week_and_its_plans_measure_the_care() {
    let (db, played) = played(1_500, 11).await;

    let (today, week) = (
        open(&db, &played, DueWindow::Today).await,
        open(&db, &played, DueWindow::Week).await,
    );
    assert!(today > 0 && week > today, "today {today}, this week {week}");
    let all = open(&db, &played, DueWindow::All).await;
    assert!(
        all < 200,
        "the staff did the older tasks: {all} open, {} done",
        played.tasks_completed
    );
    assert!(
        played.tasks_completed > 1_000 && played.care_purchases > 100,
        "{played:?}"
    );
    let plans = db.store.plans().await.unwrap();
    for plan in &plans {
        assert_eq!(plan.occurrences.expired, 0, "run on time, nothing expires: {plan:?}");
    }
    let thank_you = plans.iter().find(|p| p.spec.name == "thank-you").unwrap();
    assert!(
        thank_you.occurrences.done > 500 && thank_you.occurrences.held_out > 30,
        "{:?}",
        thank_you.occurrences
    );
    let enrolled = db.store.plan_enrolments(thank_you.id).await.unwrap();
    let report = plan_report("thank-you", &enrolled, played.end);
    assert!(report.treated > 500 && report.held_out > 30, "{report:?}");
    // Treated customers respond to care a little; held-out ones cannot.
    assert!(
        report.repeat_90d.difference > 0.05,
        "{}: {:?}",
        report.sentence,
        report.repeat_90d
    );
}

#[tokio::test]
async fn the_same_seed_and_end_give_the_same_demo_and_another_seed_another() {
    let (a, played_a) = played(300, 5).await;
    let (b, played_b) = played(300, 5).await;
    let (c, played_c) = played(300, 6).await;

    assert_eq!(played_a, played_b);
    let tasks = |db: TestDb| async move {
        let tasks = db.store.open_tasks(1_000).await.unwrap();
        let plans = db.store.plans().await.unwrap();
        let counts: Vec<_> = plans.into_iter().map(|p| (p.spec.name, p.occurrences)).collect();
        (tasks, counts)
    };
    let (tasks_a, tasks_b) = (tasks(a).await, tasks(b).await);
    assert!(!tasks_a.0.is_empty());
    assert_eq!(tasks_a, tasks_b);
    assert_ne!(played_a, played_c);
    assert_ne!(tasks_a, tasks(c).await);
}

#[tokio::test]
async fn the_demo_customers_answer_surveys_in_their_own_words_and_unhappy_ones_get_a_call() {
    let (db, played) = played(400, 11).await;

    assert!(
        played.surveys_sent > 1_000 && played.surveys_answered > 300,
        "{} sent, {} answered",
        played.surveys_sent,
        played.surveys_answered
    );
    let all = db.store.responses(None).await.unwrap();
    assert_eq!(
        all.len() as u64,
        played.surveys_answered,
        "each answer a feedback event"
    );
    let nps = db.store.responses(Some("nps")).await.unwrap();
    let months = summarise(&nps, GroupBy::Month, chrono_tz::UTC);
    assert!(months.len() >= 12, "NPS in {} months", months.len());
    for row in months.iter().rev().take(4) {
        eprintln!("{} NPS {:?}", row.group, row.nps.and_then(|s| s.score).map(|s| s.value));
    }
    let report = themes(&all, &[], &ThemeRules::default(), &ThemeOptions::default()).unwrap();
    let detractors: Vec<&str> = report.detractor_themes().take(5).map(|t| t.label.as_str()).collect();
    let promoters: Vec<&str> = report.promoter_themes().take(5).map(|t| t.label.as_str()).collect();
    eprintln!("{played:?}\ndetractors say: {detractors:?}\npromoters say: {promoters:?}");
    assert!(
        detractors.iter().any(|label| label.contains("deliver")),
        "{detractors:?}"
    );
    assert!(!promoters.is_empty());
    let plans = db.store.plans().await.unwrap();
    let follow_up = plans.iter().find(|p| p.spec.name == "detractor follow-up").unwrap();
    assert!(follow_up.occurrences.done > 10, "{:?}", follow_up.occurrences);

    // The staff reported back: named themes, and actions on the complaints heard most.
    let named = rapport::voice::analysis::theme_rules(&db.store).await.unwrap();
    let report = themes(&all, &[], &named, &ThemeOptions::default()).unwrap();
    let delivery = report.theme("Delivery").expect("the staff's named theme");
    assert!(delivery.z > 0.0 && delivery.count > 10, "{delivery:?}");
    let actions = db.store.voice_actions(i64::MIN, i64::MAX, true, 10).await.unwrap();
    assert_eq!(actions.len() as u64, played.actions_recorded);
    assert!(actions.len() >= 2, "{actions:?}");
    assert!(
        actions
            .iter()
            .all(|a| ["Delivery", "Prices", "Support", "Broken items"].contains(&a.theme.as_str())),
        "{actions:?}"
    );
}
