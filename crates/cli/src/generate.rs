//! `utbyte generate …`: shell completions and man pages for packagers, generated at run time from
//! the same clap command tree that parses the arguments, so a new subcommand or option appears in
//! both without anyone listing it here.

use anyhow::Context;
use clap_complete::Shell;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum GenerateCommand {
    /// Print a completion script for a shell to standard output.
    ///
    /// bash: save as /usr/share/bash-completion/completions/utbyte; zsh: as `_utbyte` in a
    /// directory of $fpath; fish: as ~/.config/fish/completions/utbyte.fish.
    Completions {
        /// The shell to complete for.
        shell: Shell,
    },
    /// Write one man page per command and subcommand (utbyte.1, utbyte-node-serve.1, …) into DIR.
    Man {
        /// The directory to write the pages into; created if missing.
        dir: PathBuf,
    },
}

/// Runs a `generate` command on `cli`, the whole command tree of the binary.
pub fn run(cmd: GenerateCommand, cli: clap::Command) -> anyhow::Result<ExitCode> {
    match cmd {
        GenerateCommand::Completions { shell } => {
            let mut cli = cli;
            let name = cli.get_name().to_owned();
            clap_complete::generate(shell, &mut cli, name, &mut std::io::stdout().lock());
        }
        GenerateCommand::Man { dir } => {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            // `build` names every subcommand for its page (`utbyte-node-serve`) and its synopsis
            // (`utbyte node serve`); the `help` pseudo-command needs no page of its own.
            let mut cli = cli.disable_help_subcommand(true);
            cli.build();
            // Every page names the program and its version, not the subcommand's bare name.
            let source = format!(
                "{} {}",
                cli.get_name(),
                cli.get_version().unwrap_or_default()
            );
            let written = write_pages(&cli, &source, &dir)?;
            eprintln!("wrote {written} man pages to {}", dir.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes the page of `cmd` and of every subcommand below it; returns how many were written.
///
/// Written here rather than with `clap_mangen::generate_to`, which skips hidden commands: the
/// `generate` command is hidden from `utbyte --help` to keep it short for everyday use, but a
/// packager still looks for its page.
fn write_pages(cmd: &clap::Command, source: &str, dir: &Path) -> anyhow::Result<usize> {
    let mut written = 0;
    for sub in cmd.get_subcommands() {
        written += write_pages(sub, source, dir)?;
    }
    let page = clap_mangen::Man::new(cmd.clone())
        .source(source)
        .manual("utbyte manual");
    let path = dir.join(page.get_filename());
    let mut roff = Vec::new();
    page.render(&mut roff)
        .with_context(|| format!("rendering {}", path.display()))?;
    std::fs::write(&path, roff).with_context(|| format!("writing {}", path.display()))?;
    Ok(written + 1)
}
