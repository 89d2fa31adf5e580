//! Times `voice::themes::find_themes` over synthetic comments: 100,000 by default, about 20 words
//! each, from a fixed seed. Words are drawn with a long tail (a few hundred common ones, thousands
//! of rare made-up ones) and detractors lean to complaints, promoters to praise, so the ranking
//! has something to find. Only the analysis is timed, not the generation.
//!
//! Usage: `cargo run --release -p rapport --example themes_bench -- [COMMENTS] [SEED]`

use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rapport::domain::survey::NpsCategory;
use rapport::voice::themes::{Comment, ThemeOptions, ThemeRules, find_themes};

const FILLER: [&str; 24] = [
    "the", "was", "and", "my", "it", "to", "a", "of", "i", "very", "but", "is", "they", "we", "this", "that", "for",
    "with", "on", "so", "had", "be", "not", "again",
];
const COMPLAINTS: [&str; 12] = [
    "late", "delivery", "rude", "support", "broken", "refund", "slow", "waiting", "damaged", "wrong", "parcel", "never",
];
const PRAISE: [&str; 12] = [
    "friendly",
    "staff",
    "quality",
    "great",
    "helpful",
    "quick",
    "lovely",
    "fresh",
    "recommend",
    "excellent",
    "fair",
    "prices",
];
const SYLLABLES: [&str; 16] = [
    "ka", "lo", "mi", "ter", "su", "ran", "vel", "do", "pra", "ne", "zu", "mor", "ti", "gan", "pel", "os",
];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let count: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let seed: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(7);
    let mut rng = StdRng::seed_from_u64(seed);
    let rare: Vec<String> = (0..4_000).map(|_| made_up_word(&mut rng)).collect();
    let texts: Vec<(Option<NpsCategory>, String)> = (0..count).map(|_| comment(&mut rng, &rare)).collect();
    let comments: Vec<Comment<'_>> = texts
        .iter()
        .zip(1..)
        .map(|((category, text), id)| Comment {
            id,
            text,
            category: *category,
        })
        .collect();
    let words: usize = texts.iter().map(|(_, text)| text.split(' ').count()).sum();

    let started = Instant::now();
    let report = find_themes(&comments, &ThemeRules::default(), &ThemeOptions::default()).expect("themes");
    let elapsed = started.elapsed();

    println!(
        "{count} comments, {words} words, {} themes in {elapsed:.2?}",
        report.themes.len()
    );
    let top = |themes: Vec<&str>| themes.join(", ");
    println!(
        "detractors: {}",
        top(report.detractor_themes().take(5).map(|t| t.label.as_str()).collect())
    );
    println!(
        "promoters: {}",
        top(report.promoter_themes().take(5).map(|t| t.label.as_str()).collect())
    );
}

/// One comment of 15 to 25 words, and its category.
fn comment(rng: &mut StdRng, rare: &[String]) -> (Option<NpsCategory>, String) {
    let category = match rng.random_range(0..10) {
        0..=2 => Some(NpsCategory::Detractor),
        3..=4 => Some(NpsCategory::Passive),
        5..=8 => Some(NpsCategory::Promoter),
        _ => None,
    };
    let leaning = match category {
        Some(NpsCategory::Detractor) => 0.8,
        Some(NpsCategory::Promoter) => 0.2,
        _ => 0.5,
    };
    let mut text = String::with_capacity(160);
    for _ in 0..rng.random_range(15..=25) {
        if !text.is_empty() {
            text.push(' ');
        }
        let word = match rng.random_range(0..10) {
            0..=3 => FILLER[rng.random_range(0..FILLER.len())],
            4..=6 if rng.random_bool(leaning) => skewed(rng, &COMPLAINTS),
            4..=6 => skewed(rng, &PRAISE),
            // Cubing a uniform draw makes low indexes common: a long tail of rare words.
            _ => rare[(rng.random::<f64>().powi(3) * rare.len() as f64) as usize].as_str(),
        };
        text.push_str(word);
    }
    (category, text)
}

/// A word from `words`, the first ones more often.
fn skewed<'a>(rng: &mut StdRng, words: &[&'a str]) -> &'a str {
    words[(rng.random::<f64>().powi(2) * words.len() as f64) as usize]
}

/// A word of two to four syllables.
fn made_up_word(rng: &mut StdRng) -> String {
    (0..rng.random_range(2..=4))
        .map(|_| SYLLABLES[rng.random_range(0..SYLLABLES.len())])
        .collect()
}
