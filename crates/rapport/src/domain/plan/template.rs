//! Templates of plan actions: text with placeholders filled from what Rapport knows of a
//! customer, checked when a plan is read, rendered for staff, for a customer's text or for HTML.

use serde::{Deserialize, Serialize};

use super::CareContext;
use crate::domain::state::format_day;

/// Text with `{placeholder}`s filled from a customer's profile, figures and scores; `{{` and `}}`
/// write a brace. Checked when a plan is read, so an unknown name never reaches a customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Template {
    text: String,
}

/// The placeholders a template may use, with what each writes.
pub const PLACEHOLDERS: [(&str, &str); 12] = [
    ("first_name", "the first word of the name, or the customer's id"),
    ("name", "the full name, or the customer's id"),
    ("customer", "the business's id of the customer"),
    ("email", "the e-mail address, or nothing"),
    ("stage", "the stage: suspect, prospect, customer, client or partner"),
    ("orders", "how many purchases"),
    ("total_spent", "everything bought, in the currency's units"),
    ("first_purchase", "the day of the first purchase"),
    ("last_purchase", "the day of the last purchase"),
    ("days_since_purchase", "whole days since the last purchase"),
    ("p_alive", "P(alive) as a percentage, or 'not scored'"),
    ("plan", "the plan's name"),
];

/// Placeholders that speak of the customer as the business sees them: fine on a staff task,
/// never in a message to the customer.
pub const STAFF_ONLY: [&str; 3] = ["stage", "p_alive", "plan"];

/// A template's pieces: literal text, or a placeholder's name with the text written when the
/// customer lacks it (`{first_name|there}`).
enum Piece<'a> {
    Text(&'a str),
    Field(&'a str, Option<&'a str>),
}

/// Who reads a rendered template: staff see ids where a name is missing, customers the
/// placeholder's default (or nothing), and in HTML every filled value is escaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    /// A task's title on the agenda.
    Staff,
    /// An e-mail's subject or text part.
    CustomerText,
    /// An e-mail's HTML part.
    CustomerHtml,
}

fn pieces(text: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(['{', '}']) {
        out.push(Piece::Text(&rest[..at]));
        let brace = &rest[at..];
        if let Some(after) = brace.strip_prefix("{{") {
            out.push(Piece::Text("{"));
            rest = after;
        } else if let Some(after) = brace.strip_prefix("}}") {
            out.push(Piece::Text("}"));
            rest = after;
        } else if brace.starts_with('}') {
            return Err("a '}' without its '{' (write '}}' for a brace)".into());
        } else {
            let end = brace
                .find('}')
                .ok_or_else(|| "a '{' that is never closed (write '{{' for a brace)".to_owned())?;
            let inside = &brace[1..end];
            let (name, default) = match inside.split_once('|') {
                Some((name, default)) => (name.trim(), Some(default)),
                None => (inside.trim(), None),
            };
            if !PLACEHOLDERS.iter().any(|(known, _)| *known == name) {
                let known: Vec<&str> = PLACEHOLDERS.iter().map(|(n, _)| *n).collect();
                return Err(format!(
                    "unknown placeholder {{{name}}}: use one of {}",
                    known.join(", ")
                ));
            }
            out.push(Piece::Field(name, default));
            rest = &brace[end + 1..];
        }
    }
    out.push(Piece::Text(rest));
    Ok(out)
}

impl Template {
    /// Checks the placeholders; the error names the first that is wrong.
    pub fn parse(text: &str) -> Result<Self, String> {
        pieces(text)?;
        Ok(Self { text: text.to_owned() })
    }

    /// The text as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The text with every placeholder filled for this customer, as staff read it.
    pub fn render(&self, customer: &CareContext, plan: &str, now: i64) -> String {
        self.render_for(Reader::Staff, customer, plan, now)
    }

    /// The text with every placeholder filled for this customer, for `reader`.
    pub fn render_for(&self, reader: Reader, customer: &CareContext, plan: &str, now: i64) -> String {
        let mut out = String::with_capacity(self.text.len() + 32);
        for piece in pieces(&self.text).expect("checked when parsed") {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Field(name, default) => {
                    let value = match (reader, customer_value(name, customer)) {
                        (Reader::Staff, _) => field(name, customer, plan, now),
                        (_, Some(Some(value))) => value,
                        (_, Some(None)) => default.unwrap_or_default().to_owned(),
                        (_, None) => field(name, customer, plan, now),
                    };
                    if reader == Reader::CustomerHtml {
                        escape_html_into(&mut out, &value);
                    } else {
                        out.push_str(&value);
                    }
                }
            }
        }
        out
    }

    /// `Ok` when the template may be sent to customers: no staff-only placeholder.
    pub fn check_for_customers(&self) -> Result<(), String> {
        for piece in pieces(&self.text).expect("checked when parsed") {
            if let Piece::Field(name, _) = piece
                && STAFF_ONLY.contains(&name)
            {
                return Err(format!(
                    "{{{name}}} is for staff, not for a message to the customer (staff-only: {})",
                    STAFF_ONLY.join(", ")
                ));
            }
        }
        Ok(())
    }
}

/// The profile fields a customer may lack, as a message to them fills them: `Some(None)` when
/// missing (the placeholder's default is written), `None` for a field that is never missing.
fn customer_value(name: &str, customer: &CareContext) -> Option<Option<String>> {
    let first = |n: &String| n.split_whitespace().next().map(str::to_owned);
    match name {
        "first_name" => Some(customer.name.as_ref().and_then(first)),
        "name" => Some(customer.name.clone().filter(|n| !n.trim().is_empty())),
        "email" => Some(customer.email.clone()),
        _ => None,
    }
}

/// Writes `text` into HTML, its markup characters escaped.
pub fn escape_html_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

fn field(name: &str, customer: &CareContext, plan: &str, now: i64) -> String {
    let state = &customer.state;
    let day = |at: Option<i64>| at.map_or_else(|| "never".to_owned(), |at| format_day(at.div_euclid(86_400)));
    match name {
        "first_name" => customer
            .name
            .as_deref()
            .and_then(|n| n.split_whitespace().next())
            .unwrap_or(&customer.external_id)
            .to_owned(),
        "name" => customer.name.clone().unwrap_or_else(|| customer.external_id.clone()),
        "customer" => customer.external_id.clone(),
        "email" => customer.email.clone().unwrap_or_default(),
        "stage" => state.stage.map_or_else(|| "no stage yet".to_owned(), |s| s.to_string()),
        "orders" => state.purchase_count.to_string(),
        "total_spent" => format!("{:.2}", state.total_spend_cents as f64 / 100.0),
        "first_purchase" => day(state.first_purchase_at),
        "last_purchase" => day(state.last_purchase_at),
        "days_since_purchase" => state.last_purchase_at.map_or_else(
            || "no purchase yet".to_owned(),
            |at| ((now - at).max(0) / 86_400).to_string(),
        ),
        "p_alive" => customer
            .score
            .map_or_else(|| "not scored".to_owned(), |s| format!("{:.0}%", s.p_alive * 100.0)),
        "plan" => plan.to_owned(),
        _ => unreachable!("placeholders are checked when a template is parsed"),
    }
}

impl TryFrom<String> for Template {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        Template::parse(&text)
    }
}

impl From<Template> for String {
    fn from(template: Template) -> String {
        template.text
    }
}
