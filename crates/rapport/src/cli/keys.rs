//! `rapport keys`: API keys, created, listed and revoked.

use clap::{Args, Subcommand};
use rapport::config::DatabaseSettings;
use rapport::domain::Role;
use rapport::server::auth::create_key;
use rapport::store::open_with;

use super::Output;

/// `rapport keys ...`.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create an API key and print it (once: only its hash is stored).
    Create(KeyCreateArgs),
    /// List API keys (never the keys themselves).
    List(JsonArg),
    /// Revoke an API key by its number.
    Revoke(KeyRevokeArgs),
}

/// `rapport keys create`.
#[derive(Debug, Args)]
pub struct KeyCreateArgs {
    /// What the key is for, e.g. "shop" or "analytics".
    #[arg(long)]
    pub name: String,
    /// admin, staff or viewer.
    #[arg(long)]
    pub role: Role,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `rapport keys revoke`.
#[derive(Debug, Args)]
pub struct KeyRevokeArgs {
    /// The key's number, as `rapport keys list` shows it.
    pub id: i64,
}

/// A `--json` flag alone.
#[derive(Debug, Args)]
pub struct JsonArg {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs a `keys` command.
pub async fn run(db: &DatabaseSettings, command: KeysCommand, out: Output) -> anyhow::Result<()> {
    let store = open_with(db).await?;
    match command {
        KeysCommand::Create(args) => {
            let created = create_key(&store, args.name.trim(), args.role).await?;
            if args.json {
                return out.json(&created);
            }
            out.line(&format!(
                "created key {} '{}' with role {}:\n{}\nstore it now: only its hash is kept, it cannot be shown again",
                created.id, created.name, created.role, created.key
            ))
        }
        KeysCommand::List(args) => {
            let keys = store.api_keys().await?;
            if args.json {
                return out.json(&keys);
            }
            if keys.is_empty() {
                return out.line("no API keys yet: `rapport keys create --name NAME --role viewer` makes one");
            }
            for key in keys {
                let state = match key.revoked_at {
                    Some(at) => format!("revoked {}", rapport::server::api::timestamp(at)),
                    None => "active".to_owned(),
                };
                out.line(&format!(
                    "{:>4}  {:<24} {:<7} {}…  created {}  {}",
                    key.id,
                    key.name,
                    key.role,
                    key.prefix,
                    rapport::server::api::timestamp(key.created_at),
                    state
                ))?;
            }
            Ok(())
        }
        KeysCommand::Revoke(args) => {
            anyhow::ensure!(
                store.revoke_api_key(args.id, chrono::Utc::now().timestamp()).await?,
                "no active API key number {}",
                args.id
            );
            out.line(&format!("revoked key {}", args.id))
        }
    }
}
