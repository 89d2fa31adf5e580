//! `rapport serve`, `rapport keys` and `rapport users`: the server and who may use it.

use std::io::{BufRead, IsTerminal};
use std::net::SocketAddr;

use clap::{Args, Subcommand};
use rapport::config::Settings;
use rapport::domain::Role;
use rapport::server::AppState;
use rapport::server::accounts::create_user;
use rapport::server::auth::create_key;
use rapport::store::open;

use super::Output;

/// `rapport serve`. Each flag overrides its setting (see `rapport config show`).
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address and port to listen on [setting server.bind, RAPPORT_BIND; default 127.0.0.1:7878].
    #[arg(long)]
    pub bind: Option<SocketAddr>,
    /// Mark the dashboard's cookies Secure on every response (they are whenever a proxy sends
    /// `X-Forwarded-Proto: https`); set this when users reach Rapport only over HTTPS [setting
    /// server.secure_cookies, RAPPORT_SECURE_COOKIES].
    #[arg(long)]
    pub secure_cookies: bool,
    /// Let webhooks go to loopback, private and other non-public addresses (receivers inside your
    /// network). Off, subscriptions to such addresses are refused and deliveries to host names
    /// that resolve to them are not sent [setting webhooks.allow_private,
    /// RAPPORT_ALLOW_PRIVATE_WEBHOOKS].
    #[arg(long)]
    pub allow_private_webhooks: bool,
    /// The business's time zone, an IANA name such as Europe/Berlin: the dashboard shows times
    /// and counts days and months in it [setting business.time_zone, RAPPORT_TIME_ZONE; default
    /// UTC].
    #[arg(long)]
    pub time_zone: Option<String>,
    #[command(flatten)]
    pub business: super::output::BusinessCurrency,
}

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

/// `rapport users ...`.
#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Create a dashboard user; the password is asked for (or read from standard input).
    Create(UserCreateArgs),
}

/// `rapport users create`.
#[derive(Debug, Args)]
pub struct UserCreateArgs {
    /// The login e-mail address.
    #[arg(long)]
    pub email: String,
    /// admin, staff or viewer.
    #[arg(long)]
    pub role: Role,
}

/// Serves the API until SIGTERM or Ctrl-C.
pub async fn serve(settings: &Settings, out: Output) -> anyhow::Result<()> {
    let state = AppState::with_settings(open(&settings.database.url).await?, settings);
    rapport::server::serve(state, settings.server.bind, |address| {
        let _ = out.line(&format!(
            "serving on http://{address} (dashboard at /, API under /api/v1, reference at /api/docs); Ctrl-C stops"
        ));
    })
    .await
}

/// Runs a `keys` command.
pub async fn keys(db: &str, command: KeysCommand, out: Output) -> anyhow::Result<()> {
    let store = open(db).await?;
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

/// Runs a `users` command.
pub async fn users(db: &str, command: UsersCommand, out: Output) -> anyhow::Result<()> {
    let store = open(db).await?;
    match command {
        UsersCommand::Create(args) => {
            let password = read_password()?;
            let id = create_user(&store, &args.email, args.role, &password).await?;
            out.line(&format!(
                "created user {id} <{}> with role {}",
                args.email.trim(),
                args.role
            ))
        }
    }
}

/// A password from a hidden prompt on a terminal, or the first line of standard input otherwise.
fn read_password() -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("password: ")?;
        let second = rpassword::prompt_password("again: ")?;
        anyhow::ensure!(first == second, "the two passwords differ");
        Ok(first)
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        let password = line.trim_end_matches(['\r', '\n']).to_owned();
        anyhow::ensure!(!password.is_empty(), "no password on standard input");
        Ok(password)
    }
}
