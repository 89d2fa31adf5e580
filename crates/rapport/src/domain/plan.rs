//! Care plans: named rules that turn what Rapport knows about a customer into care (a staff
//! task, an e-mail or a webhook message), with a hold-out that measures whether the care works.
//! Plain types and pure rules: when a plan is due is decided where events are stored
//! (`store::care`), whether it acts and what it says is decided here.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::stage::Stage;
use super::state::{CustomerState, format_day};

mod cap;
mod template;

pub use cap::ContactCap;
pub use template::{PLACEHOLDERS, Reader, STAFF_ONLY, Template, escape_html_into};

/// A length of time as plan files write it: a whole number and a unit, `30m`, `12h`, `3d`, `2w`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Span {
    /// The length in seconds.
    pub seconds: i64,
}

impl Span {
    /// A span of whole days.
    pub const fn days(days: i64) -> Self {
        Self { seconds: days * 86_400 }
    }

    /// Reads `30m`, `12h`, `3d` or `2w`; the error says what is accepted.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
        let (number, unit) = text.split_at(split);
        let unit_seconds = match unit {
            "m" => 60,
            "h" => 3_600,
            "d" => 86_400,
            "w" => 7 * 86_400,
            _ => {
                return Err(format!(
                    "'{text}' is not a duration: write a whole number and a unit, m, h, d or w (\"3d\")"
                ));
            }
        };
        let number: i64 = number.parse().map_err(|_| {
            format!("'{text}' is not a duration: write a whole number and a unit, m, h, d or w (\"3d\")")
        })?;
        // Ten years is more than any care rule needs, and keeps timestamps far from overflow; the
        // product is checked because a number of weeks that fits an i64 may not fit as seconds.
        match number.checked_mul(unit_seconds) {
            Some(seconds) if seconds <= 3_660 * 86_400 => Ok(Self { seconds }),
            _ => Err(format!("'{text}' is longer than ten years")),
        }
    }
}

impl fmt::Display for Span {
    /// The largest unit that writes the span exactly, as `parse` reads it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.seconds;
        match () {
            _ if s % (7 * 86_400) == 0 && s != 0 => write!(f, "{}w", s / (7 * 86_400)),
            _ if s % 86_400 == 0 => write!(f, "{}d", s / 86_400),
            _ if s % 3_600 == 0 => write!(f, "{}h", s / 3_600),
            _ => write!(f, "{}m", s / 60),
        }
    }
}

/// Which stored event starts the clock of an `after` trigger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriggerEvent {
    /// Every purchase.
    Purchase,
    /// A customer's first purchase, once.
    FirstPurchase,
    /// Every interaction (a call, a visit, an e-mail exchange).
    Interaction,
    /// Every stage change.
    StageChange,
    /// Every survey answer that puts the customer among the detractors (NPS 0-6, CSAT or CES
    /// 1-2): the loop to close.
    Detractor,
    /// Every survey answer.
    Feedback,
}

impl TriggerEvent {
    /// The name plan files use.
    pub fn as_str(self) -> &'static str {
        match self {
            TriggerEvent::Purchase => "purchase",
            TriggerEvent::FirstPurchase => "first_purchase",
            TriggerEvent::Interaction => "interaction",
            TriggerEvent::StageChange => "stage_change",
            TriggerEvent::Detractor => "detractor",
            TriggerEvent::Feedback => "feedback",
        }
    }

    /// Every kind, for error messages.
    pub const ALL: [TriggerEvent; 6] = [
        TriggerEvent::Purchase,
        TriggerEvent::FirstPurchase,
        TriggerEvent::Interaction,
        TriggerEvent::StageChange,
        TriggerEvent::Detractor,
        TriggerEvent::Feedback,
    ];
}

