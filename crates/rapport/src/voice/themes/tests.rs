//! Themes found in thirty hand-written comments: detractors complain of late delivery and rude
//! support, promoters praise friendly staff and quality. The expected counts were made by
//! reading the comments, and are written beside each assertion.

use super::*;
use NpsCategory::{Detractor as D, Passive as P, Promoter as R};

const FIXTURE: [(i64, Option<NpsCategory>, &str); 30] = [
    (1, Some(D), "The delivery was late again and nobody told me why."),
    (
        2,
        Some(D),
        "Late delivery, the parcel arrived a week after the promised date.",
    ),
    (3, Some(D), "Support was rude when I asked about my late delivery."),
    (4, Some(D), "Rude support agent hung up on me."),
    (5, Some(D), "My order arrived damaged and support was rude."),
    (6, Some(D), "Delivery took three weeks. Unacceptable."),
    (7, Some(D), "Late delivery and no tracking updates."),
    (8, Some(D), "The support team was rude and unhelpful."),
    (9, Some(D), "Deliveries are always late."),
    (
        10,
        Some(D),
        "Waited 14 days for delivery, then support was rude about it.",
    ),
    (11, Some(P), "Decent quality but the delivery was a bit slow."),
    (12, Some(P), "Products are fine, prices a little high."),
    (13, Some(P), "Okay experience overall, staff were friendly enough."),
    (14, Some(P), "Good quality, delivery could be faster."),
    (15, Some(P), "Nothing special, it works."),
    (16, Some(R), "Friendly staff and great quality!"),
    (17, Some(R), "The staff were so friendly and helpful."),
    (18, Some(R), "Excellent quality, will buy again."),
    (19, Some(R), "Friendly staff, quick answers, lovely quality."),
    (20, Some(R), "Great quality products and friendly staff in the shop."),
    (21, Some(R), "Staff always friendly, quality is superb."),
    (22, Some(R), "Love the quality of the fabric."),
    (23, Some(R), "Very friendly staff who remembered my name."),
    (24, Some(R), "Top quality and the delivery was on time."),
    (25, Some(R), "Friendly staff!"),
    (26, None, "Staff were friendly."),
    (27, None, "Delivery late."),
    (28, Some(D), "Where is my parcel?"),
    (29, Some(D), "I want my money back."),
    (30, Some(R), "Wonderful shop, wonderful people."),
];

fn comments() -> Vec<Comment<'static>> {
    FIXTURE
        .iter()
        .map(|&(id, category, text)| Comment { id, text, category })
        .collect()
}

fn themes(rules: &ThemeRules) -> ThemeReport {
    find_themes(&comments(), rules, &ThemeOptions::default()).unwrap()
}

fn labels<'a>(themes: impl Iterator<Item = &'a Theme>, how_many: usize) -> Vec<&'a str> {
    let mut labels: Vec<&str> = themes.take(how_many).map(|theme| theme.label.as_str()).collect();
    labels.sort_unstable();
    labels
}

fn counts(detractors: u32, passives: u32, promoters: u32, uncategorised: u32) -> CategoryCounts {
    CategoryCounts {
        detractors,
        passives,
        promoters,
        uncategorised,
    }
}

fn quoted(theme: &Theme) -> Vec<i64> {
    theme.quotes.iter().map(|quote| quote.comment).collect()
}

fn delivery_rules(tags: &[(i64, &str)]) -> ThemeRules {
    ThemeRules {
        named: vec![
            NamedTheme {
                name: "Delivery".to_owned(),
                terms: vec!["late".to_owned(), "delivery".to_owned(), "shipping".to_owned()],
            },
            NamedTheme {
                name: "Refunds".to_owned(),
                terms: vec![],
            },
        ],
        tags: tags
            .iter()
            .map(|&(comment, theme)| ManualTag {
                comment,
                theme: theme.to_owned(),
            })
            .collect(),
    }
}

#[test]
fn detractors_most_mention_late_delivery_and_rude_support() {
    let report = themes(&ThemeRules::default());
    let top = labels(report.detractor_themes(), 5);
    assert_eq!(top, ["delivery", "late", "late delivery", "rude", "support"]);
    let delivery = report.theme("delivery").unwrap();
    assert_eq!(
        (delivery.kind, delivery.terms.as_slice()),
        (ThemeKind::Word, ["deliveri".to_owned()].as_slice())
    );
    // Thirty comments are little evidence, and the corpus-wide prior weighs as much as they do:
    // the z-scores rank the themes without reaching 1.96.
    assert!(delivery.z > 0.0, "{}", delivery.z);
}

#[test]
fn promoters_most_mention_friendly_staff_and_quality() {
    let report = themes(&ThemeRules::default());
    let top = labels(report.promoter_themes(), 4);
    assert_eq!(top, ["friendly", "friendly staff", "quality", "staff"]);
    let friendly = report.theme("friendly").unwrap();
    assert_eq!(friendly.terms, ["friend"]);
    assert!(friendly.z < 0.0, "{}", friendly.z);
    assert_eq!(report.theme("friendly staff").unwrap().terms, ["friend staff"]);
}

