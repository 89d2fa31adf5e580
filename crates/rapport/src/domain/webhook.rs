//! Webhooks as the Standard Webhooks specification defines them: event types, signing secrets,
//! signatures, when a failed delivery is tried again, and where deliveries may go (`target`).
//! Pure: the delivery itself is in `webhooks`.

pub mod target;

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::types::ParseError;

/// What a webhook announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
pub enum EventType {
    /// A customer was created (by an import, the API or the first event naming them).
    #[serde(rename = "customer.created")]
    CustomerCreated,
    /// A customer moved to another lifecycle stage.
    #[serde(rename = "customer.stage_changed")]
    CustomerStageChanged,
    /// An event (purchase, interaction, note, referral) was stored.
    #[serde(rename = "event.created")]
    EventCreated,
    /// A client's or partner's P(alive) crossed below the threshold when scored.
    #[serde(rename = "customer.at_risk")]
    CustomerAtRisk,
    /// A care plan with a webhook action fired for a customer.
    #[serde(rename = "plan.fired")]
    PlanFired,
    /// A customer answered a survey (each answer, a changed one too).
    #[serde(rename = "survey.responded")]
    SurveyResponded,
    /// An answer put the customer among the detractors (NPS 0-6, CSAT or CES 1-2).
    #[serde(rename = "feedback.detractor")]
    FeedbackDetractor,
}

impl EventType {
    /// Every event type.
    pub const ALL: [EventType; 7] = [
        EventType::CustomerCreated,
        EventType::CustomerStageChanged,
        EventType::EventCreated,
        EventType::CustomerAtRisk,
        EventType::PlanFired,
        EventType::SurveyResponded,
        EventType::FeedbackDetractor,
    ];

    /// The type's name, as sent and stored.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::CustomerCreated => "customer.created",
            EventType::CustomerStageChanged => "customer.stage_changed",
            EventType::EventCreated => "event.created",
            EventType::CustomerAtRisk => "customer.at_risk",
            EventType::PlanFired => "plan.fired",
            EventType::SurveyResponded => "survey.responded",
            EventType::FeedbackDetractor => "feedback.detractor",
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EventType {
    type Err = ParseError;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        EventType::ALL
            .into_iter()
            .find(|t| t.as_str() == raw.trim())
            .ok_or_else(|| {
                let names: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
                ParseError(format!("'{raw}' is not an event type: use {}", names.join(", ")))
            })
    }
}

/// A signing secret: `whsec_` and the base64 of the key. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret {
    text: String,
    key: Vec<u8>,
}

impl WebhookSecret {
    /// The prefix every secret carries.
    pub const PREFIX: &'static str = "whsec_";

    /// A new random secret of 32 bytes.
    pub fn generate() -> Self {
        let mut key = vec![0u8; 32];
        rand::fill(&mut key[..]);
        Self {
            text: format!("{}{}", Self::PREFIX, STANDARD.encode(&key)),
            key,
        }
    }

    /// A secret as written (`whsec_` optional): the base64 of 24 to 64 bytes.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let encoded = raw.trim();
        let encoded = encoded.strip_prefix(Self::PREFIX).unwrap_or(encoded);
        let key = STANDARD
            .decode(encoded)
            .map_err(|_| ParseError("a webhook secret is 'whsec_' followed by base64".into()))?;
        if !(24..=64).contains(&key.len()) {
            return Err(ParseError(format!(
                "a webhook secret's key is 24 to 64 bytes, not {}",
                key.len()
            )));
        }
        Ok(Self {
            text: format!("{}{encoded}", Self::PREFIX),
            key,
        })
    }

    /// The secret as shown once to its owner and stored.
    pub fn expose(&self) -> &str {
        &self.text
    }

    /// The `webhook-signature` header of a message: `v1,` and the base64 of
    /// HMAC-SHA256(key, "{id}.{timestamp}.{body}").
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes a key of any length");
        mac.update(format!("{id}.{timestamp}.").as_bytes());
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(..)")
    }
}

/// How long to wait after each failed attempt before the next; when the list is used up the
/// delivery has failed for good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule(pub Vec<Duration>);

impl Default for RetrySchedule {
    /// 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h: eight attempts over 27 h 35 min, so a receiver
    /// down for a whole day still gets every message.
    fn default() -> Self {
        let minutes = |m: u64| Duration::from_secs(m * 60);
        Self(vec![
            Duration::from_secs(5),
            minutes(5),
            minutes(30),
            minutes(120),
            minutes(300),
            minutes(600),
            minutes(600),
        ])
    }
}

impl RetrySchedule {
    /// The wait after the `attempts`-th failed attempt (1 after the first), or `None` to give up.
    pub fn after(&self, attempts: u32) -> Option<Duration> {
        let index = usize::try_from(attempts).ok()?.checked_sub(1)?;
        self.0.get(index).copied()
    }

    /// From the first attempt to the last.
    pub fn span(&self) -> Duration {
        self.0.iter().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_match_the_standard_webhooks_reference_example() {
        // From the specification's reference libraries' tests.
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            secret.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn generated_secrets_parse_back_and_never_show_in_debug() {
        let secret = WebhookSecret::generate();
        assert!(secret.expose().starts_with("whsec_"));
        assert_eq!(WebhookSecret::parse(secret.expose()).unwrap(), secret);
        assert!(!format!("{secret:?}").contains(secret.expose()));
        assert!(WebhookSecret::parse("whsec_short").is_err());
    }

    #[test]
    fn the_default_schedule_retries_for_more_than_a_day_then_gives_up() {
        let schedule = RetrySchedule::default();
        assert!(schedule.span() >= Duration::from_secs(24 * 3600));
        assert_eq!(schedule.after(1), Some(Duration::from_secs(5)));
        assert_eq!(schedule.after(7), Some(Duration::from_secs(36_000)));
        assert_eq!(schedule.after(8), None);
        assert_eq!(schedule.after(0), None);
    }

    #[test]
    fn event_types_parse_by_their_names() {
        for t in EventType::ALL {
            assert_eq!(t.as_str().parse::<EventType>().unwrap(), t);
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
        }
        assert!("customer.deleted".parse::<EventType>().is_err());
    }
}
