//! From tallies to themes: labels, the automatic themes common enough to show and not replaced
//! by a named theme, every named theme, their z-scores and quotes, in a stable order.

use super::rank::Prior;
use super::rules::CompiledRules;
use super::tally::{Pass, Tally};
use super::{Comment, Quote, Theme, ThemeKind, ThemeReport};

/// The report of a finished pass.
pub(super) fn build(pass: Pass<'_>, comments: &[Comment<'_>], rules: &CompiledRules, min_count: u32) -> ThemeReport {
    let words = &pass.words;
    let prior = Prior::of(pass.stems.iter().chain(&pass.phrases).map(|tally| &tally.by_category));
    let spelling = words.spellings_by_stem();
    let theme = |label: String, kind, terms, tally: &Tally| Theme {
        label,
        kind,
        terms,
        count: tally.by_category.total(),
        by_category: tally.by_category,
        nps: tally.by_category.nps(),
        z: prior.z(&tally.by_category),
        quotes: tally.quoted().map(|index| quote(&comments[index])).collect(),
    };
    let shown = |tally: &&Tally| tally.by_category.total() >= min_count.max(1);
    let mut themes = Vec::new();
    for (stem, tally) in pass.stems.iter().enumerate().filter(|(_, tally)| shown(tally)) {
        let stem = stem as u32;
        if rules.of_stem(stem).is_empty() {
            let terms = vec![words.stem_text(stem).to_owned()];
            themes.push(theme(spelling[stem as usize].to_owned(), ThemeKind::Word, terms, tally));
        }
    }
    for (phrase, tally) in pass.phrases.iter().enumerate().filter(|(_, tally)| shown(tally)) {
        let phrase = phrase as u32;
        if rules.of_phrase(phrase).is_empty() {
            let (first, second) = words.phrase_stems(phrase);
            let label = format!("{} {}", spelling[first as usize], spelling[second as usize]);
            themes.push(theme(label, ThemeKind::Phrase, vec![words.phrase_text(phrase)], tally));
        }
    }
    for ((name, terms), tally) in rules.named.iter().zip(&pass.named) {
        themes.push(theme(name.clone(), ThemeKind::Named, terms.clone(), tally));
    }
    themes.sort_by(|a, b| {
        (b.z.total_cmp(&a.z))
            .then(b.count.cmp(&a.count))
            .then_with(|| a.label.cmp(&b.label))
    });
    ThemeReport {
        comments: pass.comments,
        themes,
    }
}

fn quote(comment: &Comment<'_>) -> Quote {
    Quote {
        comment: comment.id,
        text: comment.text.to_owned(),
    }
}
