//! The mail outbox on both backends: messages commit or roll back with their transaction, and are
//! delivered over SMTP to a server on loopback (mailcrab, or a scripted one that refuses) exactly
//! once, also by two deliverers at once; failures are logged and retried or given up.

use std::sync::Arc;
use std::time::Duration;

use mailcrab::TestMailServerHandle;
use rapport::config::{SmtpSecurity, SmtpServer};
use rapport::domain::Email;
use rapport::domain::webhook::RetrySchedule;
use rapport::mail::{DeliveryReport, DeliverySettings, MailWorker, deliver_due};
use rapport::store::{
    Claim, MailAttempt, MailAttemptResult, MailPage, MailStatus, NewCustomer, NewMail, NextStep, Store,
};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::contract;
use crate::helpers::{TestDb, ext};

contract!(
    enqueued_mail_rolls_back_with_its_transaction_and_commits_with_it,
    the_worker_sends_each_message_once_with_both_parts_and_the_callers_headers,
    two_deliverers_on_two_connections_send_each_message_once,
    claims_never_share_a_message_and_a_lapsed_claim_is_taken_over,
    a_server_that_refuses_connections_at_first_gets_the_message_once_with_the_failure_logged,
    a_permanent_rejection_fails_at_once_and_a_transient_one_is_retried,
    without_smtp_settings_nothing_is_sent_and_mail_stays_queued,
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
        plan: None,
        why: None,
    }
}

async fn enqueue(store: &Arc<dyn Store>, mails: &[NewMail]) -> Vec<String> {
    let mut tx = store.begin().await.unwrap();
    let ids = tx.mail().enqueue_mail(mails, NOW).await.unwrap();
    tx.commit().await.unwrap();
    ids
}

/// Settings for a plain SMTP server on loopback at `port`, sending `batch` at once.
pub(crate) fn settings(port: u16, batch: u32) -> DeliverySettings {
    DeliverySettings {
        smtp: Some(SmtpServer {
            host: "127.0.0.1".into(),
            port,
            security: SmtpSecurity::Plain,
            credentials: None,
        }),
        from: Some("Shop <shop@example.com>".parse().unwrap()),
        timeout: Duration::from_secs(10),
        batch,
        poll: Duration::from_millis(50),
        schedule: rapport::mail::default_schedule(),
    }
}

/// A loopback port nothing listens on (until a test starts a server there).
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts mailcrab on `port` and returns once it accepts connections.
pub(crate) async fn mailcrab(port: u16) -> TestMailServerHandle {
    let handle = mailcrab::development_mail_server([127, 0, 0, 1], port).await;
    for _ in 0..400 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return handle;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("mailcrab did not listen on port {port}");
}

/// The next message mailcrab received, parsed (failing the test after 20 s).
pub(crate) async fn next_message(server: &mut TestMailServerHandle) -> Vec<u8> {
    let received = tokio::time::timeout(Duration::from_secs(20), server.rx.recv())
        .await
        .expect("a message arrives within 20 s")
        .expect("the server's channel is open");
    received.raw_bytes().expect("the raw message decodes")
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

async fn the_worker_sends_each_message_once_with_both_parts_and_the_callers_headers(db: &TestDb) {
    let port = free_port();
    let mut server = mailcrab(port).await;
    let mut message = mail("ada@example.com", "Two years on");
    message.headers = vec![
        ("List-Unsubscribe".into(), "<https://shop.example.com/u/abc>".into()),
        ("List-Unsubscribe-Post".into(), "List-Unsubscribe=One-Click".into()),
    ];
    let ids = enqueue(&db.store, &[message]).await;
    let worker = MailWorker::start(db.store.clone(), settings(port, 8)).unwrap();

    let raw = next_message(&mut server).await;
    let parsed = mail_parser::MessageParser::default()
        .parse(&raw)
        .expect("a MIME message");
    assert_eq!(parsed.subject(), Some("Two years on"));
    assert_eq!(parsed.message_id().map(|id| format!("<{id}>")), Some(ids[0].clone()));
    assert_eq!(
        parsed.header_raw("List-Unsubscribe").map(str::trim),
        Some("<https://shop.example.com/u/abc>")
    );
    assert_eq!(
        parsed.header_raw("List-Unsubscribe-Post").map(str::trim),
        Some("List-Unsubscribe=One-Click")
    );
    assert_eq!((parsed.text_body_count(), parsed.html_body_count()), (1, 1));
    assert!(parsed.body_text(0).unwrap().contains("Two years on, in plain text."));
    assert!(parsed.body_html(0).unwrap().contains("in <b>HTML</b>"));
    assert!(
        String::from_utf8_lossy(&raw).contains("multipart/alternative"),
        "one message, two views of it"
    );

    let record = wait_for_status(&db.store, MailStatus::Sent).await;
    worker.stop().await;
    assert_eq!(record.attempts, 1);
    assert!(record.sent_at.is_some());
    let attempts = db.store.mail_attempts(record.id).await.unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].outcome, "sent");
    assert!(attempts[0].reply.starts_with("250"), "{:?}", attempts[0].reply);
    assert!(server.rx.try_recv().is_err(), "sent once");
}

