//! The languages customers' words are read in: each has stop words and a stemmer for the voice
//! of the customer's themes, and is named in settings by its ISO 639-1 code.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The language comments are written in: it chooses the stop words (NLTK's lists) and the
/// Snowball stemmer; every language that has both.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Language {
    /// Arabic.
    #[serde(rename = "ar")]
    Arabic,
    /// Danish.
    #[serde(rename = "da")]
    Danish,
    /// Dutch.
    #[serde(rename = "nl")]
    Dutch,
    /// English, the default.
    #[default]
    #[serde(rename = "en")]
    English,
    /// Finnish.
    #[serde(rename = "fi")]
    Finnish,
    /// French.
    #[serde(rename = "fr")]
    French,
    /// German.
    #[serde(rename = "de")]
    German,
    /// Greek.
    #[serde(rename = "el")]
    Greek,
    /// Hungarian.
    #[serde(rename = "hu")]
    Hungarian,
    /// Italian.
    #[serde(rename = "it")]
    Italian,
    /// Norwegian.
    #[serde(rename = "no")]
    Norwegian,
    /// Portuguese.
    #[serde(rename = "pt")]
    Portuguese,
    /// Romanian.
    #[serde(rename = "ro")]
    Romanian,
    /// Russian.
    #[serde(rename = "ru")]
    Russian,
    /// Spanish.
    #[serde(rename = "es")]
    Spanish,
    /// Swedish.
    #[serde(rename = "sv")]
    Swedish,
    /// Tamil.
    #[serde(rename = "ta")]
    Tamil,
    /// Turkish.
    #[serde(rename = "tr")]
    Turkish,
}

impl Language {
    /// Every language themes can be found in.
    pub const SUPPORTED: [Language; 18] = [
        Language::Arabic,
        Language::Danish,
        Language::Dutch,
        Language::English,
        Language::Finnish,
        Language::French,
        Language::German,
        Language::Greek,
        Language::Hungarian,
        Language::Italian,
        Language::Norwegian,
        Language::Portuguese,
        Language::Romanian,
        Language::Russian,
        Language::Spanish,
        Language::Swedish,
        Language::Tamil,
        Language::Turkish,
    ];

    /// Its ISO 639-1 code, as written in settings.
    pub fn code(self) -> &'static str {
        match self {
            Language::Arabic => "ar",
            Language::Danish => "da",
            Language::Dutch => "nl",
            Language::English => "en",
            Language::Finnish => "fi",
            Language::French => "fr",
            Language::German => "de",
            Language::Greek => "el",
            Language::Hungarian => "hu",
            Language::Italian => "it",
            Language::Norwegian => "no",
            Language::Portuguese => "pt",
            Language::Romanian => "ro",
            Language::Russian => "ru",
            Language::Spanish => "es",
            Language::Swedish => "sv",
            Language::Tamil => "ta",
            Language::Turkish => "tr",
        }
    }

    /// The language of an ISO 639-1 code (any case), or an error listing the supported codes.
    pub fn from_code(code: &str) -> Result<Self, UnsupportedLanguage> {
        let wanted = code.trim();
        Self::SUPPORTED
            .into_iter()
            .find(|language| language.code().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| UnsupportedLanguage { code: code.to_owned() })
    }
}

impl FromStr for Language {
    type Err = UnsupportedLanguage;

    fn from_str(code: &str) -> Result<Self, UnsupportedLanguage> {
        Language::from_code(code)
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A language code themes cannot read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("language \"{code}\" is not supported for themes; supported: {}", supported())]
pub struct UnsupportedLanguage {
    /// The code asked for.
    pub code: String,
}

/// The supported codes, comma-separated.
fn supported() -> String {
    Language::SUPPORTED.map(Language::code).join(", ")
}