/// What makes a plan due for a customer. Each occurrence is planned once, with a key of its own
/// (`Occurrence`), when the event that causes it is stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Trigger {
    /// An offset after every event of a kind (after a customer's first purchase: once).
    After {
        /// The event.
        event: TriggerEvent,
        /// How long after it.
        offset: Span,
    },
    /// When the customer enters a stage.
    StageEntered {
        /// The stage.
        stage: Stage,
    },
    /// When the customer leaves a stage.
    StageLeft {
        /// The stage.
        stage: Stage,
    },
    /// When a scoring moves the customer's P(alive) from at least this to below it.
    PAliveBelow {
        /// The threshold, from 0 to 1.
        threshold: f64,
    },
    /// When the time since the last purchase exceeds this many times the customer's usual gap
    /// between purchases (the business's median first-to-second gap for one-time buyers).
    Overdue {
        /// How many usual gaps, more than 1.
        factor: f64,
    },
    /// The ask for a second order, once, to a customer who bought once: timed by their expected
    /// time to the next purchase when scored, else at this percentile of the business's days
    /// from first to second purchase.
    SecondOrder {
        /// The percentile, from 0 to 1 (default 0.4).
        percentile: f64,
    },
    /// Every year on the day of the customer's first purchase (a 29 February falls on the 28th).
    Anniversary,
    /// Whenever a cron expression matches, in the business's time zone, for every customer the
    /// conditions hold for then.
    Schedule {
        /// Five fields (minute, hour, day of month, month, day of week), as checked by `cron`.
        cron: String,
    },
}

/// A cron expression read: five fields, minute to day of week (`0 9 1 * *`: the first of every
/// month at 9:00).
pub fn cron(expression: &str) -> Result<croner::Cron, String> {
    let fields = expression.split_whitespace().count();
    if fields != 5 {
        return Err(format!(
            "'{expression}' has {fields} fields: a schedule has five, minute hour day-of-month month \
             day-of-week, such as \"0 9 1 * *\" (the first of every month at 9:00)"
        ));
    }
    expression
        .parse::<croner::Cron>()
        .map_err(|e| format!("'{expression}' is not a cron expression: {e}"))
}

/// The `n`th anniversary (from 1) of a first purchase at `first`: the same day and time `n`
/// years on (29 February falls on the 28th in other years).
pub fn anniversary(first: i64, n: u32) -> Option<i64> {
    let at = chrono::DateTime::from_timestamp(first, 0)?;
    at.checked_add_months(chrono::Months::new(12 * n))
        .map(|t| t.timestamp())
}

/// The first anniversary of a first purchase at `first` that falls at `horizon` or later, with
/// its number.
pub fn next_anniversary(first: i64, horizon: i64) -> Option<(u32, i64)> {
    // Years have at least 365 days: start from the whole years surely passed.
    let passed = ((horizon - first).max(0) / (366 * 86_400)) as u32;
    (passed.max(1)..passed.max(1) + 3)
        .filter_map(|n| anniversary(first, n).map(|at| (n, at)))
        .find(|(_, at)| *at >= horizon)
}

/// The default `percentile` of the second-order ask.
pub const DEFAULT_SECOND_ORDER_PERCENTILE: f64 = 0.4;

/// A gap between purchases to assume while fewer customers than `RHYTHM_MIN_CUSTOMERS` have come
/// back: a month.
pub const DEFAULT_GAP: i64 = 30 * 86_400;

/// Customers who came back that the business's percentiles need before they are used.
pub const RHYTHM_MIN_CUSTOMERS: i64 = 10;

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Trigger::After {
                event: TriggerEvent::FirstPurchase,
                offset,
            } => write!(f, "{offset} after the first purchase"),
            Trigger::After { event, offset } => write!(f, "{offset} after every {}", event.as_str().replace('_', " ")),
            Trigger::StageEntered { stage } => write!(f, "on entering {stage}"),
            Trigger::StageLeft { stage } => write!(f, "on leaving {stage}"),
            Trigger::PAliveBelow { threshold } => write!(f, "when a scoring puts P(alive) below {threshold}"),
            Trigger::Overdue { factor } => write!(f, "{factor} usual gaps after the last purchase"),
            Trigger::SecondOrder { percentile } => {
                write!(f, "second-order ask (at the {:.0}th percentile)", percentile * 100.0)
            }
            Trigger::Anniversary => f.write_str("every year on the first purchase's day"),
            Trigger::Schedule { cron } => write!(f, "on the schedule {cron}"),
        }
    }
}

/// The days customers take from their first purchase to their second, as the business's own
/// data say (refreshed daily): the percentile and how many came back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rhythm {
    /// Seconds from first to second purchase at the percentile asked for.
    pub gap: i64,
    /// Customers who came back.
    pub customers: i64,
}

