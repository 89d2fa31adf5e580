//! `[voice]`: how long a survey's personal link works, how its non-responders are reminded, and
//! the language comments are read in.

use serde::{Deserialize, Serialize};

use super::positive;
use crate::domain::language::Language;

/// `[voice]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VoiceSettings {
    /// Days a personal survey link works after it is sent; an answer can be changed until then.
    #[serde(deserialize_with = "positive")]
    pub link_days: u32,
    /// Reminders sent at most to a customer who has not answered (0: none).
    pub reminders: u32,
    /// Days at least between the invitation and a reminder, and between reminders.
    #[serde(deserialize_with = "positive")]
    pub reminder_days: u32,
    /// The language comments and interview notes are written in (an ISO 639-1 code): it chooses
    /// the stop words and the stemmer of the themes.
    #[serde(deserialize_with = "language", serialize_with = "super::display")]
    pub language: Language,
}

fn language<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Language, D::Error> {
    let raw = String::deserialize(d)?;
    Language::from_code(&raw).map_err(serde::de::Error::custom)
}

impl Default for VoiceSettings {
    fn default() -> Self {
        Self {
            link_days: 30,
            reminders: 1,
            reminder_days: 4,
            language: Language::English,
        }
    }
}

impl VoiceSettings {
    /// A link's life in seconds.
    pub fn link_seconds(&self) -> i64 {
        i64::from(self.link_days) * 86_400
    }

    /// The gap before a reminder, in seconds.
    pub fn reminder_seconds(&self) -> i64 {
        i64::from(self.reminder_days) * 86_400
    }
}
