//! `rapport users`: the dashboard's logins.

use std::io::{BufRead, IsTerminal};

use clap::{Args, Subcommand};
use rapport::config::DatabaseSettings;
use rapport::domain::Role;
use rapport::server::accounts::create_user;
use rapport::store::open_with;

use super::Output;

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

/// Runs a `users` command.
pub async fn run(db: &DatabaseSettings, command: UsersCommand, out: Output) -> anyhow::Result<()> {
    let store = open_with(db).await?;
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
