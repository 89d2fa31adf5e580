//! Sending a survey by hand (`rapport surveys send`) and reminding those who have not answered
//! (inside every care run): each message is a personal link e-mailed through the outbox, under the
//! same consent and contact-cap rules as a plan's e-mail, decided and queued in one transaction a
//! few hundred customers at a time (on PostgreSQL after a lock per customer, so replicas cannot
//! both pass the cap).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::Serialize;

use super::invite::{LinkKeys, SURVEY_LINK, new_invitation, survey_mail};
use crate::care::email::{RunSettings, UNSUBSCRIBE};
use crate::care::reachable;
use crate::domain::CustomerId;
use crate::domain::plan::CareContext;
use crate::store::{
    Audience, InvitationRecord, NewInvitation, NewMail, Store, StoreError, StoreResult, SurveyRecord, WriteTx,
};

/// Customers decided and queued per transaction.
const BATCH: usize = 500;

/// What a send did (or, dry, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SendReport {
    /// The survey.
    pub survey: String,
    /// The send's number (none for a dry run or a send that reached nobody).
    pub send_id: Option<i64>,
    /// Customers the filters matched.
    pub matched: u64,
    /// Personal links e-mailed (or, dry, that would be).
    pub invited: u64,
    /// Customers not e-mailed, by reason: `consent` (no consent or no address), `cap` (the
    /// contact cap), `already invited` (an unanswered link to this survey still works).
    pub skipped: BTreeMap<String, u64>,
    /// Nothing was written.
    pub dry_run: bool,
}

/// Why a send could not start.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// No survey of that name.
    #[error("there is no survey '{0}': `rapport surveys list` shows them")]
    NoSurvey(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Sends `survey` to the customers `audience` selects (its `survey_id` is filled in here), at
/// `now`; `label` says what sent it ("rapport surveys send --stage client").
pub async fn send_survey(
    store: &Arc<dyn Store>,
    settings: &RunSettings,
    survey: &str,
    mut audience: Audience<'_>,
    label: &str,
    dry_run: bool,
    now: i64,
) -> Result<SendReport, SendError> {
    let record = store
        .survey(survey)
        .await?
        // The name is echoed to a terminal: an escape sequence in it is written out, not obeyed.
        .ok_or_else(|| SendError::NoSurvey(crate::domain::rules::printable(survey).into_owned()))?;
    audience.survey_id = record.id;
    let mut report = SendReport {
        survey: survey.to_owned(),
        dry_run,
        ..SendReport::default()
    };
    let customers = {
        let mut tx = store.begin().await?;
        tx.feedback().audience(&audience, now).await?
    };
    report.matched = customers.len() as u64;
    let mut fresh = Vec::with_capacity(customers.len());
    for (customer, invited) in customers {
        if invited {
            *report.skipped.entry("already invited".to_owned()).or_default() += 1;
        } else {
            fresh.push(customer);
        }
    }
    for chunk in fresh.chunks(BATCH) {
        let mut tx = store.begin().await?;
        let mut batch = Batch::load(&mut *tx, settings, chunk, now).await?;
        let mut invitations = Vec::new();
        let mut mails = Vec::new();
        for customer in chunk {
            match batch.invite(&record, *customer, false, now) {
                Ok((invitation, mail)) => {
                    invitations.push(invitation);
                    mails.push(mail);
                }
                Err(reason) => *report.skipped.entry(reason.to_owned()).or_default() += 1,
            }
        }
        report.invited += invitations.len() as u64;
        if dry_run || invitations.is_empty() {
            continue;
        }
        let send = match report.send_id {
            Some(send) => send,
            None => *report
                .send_id
                .insert(tx.feedback().create_send(record.id, label, now).await?),
        };
        tx.feedback().insert_invitations(send, &invitations, now).await?;
        tx.mail().enqueue_mail(&mails, now).await?;
        tx.commit().await?;
    }
    Ok(report)
}

/// What a batch of invitations or reminders reads once: the customers, their recent messages,
/// the keys that sign the links.
struct Batch<'a> {
    settings: &'a RunSettings,
    contexts: HashMap<CustomerId, CareContext>,
    sent: HashMap<CustomerId, Vec<i64>>,
    survey_key: crate::domain::link::LinkKey,
    unsubscribe_key: crate::domain::link::LinkKey,
}