#[test]
fn a_themes_counts_and_nps_match_a_hand_count() {
    let report = themes(&ThemeRules::default());
    // "delivery" or "deliveries": detractors 1, 2, 3, 6, 7, 9, 10; passives 11, 14; promoter 24;
    // uncategorised 27. NPS of the ten categorised: (1 - 7) / 10 = -60.
    let delivery = report.theme("delivery").unwrap();
    assert_eq!(delivery.count, 11);
    assert_eq!(delivery.by_category, counts(7, 2, 1, 1));
    assert_eq!(delivery.nps, Some(-60.0));
    // "quality": passives 11, 14; promoters 16, 18, 19, 20, 21, 22, 24. NPS (7 - 0) / 9.
    let quality = report.theme("quality").unwrap();
    assert_eq!(quality.by_category, counts(0, 2, 7, 0));
    assert!((quality.nps.unwrap() - 700.0 / 9.0).abs() < 1e-9);
    // "late delivery" in that order, with nothing but a space between: 2, 3 and 7.
    assert_eq!(report.theme("late delivery").unwrap().by_category, counts(3, 0, 0, 0));
    assert_eq!(report.comments, counts(12, 5, 11, 2));
}

#[test]
fn quotes_are_the_shortest_comments_mentioning_the_theme() {
    let report = themes(&ThemeRules::default());
    // "rude": 4 (33 characters), 8 (40), 5 (46), 3 (53), 10 (60).
    let rude = report.theme("rude").unwrap();
    assert_eq!(quoted(rude), [4, 8, 5]);
    assert_eq!(rude.quotes[0].text, "Rude support agent hung up on me.");
}

#[test]
fn stop_words_numbers_and_rare_words_make_no_theme() {
    let report = themes(&ThemeRules::default());
    for dropped in ["the", "was", "and", "my", "14", "parcel", "wonderful"] {
        assert!(report.theme(dropped).is_none(), "{dropped} is a theme");
    }
}

#[test]
fn min_count_is_a_parameter() {
    let options = ThemeOptions {
        min_count: 10,
        ..ThemeOptions::default()
    };
    let report = find_themes(&comments(), &ThemeRules::default(), &options).unwrap();
    assert_eq!(labels(report.themes.iter(), 10), ["delivery"]);
}

#[test]
fn a_named_theme_merges_its_terms_and_replaces_their_themes() {
    let report = themes(&delivery_rules(&[]));
    // "late" or "delivery": the eleven "delivery" comments ("late" adds none). "Shipping" is
    // never written, and the phrase "late delivery" is a term of its own, so it stays.
    let delivery = report.theme("Delivery").unwrap();
    assert_eq!(delivery.kind, ThemeKind::Named);
    assert_eq!(delivery.terms, ["late", "deliveri", "ship"]);
    assert_eq!(delivery.by_category, counts(7, 2, 1, 1));
    assert!(report.theme("delivery").is_none() && report.theme("late").is_none());
    assert!(report.theme("late delivery").is_some());
}

#[test]
fn manual_tags_add_comments_to_a_named_theme_once() {
    // 28 has none of the words; 1 already says "delivery" and counts once.
    let report = themes(&delivery_rules(&[(28, "Delivery"), (1, "delivery"), (29, "Refunds")]));
    let delivery = report.theme("Delivery").unwrap();
    assert_eq!(delivery.count, 12);
    assert_eq!(delivery.by_category, counts(8, 2, 1, 1));
    // NPS of the eleven categorised: (1 - 8) / 11.
    assert!((delivery.nps.unwrap() + 700.0 / 11.0).abs() < 1e-9);
    // The shortest: 27 "Delivery late." (14), 28 "Where is my parcel?" (19), 9 (27).
    assert_eq!(quoted(delivery), [27, 28, 9]);
    let refunds = report.theme("Refunds").unwrap();
    assert_eq!(
        (refunds.count, refunds.nps, quoted(refunds)),
        (1, Some(-100.0), vec![29])
    );
}

#[test]
fn a_named_theme_nobody_mentions_is_still_shown() {
    let report = themes(&delivery_rules(&[]));
    let refunds = report.theme("Refunds").unwrap();
    assert_eq!((refunds.count, refunds.nps, refunds.z), (0, None, 0.0));
}

#[test]
fn the_same_comments_give_the_same_report() {
    let rules = delivery_rules(&[(28, "Delivery")]);
    assert_eq!(themes(&rules), themes(&rules));
}

#[test]
fn an_unsupported_language_is_refused_and_every_supported_one_stems_its_words() {
    let error = "xx".parse::<Language>().unwrap_err();
    assert_eq!(
        error.to_string(),
        "language \"xx\" is not supported for themes; supported: ar, da, nl, en, fi, fr, de, el, hu, it, no, pt, ro, ru, \
         es, sv, ta, tr"
    );
    assert_eq!("DE".parse::<Language>(), Ok(Language::German));
    // Each language's stop words are dropped and its plural stemmed to one theme.
    for (code, text) in [
        ("fr", "La livraison était lente. Livraisons lentes."),
        ("de", "Die Lieferung war langsam. Lieferungen langsam."),
        ("es", "La entrega fue lenta. Entregas lentas."),
    ] {
        let options = ThemeOptions {
            language: code.parse().unwrap(),
            min_count: 1,
        };
        let comments = [Comment {
            id: 1,
            text,
            category: Some(NpsCategory::Detractor),
        }];
        let report = find_themes(&comments, &ThemeRules::default(), &options).unwrap();
        let labels: Vec<&str> = report.themes.iter().map(|t| t.label.as_str()).collect();
        assert!(
            !labels.iter().any(|l| ["la", "die", "war", "fue"].contains(l)),
            "{code}: stop words kept: {labels:?}"
        );
        assert!(labels.len() <= 4, "{code}: plurals are one stem: {labels:?}");
    }
}

#[test]
fn no_comments_give_no_themes() {
    let report = find_themes(&[], &ThemeRules::default(), &ThemeOptions::default()).unwrap();
    assert!(report.themes.is_empty());
    assert_eq!(report.comments.total(), 0);
}
