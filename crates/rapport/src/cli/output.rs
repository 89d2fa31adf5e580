//! Printing for people and for programs (`--json`), quiet on a closed pipe.

use std::io::{IsTerminal, Write};

use serde::Serialize;
use unicode_width::UnicodeWidthStr as _;

/// Where command output goes.
#[derive(Debug, Clone, Copy)]
pub struct Output;

impl Output {
    /// Standard output.
    pub fn stdout() -> Self {
        Output
    }

    /// Prints one line, control characters escaped: stored text never drives the terminal.
    pub fn line(&self, text: &str) -> anyhow::Result<()> {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{}", rapport::domain::rules::printable(text))?;
        Ok(())
    }

    /// Prints a value as one pretty JSON document, its times (`*_at`) in ISO 8601.
    pub fn json<T: Serialize>(&self, value: &T) -> anyhow::Result<()> {
        let mut value = serde_json::to_value(value)?;
        iso_times(&mut value);
        let mut stdout = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut stdout, &value)?;
        writeln!(stdout)?;
        Ok(())
    }
}

/// A progress bar on standard error when it is a terminal, else nothing.
pub fn progress_bar(total_bytes: u64) -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(total_bytes);
    let style = indicatif::ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    bar.set_style(style);
    Some(bar)
}

/// Whether standard error may be coloured: it is a terminal and `NO_COLOR` is unset or empty
/// (<https://no-color.org>). A log redirected to a file gets no escape codes.
pub fn colour_on_stderr() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Whether an error is a write to a pipe whose reader has gone (`rapport ... | head`).
pub fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || cause.downcast_ref::<csv::Error>().is_some_and(|e| match e.kind() {
                csv::ErrorKind::Io(io) => io.kind() == std::io::ErrorKind::BrokenPipe,
                _ => false,
            })
            || cause
                .downcast_ref::<serde_json::Error>()
                .and_then(|e| e.io_error_kind())
                == Some(std::io::ErrorKind::BrokenPipe)
    })
}

/// A Unix time as `YYYY-MM-DD HH:MM` (UTC), or the date alone at midnight.
pub fn time(unix: i64) -> String {
    match chrono::DateTime::from_timestamp(unix, 0) {
        Some(t) if t.timestamp() % 86_400 == 0 => t.format("%Y-%m-%d").to_string(),
        Some(t) => t.format("%Y-%m-%d %H:%M").to_string(),
        None => unix.to_string(),
    }
}

/// An optional Unix time, `-` when absent.
pub fn opt_time(unix: Option<i64>) -> String {
    unix.map_or_else(|| "-".to_owned(), time)
}

/// A count and its noun, singular for one: `1 customer`, `2 customers`. Every count a person reads
/// goes through this, so no summary says "1 customers".
pub fn count(n: impl Into<u64>, noun: &str) -> String {
    match n.into() {
        1 => format!("1 {noun}"),
        n => format!("{n} {noun}s"),
    }
}

