//! The `utbyte` binary: argument parsing and wiring only. Every capability lives in a library crate.

mod audit_cmd;
mod demo;
mod example;
mod pki_cmd;
mod rules_cmd;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "utbyte",
    version,
    about = "Lawful, automatic and verifiable information exchange between authorities"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show the example rulebook deciding realistic requests between Swedish authorities.
    Demo,
    /// The legal expert's toolbox: check, test, explain and analyse a rulebook.
    #[command(subcommand)]
    Rules(rules_cmd::RulesCommand),
    /// The auditor's toolbox: verify a ledger, prove an entry, report on a subject, count.
    #[command(subcommand)]
    Audit(audit_cmd::AuditCommand),
    /// Federation certificate authority and node certificates.
    #[command(subcommand)]
    Pki(pki_cmd::PkiCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo => demo::run(),
        Command::Rules(cmd) => rules_cmd::run(cmd),
        Command::Audit(cmd) => audit_cmd::run(cmd),
        Command::Pki(cmd) => pki_cmd::run(cmd),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}
