//! The `rapport` binary: everything is in the library; this only hands over to the CLI.

mod cli;

fn main() -> std::process::ExitCode {
    cli::run()
}
