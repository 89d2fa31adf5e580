//! Answering a survey through its link: the token is checked before anything is read, then the
//! invitation, the survey's version and the customer's first name are looked up; an answer that
//! passes the survey's checks becomes a feedback event on the customer's timeline (a changed
//! answer is another event: the latest counts). An anonymous link's answers have no customer and
//! are stored as responses only.

use std::collections::BTreeMap;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::invite::{LinkFields, SURVEY_LINK, SURVEY_PUBLIC, verify_public};
use crate::domain::survey::{AnswerProblem, Answers, NpsCategory, SurveySpec};
use crate::domain::{EventKind, ExternalId, NewEvent};
use crate::ingest::Ingest;
use crate::store::{InvitationRecord, ResponseRow, Store, StoreError, StoreResult};

/// A personal link that works.
#[derive(Debug, Clone)]
pub struct PersonalLink {
    /// The invitation.
    pub invitation: InvitationRecord,
    /// The survey as it was sent (the invitation's version).
    pub survey: SurveySpec,
    /// The customer's first name, when known: the only thing about them the page shows.
    pub first_name: Option<String>,
    /// Their latest answer through this link, if any.
    pub previous: Option<ResponseRow>,
    /// The customer's id, for the event.
    customer: ExternalId,
}

/// What a survey link opens.
#[derive(Debug, Clone)]
pub enum Opened {
    /// A customer's personal link.
    Personal(Box<PersonalLink>),
    /// A survey's anonymous link: its version in force.
    Anonymous {
        /// The survey.
        survey: SurveySpec,
        /// Its version in force.
        version: i64,
    },
    /// A personal link past its expiry.
    Expired,
    /// Not a link Rapport made, or its survey or customer is gone: the page says nothing more.
    Invalid,
}

impl Opened {
    /// The survey the page shows, for a link that works.
    pub fn survey(&self) -> Option<&SurveySpec> {
        match self {
            Opened::Personal(link) => Some(&link.survey),
            Opened::Anonymous { survey, .. } => Some(survey),
            Opened::Expired | Opened::Invalid => None,
        }
    }
}

/// What submitting a survey's form did.
#[derive(Debug, Clone)]
pub enum Answered {
    /// Stored; `changed` when it replaced an earlier answer through the same link.
    Saved {
        /// The link answered.
        opened: Opened,
        /// An earlier answer was replaced.
        changed: bool,
    },
    /// Refused, with what is wrong beside each question; nothing stored.
    Problems {
        /// The link answered.
        opened: Opened,
        /// What is wrong.
        problems: Vec<AnswerProblem>,
    },
    /// The link does not work (`Opened::Expired` or `Opened::Invalid`); nothing stored.
    Refused(Opened),
}

/// What `token` opens at `now`. Nothing is read before its signature is checked.
pub async fn open(store: &Arc<dyn Store>, token: &str, now: i64) -> StoreResult<Opened> {
    let key = store.link_key(SURVEY_LINK, now).await?;
    if let Some(fields) = LinkFields::verify(&key, token) {
        return open_personal(store, fields, now).await;
    }
    let public = store.link_key(SURVEY_PUBLIC, now).await?;
    let Some(name) = verify_public(&public, token) else {
        return Ok(Opened::Invalid);
    };
    Ok(match store.survey(&name).await? {
        Some(record) => Opened::Anonymous {
            survey: record.spec,
            version: record.version,
        },
        None => Opened::Invalid,
    })
}

async fn open_personal(store: &Arc<dyn Store>, fields: LinkFields, now: i64) -> StoreResult<Opened> {
    if now >= fields.expires_at {
        return Ok(Opened::Expired);
    }
    let Some(invitation) = store.invitation(fields.invitation).await? else {
        return Ok(Opened::Invalid);
    };
    // The key signs only what Rapport wrote; a mismatch means a bug or a restored database, and
    // the link is refused rather than trusted for someone else.
    if invitation.survey != fields.survey || invitation.customer_id != fields.customer {
        return Ok(Opened::Invalid);
    }
    let Some(survey) = store.survey_version(invitation.survey_id, invitation.version).await? else {
        return Ok(Opened::Invalid);
    };
    let Some(customer) = store.customer_by_id(invitation.customer_id).await? else {
        return Ok(Opened::Invalid);
    };
    let customer_id = ExternalId::parse(&customer.external_id)
        .map_err(|e| StoreError::Corrupt(format!("customer {}: id: {}", customer.id, e.0)))?;
    let first_name = customer
        .name
        .as_deref()
        .and_then(|n| n.split_whitespace().next())
        .map(str::to_owned);
    let previous = store.invitation_response(invitation.id).await?;
    Ok(Opened::Personal(Box::new(PersonalLink {
        invitation,
        survey,
        first_name,
        previous,
        customer: customer_id,
    })))
}

