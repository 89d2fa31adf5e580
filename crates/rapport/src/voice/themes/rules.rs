//! Staff rules: named themes that merge terms ("late", "delivery", "shipping" are "Delivery"),
//! and manual tags that put a comment in a named theme whatever its words. Terms are written as
//! words and go through the comments' own pipeline, so "Shipping" matches "shipped".

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::ThemeError;
use super::words::{PhraseId, StemId, Words};

/// What staff decided about themes, kept as data so it applies to comments yet to come.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThemeRules {
    /// Themes that merge several terms; each replaces the automatic themes of its terms.
    #[serde(default)]
    pub named: Vec<NamedTheme>,
    /// Comments put in a named theme by hand.
    #[serde(default)]
    pub tags: Vec<ManualTag>,
}

/// A theme named by staff, covering every comment that mentions any of its terms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedTheme {
    /// What it is called ("Delivery"); unique, ignoring case.
    pub name: String,
    /// Words or two-word phrases it covers ("late", "shipping", "late delivery"); may be empty
    /// for a theme filled by tags alone.
    #[serde(default)]
    pub terms: Vec<String>,
}

/// A comment put in a named theme by hand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManualTag {
    /// The comment's id; a tag for a comment not analysed is ignored.
    pub comment: i64,
    /// The named theme's name, ignoring case.
    pub theme: String,
}

/// A named theme's index among the rules.
pub(super) type NamedId = u32;

/// Rules checked and turned into stem and phrase ids. The terms' stems and phrases are given
/// ids before any comment is read, so theirs are the lowest and a comment's stem can be checked
/// against the rules by indexing a short vector, without hashing.
pub(super) struct CompiledRules {
    /// Each named theme's name and its terms' stems as shown.
    pub(super) named: Vec<(String, Vec<String>)>,
    by_stem: Vec<Vec<NamedId>>,
    by_phrase: Vec<Vec<NamedId>>,
    tags: HashMap<i64, Vec<NamedId>>,
}

/// A term as counted: one stem, or two adjacent.
enum Term {
    Stem(StemId),
    Phrase(PhraseId),
}

impl ThemeRules {
    /// Checks the rules and gives their terms ids in `words`.
    pub(super) fn compile(&self, words: &mut Words) -> Result<CompiledRules, ThemeError> {
        let ids = self.named_ids()?;
        let mut compiled = CompiledRules {
            named: Vec::with_capacity(self.named.len()),
            by_stem: Vec::new(),
            by_phrase: Vec::new(),
            tags: HashMap::new(),
        };
        for (id, theme) in self.named.iter().enumerate() {
            let mut shown = Vec::with_capacity(theme.terms.len());
            for term in &theme.terms {
                let (key, text) = parse_term(words, &theme.name, term)?;
                let list = match key {
                    Term::Stem(stem) => slot(&mut compiled.by_stem, stem),
                    Term::Phrase(phrase) => slot(&mut compiled.by_phrase, phrase),
                };
                if !list.contains(&(id as NamedId)) {
                    list.push(id as NamedId);
                }
                shown.push(text);
            }
            compiled.named.push((theme.name.clone(), shown));
        }
        for tag in &self.tags {
            let Some(&id) = ids.get(&tag.theme.to_lowercase()) else {
                return Err(ThemeError::UnknownTag {
                    comment: tag.comment,
                    theme: tag.theme.clone(),
                });
            };
            compiled.tags.entry(tag.comment).or_default().push(id);
        }
        // A term is not something a customer wrote: its spellings must not sway the labels.
        words.forget_written();
        Ok(compiled)
    }

    /// Each named theme's lower-cased name with its index, refusing empty and repeated names.
    fn named_ids(&self) -> Result<HashMap<String, NamedId>, ThemeError> {
        let mut ids = HashMap::with_capacity(self.named.len());
        for (id, theme) in self.named.iter().enumerate() {
            if theme.name.trim().is_empty() {
                return Err(ThemeError::EmptyName);
            }
            if ids.insert(theme.name.to_lowercase(), id as NamedId).is_some() {
                return Err(ThemeError::DuplicateName {
                    name: theme.name.clone(),
                });
            }
        }
        Ok(ids)
    }
}

impl CompiledRules {
    /// The named themes a stem belongs to.
    pub(super) fn of_stem(&self, stem: StemId) -> &[NamedId] {
        self.by_stem.get(stem as usize).map_or(&[], Vec::as_slice)
    }