impl Trigger {
    /// Whether an occurrence planned for `cause` still stands for this customer when it is due:
    /// the second-order ask is void once they came back, an overdue one once they bought again.
    pub fn still_due(&self, cause: &str, state: &CustomerState) -> Result<(), String> {
        match self {
            Trigger::SecondOrder { .. } => match state.second_purchase_at {
                Some(at) => Err(format!("came back on {}", format_day(at.div_euclid(86_400)))),
                None => Ok(()),
            },
            Trigger::Overdue { .. } => {
                let planned_for = cause.strip_prefix("overdue:").and_then(|t| t.parse::<i64>().ok());
                match state.last_purchase_at {
                    Some(last) if Some(last) != planned_for => {
                        Err(format!("bought again on {}", format_day(last.div_euclid(86_400))))
                    }
                    _ => Ok(()),
                }
            }
            _ => Ok(()),
        }
    }

    /// Why the plan acts now, in a sentence staff and customers' e-mails can carry; `None` for
    /// triggers whose name says it all.
    pub fn why_now(&self, customer: &CareContext, rhythm: Option<Rhythm>, now: i64) -> Option<String> {
        let name = customer
            .name
            .as_deref()
            .and_then(|n| n.split_whitespace().next())
            .unwrap_or(&customer.external_id);
        // Whole days, as the templates count them.
        let days = |seconds: i64| seconds.max(0) / 86_400;
        let state = &customer.state;
        match self {
            Trigger::SecondOrder { percentile } => {
                let first = state.first_purchase_at?;
                let since = days(now - first);
                if let Some(expected) = customer.score.and_then(|s| s.expected_days_to_next) {
                    return Some(format!(
                        "{name}'s own rhythm puts the next purchase about {expected:.0} days after the last; \
                         {name} bought {since} days ago"
                    ));
                }
                Some(match rhythm {
                    Some(r) if r.customers >= RHYTHM_MIN_CUSTOMERS => format!(
                        "{:.0} % of your customers who came back did so within {} days; {name} bought {since} days ago",
                        percentile * 100.0,
                        days(r.gap)
                    ),
                    _ => format!(
                        "too few customers have come back yet to time this from your data, so it is asked a \
                         month after the first purchase; {name} bought {since} days ago"
                    ),
                })
            }
            Trigger::Overdue { factor } => {
                let last = state.last_purchase_at?;
                let since = days(now - last);
                Some(match usual_gap(state) {
                    Some(gap) => format!(
                        "{name} usually buys every {} days; the last purchase was {since} days ago \
                         ({factor} times that is the plan's limit)",
                        days(gap)
                    ),
                    None => format!(
                        "{name} bought once, {since} days ago; your customers' median time to a second \
                         purchase is {} days",
                        days(
                            rhythm
                                .filter(|r| r.customers >= RHYTHM_MIN_CUSTOMERS)
                                .map_or(DEFAULT_GAP, |r| r.gap)
                        )
                    ),
                })
            }
            Trigger::Anniversary => {
                let first = state.first_purchase_at?;
                let years = ((now - first) as f64 / (365.2425 * 86_400.0)).round() as i64;
                let plural = if years == 1 { "year" } else { "years" };
                Some(format!(
                    "{name} first bought on {}: {years} {plural} ago",
                    format_day(first.div_euclid(86_400))
                ))
            }
            Trigger::After {
                event: TriggerEvent::Detractor | TriggerEvent::Feedback,
                ..
            } => customer.last_feedback.as_ref().map(|f| feedback_why(name, f, state)),
            Trigger::PAliveBelow { threshold } => customer.score.map(|s| {
                format!(
                    "the latest scoring puts {name}'s chance of still being a customer at {:.0} %, below {:.0} %",
                    s.p_alive * 100.0,
                    threshold * 100.0
                )
            }),
            _ => None,
        }
    }
}

