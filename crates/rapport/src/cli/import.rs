//! `rapport import transactions|customers`.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use rapport::domain::Currency;
use rapport::import::{self, CustomerColumns, Delimiter, FileOptions, TransactionColumns};

use super::Output;
use super::output::{count, progress_bar};

/// What to import.
#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Purchases: one row per purchase with customer id, date and amount. Importing again stores nothing twice.
    #[command(after_help = super::examples::IMPORT_TRANSACTIONS)]
    Transactions(TransactionArgs),
    /// Customer profiles: id, name, e-mail, phone; other columns are kept as attributes.
    #[command(after_help = super::examples::IMPORT_CUSTOMERS)]
    Customers(CustomerArgs),
}

/// Layout and error handling shared by every import.
#[derive(Debug, Args)]
pub struct FileArgs {
    #[command(flatten)]
    pub layout: LayoutArgs,
    /// Store the good rows and write rejected ones, with reasons, to the rejects file.
    #[arg(long)]
    pub skip_invalid: bool,
    /// Where rejected rows go with --skip-invalid (default: FILE.rejects.csv).
    #[arg(long, requires = "skip_invalid")]
    pub rejects: Option<PathBuf>,
    /// Only read and check every row, and say how many are valid; store nothing (no database
    /// needed).
    #[arg(long)]
    pub check: bool,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

/// How a delimited file is laid out.
#[derive(Debug, Args)]
pub struct LayoutArgs {
    /// The delimited file to read.
    pub file: PathBuf,
    /// Field separator: ',', ';', 'tab' or 'whitespace' (runs of spaces).
    #[arg(long, default_value = ",", value_parser = parse_delimiter)]
    pub delimiter: Delimiter,
    /// Name the columns in order (`_` skips one); the file then has no header line, though a
    /// first line that is plainly a header is recognised and skipped.
    #[arg(long, value_delimiter = ',')]
    pub columns: Option<Vec<String>>,
    /// The file has no header line (requires --columns).
    #[arg(long, requires = "columns")]
    pub no_header: bool,
    /// Lines to skip at the start of the file.
    #[arg(long, default_value_t = 0)]
    pub skip_lines: u64,
    /// Date format in strftime notation, e.g. %Y%m%d or %d/%m/%Y (default: ISO 8601).
    #[arg(long)]
    pub date_format: Option<String>,
    /// How many bytes a quoted field may hold before the file is refused (1 or more): a stray '"'
    /// otherwise swallows every row after it.
    #[arg(long, default_value_t = import::DEFAULT_MAX_QUOTED, value_parser = at_least_one_byte)]
    pub max_field_bytes: usize,
}

fn at_least_one_byte(raw: &str) -> Result<usize, String> {
    match raw.trim().parse::<usize>() {
        Ok(0) => Err("0 would refuse every quoted field: give 1 or more bytes (the default is 65536)".into()),
        Ok(bytes) => Ok(bytes),
        Err(_) => Err(format!("'{raw}' is not a number of bytes")),
    }
}

impl LayoutArgs {
    /// Options for reading the file, every row required to be valid, dates and times without an
    /// offset in `time_zone`.
    pub fn options(&self, time_zone: chrono_tz::Tz) -> FileOptions {
        FileOptions {
            path: self.file.clone(),
            delimiter: self.delimiter,
            columns: self.columns.clone(),
            skip_lines: self.skip_lines,
            date_format: self.date_format.clone(),
            time_zone,
            skip_invalid: false,
            rejects: None,
            max_quoted: self.max_field_bytes,
        }
    }
}

impl FileArgs {
    fn options(&self, time_zone: chrono_tz::Tz) -> FileOptions {
        FileOptions {
            skip_invalid: self.skip_invalid,
            rejects: self.rejects.clone(),
            ..self.layout.options(time_zone)
        }
    }
}

/// `rapport import transactions`.
#[derive(Debug, Args)]
pub struct TransactionArgs {
    #[command(flatten)]
    file: FileArgs,
    #[command(flatten)]
    columns: TransactionColumnArgs,
}

/// Which columns of a transactions file hold what.
#[derive(Debug, Args)]
pub struct TransactionColumnArgs {
    /// Column with the customer id.
    #[arg(long, default_value = "customer_id")]
    pub customer_col: String,
    /// Column with the purchase date or date-time.
    #[arg(long, default_value = "date")]
    pub date_col: String,
    /// Column with the amount paid.
    #[arg(long, default_value = "amount")]
    pub amount_col: String,
    /// Column with the order id (default: `order_id` when the file has it); it makes re-imports exact.
    #[arg(long)]
    pub order_col: Option<String>,
    /// Column with the item count (default: `quantity` when the file has it).
    #[arg(long)]
    pub quantity_col: Option<String>,
    /// Column with a currency code per row.
    #[arg(long)]
    pub currency_col: Option<String>,
    /// Currency of the amounts when there is no currency column.
    #[arg(long, default_value = "USD", value_parser = parse_currency)]
    pub currency: Currency,
}

impl TransactionColumnArgs {
    /// The mapping these flags describe.
    pub fn columns(&self) -> TransactionColumns {
        TransactionColumns {
            customer: self.customer_col.clone(),
            date: self.date_col.clone(),
            amount: self.amount_col.clone(),
            order: self.order_col.clone(),
            quantity: self.quantity_col.clone(),
            currency: self.currency_col.clone(),
            default_currency: self.currency.clone(),
        }
    }
}

/// `rapport import customers`.
#[derive(Debug, Args)]
pub struct CustomerArgs {
    #[command(flatten)]
    file: FileArgs,
    /// Column with the customer id.
    #[arg(long, default_value = "customer_id")]
    id_col: String,
    /// Column with the name.
    #[arg(long, default_value = "name")]
    name_col: String,
    /// Column with the e-mail address.
    #[arg(long, default_value = "email")]
    email_col: String,
    /// Column with the phone number.
    #[arg(long, default_value = "phone")]
    phone_col: String,
    /// Column with e-mail consent: yes or no (true/false, 1/0, opt-in/opt-out); empty cells say
    /// nothing. Each answer is recorded once: importing an old file again never undoes an
    /// unsubscribe.
    #[arg(long, default_value = "email_consent")]
    consent_col: String,
}

fn parse_delimiter(s: &str) -> Result<Delimiter, String> {
    s.parse()
}

fn parse_currency(s: &str) -> Result<Currency, String> {
    Currency::parse(s).map_err(|e| e.0)
}

/// Runs an import command.
pub async fn run(settings: &rapport::config::Settings, command: ImportCommand, out: Output) -> anyhow::Result<()> {
    match command {
        ImportCommand::Transactions(args) if args.file.check => {
            let options = args.file.options(settings.business.time_zone);
            let report = import::check_transactions(&options, &args.columns.columns())?;
            if args.file.json {
                return out.json(&report);
            }
            out.line(&checked(report.rows, report.rejected, "", &options, report.seconds))
        }
        ImportCommand::Transactions(args) => {
            let store = rapport::store::open_with(&settings.database).await?;
            let options = args.file.options(settings.business.time_zone);
            let size = std::fs::metadata(&options.path).map(|m| m.len()).unwrap_or_default();
            let bar = progress_bar(size);
            let report = import::import_transactions(&store, &options, &args.columns.columns(), bar.clone()).await;
            if let Some(bar) = bar {
                bar.finish_and_clear();
            }
            let report = report?;
            if args.file.json {
                return out.json(&report);
            }
            out.line(&format!(
                "{} read, {} stored, {} skipped, {} created, {}{} in {:.2} s",
                count(report.rows, "row"),
                count(report.stored, "purchase"),
                count(report.duplicates, "duplicate"),
                count(report.customers_created, "customer"),
                count(report.stage_changes, "stage change"),
                rejected_note(report.rejected, &options),
                report.seconds
            ))
        }
        ImportCommand::Customers(args) => {
            let options = args.file.options(settings.business.time_zone);
            let columns = CustomerColumns {
                id: args.id_col,
                name: args.name_col,
                email: args.email_col,
                phone: args.phone_col,
                consent: args.consent_col,
            };
            let report = if args.file.check {
                import::check_customers(&options, &columns)?
            } else {
                import::import_customers(
                    &rapport::store::open_with(&settings.database).await?,
                    &options,
                    &columns,
                )
                .await?
            };
            if args.file.json {
                return out.json(&report);
            }
            let repeated = match report.repeated_ids {
                0 => String::new(),
                n => format!(
                    ", {} repeated an id of an earlier row (the later row's profile {})",
                    count(n, "row"),
                    if args.file.check { "would be kept" } else { "was kept" }
                ),
            };
            if args.file.check {
                return out.line(&checked(
                    report.rows,
                    report.rejected,
                    &repeated,
                    &options,
                    report.seconds,
                ));
            }
            let consents = match report.consents_recorded {
                0 => String::new(),
                n => format!(", {} recorded", count(n, "e-mail consent")),
            };
            out.line(&format!(
                "{} read, {} created, {} updated{consents}{}{} in {:.2} s",
                count(report.rows, "row"),
                count(report.customers_created, "customer"),
                report.customers_updated,
                repeated,
                rejected_note(report.rejected, &options),
                report.seconds
            ))
        }
    }
}

/// What `--check` found: rows read and valid, then `more`, and that nothing was stored.
fn checked(rows: u64, rejected: u64, more: &str, options: &FileOptions, seconds: f64) -> String {
    format!(
        "{} read, {} valid{more}{}; nothing stored (--check) in {seconds:.2} s",
        count(rows, "row"),
        rows - rejected,
        rejected_note(rejected, options),
    )
}

fn rejected_note(rejected: u64, options: &FileOptions) -> String {
    if options.skip_invalid {
        format!(
            ", {} rejected (see {})",
            count(rejected, "row"),
            options.rejects_path().display()
        )
    } else {
        String::new()
    }
}
