//! "You said, we did": what the business did about a theme of its customers' comments, checked
//! by the rules every entry point shares (the CLI, the dashboard's form) before it is stored.
//! A public action is shown to anyone on `/you-said`, so its words may not carry what looks like
//! an e-mail address or a phone number: the page promises no personal data.

use chrono::NaiveDate;

use crate::domain::rules::{self, Lines};
use crate::store::NewVoiceAction;

/// The longest "you said" or "we did", in characters.
pub const MAX_TEXT: usize = 1_000;
/// The longest theme label, in characters.
pub const MAX_THEME: usize = 100;

/// An action as typed, before it is checked.
#[derive(Debug, Clone, Default)]
pub struct ActionInput {
    /// The theme it answers: a theme's label as the themes report shows it.
    pub theme: String,
    /// What customers said.
    pub said: String,
    /// What the business did.
    pub did: String,
    /// The day it was done, `YYYY-MM-DD`.
    pub done_on: String,
    /// Listed on the public page.
    pub public: bool,
    /// Who records it.
    pub by: String,
}

impl ActionInput {
    /// The action to store, or what is wrong, naming the field: texts within their length and
    /// free of control characters, the theme one of `themes` (ignoring case; stored as listed
    /// there), the day a real date no later than `today`, and a public action's words free of
    /// addresses and phone numbers.
    pub fn check(self, themes: &[String], today: NaiveDate) -> Result<NewVoiceAction, String> {
        let typed = rules::text("theme", &self.theme, MAX_THEME, Lines::One)
            .map_err(|e| e.0)?
            .ok_or("theme: say which theme the action answers")?;
        let theme = themes
            .iter()
            .find(|t| t.to_lowercase() == typed.to_lowercase())
            .cloned()
            .ok_or_else(|| {
                format!(
                    "theme: there is no theme '{}' (`rapport voice themes` lists them; \
                     `rapport voice name-theme` names one)",
                    rules::printable(&typed)
                )
            })?;
        let said = rules::text("said", &self.said, MAX_TEXT, Lines::Many)
            .map_err(|e| e.0)?
            .ok_or("said: write what customers said")?;
        let did = rules::text("did", &self.did, MAX_TEXT, Lines::Many)
            .map_err(|e| e.0)?
            .ok_or("did: write what the business did")?;
        let day = self.done_on.trim();
        let done_on = NaiveDate::parse_from_str(day, "%Y-%m-%d").map_err(|_| {
            format!(
                "done on: '{}' is not a date; write it as YYYY-MM-DD",
                rules::printable(day)
            )
        })?;
        if done_on > today {
            return Err(format!(
                "done on: {done_on} is in the future; record an action once it is done"
            ));
        }
        let by = rules::text("by", &self.by, 200, Lines::One)
            .map_err(|e| e.0)?
            .ok_or("say who records the action")?;
        if self.public {
            for (field, text) in [("said", &said), ("did", &did)] {
                if let Some(what) = personal_data(text) {
                    return Err(format!(
                        "{field}: holds what looks like {what}; the public page shows no personal data \
                         (remove it, or keep the action private)"
                    ));
                }
            }
        }
        Ok(NewVoiceAction {
            theme,
            said,
            did,
            done_at: day_seconds(done_on),
            public: self.public,
            by,
        })
    }
}

/// A calendar day as the store keeps it: its midnight UTC (a date, not a moment: the business's
/// time zone does not move it).
pub fn day_seconds(day: NaiveDate) -> i64 {
    day.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc().timestamp()
}

/// What in `text` looks like personal data, if anything: an e-mail address (a word with an
/// `@` between letters and a dot after it) or a phone number (seven digits or more, spaces,
/// dots, dashes and brackets between them allowed).
fn personal_data(text: &str) -> Option<&'static str> {
    let email = text.split_whitespace().any(|word| {
        word.split_once('@').is_some_and(|(user, domain)| {
            user.chars().any(char::is_alphanumeric) && domain.trim_end_matches(['.', ',', ';', ')']).contains('.')
        })
    });
    if email {
        return Some("an e-mail address");
    }
    let phone = text
        .split(|c: char| !(c.is_ascii_digit() || matches!(c, ' ' | '.' | '-' | '(' | ')' | '/' | '+')))
        .map(|run| run.trim_matches(|c: char| !c.is_ascii_digit()))
        .any(|run| run.chars().filter(char::is_ascii_digit).count() >= 7 && !is_date(run));
    phone.then_some("a phone number")
}

/// A day written as a date usually is (2026-03-01, 01.03.2026, 01/03/2026): digits enough for a
/// phone number, but not one.
fn is_date(run: &str) -> bool {
    ["%Y-%m-%d", "%d.%m.%Y", "%d/%m/%Y", "%m/%d/%Y"]
        .iter()
        .any(|format| NaiveDate::parse_from_str(run, format).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(public: bool) -> ActionInput {
        ActionInput {
            theme: "late delivery".into(),
            said: "Parcels arrived late.".into(),
            did: "We moved to a next-day courier in March.".into(),
            done_on: "2026-03-02".into(),
            public,
            by: "ana@shop.example".into(),
        }
    }

    fn check(input: ActionInput) -> Result<NewVoiceAction, String> {
        let today = NaiveDate::from_ymd_opt(2026, 3, 10).unwrap();
        input.check(&["Late Delivery".to_owned(), "price".to_owned()], today)
    }

    #[test]
    fn an_action_answers_a_known_theme_on_a_past_day() {
        let action = check(input(true)).unwrap();
        assert_eq!(action.theme, "Late Delivery", "stored as the themes list it");
        assert_eq!(action.done_at, 1_772_409_600);
        let unknown = check(ActionInput {
            theme: "parking".into(),
            ..input(true)
        });
        assert!(unknown.unwrap_err().starts_with("theme: there is no theme 'parking'"));
        let future = check(ActionInput {
            done_on: "2026-03-11".into(),
            ..input(true)
        });
        assert!(future.unwrap_err().starts_with("done on: 2026-03-11 is in the future"));
        let bad_day = check(ActionInput {
            done_on: "2026-02-30".into(),
            ..input(true)
        });
        assert!(bad_day.unwrap_err().contains("'2026-02-30' is not a date"));
        let empty = check(ActionInput {
            did: "  ".into(),
            ..input(true)
        });
        assert_eq!(empty.unwrap_err(), "did: write what the business did");
        let control = check(ActionInput {
            said: "late\u{1b}[2J".into(),
            ..input(true)
        });
        assert!(control.unwrap_err().starts_with("said"));
    }

    #[test]
    fn a_public_action_may_not_name_an_address_or_a_phone_number_but_a_private_one_may() {
        for (said, what) in [
            ("Ana (ana.lima@mail.example) wrote to us", "an e-mail address"),
            ("call back on +44 20 7946 0123", "a phone number"),
            ("ring 0171-555-0199.", "a phone number"),
        ] {
            let refused = check(ActionInput {
                said: said.into(),
                ..input(true)
            })
            .unwrap_err();
            assert!(
                refused.starts_with("said: holds what looks like") && refused.contains(what),
                "{refused}"
            );
            assert!(
                check(ActionInput {
                    said: said.into(),
                    ..input(false)
                })
                .is_ok()
            );
        }
        for fine in [
            "orders over 150 EUR ship free from 2026-03-01",
            "from 01.03.2026 to 31/03/2026",
            "2 days, not 5",
            "@ the counter.",
        ] {
            assert!(personal_data(fine).is_none(), "{fine}");
        }
    }
}