/// "Ana answered nps with 3 (a detractor) on 2026-03-05: “Late parcel, twice.” She has bought 4
/// times, 120.00 in all, the last on 2026-02-20."
fn feedback_why(name: &str, feedback: &FeedbackFacts, state: &CustomerState) -> String {
    let mut text = format!("{name} answered {}", feedback.survey);
    if let Some(score) = feedback.score {
        text.push_str(&format!(" with {score}"));
    }
    if let Some(category) = feedback.category {
        text.push_str(&format!(" (a {category})"));
    }
    text.push_str(&format!(" on {}", format_day(feedback.at.div_euclid(86_400))));
    match &feedback.comment {
        Some(comment) => {
            // Long enough for what a customer writes in a survey's box, short enough for the agenda.
            let mut shown: String = comment.chars().take(400).collect();
            if shown.len() < comment.len() {
                shown.push('…');
            }
            text.push_str(&format!(": \u{201c}{shown}\u{201d}"));
        }
        None => text.push_str(", without a comment"),
    }
    match (state.purchase_count, state.last_purchase_at) {
        (0, _) | (_, None) => text.push_str(&format!(". {name} has not bought yet")),
        (n, Some(last)) => text.push_str(&format!(
            ". {name} has bought {n} {}, {} in all, the last on {}",
            if n == 1 { "time" } else { "times" },
            crate::domain::Money(state.total_spend_cents),
            format_day(last.div_euclid(86_400))
        )),
    }
    text
}

/// A repeat buyer's mean time between purchases; `None` for one purchase (or one day).
pub fn usual_gap(state: &CustomerState) -> Option<i64> {
    match (state.first_purchase_at, state.last_purchase_at) {
        (Some(first), Some(last)) if state.purchase_count >= 2 && last > first => {
            Some((last - first) / (state.purchase_count - 1))
        }
        _ => None,
    }
}

/// Who a due plan acts for: every condition must hold when it is due (an empty list or an absent
/// bound holds for everyone).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Conditions {
    /// The customer is at one of these stages.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stage: Vec<Stage>,
    /// The customer's latest scores put them in one of these RFM segments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub segment: Vec<rapport_models::Segment>,
    /// The 12-month value is at least this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_clv: Option<f64>,
    /// The 12-month value is at most this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_clv: Option<f64>,
    /// P(alive) is at least this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_p_alive: Option<f64>,
    /// P(alive) is at most this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_p_alive: Option<f64>,
    /// Nobody contacted the customer (an interaction) for at least this many days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_contact_days: Option<u32>,
    /// Attributes from the business's data equal these values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attribute: BTreeMap<String, String>,
}

/// What Rapport knows of a customer when a plan is due for them.
#[derive(Debug, Clone, PartialEq)]
pub struct CareContext {
    /// The business's id.
    pub external_id: String,
    /// Full name, when known.
    pub name: Option<String>,
    /// E-mail address, when known.
    pub email: Option<String>,
    /// Further columns from the business's data.
    pub attributes: serde_json::Map<String, serde_json::Value>,
    /// The projection of their events.
    pub state: CustomerState,
    /// The latest scores, when scored.
    pub score: Option<ScoreFacts>,
    /// The last interaction, when there was one (Unix seconds).
    pub last_contact_at: Option<i64>,
    /// Their latest survey answer, when they gave one.
    pub last_feedback: Option<FeedbackFacts>,
}

/// A customer's latest survey answer, as a task about it tells staff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedbackFacts {
    /// The survey's name.
    pub survey: String,
    /// The standard question's score.
    pub score: Option<i64>,
    /// Where it puts the customer.
    pub category: Option<crate::domain::survey::NpsCategory>,
    /// What they wrote.
    pub comment: Option<String>,
    /// When (Unix seconds).
    pub at: i64,
}

/// The figures of a customer's latest scoring that plans read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreFacts {
    /// Probability that the customer is still active.
    pub p_alive: f64,
    /// Expected value of the next 12 months.
    pub clv_12m: f64,
    /// RFM segment.
    pub segment: rapport_models::Segment,
    /// Days from the last purchase to the expected next one, when the model gives it.
    pub expected_days_to_next: Option<f64>,
}

