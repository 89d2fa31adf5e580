//! `rapport config show`, and the flags every command may give that override a setting.

use clap::{Args, Subcommand};
use rapport::config::{Flags, Loaded};

use super::{Cli, Command, Output};

/// `rapport config ...`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print every setting in effect, as rapport.toml writes it, each with its source (default,
    /// the file, an environment variable or the command line); passwords are shown as ***.
    Show(ShowArgs),
}

/// `rapport config show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Print JSON (without the sources).
    #[arg(long)]
    json: bool,
}

/// Runs a `config` command.
pub fn run(loaded: &Loaded, command: ConfigCommand, out: Output) -> anyhow::Result<()> {
    match command {
        ConfigCommand::Show(args) if args.json => out.json(&loaded.json()),
        ConfigCommand::Show(_) => loaded.show().lines().try_for_each(|line| out.line(line)),
    }
}

/// The settings this command line gives as flags.
pub fn flags(cli: &Cli) -> Flags {
    let mut flags = Flags::default();
    flags.set_some("database.url", cli.db.clone());
    match &cli.command {
        Command::Serve(args) => {
            flags.set_some("server.bind", args.bind.map(|b| b.to_string()));
            // A switch given says yes; one not given leaves the setting as it is.
            if args.secure_cookies {
                flags.set("server.secure_cookies", true);
            }
            if args.allow_private_webhooks {
                flags.set("webhooks.allow_private", true);
            }
            flags.set_some("business.time_zone", args.time_zone.clone());
            flags.set_some("business.currency", args.business.currency.clone());
        }
        Command::Demo(args) => flags.set_some("server.bind", args.bind.map(|b| b.to_string())),
        Command::Score(args) => flags.set_some("scoring.at_risk_threshold", args.at_risk_threshold),
        Command::Customers(command) => {
            flags.set_some("business.currency", command.currency().map(str::to_owned));
        }
        _ => {}
    }
    flags
}