impl<'a> Batch<'a> {
    async fn load(
        tx: &mut dyn WriteTx,
        settings: &'a RunSettings,
        customers: &[CustomerId],
        now: i64,
    ) -> StoreResult<Self> {
        tx.mail().lock_recipients(customers).await?;
        let mut sent: HashMap<CustomerId, Vec<i64>> = HashMap::new();
        for (customer, at) in tx.mail().recent_mail(customers, now - settings.cap.horizon()).await? {
            sent.entry(customer).or_default().push(at);
        }
        Ok(Self {
            settings,
            contexts: tx.care().care_contexts(customers).await?.into_iter().collect(),
            sent,
            survey_key: tx.mail().link_key(SURVEY_LINK, now).await?,
            unsubscribe_key: tx.mail().link_key(UNSUBSCRIBE, now).await?,
        })
    }

    /// The invitation and its e-mail for one customer, or why they are not written to.
    fn invite(
        &mut self,
        survey: &SurveyRecord,
        customer: CustomerId,
        reminder: bool,
        now: i64,
    ) -> Result<(NewInvitation, NewMail), &'static str> {
        let invitation = new_invitation(survey, customer, now + self.settings.voice.link_seconds());
        let mail = self.mail(survey, &invitation, reminder, now)?;
        Ok((invitation, mail))
    }

    /// The e-mail of an invitation (new or reminded), checked against consent and the cap.
    fn mail(
        &mut self,
        survey: &SurveyRecord,
        invitation: &NewInvitation,
        reminder: bool,
        now: i64,
    ) -> Result<NewMail, &'static str> {
        let customer = invitation.customer_id;
        let context = self.contexts.get(&customer).ok_or("customer gone")?;
        let to = reachable(context).map_err(|_| "consent")?;
        let sent = self.sent.entry(customer).or_default();
        self.settings.cap.check(sent, now).map_err(|_| "cap")?;
        sent.push(now);
        let keys = LinkKeys {
            mail: &self.settings.mail,
            survey: &self.survey_key,
            unsubscribe: &self.unsubscribe_key,
        };
        Ok(survey_mail(survey, invitation, context, to, reminder, keys, now))
    }
}

/// What reminding did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReminderReport {
    /// Reminders e-mailed.
    pub sent: u64,
    /// Reminders due but not sent, by reason (`consent`, `cap`): each counts as one of the
    /// link's reminders, so it is not tried again before the next gap.
    pub skipped: BTreeMap<String, u64>,
}

/// E-mails a reminder for every unanswered link due one at `now` (`voice.reminders` at most per
/// link, `voice.reminder_days` apart), claimed so that replicas remind each link once.
pub async fn remind(store: &Arc<dyn Store>, settings: &RunSettings, now: i64) -> StoreResult<ReminderReport> {
    let mut report = ReminderReport::default();
    if settings.voice.reminders == 0 {
        return Ok(report);
    }
    loop {
        let mut tx = store.begin().await?;
        let due = tx
            .feedback()
            .claim_reminders(
                now,
                now - settings.voice.reminder_seconds(),
                i64::from(settings.voice.reminders),
                BATCH as u32,
            )
            .await?;
        if due.is_empty() {
            return Ok(report);
        }
        let mut customers: Vec<CustomerId> = due.iter().map(|i| i.customer_id).collect();
        customers.sort_unstable();
        customers.dedup();
        let mut batch = Batch::load(&mut *tx, settings, &customers, now).await?;
        let mut names: Vec<&str> = due.iter().map(|i| i.survey.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        let surveys: HashMap<String, SurveyRecord> = tx
            .feedback()
            .surveys_named(&names)
            .await?
            .into_iter()
            .map(|s| (s.spec.name.clone(), s))
            .collect();
        let mut mails = Vec::new();
        for invitation in &due {
            match reminder_mail(&mut batch, &surveys, invitation, now) {
                Ok(mail) => mails.push(mail),
                Err(reason) => *report.skipped.entry(reason.to_owned()).or_default() += 1,
            }
        }
        report.sent += mails.len() as u64;
        let ids: Vec<i64> = due.iter().map(|i| i.id).collect();
        tx.feedback().mark_reminded(&ids, now).await?;
        tx.mail().enqueue_mail(&mails, now).await?;
        tx.commit().await?;
        if due.len() < BATCH {
            return Ok(report);
        }
    }
}

/// A reminder of `invitation` (its link unchanged: the page asks the version it was sent in).
fn reminder_mail(
    batch: &mut Batch<'_>,
    surveys: &HashMap<String, SurveyRecord>,
    invitation: &InvitationRecord,
    now: i64,
) -> Result<NewMail, &'static str> {
    let survey = surveys.get(&invitation.survey).ok_or("survey gone")?;
    let stored = NewInvitation {
        id: invitation.id,
        survey_id: invitation.survey_id,
        version: invitation.version,
        customer_id: invitation.customer_id,
        expires_at: invitation.expires_at,
    };
    batch.mail(survey, &stored, true, now)
}