impl Conditions {
    /// `Ok` when every condition holds for the customer at `now`, else the first that does not,
    /// in words (recorded as the reason the occurrence was skipped).
    pub fn check(&self, customer: &CareContext, now: i64) -> Result<(), String> {
        if !self.stage.is_empty() {
            match customer.state.stage {
                Some(stage) if self.stage.contains(&stage) => {}
                Some(stage) => return Err(format!("stage is {stage}")),
                None => return Err("no stage yet".into()),
            }
        }
        let needs_score = !self.segment.is_empty()
            || self.min_clv.is_some()
            || self.max_clv.is_some()
            || self.min_p_alive.is_some()
            || self.max_p_alive.is_some();
        if needs_score {
            let Some(score) = customer.score else {
                return Err("not scored".into());
            };
            if !self.segment.is_empty() && !self.segment.contains(&score.segment) {
                return Err(format!("segment is {}", score.segment.as_str()));
            }
            let outside = |value: f64, low: Option<f64>, high: Option<f64>| {
                low.is_some_and(|low| value < low) || high.is_some_and(|high| value > high)
            };
            if outside(score.clv_12m, self.min_clv, self.max_clv) {
                return Err(format!("12-month value is {:.2}", score.clv_12m));
            }
            if outside(score.p_alive, self.min_p_alive, self.max_p_alive) {
                return Err(format!("P(alive) is {:.2}", score.p_alive));
            }
        }
        if let (Some(days), Some(at)) = (self.no_contact_days, customer.last_contact_at)
            && now - at < i64::from(days) * 86_400
        {
            return Err(format!("contacted on {}", format_day(at.div_euclid(86_400))));
        }
        for (key, wanted) in &self.attribute {
            let value = customer.attributes.get(key);
            let text = match value {
                Some(serde_json::Value::String(s)) => Some(s.clone()),
                Some(serde_json::Value::Null) | None => None,
                Some(other) => Some(other.to_string()),
            };
            if text.as_deref() != Some(wanted.as_str()) {
                return Err(format!("attribute {key} is not '{wanted}'"));
            }
        }
        Ok(())
    }
}

/// What a plan does for a customer when it is due and they are not held out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Action {
    /// A task on the staff agenda.
    Task {
        /// The task's title.
        template: Template,
        /// When the task is due, after the plan fires.
        due_in: Span,
        /// Whose task it is (a dashboard user's e-mail), or anyone's.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        assignee: Option<String>,
    },
    /// An e-mail to the customer, through the outbox, to customers who gave consent and within
    /// the contact cap; every message carries an unsubscribe link.
    Email {
        /// The subject line.
        subject: Template,
        /// The plain-text part.
        text: Template,
        /// The HTML part's body; made from the text when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        html: Option<Template>,
    },
    /// A `plan.fired` webhook message to every subscription that wants it: the integrator acts
    /// (a coupon, a message in another system).
    Webhook,
    /// A survey's personal link e-mailed to the customer, under the same consent and contact cap
    /// as an e-mail; reminded while unanswered.
    Survey {
        /// The survey's name.
        survey: String,
    },
}

impl Action {
    /// Whether the action writes to the customer (an e-mail or a survey): consent and the cap apply.
    pub fn contacts(&self) -> bool {
        matches!(self, Action::Email { .. } | Action::Survey { .. })
    }

    /// What the action does, in a word: `task`, `email`, `webhook` or `survey`.
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Task { .. } => "task",
            Action::Email { .. } => "email",
            Action::Webhook => "webhook",
            Action::Survey { .. } => "survey",
        }
    }
}

/// A plan as stored: one version of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanSpec {
    /// The plan's unique name.
    pub name: String,
    /// What it is for, in the business's words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// When it is due.
    pub trigger: Trigger,
    /// For whom, when due.
    #[serde(default)]
    pub when: Conditions,
    /// What it does.
    pub action: Action,
    /// The share of customers who get no action, to compare with (0 to 0.5).
    pub holdout: f64,
    /// An occurrence due longer ago than this (after downtime, or history from before the plan)
    /// is recorded as expired instead of acting late.
    pub expire_after: Span,
}

/// The default of `PlanSpec::holdout`.
pub const DEFAULT_HOLDOUT: f64 = 0.10;
/// The default of `PlanSpec::expire_after`.
pub const DEFAULT_EXPIRE_AFTER: Span = Span::days(7);

