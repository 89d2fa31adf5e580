//! `rapport interviews`: conversations with customers logged with what they need, want and fear,
//! and found again by text or tag.

use clap::{Args, Subcommand};
use rapport::config::Settings;
use rapport::domain::rules;
use rapport::domain::{EventKind, ExternalId};
use rapport::store::open_with;
use rapport::voice::interviews::{InterviewInput, log_interview};
use rapport::webhooks::wire::EventView;

use super::Output;

/// `rapport interviews ...`.
#[derive(Debug, Subcommand)]
pub enum InterviewsCommand {
    /// Log an interview with a customer (at least one of --needs, --desires, --fears, --notes).
    Log(LogArgs),
    /// Find interviews by a text in any field, or by tag, newest first.
    Search(SearchArgs),
}

/// `rapport interviews log`.
#[derive(Debug, Args)]
pub struct LogArgs {
    /// The customer's id.
    pub customer: String,
    /// What the customer needs.
    #[arg(long)]
    pub needs: Option<String>,
    /// What they would like beyond it.
    #[arg(long)]
    pub desires: Option<String>,
    /// What worries them.
    #[arg(long)]
    pub fears: Option<String>,
    /// Anything else said.
    #[arg(long)]
    pub notes: Option<String>,
    /// A tag to find it by (repeat for several).
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// Who held it; the user running the command when absent.
    #[arg(long)]
    pub by: Option<String>,
}

/// `rapport interviews search`.
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Text found in any field, in any case.
    pub text: Option<String>,
    /// Only interviews with this tag.
    #[arg(long)]
    pub tag: Option<String>,
    /// The most shown.
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs an `interviews` command.
pub async fn run(settings: &Settings, command: InterviewsCommand, out: Output) -> anyhow::Result<()> {
    let store = open_with(&settings.database).await?;
    match command {
        InterviewsCommand::Log(args) => {
            let customer = ExternalId::parse(&args.customer).map_err(|e| anyhow::anyhow!("CUSTOMER: {}", e.0))?;
            let by = args
                .by
                .or_else(|| std::env::var("USER").ok())
                .unwrap_or_else(|| "the command line".to_owned());
            let input = InterviewInput {
                needs: args.needs,
                desires: args.desires,
                fears: args.fears,
                notes: args.notes,
                tags: args.tags,
                by,
            };
            let kind = input.check().map_err(|e| anyhow::anyhow!("{e}"))?;
            let now = chrono::Utc::now().timestamp();
            let key = format!("interview:{customer}:{now}:{:012x}", rand::random::<u64>());
            log_interview(&store, &customer, kind, key, now).await?;
            out.line(&format!("logged an interview with '{customer}'"))
        }
        InterviewsCommand::Search(args) => {
            let found = store
                .interviews(args.text.as_deref(), args.tag.as_deref(), args.limit)
                .await?;
            if args.json {
                let views: Vec<EventView> = found
                    .into_iter()
                    .map(|(customer, event)| EventView::new(event, &customer))
                    .collect();
                return out.json(&views);
            }
            if found.is_empty() {
                return out.line("no interviews found");
            }
            for (customer, event) in &found {
                let when = rapport::domain::state::format_day(event.occurred_at.div_euclid(86_400));
                if let EventKind::Interview { .. } = &event.kind {
                    out.line(&format!(
                        "{when}  {customer}  {}",
                        rules::printable(&event.kind.describe())
                    ))?;
                }
            }
            Ok(())
        }
    }
}