    /// The named themes a phrase belongs to.
    pub(super) fn of_phrase(&self, phrase: PhraseId) -> &[NamedId] {
        self.by_phrase.get(phrase as usize).map_or(&[], Vec::as_slice)
    }

    /// The named themes a comment is tagged with.
    pub(super) fn of_comment(&self, comment: i64) -> &[NamedId] {
        if self.tags.is_empty() {
            return &[];
        }
        self.tags.get(&comment).map_or(&[], Vec::as_slice)
    }
}

/// The list at `index`, the vector grown to hold it.
fn slot(lists: &mut Vec<Vec<NamedId>>, index: u32) -> &mut Vec<NamedId> {
    let index = index as usize;
    if lists.len() <= index {
        lists.resize_with(index + 1, Vec::new);
    }
    &mut lists[index]
}

/// A term's id and its stems as shown, or why it cannot be a term.
fn parse_term(words: &mut Words, theme: &str, term: &str) -> Result<(Term, String), ThemeError> {
    let mut seen = Vec::new();
    words.walk(term, |stem, phrase| seen.push((stem, phrase)));
    let problem = |long: bool| {
        let (theme, term) = (theme.to_owned(), term.to_owned());
        if long {
            ThemeError::LongTerm { theme, term }
        } else {
            ThemeError::EmptyTerm { theme, term }
        }
    };
    match seen.as_slice() {
        [] => Err(problem(false)),
        &[(stem, _)] => Ok((Term::Stem(stem), words.stem_text(stem).to_owned())),
        &[_, (_, Some(phrase))] => Ok((Term::Phrase(phrase), words.phrase_text(phrase))),
        _ => Err(problem(true)),
    }
}

#[cfg(test)]
mod tests {
    use super::super::Language;
    use super::*;

    fn named(name: &str, terms: &[&str]) -> NamedTheme {
        NamedTheme {
            name: name.to_owned(),
            terms: terms.iter().map(|term| (*term).to_owned()).collect(),
        }
    }

    fn compile(rules: ThemeRules) -> Result<CompiledRules, ThemeError> {
        rules.compile(&mut Words::new(Language::English))
    }

    #[test]
    fn terms_are_stemmed_like_comments() {
        let compiled = compile(ThemeRules {
            named: vec![named("Delivery", &["Shipping", "late delivery"])],
            tags: vec![],
        })
        .unwrap();
        assert_eq!(compiled.named[0].1, ["ship", "late deliveri"]);
    }

    #[test]
    fn bad_rules_are_refused_by_name() {
        let refuse = |rules| compile(rules).err().map(|error| error.to_string());
        let one = |theme| ThemeRules {
            named: vec![theme],
            tags: vec![],
        };
        assert_eq!(
            refuse(one(named("Delivery", &["the"]))).unwrap(),
            "term \"the\" of theme \"Delivery\" has no word left once stop words, numbers and single letters are dropped"
        );
        assert_eq!(
            refuse(one(named("Delivery", &["very late delivery van"]))).unwrap(),
            "term \"very late delivery van\" of theme \"Delivery\" is not one word or two adjacent words"
        );
        assert_eq!(refuse(one(named(" ", &[]))).unwrap(), "a named theme has an empty name");
        let twice = ThemeRules {
            named: vec![named("Delivery", &[]), named("delivery", &[])],
            tags: vec![],
        };
        assert_eq!(refuse(twice).unwrap(), "two named themes are called \"delivery\"");
        let stray = ThemeRules {
            named: vec![],
            tags: vec![ManualTag {
                comment: 7,
                theme: "Billing".to_owned(),
            }],
        };
        assert_eq!(
            refuse(stray).unwrap(),
            "comment 7 is tagged \"Billing\", which is not a named theme"
        );
    }

    #[test]
    fn rules_read_from_json_as_staff_write_them() {
        let json =
            r#"{"named": [{"name": "Delivery", "terms": ["late"]}], "tags": [{"comment": 3, "theme": "delivery"}]}"#;
        let rules: ThemeRules = serde_json::from_str(json).unwrap();
        let compiled = compile(rules).unwrap();
        assert_eq!(compiled.of_comment(3), [0]);
        assert!(compiled.of_comment(4).is_empty());
    }
}