/// The only message, once it reaches `status` (failing the test after 20 s).
async fn wait_for_status(store: &Arc<dyn Store>, status: MailStatus) -> rapport::store::MailRecord {
    let page = MailPage {
        limit: 1,
        ..Default::default()
    };
    for _ in 0..400 {
        let records = store.mail_messages(page).await.unwrap();
        if let Some(record) = records.into_iter().find(|r| r.status == status) {
            return record;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the message never became {status:?}");
}

async fn two_deliverers_on_two_connections_send_each_message_once(db: &TestDb) {
    let port = free_port();
    let mut server = mailcrab(port).await;
    let mails: Vec<NewMail> = (0..40)
        .map(|i| mail(&format!("c{i}@example.com"), &format!("Message {i}")))
        .collect();
    let ids = enqueue(&db.store, &mails).await;
    let other = rapport::store::open(&db.url).await.unwrap();
    let settings = settings(port, 8);

    let (a, b) = tokio::join!(
        deliver_due(&db.store, &settings, NOW),
        deliver_due(&other, &settings, NOW)
    );
    let (a, b) = (a.unwrap(), b.unwrap());

    assert_eq!(a.sent + b.sent, 40, "{a:?} {b:?}");
    assert_eq!(a.retrying + a.failed + b.retrying + b.failed, 0);
    let mut received = Vec::new();
    for _ in 0..40 {
        let raw = next_message(&mut server).await;
        let parsed = mail_parser::MessageParser::default().parse(&raw).unwrap();
        received.push(format!("<{}>", parsed.message_id().unwrap()));
    }
    assert!(server.rx.try_recv().is_err(), "no message twice");
    received.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(received, expected);
    assert_eq!(db.store.count_mail().await.unwrap().sent, 40);
    let page = MailPage {
        limit: 100,
        ..Default::default()
    };
    assert!(
        db.store
            .mail_messages(page)
            .await
            .unwrap()
            .iter()
            .all(|m| m.attempts == 1)
    );
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

async fn a_server_that_refuses_connections_at_first_gets_the_message_once_with_the_failure_logged(db: &TestDb) {
    let port = free_port();
    enqueue(&db.store, &[mail("ada@example.com", "Hello")]).await;
    let settings = settings(port, 8);

    let first = deliver_due(&db.store, &settings, NOW).await.unwrap();
    assert_eq!(first.retrying, 1, "nothing listens yet: {first:?}");
    let queued = wait_for_status(&db.store, MailStatus::Queued).await;
    assert_eq!(queued.next_attempt_ms, (NOW + 60) * 1000, "a minute later");
    assert!(
        queued.last_error.as_deref().is_some_and(|e| e.contains("onnect")),
        "{queued:?}"
    );
    let early = deliver_due(&db.store, &settings, NOW + 30).await.unwrap();
    assert_eq!(early, DeliveryReport::default(), "not due yet");

    let mut server = mailcrab(port).await;
    let second = deliver_due(&db.store, &settings, NOW + 61).await.unwrap();
    assert_eq!(second.sent, 1);
    next_message(&mut server).await;
    assert!(server.rx.try_recv().is_err(), "sent once");
    let sent = wait_for_status(&db.store, MailStatus::Sent).await;
    assert_eq!(sent.attempts, 2);
    assert_eq!(outcomes(&db.store, sent.id).await, ["retry", "sent"]);
}

/// What each of a message's attempts came to, oldest first.
async fn outcomes(store: &Arc<dyn Store>, mail_id: i64) -> Vec<String> {
    let attempts = store.mail_attempts(mail_id).await.unwrap();
    attempts.into_iter().map(|a| a.outcome).collect()
}

/// An SMTP server that answers every recipient with `reply`, on a free loopback port.
async fn refusing_server(reply: &'static str) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"220 refuser ESMTP\r\n").await.ok()?;
                while let Some(line) = lines.next_line().await.ok()? {
                    let verb = line.get(..4).unwrap_or_default().to_ascii_uppercase();
                    let answer = match verb.as_str() {
                        "RCPT" => reply,
                        "QUIT" => "221 bye",
                        _ => "250 ok",
                    };
                    write.write_all(format!("{answer}\r\n").as_bytes()).await.ok()?;
                    if verb == "QUIT" {
                        break;
                    }
                }
                Some(())
            });
        }
    });
    port
}

