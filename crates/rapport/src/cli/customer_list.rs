//! `rapport customers list`: a table for people, CSV for spreadsheets, JSON for programs.

use std::io::IsTerminal;
use std::sync::Arc;

use clap::{Args, ValueEnum};
use rapport::domain::{Money, Stage};
use rapport::radar::analysis::ScoreRow;
use rapport::store::{Cursor, CustomerListItem, CustomerQuery, CustomerRecord, CustomerSort, Store};
use serde::Serialize;

use super::Output;
use super::output::{Align, Table, count, iso_date, opt_time, shortened};

/// How many customers the table and JSON show when `--limit` is not given.
const DEFAULT_LIMIT: u32 = 50;

/// Customers read per query while CSV streams out: memory stays flat however many there are.
const CSV_PAGE: u32 = 1_000;

/// A name longer than this is shortened in the table, so one long name cannot widen it past a
/// terminal.
const NAME_WIDTH: usize = 40;

/// The CSV columns, in the order `csv_record` writes them.
const CSV_HEADER: [&str; 12] = [
    "id",
    "name",
    "email",
    "phone",
    "stage",
    "purchases",
    "total_spend",
    "first_purchase",
    "last_purchase",
    "p_alive",
    "clv_12m",
    "segment",
];

/// How the list is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns and a count, for reading.
    Table,
    /// One row per customer with scores, for spreadsheets and scripts; every customer unless --limit.
    Csv,
    /// An array of customers with their state and scores.
    Json,
}

/// `rapport customers list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only customers at this stage (suspect, prospect, customer, client, partner).
    #[arg(long)]
    stage: Option<Stage>,
    /// At most this many customers [default: 50; with --format csv, all of them].
    #[arg(long)]
    limit: Option<u32>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Print JSON (the same as --format json).
    #[arg(long, conflicts_with = "format")]
    json: bool,
    #[command(flatten)]
    pub business: super::output::BusinessCurrency,
}

/// Lists customers in id order, in the format asked for.
pub async fn run(store: &Arc<dyn Store>, args: ListArgs, currency: &str, out: Output) -> anyhow::Result<()> {
    let format = if args.json { Format::Json } else { args.format };
    if format == Format::Csv {
        return write_csv(store, args.stage, args.limit).await;
    }
    let limit = args.limit.unwrap_or(DEFAULT_LIMIT);
    // One row more than shown tells whether the limit cut the list.
    let mut customers = store
        .query_customers(&query(args.stage, limit.saturating_add(1), None))
        .await?;
    let cut = customers.len() > limit as usize;
    customers.truncate(limit as usize);
    match format {
        Format::Json => out.json(&customers.iter().map(Listed::from).collect::<Vec<_>>()),
        _ => {
            // Counted only when the limit cut the list: then the footer says of how many.
            let matching = if cut {
                Some(store.count_customers(&query(args.stage, 0, None), u64::MAX).await?)
            } else {
                None
            };
            print_table(&customers, matching, currency, out)
        }
    }
}

/// Customers at `stage` (or any) after `after`, oldest first.
fn query(stage: Option<Stage>, limit: u32, after: Option<Cursor>) -> CustomerQuery {
    CustomerQuery {
        stage,
        sort: CustomerSort::Id,
        limit,
        after,
        ..Default::default()
    }
}

/// A customer as `--json` lists it: the profile and state, and the latest scores or `null`.
#[derive(Debug, Serialize)]
struct Listed<'a> {
    #[serde(flatten)]
    customer: &'a CustomerRecord,
    score: Option<&'a ScoreRow>,
}

impl<'a> From<&'a CustomerListItem> for Listed<'a> {
    fn from(item: &'a CustomerListItem) -> Self {
        Self {
            customer: &item.customer,
            score: item.score.as_ref(),
        }
    }
}

/// The table and a footer: how many are shown, and of how many when `matching` says more match.
fn print_table(
    customers: &[CustomerListItem],
    matching: Option<u64>,
    currency: &str,
    out: Output,
) -> anyhow::Result<()> {
    if customers.is_empty() {
        return out.line("no customers match");
    }
    let mut table = Table::new(&[
        ("ID", Align::Left),
        ("NAME", Align::Left),
        ("STAGE", Align::Left),
        ("PURCHASES", Align::Right),
        ("SPEND", Align::Right),
        ("LAST PURCHASE", Align::Left),
    ]);
    for item in customers {
        let (c, s) = (&item.customer, &item.customer.state);
        table.row([
            c.external_id.clone(),
            c.name
                .as_deref()
                .map_or_else(|| "-".to_owned(), |n| shortened(n, NAME_WIDTH)),
            s.stage.map_or("-", Stage::as_str).to_owned(),
            s.purchase_count.to_string(),
            format!("{} {currency}", Money(s.total_spend_cents)),
            opt_time(s.last_purchase_at),
        ]);
    }
    table.print(out)?;
    let shown = customers.len() as u64;
    if let Some(matching) = matching {
        out.line(&format!(
            "{shown} of {} shown (use --limit to see more)",
            count(matching, "customer")
        ))
    } else {
        out.line(&count(shown, "customer"))
    }
}

/// Streams the customers to standard output as CSV, a page of the store at a time.
async fn write_csv(store: &Arc<dyn Store>, stage: Option<Stage>, limit: Option<u32>) -> anyhow::Result<()> {
    // Text from the database reaches a terminal escaped; a file or a pipe gets it as stored.
    let on_terminal = std::io::stdout().is_terminal();
    let mut writer = csv::Writer::from_writer(std::io::stdout());
    writer.write_record(CSV_HEADER)?;
    let mut left = limit.unwrap_or(u32::MAX);
    let mut after = None;
    while left > 0 {
        let page = store.query_customers(&query(stage, left.min(CSV_PAGE), after)).await?;
        for item in &page {
            writer.write_record(csv_record(item, on_terminal))?;
        }
        writer.flush()?;
        let Some(last) = page.last() else { break };
        after = Some(last.cursor(CustomerSort::Id));
        left -= page.len() as u32;
    }
    Ok(())
}

/// One customer's CSV fields, in `CSV_HEADER`'s order; absent values are empty.
fn csv_record(item: &CustomerListItem, on_terminal: bool) -> [String; 12] {
    let (c, s) = (&item.customer, &item.customer.state);
    let text = |value: Option<&str>| {
        let value = value.unwrap_or_default();
        if on_terminal {
            rapport::domain::rules::printable(value).into_owned()
        } else {
            value.to_owned()
        }
    };
    let day = |at: Option<i64>| at.and_then(iso_date).unwrap_or_default();
    let score = item.score.as_ref();
    let number = |f: fn(&ScoreRow) -> f64| score.map(|s| f(s).to_string()).unwrap_or_default();
    [
        text(Some(&c.external_id)),
        text(c.name.as_deref()),
        text(c.email.as_deref()),
        text(c.phone.as_deref()),
        s.stage.map_or("", Stage::as_str).to_owned(),
        s.purchase_count.to_string(),
        Money(s.total_spend_cents).to_string(),
        day(s.first_purchase_at),
        day(s.last_purchase_at),
        number(|s| s.p_alive),
        number(|s| s.clv_12m),
        score.map(|s| s.segment.as_str().to_owned()).unwrap_or_default(),
    ]
}
