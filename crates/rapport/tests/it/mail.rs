//! The mail outbox on both backends: messages commit or roll back with their transaction, and
//! claims under a lease never share a message.

use std::sync::Arc;

use rapport::domain::Email;
use rapport::store::{
    Claim, MailAttempt, MailAttemptResult, MailPage, MailStatus, NewCustomer, NewMail, NextStep, Store,
};

use crate::contract;
use crate::helpers::{TestDb, ext};

contract!(
    enqueued_mail_rolls_back_with_its_transaction_and_commits_with_it,
    claims_never_share_a_message_and_a_lapsed_claim_is_taken_over,
);

/// 2025-01-01T00:00:00Z.
const NOW: i64 = 1_735_689_600;

fn mail(to: &str, subject: &str) -> NewMail {
    NewMail {
        customer_id: None,
        to: Email::parse(to).expect("a valid address"),
        subject: subject.to_owned(),
        text_body: format!("Hello,\n\n{subject}, in plain text.\n"),
        html_body: format!("<p>Hello,</p><p>{subject}, in <b>HTML</b>.</p>"),
        headers: Vec::new(),
    }
}

async fn enqueue(store: &Arc<dyn Store>, mails: &[NewMail]) -> Vec<String> {
    let mut tx = store.begin().await.unwrap();
    let ids = tx.mail().enqueue_mail(mails, NOW).await.unwrap();
    tx.commit().await.unwrap();
    ids
}

async fn enqueued_mail_rolls_back_with_its_transaction_and_commits_with_it(db: &TestDb) {
    let mut tx = db.store.begin().await.unwrap();
    let ids = tx
        .mail()
        .enqueue_mail(&[mail("a@example.com", "One"), mail("b@example.com", "Two")], NOW)
        .await
        .unwrap();
    assert_eq!(ids.len(), 2);
    drop(tx);
    assert_eq!(
        db.store.count_mail().await.unwrap().queued,
        0,
        "rolled back with its transaction"
    );

    let mut tx = db.store.begin().await.unwrap();
    let created = tx.create_customers(&[NewCustomer::new(ext("C1"), NOW)]).await.unwrap();
    let mut first = mail("a@example.com", "One");
    first.customer_id = Some(created[0].0);
    let ids = tx
        .mail()
        .enqueue_mail(&[first, mail("b@example.com", "Two")], NOW)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    assert_ne!(ids[0], ids[1]);
    assert!(
        ids.iter()
            .all(|id| id.starts_with('<') && id.ends_with("@rapport.invalid>")),
        "{ids:?}"
    );
    let counts = db.store.count_mail().await.unwrap();
    assert_eq!((counts.queued, counts.sent, counts.failed), (2, 0, 0));
    let page = MailPage {
        limit: 10,
        ..Default::default()
    };
    let listed = db.store.mail_messages(page).await.unwrap();
    let subjects: Vec<&str> = listed.iter().map(|m| m.subject.as_str()).collect();
    assert_eq!(subjects, ["Two", "One"], "newest first");
    assert_eq!(listed[1].customer_id, Some(created[0].0.0));
    assert_eq!(listed[1].message_id, ids[0]);
    assert!(
        listed
            .iter()
            .all(|m| m.status == MailStatus::Queued && m.next_attempt_ms == NOW * 1000)
    );
    let sent_only = MailPage {
        status: Some(MailStatus::Sent),
        ..page
    };
    assert!(db.store.mail_messages(sent_only).await.unwrap().is_empty());
}

async fn claims_never_share_a_message_and_a_lapsed_claim_is_taken_over(db: &TestDb) {
    let mails: Vec<NewMail> = (0..10).map(|i| mail(&format!("c{i}@example.com"), "Hi")).collect();
    enqueue(&db.store, &mails).await;
    let other = rapport::store::open(&db.url).await.unwrap();
    let now_ms = NOW * 1000;
    let claim = |by: &str, now_ms: i64| Claim {
        by: by.to_owned(),
        now_ms,
        until_ms: now_ms + 90_000,
        limit: 6,
    };

    let (a, b) = (claim("a", now_ms), claim("b", now_ms));
    let (first, second) = tokio::join!(db.store.claim_mail(&a), other.claim_mail(&b));
    let first = first.unwrap();
    let mut ids: Vec<i64> = first.iter().chain(&second.unwrap()).map(|m| m.id).collect();
    assert_eq!(ids.len(), 10, "6 and 4, in some order");
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 10, "no message claimed twice");
    assert!(
        db.store
            .claim_mail(&claim("c", now_ms + 1_000))
            .await
            .unwrap()
            .is_empty(),
        "all held"
    );

    // Both claimers "crash"; after their lease another takes every message over.
    let all = Claim {
        limit: 10,
        ..claim("d", now_ms + 90_001)
    };
    assert_eq!(db.store.claim_mail(&all).await.unwrap().len(), 10, "every lapsed claim");
    // The first claimer comes back and logs its attempt: logged, but the message is d's now.
    let late = MailAttemptResult {
        mail_id: first[0].id,
        claimed_by: "a".into(),
        attempt: MailAttempt {
            attempted_ms: now_ms + 95_000,
            reply: "250 ok".into(),
            duration_ms: 5,
        },
        next: NextStep::Delivered,
    };
    db.store.record_mail_attempt(&late).await.unwrap();
    assert_eq!(db.store.mail_attempts(first[0].id).await.unwrap().len(), 1);
    let counts = db.store.count_mail().await.unwrap();
    assert_eq!((counts.queued, counts.sent), (10, 0), "a lapsed claim moves nothing on");
}