/// Whether a customer is in a plan's hold-out: fixed per plan and customer (the same answer on
/// every occurrence, every version and every replica), a uniform draw against the share.
pub fn held_out(plan_id: i64, customer_id: i64, share: f64) -> bool {
    // SplitMix64's finaliser: every input bit moves every output bit, so consecutive ids spread.
    let mut x = (plan_id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (customer_id as u64);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^= x >> 31;
    ((x >> 11) as f64 / (1u64 << 53) as f64) < share
}

/// What became of a plan's occurrence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OccurrenceStatus {
    /// Planned, not yet due or not yet run.
    Pending,
    /// The plan acted.
    Done,
    /// In the hold-out: recorded, no action.
    HeldOut,
    /// Not acted on, for the reason recorded (paused, conditions).
    Skipped,
    /// Due longer ago than the plan's `expire_after` when it was run.
    Expired,
}

impl OccurrenceStatus {
    /// The name stored and printed.
    pub fn as_str(self) -> &'static str {
        match self {
            OccurrenceStatus::Pending => "pending",
            OccurrenceStatus::Done => "done",
            OccurrenceStatus::HeldOut => "held_out",
            OccurrenceStatus::Skipped => "skipped",
            OccurrenceStatus::Expired => "expired",
        }
    }
}

/// How a task ended, as the staff member who did it says: it becomes an interaction on the
/// customer's timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaskOutcome {
    /// Spoke with the customer.
    Reached,
    /// Left a message.
    LeftMessage,
    /// Nobody answered.
    NoAnswer,
    /// The customer does not want to be contacted about this.
    NotInterested,
    /// The customer has a problem to solve.
    ProblemFound,
}

impl TaskOutcome {
    /// Every outcome.
    pub const ALL: [TaskOutcome; 5] = [
        TaskOutcome::Reached,
        TaskOutcome::LeftMessage,
        TaskOutcome::NoAnswer,
        TaskOutcome::NotInterested,
        TaskOutcome::ProblemFound,
    ];

    /// The name stored, typed and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskOutcome::Reached => "reached",
            TaskOutcome::LeftMessage => "left_message",
            TaskOutcome::NoAnswer => "no_answer",
            TaskOutcome::NotInterested => "not_interested",
            TaskOutcome::ProblemFound => "problem_found",
        }
    }

    /// The outcome in words, for timelines.
    pub fn describe(self) -> &'static str {
        match self {
            TaskOutcome::Reached => "reached",
            TaskOutcome::LeftMessage => "left a message",
            TaskOutcome::NoAnswer => "no answer",
            TaskOutcome::NotInterested => "not interested",
            TaskOutcome::ProblemFound => "problem found",
        }
    }
}

