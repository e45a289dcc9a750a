//! The `utbyte` binary: argument parsing and wiring only. Every capability lives in a library crate.

mod audit_cmd;
mod demo;
mod directory_cmd;
mod example;
mod generate;
mod logging;
mod message_cmd;
mod message_files;
mod node_cmd;
mod node_health;
mod node_import;
mod pki_cmd;
mod rules_cmd;

use clap::{CommandFactory, Parser, Subcommand};
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
    /// Start a whole federation on this machine (directory and nine authority nodes), or with
    /// --scenario run a narrated sequence of exchanges and exit.
    Demo(demo::DemoArgs),
    /// The legal expert's toolbox: check, test, explain and analyse a rulebook, and compare two
    /// versions of one.
    #[command(subcommand)]
    Rules(rules_cmd::RulesCommand),
    /// The auditor's toolbox: verify a ledger, prove an entry, report on a subject, count.
    #[command(subcommand)]
    Audit(audit_cmd::AuditCommand),
    /// Federation certificate authority and node certificates.
    #[command(subcommand)]
    Pki(pki_cmd::PkiCommand),
    /// Run one authority's node from a configuration file.
    #[command(subcommand)]
    Node(node_cmd::NodeCommand),
    /// The federation's directory: serve it from a configuration file, and change its state
    /// (admit, set-endpoint, set-message-key, rotate, revoke, publish-rulebook, versions, show).
    #[command(subcommand)]
    Directory(directory_cmd::DirectoryCommand),
    /// A case system's messages through a node's local API: send, list, fetch, accept.
    #[command(subcommand)]
    Message(message_cmd::MessageCommand),
    /// Shell completions and man pages, generated from this command line (for packagers).
    #[command(subcommand, hide = true)]
    Generate(generate::GenerateCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // A node's and the directory's operators read its log; the other commands print what they
    // found and log only what goes wrong.
    let default_filter = match cli.command {
        Command::Node(_) | Command::Directory(_) => "info",
        _ => "warn",
    };
    // Held to the end, so spans still batched for export are sent before the process exits.
    let _telemetry = match logging::init(default_filter) {
        Ok(telemetry) => telemetry,
        Err(err) => {
            eprintln!("error: {err:#}");
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Command::Demo(args) => demo::run(args),
        Command::Rules(cmd) => rules_cmd::run(cmd),
        Command::Audit(cmd) => audit_cmd::run(cmd),
        Command::Pki(cmd) => pki_cmd::run(cmd),
        Command::Node(cmd) => node_cmd::run(cmd),
        Command::Directory(cmd) => directory_cmd::run(cmd),
        Command::Message(cmd) => message_cmd::run(cmd),
        Command::Generate(cmd) => generate::run(cmd, Cli::command()),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}
