//! Comments into stems. Words are split by Unicode's rules (UAX #29), lower-cased, and dropped
//! when they are stop words, numbers or single characters; the rest are stemmed. Each distinct
//! spelling is stemmed once and then found in a map, so a corpus of millions of words stems only
//! its vocabulary and allocates only for words it has not seen.

use foldhash::fast::FixedState;
use hashbrown::{HashMap, HashSet};
use rust_stemmers::{Algorithm, Stemmer};

use unicode_segmentation::UnicodeSegmentation;

pub use crate::domain::language::Language;

/// The Snowball stemmer of a language.
fn algorithm(language: Language) -> Algorithm {
    match language {
        Language::Arabic => Algorithm::Arabic,
        Language::Danish => Algorithm::Danish,
        Language::Dutch => Algorithm::Dutch,
        Language::English => Algorithm::English,
        Language::Finnish => Algorithm::Finnish,
        Language::French => Algorithm::French,
        Language::German => Algorithm::German,
        Language::Greek => Algorithm::Greek,
        Language::Hungarian => Algorithm::Hungarian,
        Language::Italian => Algorithm::Italian,
        Language::Norwegian => Algorithm::Norwegian,
        Language::Portuguese => Algorithm::Portuguese,
        Language::Romanian => Algorithm::Romanian,
        Language::Russian => Algorithm::Russian,
        Language::Spanish => Algorithm::Spanish,
        Language::Swedish => Algorithm::Swedish,
        Language::Tamil => Algorithm::Tamil,
        Language::Turkish => Algorithm::Turkish,
    }
}

/// A stem's index, dense from 0 in the order stems are first met.
pub(super) type StemId = u32;
/// A two-stem phrase's index, dense from 0 like stems'.
pub(super) type PhraseId = u32;

/// A spelling met in the comments: what it counts as, and how often it was written.
struct Spelling {
    stem: Option<StemId>,
    written: u32,
}

/// The vocabulary of one analysis: spellings, their stems, and the phrases of two stems.
pub(super) struct Words {
    stemmer: Stemmer,
    stop: HashSet<&'static str, FixedState>,
    spelling_ids: HashMap<Box<str>, u32, FixedState>,
    spellings: Vec<Spelling>,
    stem_ids: HashMap<Box<str>, StemId, FixedState>,
    stems: Vec<Box<str>>,
    phrase_ids: HashMap<(StemId, StemId), PhraseId, FixedState>,
    phrases: Vec<(StemId, StemId)>,
    lowered: String,
}

impl Words {
    /// An empty vocabulary for one language.
    pub(super) fn new(language: Language) -> Self {
        let mut stop = HashSet::with_hasher(FixedState::default());
        stop.extend(stop_words::get(language.code()).iter().copied());
        Words {
            stemmer: Stemmer::create(algorithm(language)),
            stop,
            spelling_ids: HashMap::with_hasher(FixedState::default()),
            spellings: Vec::new(),
            stem_ids: HashMap::with_hasher(FixedState::default()),
            stems: Vec::new(),
            phrase_ids: HashMap::with_hasher(FixedState::default()),
            phrases: Vec::new(),
            lowered: String::new(),
        }
    }

    /// Calls `visit` with each counted word's stem and, when the counted word just before it came
    /// with nothing but spaces or hyphens between, the phrase of the two. A stop word, a number or
    /// punctuation ends a phrase, so "late. Delivery" and "delivery was late" make none.
    pub(super) fn walk(&mut self, text: &str, mut visit: impl FnMut(StemId, Option<PhraseId>)) {
        let mut previous: Option<(StemId, usize)> = None;
        for (start, word) in text.unicode_word_indices() {
            let Some(stem) = self.stem(word) else {
                previous = None;
                continue;
            };
            let phrase = match previous {
                Some((first, end)) if joins(&text[end..start]) => Some(self.phrase_id(first, stem)),
                _ => None,
            };
            visit(stem, phrase);
            previous = Some((stem, start + word.len()));
        }
    }

    /// The stem a word as written counts as, or `None` when it does not count.
    fn stem(&mut self, word: &str) -> Option<StemId> {
        lower_into(&mut self.lowered, word);
        if let Some(&id) = self.spelling_ids.get(self.lowered.as_str()) {
            let spelling = &mut self.spellings[id as usize];
            spelling.written += 1;
            return spelling.stem;
        }
        let stem = if self.counts(&self.lowered) {
            let stemmed = self.stemmer.stem(&self.lowered).into_owned();
            Some(self.stem_id(&stemmed))
        } else {
            None
        };
        let id = self.spellings.len() as u32;
        self.spellings.push(Spelling { stem, written: 1 });
        self.spelling_ids.insert(self.lowered.as_str().into(), id);
        stem
    }