async fn a_permanent_rejection_fails_at_once_and_a_transient_one_is_retried(db: &TestDb) {
    enqueue(&db.store, &[mail("gone@example.com", "Hello")]).await;
    let port = refusing_server("550 5.1.1 no such mailbox").await;
    let report = deliver_due(&db.store, &settings(port, 8), NOW).await.unwrap();
    assert_eq!((report.sent, report.retrying, report.failed), (0, 0, 1));
    let failed = wait_for_status(&db.store, MailStatus::Failed).await;
    assert_eq!(failed.attempts, 1);
    assert!(
        failed.last_error.as_deref().is_some_and(|e| e.contains("550")),
        "{failed:?}"
    );

    enqueue(&db.store, &[mail("busy@example.com", "Later")]).await;
    let port = refusing_server("451 4.3.0 try again later").await;
    let mut settings = settings(port, 8);
    settings.schedule = RetrySchedule(vec![Duration::from_secs(60)]);
    let report = deliver_due(&db.store, &settings, NOW).await.unwrap();
    assert_eq!((report.retrying, report.failed), (1, 0));
    let report = deliver_due(&db.store, &settings, NOW + 60).await.unwrap();
    assert_eq!((report.retrying, report.failed), (0, 1), "the schedule is used up");
    let counts = db.store.count_mail().await.unwrap();
    assert_eq!((counts.queued, counts.sent, counts.failed), (0, 0, 2));
    let latest = db
        .store
        .mail_messages(MailPage {
            limit: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(outcomes(&db.store, latest[0].id).await, ["retry", "failed"]);
}

async fn without_smtp_settings_nothing_is_sent_and_mail_stays_queued(db: &TestDb) {
    enqueue(&db.store, &[mail("ada@example.com", "Hello")]).await;
    let mut settings = settings(free_port(), 8);
    settings.smtp = None;

    let report = deliver_due(&db.store, &settings, NOW + 3_600).await.unwrap();
    let worker = MailWorker::start(db.store.clone(), settings).unwrap();
    worker.stop().await;

    assert_eq!(report.unsent_without_smtp, Some(1));
    assert_eq!(report.sent + report.retrying + report.failed, 0);
    let queued = wait_for_status(&db.store, MailStatus::Queued).await;
    assert_eq!(queued.attempts, 0);
    assert!(db.store.mail_attempts(queued.id).await.unwrap().is_empty());
}