/// Checks and stores the answers a form sent through `token` at `now`.
pub async fn answer(
    store: &Arc<dyn Store>,
    token: &str,
    form: &BTreeMap<String, Vec<String>>,
    now: i64,
) -> StoreResult<Answered> {
    match check(store, token, form, now).await? {
        Ok(checked) => {
            let answered = checked.answered();
            save(store, vec![checked], now).await?;
            Ok(answered)
        }
        Err(refused) => Ok(refused),
    }
}

/// An answer that passed its link's and its survey's checks, not yet stored.
#[derive(Debug, Clone)]
pub struct Checked {
    opened: Opened,
    write: Write,
}

/// What storing a checked answer writes.
#[derive(Debug, Clone)]
enum Write {
    /// A personal link's answer: an event on the customer's timeline.
    Event(ExternalId, NewEvent),
    /// An anonymous link's answer: a response without a customer.
    Anonymous(ResponseRow),
}

impl Checked {
    /// What the page says once it is stored.
    pub fn answered(&self) -> Answered {
        let changed = matches!(&self.opened, Opened::Personal(link) if link.previous.is_some());
        Answered::Saved {
            opened: self.opened.clone(),
            changed,
        }
    }
}

/// Checks the answers a form sent through `token` at `now` without storing them: the answer to
/// store, or why the page refuses it.
pub async fn check(
    store: &Arc<dyn Store>,
    token: &str,
    form: &BTreeMap<String, Vec<String>>,
    now: i64,
) -> StoreResult<Result<Checked, Answered>> {
    let opened = open(store, token, now).await?;
    let answers = match opened.survey().map(|survey| survey.check(form)) {
        None => return Ok(Err(Answered::Refused(opened))),
        Some(Err(problems)) => return Ok(Err(Answered::Problems { opened, problems })),
        Some(Ok(answers)) => answers,
    };
    let write = match &opened {
        Opened::Personal(link) => Write::Event(
            link.customer.clone(),
            NewEvent {
                key: answer_key(link.invitation.id, now, &answers),
                occurred_at: now,
                kind: EventKind::feedback(&link.survey, link.invitation.version, Some(link.invitation.id), answers),
            },
        ),
        Opened::Anonymous { survey, version } => Write::Anonymous(anonymous_row(survey, *version, answers, now)),
        Opened::Expired | Opened::Invalid => return Ok(Err(Answered::Refused(opened))),
    };
    Ok(Ok(Checked { opened, write }))
}

/// Checks answers for a personal link its caller has opened already (the demo, which made the
/// invitation itself and answers each link once): the survey's checks only.
pub(crate) fn check_personal(
    invitation: InvitationRecord,
    survey: SurveySpec,
    customer: ExternalId,
    form: &BTreeMap<String, Vec<String>>,
    now: i64,
) -> Result<Checked, Vec<AnswerProblem>> {
    let answers = survey.check(form)?;
    let event = NewEvent {
        key: answer_key(invitation.id, now, &answers),
        occurred_at: now,
        kind: EventKind::feedback(&survey, invitation.version, Some(invitation.id), answers),
    };
    let opened = Opened::Personal(Box::new(PersonalLink {
        invitation,
        survey,
        first_name: None,
        previous: None,
        customer: customer.clone(),
    }));
    Ok(Checked {
        opened,
        write: Write::Event(customer, event),
    })
}

/// Stores checked answers at `now`: the customers' events in one transaction (in the order
/// given, which is the order they happened), then the anonymous responses.
pub async fn save(store: &Arc<dyn Store>, answers: Vec<Checked>, now: i64) -> StoreResult<()> {
    let mut anonymous = Vec::new();
    let mut events = Vec::new();
    for checked in answers {
        match checked.write {
            Write::Event(customer, event) => events.push((customer, event)),
            Write::Anonymous(row) => anonymous.push(row),
        }
    }
    if !events.is_empty() {
        let mut ingest = Ingest::begin_at(store, "a survey link", now).await?;
        for (customer, event) in events {
            ingest.push(&customer, event).await?;
        }
        ingest.finish().await?;
    }
    for row in &anonymous {
        store.record_anonymous(row).await?;
    }
    Ok(())
}

/// An answer's event key: the link, the second and the answers, so a form sent twice is stored
/// once and a changed answer in the same second is still a new event.
fn answer_key(invitation: i64, now: i64, answers: &Answers) -> String {
    let digest = Sha256::digest(serde_json::to_vec(answers).expect("answers serialise"));
    let short: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
    format!("survey:{invitation}:{now}:{short}")
}

/// The response an anonymous answer makes: no customer, so no event either.
fn anonymous_row(survey: &SurveySpec, version: i64, answers: Answers, now: i64) -> ResponseRow {
    let score = survey.score_question().and(answers.score());
    ResponseRow {
        survey: survey.name.clone(),
        version,
        survey_kind: survey.kind,
        customer_id: None,
        invitation_id: None,
        event_id: None,
        score,
        category: score.and_then(|s| NpsCategory::of_survey(survey.kind, s)),
        comment: answers.comment(),
        answers,
        answered_at: now,
    }
}
