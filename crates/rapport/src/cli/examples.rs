//! Example invocations shown at the end of the main commands' `--help`, as ripgrep and xsv do:
//! a command is learnt fastest from a line that works. Every option used here exists (the CLI
//! tests read these through `--help`).

/// `rapport import transactions`.
pub const IMPORT_TRANSACTIONS: &str = "\
Examples:
  rapport import transactions orders.csv
  rapport import transactions export.csv --delimiter ';' --customer-col client --date-col day \\
      --amount-col total --date-format %d/%m/%Y --currency EUR
  rapport import transactions CDNOW_master.txt --delimiter whitespace \\
      --columns customer_id,date,quantity,amount --date-format %Y%m%d
  rapport import transactions orders.csv --check --skip-invalid";

/// `rapport import customers`.
pub const IMPORT_CUSTOMERS: &str = "\
Examples:
  rapport import customers customers.csv
  rapport import customers crm.csv --id-col client_no --email-col mail --check
  rapport import customers crm.csv --skip-invalid --rejects refused.csv";

/// `rapport customers list`.
pub const CUSTOMERS_LIST: &str = "\
Examples:
  rapport customers list
  rapport customers list --stage client --limit 200
  rapport customers list --format csv > customers.csv
  rapport customers list --json | jq -r '.[].external_id'";

/// `rapport customers show`.
pub const CUSTOMERS_SHOW: &str = "\
Examples:
  rapport customers show 00042
  rapport customers show 00042 --json | jq .score";

/// `rapport funnel`.
pub const FUNNEL: &str = "\
Examples:
  rapport funnel
  rapport funnel --json | jq .conversion
  rapport --db postgres://rapport@db.internal/shop funnel";

/// `rapport fit`.
pub const FIT: &str = "\
Examples:
  rapport fit
  rapport fit --model pareto-nbd --calibration-end 2024-06-30
  rapport fit --json";

/// `rapport score`.
pub const SCORE: &str = "\
Examples:
  rapport score
  rapport score --at-risk-threshold 0.3
  rapport fit && rapport score && rapport customers list --format csv > scores.csv";

/// `rapport analyze`.
pub const ANALYZE: &str = "\
Examples:
  rapport analyze orders.csv --out scores.csv
  rapport analyze CDNOW_sample.txt --delimiter whitespace --columns customer_id,_,date,quantity,amount \\
      --date-format %Y%m%d --calibration-end 1997-09-30 --holdout-end 1998-06-30 --plot charts/
  rapport analyze orders.csv --model mbgnbd --json";

/// `rapport serve`.
pub const SERVE: &str = "\
Examples:
  rapport serve
  rapport serve --bind 0.0.0.0:7878 --secure-cookies
  RAPPORT_LOG=debug rapport serve --db postgres://rapport@db.internal/shop";

/// `rapport config`.
pub const CONFIG: &str = "\
Examples:
  rapport config show
  RAPPORT_TIME_ZONE=Europe/Berlin rapport config show --json
  rapport --config /etc/rapport/rapport.toml config show";
