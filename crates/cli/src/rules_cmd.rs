//! `utbyte rules …`
use clap::Subcommand;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum RulesCommand {}

pub fn run(cmd: RulesCommand) -> anyhow::Result<ExitCode> {
    match cmd {}
}