impl std::str::FromStr for TaskOutcome {
    type Err = super::ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().replace(['-', ' '], "_");
        TaskOutcome::ALL
            .into_iter()
            .find(|o| o.as_str().eq_ignore_ascii_case(&wanted))
            .ok_or_else(|| {
                let known: Vec<&str> = TaskOutcome::ALL.iter().map(|o| o.as_str()).collect();
                super::ParseError(format!("'{s}' is not an outcome: use one of {}", known.join(", ")))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn customer() -> CareContext {
        CareContext {
            external_id: "C-1".into(),
            name: Some("Ana Lima".into()),
            email: None,
            attributes: serde_json::Map::new(),
            state: CustomerState::default(),
            score: None,
            last_contact_at: None,
            last_feedback: None,
        }
    }

    #[test]
    fn spans_read_and_print_alike() {
        for (text, seconds) in [
            ("730d", 730 * 86_400),
            ("3d", 3 * 86_400),
            ("12h", 43_200),
            ("2w", 14 * 86_400),
            ("90m", 5_400),
        ] {
            let span = Span::parse(text).unwrap();
            assert_eq!(span.seconds, seconds, "{text}");
            assert_eq!(Span::parse(&span.to_string()).unwrap(), span);
        }
        for bad in ["", "3", "d", "3 days", "-3d", "1.5d", "99999d", "99999999999999999w"] {
            assert!(Span::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn templates_fill_placeholders_and_refuse_unknown_ones() {
        let t = Template::parse("Call {first_name} ({customer}) {{sic}}: {p_alive}").unwrap();
        assert_eq!(t.render(&customer(), "p", 0), "Call Ana (C-1) {sic}: not scored");
        let error = Template::parse("Hi {firstname}").unwrap_err();
        assert!(error.contains("unknown placeholder {firstname}"), "{error}");
        assert!(Template::parse("Hi {first_name").is_err());
        assert!(Template::parse("a } b").is_err());
        let mut nameless = customer();
        nameless.name = None;
        assert_eq!(
            Template::parse("{first_name}").unwrap().render(&nameless, "p", 0),
            "C-1"
        );
    }

    #[test]
    fn anniversaries_keep_the_day_and_29_february_falls_on_the_28th() {
        let leap = 1_709_208_000; // 2024-02-29T12:00Z
        assert_eq!(anniversary(leap, 1), Some(1_740_744_000), "2025-02-28T12:00Z");
        assert_eq!(anniversary(leap, 4), Some(1_835_438_400), "2028-02-29T12:00Z");
        assert_eq!(next_anniversary(leap, leap), Some((1, 1_740_744_000)));
        assert_eq!(
            next_anniversary(leap, 1_740_744_001),
            Some((2, 1_772_280_000)),
            "2026-02-28"
        );
        assert_eq!(
            next_anniversary(leap, leap + 30 * 365 * 86_400).map(|(n, _)| n),
            Some(30)
        );
    }

    #[test]
    fn days_print_as_dates_and_the_contact_cap_counts_every_window() {
        let mut c = customer();
        c.state.last_purchase_at = Some(1_735_732_800); // 2025-01-01T12:00Z
        let t = Template::parse("bought on {last_purchase}, first {first_purchase}").unwrap();
        assert_eq!(t.render(&c, "p", 0), "bought on 2025-01-01, first never");
        let cap = ContactCap::default();
        let day = 86_400;
        let now = 100 * day;
        assert!(cap.check(&[], now).is_ok());
        assert!(cap.check(&[now - 3 * day], now).is_ok(), "three days later is allowed");
        let too_soon = cap.check(&[now - 2 * day], now).unwrap_err();
        assert!(too_soon.starts_with("contact cap: 1 message within 3d"), "{too_soon}");
        let month: Vec<i64> = (1..=4).map(|w| now - w * 6 * day).collect();
        assert!(cap.check(&month, now).unwrap_err().contains("4 messages within 30d"));
        assert!(cap.check(&month[..3], now).is_ok());
        assert_eq!(ContactCap::parse("1 per 3d, 4 per 30d").unwrap(), cap);
        assert_eq!(cap.to_string(), "1 per 3d, 4 per 30d");
        assert!(ContactCap::parse("none").unwrap().check(&[now; 10], now).is_ok());
        assert!(ContactCap::parse("3 a day").is_err());
        assert!(ContactCap::parse("0 per 3d").is_err());
    }

    #[test]
    fn conditions_name_the_first_that_fails() {
        let mut c = customer();
        c.state.stage = Some(Stage::Customer);
        let when = Conditions {
            stage: vec![Stage::Client],
            ..Default::default()
        };
        assert_eq!(when.check(&c, 0).unwrap_err(), "stage is customer");
        c.state.stage = Some(Stage::Client);
        assert!(when.check(&c, 0).is_ok());
        let scored = Conditions {
            max_p_alive: Some(0.5),
            ..Default::default()
        };
        assert_eq!(scored.check(&c, 0).unwrap_err(), "not scored");
        c.score = Some(ScoreFacts {
            p_alive: 0.7,
            clv_12m: 10.0,
            segment: rapport_models::Segment::Champions,
            expected_days_to_next: None,
        });
        assert_eq!(scored.check(&c, 0).unwrap_err(), "P(alive) is 0.70");
        let quiet = Conditions {
            no_contact_days: Some(30),
            ..Default::default()
        };
        c.last_contact_at = Some(0);
        assert!(quiet.check(&c, 29 * 86_400).is_err());
        assert!(quiet.check(&c, 30 * 86_400).is_ok());
    }

    #[test]
    fn the_holdout_is_fixed_and_near_its_share() {
        let held = (0..100_000).filter(|&id| held_out(7, id, 0.1)).count();
        assert!((9_500..10_500).contains(&held), "{held} of 100,000 held out at 10 %");
        assert_eq!(held_out(7, 42, 0.1), held_out(7, 42, 0.1));
        let other_plan = (0..100_000)
            .filter(|&id| held_out(7, id, 0.1) && held_out(8, id, 0.1))
            .count();
        assert!(other_plan < 1_500, "plans draw apart: {other_plan} held out of both");
    }
}
