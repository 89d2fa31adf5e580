//! Interviews: the conversations staff hold to learn about a customer (what they need, what they
//! want beyond it, what worries them), checked by the input rules every entry point shares and
//! stored as an event on the customer's timeline, found again by text or tag.

use std::sync::Arc;

use crate::domain::rules::{self, Lines};
use crate::domain::{EventKind, ExternalId, NewEvent};
use crate::ingest::Ingest;
use crate::store::{Store, StoreError, StoreResult};

/// The longest of an interview's texts, in characters.
pub const MAX_TEXT: usize = 4_000;
/// The most tags an interview carries.
pub const MAX_TAGS: usize = 12;
/// The longest tag, in characters.
pub const MAX_TAG: usize = 40;

/// An interview as typed, before it is checked.
#[derive(Debug, Clone, Default)]
pub struct InterviewInput {
    /// What the customer needs.
    pub needs: Option<String>,
    /// What they would like beyond it.
    pub desires: Option<String>,
    /// What worries them.
    pub fears: Option<String>,
    /// Anything else.
    pub notes: Option<String>,
    /// Tags, each a word or a few.
    pub tags: Vec<String>,
    /// Who held it.
    pub by: String,
}

impl InterviewInput {
    /// The interview event, or what is wrong with the input, naming the field: every text
    /// within its length and free of control characters, at least one of them given, tags one
    /// line each (kept in lower case, each once).
    pub fn check(self) -> Result<EventKind, String> {
        let text = |field: &str, value: Option<String>| {
            rules::text(field, value.as_deref().unwrap_or(""), MAX_TEXT, Lines::Many).map_err(|e| e.0)
        };
        let needs = text("needs", self.needs)?;
        let desires = text("desires", self.desires)?;
        let fears = text("fears", self.fears)?;
        let notes = text("notes", self.notes)?;
        if needs.is_none() && desires.is_none() && fears.is_none() && notes.is_none() {
            return Err("an interview needs at least one of needs, desires, fears or notes".to_owned());
        }
        // Blank tags are dropped below, so they do not count: a form's trailing comma splits off
        // an empty one.
        let given = self.tags.iter().filter(|t| !t.trim().is_empty()).count();
        if given > MAX_TAGS {
            return Err(format!("an interview has at most {MAX_TAGS} tags, not {given}"));
        }
        let mut tags = Vec::with_capacity(self.tags.len());
        for tag in &self.tags {
            if let Some(tag) = rules::text("tag", tag, MAX_TAG, Lines::One).map_err(|e| e.0)? {
                let tag = tag.to_lowercase();
                if !tags.contains(&tag) {
                    tags.push(tag);
                }
            }
        }
        let by = rules::text("by", &self.by, 200, Lines::One)
            .map_err(|e| e.0)?
            .ok_or("say who held the interview")?;
        Ok(EventKind::Interview {
            needs,
            desires,
            fears,
            notes,
            tags,
            by,
        })
    }
}

/// Logs an interview with an existing customer at `at` (`NotFound` for an unknown one); `key`
/// makes a repeat store nothing (the CLI and the dashboard's form each make one).
pub async fn log_interview(
    store: &Arc<dyn Store>,
    customer: &ExternalId,
    interview: EventKind,
    key: String,
    at: i64,
) -> StoreResult<()> {
    if store.customer(customer).await?.is_none() {
        return Err(StoreError::NotFound(format!("there is no customer '{customer}'")));
    }
    let mut ingest = Ingest::begin(store, "an interview").await?;
    ingest
        .push(
            customer,
            NewEvent {
                key,
                occurred_at: at,
                kind: interview,
            },
        )
        .await?;
    ingest.finish().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interview_needs_one_text_and_tags_are_kept_once_in_lower_case() {
        let empty = InterviewInput {
            by: "ana".into(),
            ..InterviewInput::default()
        };
        assert!(empty.check().unwrap_err().contains("at least one of needs"));
        let kind = InterviewInput {
            needs: Some(" a bike for commuting ".into()),
            tags: vec!["Commute".into(), "commute".into(), " ".into()],
            by: "ana".into(),
            ..InterviewInput::default()
        }
        .check()
        .unwrap();
        let EventKind::Interview { needs, tags, .. } = kind else {
            panic!("an interview")
        };
        assert_eq!(
            (needs.as_deref(), tags),
            (Some("a bike for commuting"), vec!["commute".to_owned()])
        );
        let control = InterviewInput {
            fears: Some("a\u{7}b".into()),
            by: "ana".into(),
            ..InterviewInput::default()
        };
        assert!(control.check().unwrap_err().starts_with("fears"), "the field is named");
        let long_tag = InterviewInput {
            notes: Some("n".into()),
            tags: vec!["x".repeat(MAX_TAG + 1)],
            by: "ana".into(),
            ..InterviewInput::default()
        };
        assert!(long_tag.check().unwrap_err().starts_with("tag"));
    }
}