/// A Unix time as ISO 8601 UTC to the second, `2024-03-05T14:22:10Z`: how `--json` writes times.
pub fn iso_time(unix: i64) -> Option<String> {
    chrono::DateTime::from_timestamp(unix, 0).map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// A Unix time's UTC calendar day in ISO 8601, `2024-03-05`.
pub fn iso_date(unix: i64) -> Option<String> {
    chrono::DateTime::from_timestamp(unix, 0).map(|t| t.format("%Y-%m-%d").to_string())
}

/// Rewrites every field named `*_at` that holds a number as an ISO 8601 string, at any depth.
///
/// The library keeps times as Unix seconds in fields named `*_at` (ARCHITECTURE.md), while the
/// command line's JSON is read by people as much as by programs, and `"2024-03-05T14:22:10Z"`
/// needs no conversion to read. Every `--json` document passes here, so one rule covers every
/// command, present and future, without a second view of each report.
fn iso_times(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(fields) => {
            for (name, field) in fields.iter_mut() {
                match field.as_i64().filter(|_| name.ends_with("_at")).and_then(iso_time) {
                    Some(iso) => *field = iso.into(),
                    None => iso_times(field),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(iso_times),
        _ => {}
    }
}

/// How a table column lines up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// Text: padded on the right.
    Left,
    /// Numbers: padded on the left, so digits line up.
    Right,
}

/// A table for the terminal whose columns are as wide as their widest cell: a long id widens its
/// column instead of pushing the rest of its row out of line.
#[derive(Debug)]
pub struct Table {
    columns: Vec<(&'static str, Align)>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these headings.
    pub fn new(columns: &[(&'static str, Align)]) -> Self {
        Self {
            columns: columns.to_vec(),
            rows: Vec::new(),
        }
    }

    /// Adds a row. Its cells are escaped here, so the widths are those of what is printed.
    pub fn row(&mut self, cells: impl IntoIterator<Item = String>) {
        self.rows.push(cells.into_iter().map(|cell| escaped(&cell)).collect());
    }

    /// Prints the headings and the rows, columns two spaces apart, no blanks at the ends of lines.
    pub fn print(&self, out: Output) -> anyhow::Result<()> {
        let heading: Vec<String> = self.columns.iter().map(|(name, _)| (*name).to_owned()).collect();
        let widths: Vec<usize> = (0..self.columns.len())
            .map(|i| {
                std::iter::once(&heading)
                    .chain(&self.rows)
                    .map(|row| row.get(i).map_or(0, |cell| cell.width()))
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        for row in std::iter::once(&heading).chain(&self.rows) {
            out.line(&self.format(row, &widths))?;
        }
        Ok(())
    }

    fn format(&self, row: &[String], widths: &[usize]) -> String {
        let mut line = String::new();
        for (i, ((_, align), width)) in self.columns.iter().zip(widths).enumerate() {
            let cell = row.get(i).map_or("", String::as_str);
            let pad = " ".repeat(width.saturating_sub(cell.width()));
            if i > 0 {
                line.push_str("  ");
            }
            let (left, right) = match align {
                Align::Left => (cell, pad.as_str()),
                Align::Right => (pad.as_str(), cell),
            };
            line.push_str(left);
            line.push_str(right);
        }
        line.truncate(line.trim_end().len());
        line
    }
}

/// Text cut to `max` characters, the last of them an ellipsis, when it is longer.
pub fn shortened(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut short: String = text.chars().take(max.saturating_sub(1)).collect();
    short.push('…');
    short
}

/// Every control character escaped, line breaks and tabs too: a cell stays on its line.
fn escaped(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_pads_each_column_to_its_widest_cell_and_escapes_line_breaks() {
        let mut table = Table::new(&[("ID", Align::Left), ("N", Align::Right), ("NAME", Align::Left)]);
        table.row(["a".to_owned(), "1".to_owned(), "Ann".to_owned()]);
        table.row(["abcdef".to_owned(), "100".to_owned(), "Bo\nb".to_owned()]);
        let widths = [6, 3, 4];
        assert_eq!(table.format(&table.rows[0], &widths), "a         1  Ann");
        assert_eq!(table.format(&table.rows[1], &widths), "abcdef  100  Bo\\u{a}b");
    }

    #[test]
    fn a_long_text_is_shortened_with_an_ellipsis() {
        assert_eq!(shortened("abcdef", 4), "abc…");
        assert_eq!(shortened("abcd", 4), "abcd");
    }

    #[test]
    fn json_times_become_iso_8601_at_any_depth_and_other_numbers_stay_numbers() {
        let mut value = serde_json::json!({
            "created_at": 1_709_648_530,
            "revoked_at": null,
            "rows": 3,
            "state": {"last_purchase_at": 86_400, "purchase_count": 2},
            "timeline": [{"occurred_at": 0}],
        });
        iso_times(&mut value);
        assert_eq!(value["created_at"], "2024-03-05T14:22:10Z");
        assert_eq!(value["revoked_at"], serde_json::Value::Null);
        assert_eq!(value["rows"], 3);
        assert_eq!(value["state"]["last_purchase_at"], "1970-01-02T00:00:00Z");
        assert_eq!(value["state"]["purchase_count"], 2);
        assert_eq!(value["timeline"][0]["occurred_at"], "1970-01-01T00:00:00Z");
    }

    #[test]
    fn counts_say_one_in_the_singular_and_everything_else_in_the_plural() {
        assert_eq!(count(1u64, "customer"), "1 customer");
        assert_eq!(count(0u64, "customer"), "0 customers");
        assert_eq!(count(2u32, "stage change"), "2 stage changes");
    }
}

/// The business's currency: totals and lifetime values are shown in it (each purchase shows its
/// own). One setting (`business.currency`) for `serve` and the commands that print amounts.
#[derive(Debug, Clone, clap::Args)]
pub struct BusinessCurrency {
    /// The business's currency (three letters) [setting business.currency, RAPPORT_CURRENCY;
    /// default USD]: totals and lifetime values are shown in it; each purchase shows its own.
    #[arg(long)]
    pub currency: Option<String>,
}
