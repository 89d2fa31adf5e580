//! The demo's staff reporting back: they name the themes their customers' complaints fall into,
//! and in each of the history's last four quarters act on the complaint heard most that quarter
//! (one not acted on yet), recording "you said, we did" halfway through the quarter. So the
//! report back and `/you-said` show what the business did, tied to what its customers said.

use std::sync::Arc;

use crate::store::{NewVoiceAction, Store, StoreError, StoreResult};
use crate::voice::actions::day_seconds;
use crate::voice::analysis::{name_theme, theme_rules, themes};
use crate::voice::report::Period;
use crate::voice::themes::ThemeOptions;

/// The themes the staff name (their terms as the demo's comments write them), what customers
/// said about each, and what the business did.
const THEMES: [(&str, &[&str], &str, &str); 4] = [
    (
        "Delivery",
        &[
            "late",
            "delivery",
            "late delivery",
            "delivery took",
            "took two",
            "two weeks",
            "two",
            "weeks",
            "took",
            "parcel",
            "tracking",
        ],
        "parcels arrived late and the tracking did not update",
        "we moved to a next-day courier and send a tracking link with every order",
    ),
    (
        "Prices",
        &["expensive", "too expensive", "prices", "shipping costs"],
        "our prices felt too high, with shipping on top",
        "shipping is free from 50 EUR, and a range of everyday basics costs less",
    ),
    (
        "Support",
        &["rude", "support", "rude support"],
        "our support was rude on the phone",
        "everyone who answers the phone has had customer-care training, and every call is returned within a day",
    ),
    (
        "Broken items",
        &[
            "broken",
            "arrived broken",
            "item arrived",
            "arrived",
            "item",
            "packaging",
            "replacement",
        ],
        "items arrived broken in thin packaging",
        "we pack in padded boxes and replace a broken item the same day",
    ),
];

/// Who records the demo's actions.
const STAFF: &str = "demo staff";

/// Names the themes at `start`, and records the actions of the last four quarters before `end`;
/// returns how many were recorded.
pub async fn report_back(store: &Arc<dyn Store>, start: i64, end: i64, zone: chrono_tz::Tz) -> StoreResult<u64> {
    for (name, terms, ..) in THEMES {
        let terms: Vec<String> = terms.iter().map(|t| (*t).to_owned()).collect();
        name_theme(store, name, &terms, start)
            .await
            .map_err(|e| StoreError::Corrupt(format!("the demo's theme '{name}' does not read: {e}")))?;
    }
    let rules = theme_rules(store).await?;
    let responses = store.responses(None).await?;
    let mut quarters = vec![Period::quarter_of(end, zone)];
    for _ in 0..3 {
        let earlier = quarters[0].previous(zone);
        quarters.insert(0, earlier);
    }
    let mut acted: Vec<&str> = Vec::new();
    let mut recorded = 0;
    for quarter in quarters {
        let heard: Vec<_> = responses
            .iter()
            .filter(|r| quarter.contains(r.answered_at))
            .cloned()
            .collect();
        let report = themes(&heard, &[], &rules, &ThemeOptions::default())
            .map_err(|e| StoreError::Corrupt(format!("the demo's themes: {e}")))?;
        let Some((name, _, said, did)) = report.detractor_themes().find_map(|t| {
            THEMES
                .iter()
                .find(|(name, ..)| *name == t.label && !acted.contains(name))
        }) else {
            continue;
        };
        let middle = quarter.first_day + chrono::Days::new(45);
        let done_at = day_seconds(middle);
        if done_at > end {
            continue;
        }
        acted.push(name);
        let action = NewVoiceAction {
            theme: (*name).to_owned(),
            said: (*said).to_owned(),
            did: (*did).to_owned(),
            done_at,
            public: true,
            by: STAFF.to_owned(),
        };
        store.add_voice_action(&action, done_at).await?;
        recorded += 1;
    }
    Ok(recorded)
}
