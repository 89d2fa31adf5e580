//! Plan files: the TOML a business writes its care plans in, read into `PlanSpec`s. Every
//! problem is reported with the file, the line and the field, and a file with any problem yields
//! no plan at all, so `rapport plans apply` applies a whole file or nothing.

use std::collections::{BTreeMap, HashSet};

use serde::Deserialize;
use toml::Spanned;

use crate::domain::Stage;
use crate::domain::file_problem::{FileProblem, FileProblems};
use crate::domain::plan::{
    Action, Conditions, DEFAULT_EXPIRE_AFTER, DEFAULT_HOLDOUT, DEFAULT_SECOND_ORDER_PERCENTILE, PlanSpec, Span,
    Template, Trigger, TriggerEvent,
};

/// The largest hold-out share: beyond half, more customers would go without care than get it.
pub const MAX_HOLDOUT: f64 = 0.5;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    plan: Vec<Spanned<FilePlan>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FilePlan {
    name: Spanned<String>,
    description: Option<String>,
    trigger: Spanned<FileTrigger>,
    when: Option<Spanned<FileWhen>>,
    action: Spanned<FileAction>,
    holdout: Option<Spanned<f64>>,
    expire_after: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileTrigger {
    after: Option<Spanned<String>>,
    offset: Option<Spanned<String>>,
    stage_entered: Option<Stage>,
    stage_left: Option<Stage>,
    p_alive_below: Option<f64>,
    overdue: Option<f64>,
    anniversary: Option<Spanned<String>>,
    schedule: Option<Spanned<String>>,
    second_order: Option<Spanned<String>>,
    percentile: Option<Spanned<f64>>,
}

/// A value written alone or as a list: `stage = "client"` or `stage = ["customer", "client"]`.
#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<T> OneOrMany<T> {
    fn into_vec(self) -> Vec<T> {
        match self {
            OneOrMany::One(one) => vec![one],
            OneOrMany::Many(many) => many,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileWhen {
    stage: Option<OneOrMany<Stage>>,
    segment: Option<OneOrMany<rapport_models::Segment>>,
    min_clv: Option<f64>,
    max_clv: Option<f64>,
    p_alive: Option<Spanned<Vec<f64>>>,
    no_contact_days: Option<u32>,
    attribute: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileAction {
    task: Option<Spanned<String>>,
    due_in: Option<Spanned<String>>,
    assignee: Option<String>,
    email: Option<Spanned<String>>,
    text: Option<Spanned<String>>,
    html: Option<Spanned<String>>,
    webhook: Option<Spanned<String>>,
    survey: Option<Spanned<String>>,
}

/// Reads a plan file's text (`file` names it in errors) into its plans, in file order.
pub fn parse_plans(file: &str, text: &str) -> Result<Vec<PlanSpec>, FileProblems> {
    let line_of = |offset: usize| crate::domain::file_problem::line_of(text, offset);
    let parsed: File = toml::from_str(text).map_err(|e| {
        FileProblems(vec![FileProblem {
            file: file.to_owned(),
            line: e.span().map_or(1, |span| line_of(span.start)),
            field: None,
            message: e.message().trim().to_owned(),
        }])
    })?;
    let mut errors = Vec::new();
    let mut plans = Vec::new();
    let mut names = HashSet::new();
    for plan in parsed.plan {
        let mut report = |offset: usize, field: &str, message: String| {
            errors.push(FileProblem {
                file: file.to_owned(),
                line: line_of(offset),
                field: Some(field.to_owned()),
                message,
            })
        };
        let plan = plan.into_inner();
        let name = plan.name.get_ref().trim().to_owned();
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            report(
                plan.name.span().start,
                "name",
                "a plan's name is 1 to 100 characters, on one line".into(),
            );
        } else if !names.insert(name.clone()) {
            report(
                plan.name.span().start,
                "name",
                format!("'{name}' names two plans in this file"),
            );
        }
        let trigger = read_trigger(&plan.trigger, &mut report);
        let when = plan.when.map(|when| read_when(when, &mut report)).unwrap_or_default();
        let action = read_action(&plan.action, &mut report);
        let holdout = match plan.holdout {
            Some(h) if !(0.0..=MAX_HOLDOUT).contains(h.get_ref()) => {
                report(
                    h.span().start,
                    "holdout",
                    format!(
                        "{} is not a share from 0 to {MAX_HOLDOUT} (0.10 holds out one customer in ten)",
                        h.get_ref()
                    ),
                );
                DEFAULT_HOLDOUT
            }
            Some(h) => *h.get_ref(),
            None => DEFAULT_HOLDOUT,
        };
        let expire_after = match &plan.expire_after {
            Some(text) => Span::parse(text.get_ref()).unwrap_or_else(|message| {
                report(text.span().start, "expire_after", message);
                DEFAULT_EXPIRE_AFTER
            }),
            None => DEFAULT_EXPIRE_AFTER,
        };
        if let (Some(trigger), Some(action)) = (trigger, action) {
            plans.push(PlanSpec {
                name,
                description: plan.description,
                trigger,
                when,
                action,
                holdout,
                expire_after,
            });
        }
        // A trigger or an action that could not be read has reported why.
    }
    if errors.is_empty() {
        Ok(plans)
    } else {
        errors.sort_by_key(|e| e.line);
        Err(FileProblems(errors))
    }
}

fn read_trigger(trigger: &Spanned<FileTrigger>, report: &mut impl FnMut(usize, &str, String)) -> Option<Trigger> {
    let at = trigger.span().start;
    let t = trigger.get_ref();
    let kinds: Vec<&str> = [
        ("after", t.after.is_some()),
        ("stage_entered", t.stage_entered.is_some()),
        ("stage_left", t.stage_left.is_some()),
        ("p_alive_below", t.p_alive_below.is_some()),
        ("overdue", t.overdue.is_some()),
        ("anniversary", t.anniversary.is_some()),
        ("schedule", t.schedule.is_some()),
        ("second_order", t.second_order.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, set)| set.then_some(name))
    .collect();
    let kind = match kinds.as_slice() {
        [one] => *one,
        [] => {
            report(
                at,
                "trigger",
                "say when the plan is due: { after = \"purchase\", offset = \"7d\" }, { stage_entered = \"client\" } or \
                 { stage_left = \"client\" }"
                    .into(),
            );
            return None;
        }
        many => {
            report(
                at,
                "trigger",
                format!("a trigger is one of its kinds, not {}", many.join(" and ")),
            );
            return None;
        }
    };
    if kind != "after"
        && let Some(offset) = &t.offset
    {
        report(
            offset.span().start,
            "trigger.offset",
            format!("an offset belongs to an 'after' trigger, not to '{kind}'"),
        );
        return None;
    }
    if kind != "second_order"
        && let Some(percentile) = &t.percentile
    {
        report(
            percentile.span().start,
            "trigger.percentile",
            format!("a percentile belongs to a 'second_order' trigger, not to '{kind}'"),
        );
        return None;
    }
    match kind {
        "after" => {
            let event_name = t.after.as_ref().expect("checked above");
            let Some(event) = TriggerEvent::ALL
                .into_iter()
                .find(|e| e.as_str() == event_name.get_ref())
            else {
                let known: Vec<&str> = TriggerEvent::ALL.iter().map(|e| e.as_str()).collect();
                report(
                    event_name.span().start,
                    "trigger.after",
                    format!(
                        "'{}' is not an event: use one of {}",
                        event_name.get_ref(),
                        known.join(", ")
                    ),
                );
                return None;
            };
            let Some(offset) = &t.offset else {
                report(
                    at,
                    "trigger.offset",
                    "say how long after, such as offset = \"7d\"".into(),
                );
                return None;
            };
            match Span::parse(offset.get_ref()) {
                Ok(offset) => Some(Trigger::After { event, offset }),
                Err(message) => {
                    report(offset.span().start, "trigger.offset", message);
                    None
                }
            }
        }
        "stage_entered" => t.stage_entered.map(|stage| Trigger::StageEntered { stage }),
        "stage_left" => t.stage_left.map(|stage| Trigger::StageLeft { stage }),
        "p_alive_below" => {
            let threshold = t.p_alive_below.expect("checked above");
            if threshold > 0.0 && threshold < 1.0 {
                Some(Trigger::PAliveBelow { threshold })
            } else {
                report(
                    at,
                    "trigger.p_alive_below",
                    format!("{threshold} is not a probability between 0 and 1"),
                );
                None
            }
        }
        "overdue" => {
            let factor = t.overdue.expect("checked above");
            if factor > 0.0 && factor <= 100.0 {
                Some(Trigger::Overdue { factor })
            } else {
                report(
                    at,
                    "trigger.overdue",
                    format!("{factor} is not a number of usual gaps: write one above 0, such as 2.0"),
                );
                None
            }
        }
        "second_order" => {
            let source = t.second_order.as_ref().expect("checked above");
            if source.get_ref() != "data" {
                report(
                    source.span().start,
                    "trigger.second_order",
                    format!("'{}' is not a source: write second_order = \"data\"", source.get_ref()),
                );
                return None;
            }
            let percentile = t
                .percentile
                .as_ref()
                .map_or(DEFAULT_SECOND_ORDER_PERCENTILE, |p| *p.get_ref());
            if (0.05..=0.95).contains(&percentile) {
                Some(Trigger::SecondOrder { percentile })
            } else {
                let at = t.percentile.as_ref().map_or(at, |p| p.span().start);
                report(
                    at,
                    "trigger.percentile",
                    format!("{percentile} is not a percentile from 0.05 to 0.95"),
                );
                None
            }
        }
        "anniversary" => {
            let of = t.anniversary.as_ref().expect("checked above");
            if of.get_ref() == "first_purchase" {
                Some(Trigger::Anniversary)
            } else {
                report(
                    of.span().start,
                    "trigger.anniversary",
                    format!(
                        "'{}' has no anniversary: write anniversary = \"first_purchase\"",
                        of.get_ref()
                    ),
                );
                None
            }
        }
        "schedule" => {
            let expression = t.schedule.as_ref().expect("checked above");
            match crate::domain::plan::cron(expression.get_ref()) {
                Ok(_) => Some(Trigger::Schedule {
                    cron: expression.get_ref().trim().to_owned(),
                }),
                Err(message) => {
                    report(expression.span().start, "trigger.schedule", message);
                    None
                }
            }
        }
        other => unreachable!("'{other}' is one of the kinds listed above"),
    }
}

fn read_when(when: Spanned<FileWhen>, report: &mut impl FnMut(usize, &str, String)) -> Conditions {
    let at = when.span().start;
    let when = when.into_inner();
    let (mut min_p_alive, mut max_p_alive) = (None, None);
    if let Some(range) = &when.p_alive {
        match range.get_ref().as_slice() {
            [low, high] if (0.0..=1.0).contains(low) && (0.0..=1.0).contains(high) && low <= high => {
                min_p_alive = Some(*low);
                max_p_alive = Some(*high);
            }
            _ => report(
                range.span().start,
                "when.p_alive",
                "write the range as two numbers from 0 to 1, lowest first: p_alive = [0.2, 0.6]".into(),
            ),
        }
    }
    if let (Some(low), Some(high)) = (when.min_clv, when.max_clv)
        && low > high
    {
        report(at, "when.min_clv", format!("min_clv {low} is above max_clv {high}"));
    }
    Conditions {
        stage: when.stage.map(OneOrMany::into_vec).unwrap_or_default(),
        segment: when.segment.map(OneOrMany::into_vec).unwrap_or_default(),
        min_clv: when.min_clv,
        max_clv: when.max_clv,
        min_p_alive,
        max_p_alive,
        no_contact_days: when.no_contact_days,
        attribute: when.attribute.unwrap_or_default(),
    }
}

fn read_action(action: &Spanned<FileAction>, report: &mut impl FnMut(usize, &str, String)) -> Option<Action> {
    let at = action.span().start;
    let a = action.get_ref();
    let kinds: Vec<&str> = [
        ("task", a.task.is_some()),
        ("email", a.email.is_some()),
        ("webhook", a.webhook.is_some()),
        ("survey", a.survey.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, set)| set.then_some(name))
    .collect();
    match kinds.as_slice() {
        ["task"] => read_task(a, a.task.as_ref().expect("checked"), report),
        ["email"] => read_email(at, a, a.email.as_ref().expect("checked"), report),
        ["webhook"] => read_webhook(at, a, a.webhook.as_ref().expect("checked"), report),
        ["survey"] => read_survey(at, a, a.survey.as_ref().expect("checked"), report),
        [] => {
            report(
                at,
                "action",
                "say what the plan does: { task = \"Call {first_name}\", due_in = \"3d\" }, an e-mail \
                 { email = \"subject\", text = \"body\" }, a survey { survey = \"nps\" }, or \
                 { webhook = \"plan.fired\" }"
                    .into(),
            );
            None
        }
        many => {
            report(
                at,
                "action",
                format!(
                    "an action is one of task, email, survey or webhook, not {}: write one plan for each",
                    many.join(" and ")
                ),
            );
            None
        }
    }
}

fn read_webhook(
    at: usize,
    a: &FileAction,
    event: &Spanned<String>,
    report: &mut impl FnMut(usize, &str, String),
) -> Option<Action> {
    if a.due_in.is_some() || a.assignee.is_some() || a.text.is_some() || a.html.is_some() {
        report(at, "action", "a webhook action takes no other field".into());
        return None;
    }
    if event.get_ref() != "plan.fired" {
        report(
            event.span().start,
            "action.webhook",
            format!(
                "'{}' is not a plan's webhook: write webhook = \"plan.fired\"",
                event.get_ref()
            ),
        );
        return None;
    }
    Some(Action::Webhook)
}

fn read_survey(
    at: usize,
    a: &FileAction,
    survey: &Spanned<String>,
    report: &mut impl FnMut(usize, &str, String),
) -> Option<Action> {
    if a.due_in.is_some() || a.assignee.is_some() || a.text.is_some() || a.html.is_some() {
        report(
            at,
            "action",
            "a survey action takes no other field: the e-mail is written from the survey".into(),
        );
        return None;
    }
    let name = survey.get_ref().trim();
    if name.is_empty() || name.chars().count() > 60 || name.contains(char::is_control) {
        report(
            survey.span().start,
            "action.survey",
            format!("'{}' is not a survey's name", crate::domain::rules::excerpt(name)),
        );
        return None;
    }
    Some(Action::Survey {
        survey: name.to_owned(),
    })
}

/// A template read from the file, its problem reported at its line.
fn template(
    text: &Spanned<String>,
    field: &str,
    customers: bool,
    report: &mut impl FnMut(usize, &str, String),
) -> Option<Template> {
    let checked = Template::parse(text.get_ref()).and_then(|t| {
        if customers {
            t.check_for_customers()?;
        }
        Ok(t)
    });
    checked
        .map_err(|message| report(text.span().start, field, message))
        .ok()
}

fn read_task(a: &FileAction, task: &Spanned<String>, report: &mut impl FnMut(usize, &str, String)) -> Option<Action> {
    for (field, value) in [("text", &a.text), ("html", &a.html)] {
        if let Some(value) = value {
            report(
                value.span().start,
                &format!("action.{field}"),
                format!("'{field}' belongs to an e-mail action, not a task"),
            );
        }
    }
    let template = template(task, "action.task", false, report);
    let due_in = match &a.due_in {
        Some(text) => match Span::parse(text.get_ref()) {
            Ok(span) => Some(span),
            Err(message) => {
                report(text.span().start, "action.due_in", message);
                None
            }
        },
        None => Some(Span::days(0)),
    };
    Some(Action::Task {
        template: template?,
        due_in: due_in?,
        assignee: a.assignee.clone(),
    })
}

fn read_email(
    at: usize,
    a: &FileAction,
    subject: &Spanned<String>,
    report: &mut impl FnMut(usize, &str, String),
) -> Option<Action> {
    if let Some(due_in) = &a.due_in {
        report(
            due_in.span().start,
            "action.due_in",
            "'due_in' belongs to a task: an e-mail goes when the plan fires".into(),
        );
    }
    if a.assignee.is_some() {
        report(
            at,
            "action.assignee",
            "'assignee' belongs to a task, not an e-mail".into(),
        );
    }
    if subject.get_ref().trim().is_empty() || subject.get_ref().contains(['\n', '\r']) {
        report(
            subject.span().start,
            "action.email",
            "the subject is one line of text, not empty".into(),
        );
        return None;
    }
    let Some(text) = &a.text else {
        report(
            at,
            "action.text",
            "an e-mail needs its plain text: text = \"\"\"Hello {first_name|there}, ...\"\"\"".into(),
        );
        return None;
    };
    let subject = template(subject, "action.email", true, report);
    let body = template(text, "action.text", true, report);
    let html = match &a.html {
        Some(html) => Some(template(html, "action.html", true, report)?),
        None => None,
    };
    Some(Action::Email {
        subject: subject?,
        text: body?,
        html,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
[[plan]]
name = "two-year check-in"
trigger = { after = "purchase", offset = "730d" }   # every purchase, 730 days later
when = { stage = ["customer", "client", "partner"] }
action = { task = "Call {first_name}: how is it going, two years on?", due_in = "3d" }
holdout = 0.10
"#;

    #[test]
    fn the_documented_example_reads() {
        let plans = parse_plans("plans.toml", EXAMPLE).unwrap();
        assert_eq!(plans.len(), 1);
        let plan = &plans[0];
        assert_eq!(plan.name, "two-year check-in");
        assert_eq!(
            plan.trigger,
            Trigger::After {
                event: TriggerEvent::Purchase,
                offset: Span::days(730)
            }
        );
        assert_eq!(plan.when.stage, vec![Stage::Customer, Stage::Client, Stage::Partner]);
        assert_eq!(plan.holdout, 0.10);
        assert_eq!(plan.expire_after, DEFAULT_EXPIRE_AFTER);
        let Action::Task { due_in, .. } = &plan.action else {
            panic!("a task")
        };
        assert_eq!(*due_in, Span::days(3));
    }

    fn errors(text: &str) -> Vec<String> {
        parse_plans("p.toml", text)
            .unwrap_err()
            .0
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn every_problem_names_its_line_and_field() {
        let text = EXAMPLE
            .replace("730d", "730 days")
            .replace("{first_name}", "{firstname}");
        assert_eq!(
            errors(&text),
            vec![
                "p.toml:4: trigger.offset: '730 days' is not a duration: write a whole number and a unit, m, h, d or w (\"3d\")",
                "p.toml:6: action.task: unknown placeholder {firstname}: use one of first_name, name, customer, email, stage, \
                 orders, total_spent, first_purchase, last_purchase, days_since_purchase, p_alive, plan",
            ]
        );
        let unknown = errors(&EXAMPLE.replace("holdout", "hold_out"));
        assert_eq!(unknown.len(), 1);
        assert!(
            unknown[0].starts_with("p.toml:7: unknown field `hold_out`"),
            "{unknown:?}"
        );
        let stage = errors(&EXAMPLE.replace("\"client\", \"partner\"", "\"clients\""));
        assert!(stage[0].starts_with("p.toml:5: "), "{stage:?}");
        let holdout = errors(&EXAMPLE.replace("0.10", "0.9"));
        assert!(
            holdout[0].starts_with("p.toml:7: holdout: 0.9 is not a share"),
            "{holdout:?}"
        );
    }

    const EMAIL: &str = r#"
[[plan]]
name = "thank-you mail"
trigger = { after = "first_purchase", offset = "1d" }
holdout = 0.2

[plan.action]
email = "Thank you, {first_name|friend}"
text = """
Hello {first_name|there},

thank you for your first order.
"""
"#;

    #[test]
    fn an_email_action_reads_and_its_problems_name_line_and_field() {
        let plan = parse_plans("p.toml", EMAIL).unwrap().remove(0);
        let Action::Email { subject, text, html } = &plan.action else {
            panic!("an e-mail: {:?}", plan.action)
        };
        assert_eq!(subject.as_str(), "Thank you, {first_name|friend}");
        assert!(text.as_str().starts_with("Hello {first_name|there},"));
        assert_eq!(*html, None);
        let staff = errors(&EMAIL.replace("{first_name|friend}", "{p_alive}"));
        assert_eq!(
            staff,
            [
                "p.toml:8: action.email: {p_alive} is for staff, not for a message to the customer (staff-only: stage, \
              p_alive, plan)"
            ]
        );
        let both = errors(&EMAIL.replace("[plan.action]", "[plan.action]\ntask = \"Call\""));
        assert!(
            both[0].starts_with(
                "p.toml:7: action: an action is one of task, email, survey or webhook, not task and email"
            ),
            "{both:?}"
        );
        let no_text = errors(&EMAIL.replace("text = ", "html = "));
        assert!(
            no_text[0].contains("action.text: an e-mail needs its plain text"),
            "{no_text:?}"
        );
        let due = errors(&EMAIL.replace("[plan.action]", "[plan.action]\ndue_in = \"3d\""));
        assert!(
            due[0].starts_with("p.toml:8: action.due_in: 'due_in' belongs to a task"),
            "{due:?}"
        );
    }

    #[test]
    fn one_bad_plan_fails_the_file() {
        let text = format!(
            "{EXAMPLE}\n{}",
            EXAMPLE
                .replace("two-year", "other")
                .replace("\"purchase\"", "\"purchases\"")
        );
        let problems = errors(&text);
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].contains("trigger.after: 'purchases' is not an event"),
            "{problems:?}"
        );
        let twice = errors(&format!("{EXAMPLE}{EXAMPLE}"));
        assert!(twice[0].contains("names two plans"), "{twice:?}");
    }

    #[test]
    fn data_timed_triggers_read_and_check_their_numbers() {
        let with = |trigger: &str| EXAMPLE.replace("{ after = \"purchase\", offset = \"730d\" }", trigger);
        let read = |trigger: &str| parse_plans("p.toml", &with(trigger)).unwrap()[0].trigger.clone();
        assert_eq!(
            read("{ second_order = \"data\" }"),
            Trigger::SecondOrder { percentile: 0.4 }
        );
        assert_eq!(
            read("{ second_order = \"data\", percentile = 0.5 }"),
            Trigger::SecondOrder { percentile: 0.5 }
        );
        assert_eq!(read("{ overdue = 2.0 }"), Trigger::Overdue { factor: 2.0 });
        assert_eq!(read("{ p_alive_below = 0.3 }"), Trigger::PAliveBelow { threshold: 0.3 });
        let first = |trigger: &str| errors(&with(trigger))[0].clone();
        assert!(first("{ p_alive_below = 1.5 }").contains("trigger.p_alive_below: 1.5 is not a probability"));
        assert!(first("{ second_order = \"guess\" }").contains("trigger.second_order: 'guess' is not a source"));
        assert!(first("{ second_order = \"data\", percentile = 1.0 }").contains("trigger.percentile"));
        assert!(first("{ overdue = 2.0, percentile = 0.5 }").contains("belongs to a 'second_order'"));
    }

    #[test]
    fn recurring_triggers_and_the_webhook_action_read_and_name_their_problems() {
        let with = |trigger: &str| EXAMPLE.replace("{ after = \"purchase\", offset = \"730d\" }", trigger);
        let read = |trigger: &str| parse_plans("p.toml", &with(trigger)).unwrap()[0].trigger.clone();
        assert_eq!(read("{ anniversary = \"first_purchase\" }"), Trigger::Anniversary);
        assert_eq!(
            read("{ schedule = \"0 9 * * MON\" }"),
            Trigger::Schedule {
                cron: "0 9 * * MON".into()
            }
        );
        let first = |trigger: &str| errors(&with(trigger))[0].clone();
        assert!(
            first("{ schedule = \"0 9 * *\" }")
                .starts_with("p.toml:4: trigger.schedule: '0 9 * *' has 4 fields: a schedule has five"),
            "{}",
            first("{ schedule = \"0 9 * *\" }")
        );
        assert!(
            first("{ schedule = \"0 25 * * *\" }").contains("trigger.schedule: '0 25 * * *' is not a cron expression")
        );
        assert!(first("{ anniversary = \"birthday\" }").contains("trigger.anniversary: 'birthday' has no anniversary"));
        let both = EXAMPLE.replace(
            "after = \"purchase\",",
            "stage_entered = \"client\", after = \"purchase\",",
        );
        assert!(
            errors(&both)[0].contains("not after and stage_entered"),
            "{:?}",
            errors(&both)
        );
        let hook = |action: &str| {
            EXAMPLE.replace(
                "{ task = \"Call {first_name}: how is it going, two years on?\", due_in = \"3d\" }",
                action,
            )
        };
        let plans = parse_plans("p.toml", &hook("{ webhook = \"plan.fired\" }")).unwrap();
        assert_eq!(plans[0].action, Action::Webhook);
        let wrong = errors(&hook("{ webhook = \"customer.created\" }"));
        assert!(
            wrong[0].starts_with("p.toml:6: action.webhook: 'customer.created' is not a plan's webhook"),
            "{wrong:?}"
        );
        let plans = parse_plans("p.toml", &hook("{ survey = \"nps\" }")).unwrap();
        assert_eq!(plans[0].action, Action::Survey { survey: "nps".into() });
        let huge = format!("{{ survey = \"{}\" }}", "s".repeat(10_000));
        for (action, says) in [
            ("{ survey = \"\" }", "action.survey: '' is not a survey's name"),
            ("{ survey = \"a\\u0007b\" }", "is not a survey's name"),
            (huge.as_str(), "is not a survey's name"),
            (
                "{ survey = \"nps\", due_in = \"2d\" }",
                "a survey action takes no other field",
            ),
        ] {
            let problems = errors(&hook(action));
            assert!(problems[0].contains(says), "{action}: {problems:?}");
        }
    }
}
