//! The one pass over the comments: for every stem, phrase and named theme, the comments of each
//! category that mention it (each comment once, however often it repeats a word) and its shortest
//! comments, the quotes. Tallies are kept in vectors indexed by dense ids, so counting a word
//! costs an index, not a hash.

use crate::domain::survey::NpsCategory;

use super::rules::CompiledRules;
use super::words::Words;
use super::{CategoryCounts, Comment, QUOTES};

/// One comment seen, as a tally needs it.
#[derive(Debug, Clone, Copy)]
struct Sighting {
    /// The comment's index plus one, so that 0 can mean "no comment yet".
    comment: u32,
    category: Option<NpsCategory>,
    chars: u32,
    /// The text's hash: the same words said twice are quoted once.
    text: u64,
}

/// What was counted of one stem, phrase or named theme.
#[derive(Debug, Clone)]
pub(super) struct Tally {
    /// Comments mentioning it, by category.
    pub(super) by_category: CategoryCounts,
    last: u32,
    /// The shortest comments of different texts as (characters, index, text's hash), shortest
    /// first; unused slots are `u32::MAX`.
    shortest: [(u32, u32, u64); QUOTES],
}

impl Default for Tally {
    fn default() -> Self {
        Tally {
            by_category: CategoryCounts::default(),
            last: 0,
            shortest: [(u32::MAX, u32::MAX, 0); QUOTES],
        }
    }
}

impl Tally {
    /// Counts a comment the first time it mentions this; says whether it was the first time.
    fn see(&mut self, sighting: Sighting) -> bool {
        if self.last == sighting.comment {
            return false;
        }
        self.last = sighting.comment;
        self.by_category.add(sighting.category);
        // Comments come in order, so on equal length the earlier one stays: quotes are stable.
        let candidate = (sighting.chars, sighting.comment - 1, sighting.text);
        let repeated = self
            .shortest
            .iter()
            .any(|&(chars, index, text)| index != u32::MAX && chars == candidate.0 && text == candidate.2);
        if !repeated && (candidate.0, candidate.1) < (self.shortest[QUOTES - 1].0, self.shortest[QUOTES - 1].1) {
            self.shortest[QUOTES - 1] = candidate;
            self.shortest.sort_unstable();
        }
        true
    }

    /// The indexes of the comments to quote, shortest first.
    pub(super) fn quoted(&self) -> impl Iterator<Item = usize> + '_ {
        self.shortest
            .iter()
            .filter(|&&(_, index, _)| index != u32::MAX)
            .map(|&(_, index, _)| index as usize)
    }
}

/// The pass under way: the vocabulary and the tallies of everything met so far.
pub(super) struct Pass<'r> {
    /// The vocabulary, grown as comments are read.
    pub(super) words: Words,
    rules: &'r CompiledRules,
    /// By stem id.
    pub(super) stems: Vec<Tally>,
    /// By phrase id.
    pub(super) phrases: Vec<Tally>,
    /// By named theme, in the rules' order.
    pub(super) named: Vec<Tally>,
    /// Every comment read, by category.
    pub(super) comments: CategoryCounts,
}

impl<'r> Pass<'r> {
    /// A pass that has read nothing yet.
    pub(super) fn new(words: Words, rules: &'r CompiledRules) -> Self {
        Pass {
            words,
            rules,
            stems: Vec::new(),
            phrases: Vec::new(),
            named: vec![Tally::default(); rules.named.len()],
            comments: CategoryCounts::default(),
        }
    }

    /// Counts the comment at `index` of the input.
    pub(super) fn add(&mut self, index: u32, comment: &Comment<'_>) {
        let sighting = Sighting {
            comment: index + 1,
            category: comment.category,
            chars: u32::try_from(comment.text.chars().count()).unwrap_or(u32::MAX - 1),
            text: {
                use std::hash::{BuildHasher as _, Hasher as _};
                let mut hasher = foldhash::fast::FixedState::with_seed(7).build_hasher();
                hasher.write(comment.text.as_bytes());
                hasher.finish()
            },
        };
        self.comments.add(comment.category);
        let Pass {
            words,
            rules,
            stems,
            phrases,
            named,
            ..
        } = self;
        words.walk(comment.text, |stem, phrase| {
            if grown(stems, stem).see(sighting) {
                see_named(named, rules.of_stem(stem), sighting);
            }
            if let Some(phrase) = phrase
                && grown(phrases, phrase).see(sighting)
            {
                see_named(named, rules.of_phrase(phrase), sighting);
            }
        });
        see_named(named, rules.of_comment(comment.id), sighting);
    }
}

/// The tally at `id`, the vector grown to hold it: ids are dense, so it grows by one at most.
fn grown(tallies: &mut Vec<Tally>, id: u32) -> &mut Tally {
    let id = id as usize;
    if tallies.len() <= id {
        tallies.resize_with(id + 1, Tally::default);
    }
    &mut tallies[id]
}

fn see_named(named: &mut [Tally], ids: &[u32], sighting: Sighting) {
    for &id in ids {
        named[id as usize].see(sighting);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sighting(comment: u32, chars: u32) -> Sighting {
        Sighting {
            comment,
            category: Some(NpsCategory::Detractor),
            chars,
            text: u64::from(comment),
        }
    }

    #[test]
    fn a_comment_counts_once_and_the_shortest_comments_are_kept_in_order() {
        let mut tally = Tally::default();
        assert!(tally.see(sighting(1, 50)));
        assert!(!tally.see(sighting(1, 50)));
        for (comment, chars) in [(2, 20), (3, 20), (4, 70), (5, 10)] {
            tally.see(sighting(comment, chars));
        }
        assert_eq!(tally.by_category.detractors, 5);
        assert_eq!(tally.quoted().collect::<Vec<_>>(), [4, 1, 2]);
        // The same words again, shorter than the rest: quoted once.
        let mut repeats = Tally::default();
        for comment in 1..=4 {
            repeats.see(Sighting {
                text: 99,
                ..sighting(comment, 12)
            });
        }
        repeats.see(sighting(5, 40));
        assert_eq!(repeats.quoted().collect::<Vec<_>>(), [0, 4]);
    }
}