    /// Whether a lower-cased word can be part of a theme.
    fn counts(&self, word: &str) -> bool {
        let mut chars = word.chars();
        let several = chars.next().is_some() && chars.next().is_some();
        several && word.chars().any(char::is_alphabetic) && !self.stop.contains(word)
    }

    /// The id of a stem, made on first sight.
    pub(super) fn stem_id(&mut self, stem: &str) -> StemId {
        if let Some(&id) = self.stem_ids.get(stem) {
            return id;
        }
        let id = self.stems.len() as StemId;
        self.stems.push(stem.into());
        self.stem_ids.insert(stem.into(), id);
        id
    }

    /// The id of the phrase of `first` then `second`, made on first sight.
    fn phrase_id(&mut self, first: StemId, second: StemId) -> PhraseId {
        let next = self.phrases.len() as PhraseId;
        let id = *self.phrase_ids.entry((first, second)).or_insert(next);
        if id == next {
            self.phrases.push((first, second));
        }
        id
    }

    /// Forgets how often each spelling was written, keeping the spellings themselves.
    pub(super) fn forget_written(&mut self) {
        for spelling in &mut self.spellings {
            spelling.written = 0;
        }
    }

    /// A stem as the stemmer wrote it.
    pub(super) fn stem_text(&self, id: StemId) -> &str {
        &self.stems[id as usize]
    }

    /// A phrase's two stems.
    pub(super) fn phrase_stems(&self, id: PhraseId) -> (StemId, StemId) {
        self.phrases[id as usize]
    }

    /// A phrase as its two stems with a space between ("late deliveri").
    pub(super) fn phrase_text(&self, id: PhraseId) -> String {
        let (first, second) = self.phrase_stems(id);
        format!("{} {}", self.stem_text(first), self.stem_text(second))
    }

    /// Each stem's most written spelling, the first in alphabetical order on a tie; a stem that
    /// was only ever a staff rule's term is shown as itself.
    pub(super) fn spellings_by_stem(&self) -> Vec<&str> {
        let mut best: Vec<Option<(u32, &str)>> = vec![None; self.stems.len()];
        for (word, &id) in &self.spelling_ids {
            let spelling = &self.spellings[id as usize];
            let Some(stem) = spelling.stem else { continue };
            let slot = &mut best[stem as usize];
            let better = match *slot {
                None => true,
                Some((written, current)) => {
                    spelling.written > written || (spelling.written == written && &**word < current)
                }
            };
            if better {
                *slot = Some((spelling.written, word));
            }
        }
        best.iter()
            .zip(&self.stems)
            .map(|(best, stem)| best.map_or(&**stem, |(_, word)| word))
            .collect()
    }
}

/// Lower-cases `word` into `out`, with the typographic apostrophe made plain so "don’t" is the
/// stop word "don't".
fn lower_into(out: &mut String, word: &str) {
    out.clear();
    if word.is_ascii() {
        out.push_str(word);
        out.make_ascii_lowercase();
        return;
    }
    for c in word.chars() {
        if c == '\u{2019}' {
            out.push('\'');
        } else {
            out.extend(c.to_lowercase());
        }
    }
}

/// Whether what lies between two words keeps them one phrase.
fn joins(gap: &str) -> bool {
    gap.chars().all(|c| c.is_whitespace() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each counted word's stem, with the phrase it ends.
    fn stems(text: &str) -> Vec<(String, Option<String>)> {
        let mut words = Words::new(Language::English);
        let mut seen = Vec::new();
        words.walk(text, |stem, phrase| seen.push((stem, phrase)));
        let shown = |(stem, phrase): (StemId, Option<PhraseId>)| {
            (
                words.stem_text(stem).to_owned(),
                phrase.map(|phrase| words.phrase_text(phrase)),
            )
        };
        seen.into_iter().map(shown).collect()
    }

    #[test]
    fn stop_words_numbers_and_single_letters_are_dropped_and_the_rest_stemmed() {
        let seen = stems("The Delivery was LATE by 14 days, x and I don’t like it");
        let names: Vec<&str> = seen.iter().map(|(stem, _)| stem.as_str()).collect();
        assert_eq!(names, ["deliveri", "late", "day", "like"]);
    }

    #[test]
    fn phrases_join_adjacent_words_only() {
        let seen = stems("late delivery. Friendly well-trained staff, rude support");
        let phrases: Vec<&str> = seen.iter().filter_map(|(_, phrase)| phrase.as_deref()).collect();
        assert_eq!(
            phrases,
            [
                "late deliveri",
                "friend well",
                "well train",
                "train staff",
                "rude support"
            ]
        );
    }
}
