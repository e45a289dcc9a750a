//! `utbyte generate …` as a packager uses it: completions that complete every command, and a man
//! page for every command that groff reads without a warning.
//!
//! The commands expected are read from the binary's own `--help`, never listed here, so a
//! subcommand added later is checked without touching this file.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn utbyte(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_utbyte"))
        .args(args)
        .output()
        .expect("utbyte runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The subcommands `utbyte <path> --help` lists, without clap's `help`.
fn subcommands(path: &[String]) -> Vec<String> {
    let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
    args.push("--help");
    let out = utbyte(&args);
    assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    let help = text(&out.stdout);
    let Some((_, section)) = help.split_once("\nCommands:\n") else {
        return Vec::new();
    };
    // A command's line is indented by two spaces; wrapped descriptions are indented further,
    // and the section ends at the first line that is not indented.
    section
        .lines()
        .take_while(|line| line.starts_with(' '))
        .filter(|line| line.starts_with("  ") && !line[2..].starts_with(' '))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}

/// Every command path below `path` (`["node", "serve"]`, …), `path` itself included.
fn command_tree(path: Vec<String>) -> Vec<Vec<String>> {
    let mut tree = Vec::new();
    for sub in subcommands(&path) {
        let mut below = path.clone();
        below.push(sub);
        tree.extend(command_tree(below));
    }
    tree.push(path);
    tree
}

/// What bash offers after `utbyte <words> ` and a TAB, using the generated script.
fn bash_completes(script: &Path, words: &[String]) -> BTreeSet<String> {
    let line = format!("utbyte {}", words.join(" "));
    let program = format!(
        r#"source '{}'
function_name=$(complete -p utbyte | sed -n 's/.*-F \([^ ]*\).*/\1/p')
COMP_WORDS=(utbyte {} "")
COMP_CWORD=${{#COMP_WORDS[@]}}; COMP_CWORD=$((COMP_CWORD - 1))
COMP_LINE='{line} '; COMP_POINT=${{#COMP_LINE}}
"$function_name" utbyte "" "${{COMP_WORDS[COMP_CWORD-1]}}"
printf '%s\n' "${{COMPREPLY[@]}}""#,
        script.display(),
        words.join(" "),
    );
    let out = Command::new("bash")
        .args(["-c", &program])
        .stdin(Stdio::null())
        .output()
        .expect("bash runs");
    assert!(out.status.success(), "{line}: {}", text(&out.stderr));
    text(&out.stdout).lines().map(str::to_owned).collect()
}

#[test]
fn bash_completes_every_command_and_subcommand() {
    let out = utbyte(&["generate", "completions", "bash"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("utbyte.bash");
    std::fs::write(&script, &out.stdout).unwrap();

    let top = subcommands(&[]);
    assert!(top.len() >= 5, "too few commands read from --help: {top:?}");
    let offered = bash_completes(&script, &[]);
    for command in &top {
        assert!(
            offered.contains(command),
            "`utbyte {command}` not completed: {offered:?}"
        );
        let below = subcommands(std::slice::from_ref(command));
        if below.is_empty() {
            continue;
        }
        let offered = bash_completes(&script, std::slice::from_ref(command));
        for sub in below {
            assert!(
                offered.contains(&sub),
                "`utbyte {command} {sub}` not completed: {offered:?}"
            );
        }
    }
}

#[test]
fn every_shell_gets_a_script_naming_every_command() {
    let top = subcommands(&[]);
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = utbyte(&["generate", "completions", shell]);
        assert!(out.status.success(), "{shell}: {}", text(&out.stderr));
        let script = text(&out.stdout);
        for command in &top {
            assert!(
                script.contains(command.as_str()),
                "{shell} script lacks `{command}`"
            );
        }
    }
    let out = utbyte(&["generate", "completions", "tcsh"]);
    assert!(
        !out.status.success(),
        "an unsupported shell must be refused"
    );
}

#[test]
fn the_generate_command_stays_out_of_the_main_help_but_has_its_own() {
    assert!(!subcommands(&[]).contains(&"generate".to_owned()));
    let own = subcommands(&["generate".to_owned()]);
    assert_eq!(own, ["completions", "man"]);
}

/// groff is Debian's `groff-base` (which `man-db` depends on); `scripts/test` installs it.
fn groff(args: &[&str], page: &Path) -> Output {
    Command::new("groff")
        .args(args)
        .arg(page)
        .output()
        .expect("groff is installed (Debian package groff-base; scripts/test installs it)")
}

#[test]
fn man_writes_a_page_per_command_that_groff_reads_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("man1");
    let out = utbyte(&["generate", "man", out_dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    // The visible tree, and the hidden `generate` command's, which is documented all the same;
    // each page by its file name, with how the command is invoked.
    let mut expected: Vec<(String, String)> = command_tree(Vec::new())
        .into_iter()
        .chain(command_tree(vec!["generate".to_owned()]))
        .map(|path| {
            let mut words = vec!["utbyte".to_owned()];
            words.extend(path);
            (format!("{}.1", words.join("-")), words.join(" "))
        })
        .collect();
    let written: BTreeSet<String> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for (page, _) in &expected {
        assert!(written.contains(page), "no page {page}: {written:?}");
    }
    assert!(written.contains("utbyte-node-serve.1"), "{written:?}");
    // Hidden commands (not in --help) have pages too; each must still be a real command.
    let mut extra: Vec<&String> = written
        .iter()
        .filter(|page| expected.iter().all(|(known, _)| known != *page))
        .collect();
    extra.sort_by_key(|page| page.len());
    for page in extra {
        let (parent, invoked) = expected
            .iter()
            .filter_map(|(known, invoked)| {
                let stem = known.trim_end_matches(".1");
                let rest = page.strip_prefix(stem)?.strip_prefix('-')?;
                Some((
                    stem.len(),
                    format!("{invoked} {}", rest.trim_end_matches(".1")),
                ))
            })
            .max()
            .unwrap_or_else(|| panic!("{page} belongs to no command"));
        assert!(parent > 0 && !invoked.ends_with(" help"), "{page}");
        let words: Vec<&str> = invoked.split(' ').skip(1).chain(["--help"]).collect();
        let out = utbyte(&words);
        assert!(out.status.success(), "{page}: `{invoked}` is not a command");
        expected.push((page.clone(), invoked));
    }

    for (page, invoked) in expected {
        let path = out_dir.join(&page);
        // -k: UTF-8 input through preconv, as `man` reads a page; -ww: every warning; -z: parse
        // and discard the output.
        let check = groff(&["-k", "-man", "-Tutf8", "-ww", "-z"], &path);
        assert!(
            check.status.success() && check.stderr.is_empty(),
            "{page}: {}",
            text(&check.stderr)
        );
        // Plain text (no escapes, no overstrike), as `man` would show it.
        let shown = text(&groff(&["-k", "-man", "-Tutf8", "-P-cbou"], &path).stdout);
        let name = page.trim_end_matches(".1");
        for part in ["NAME", "SYNOPSIS", "DESCRIPTION", name] {
            assert!(shown.contains(part), "{page} lacks {part}:\n{shown}");
        }
        let synopsis = shown
            .split_once("SYNOPSIS")
            .and_then(|(_, rest)| rest.lines().find(|line| !line.trim().is_empty()))
            .unwrap_or_default();
        // groff justifies lines by widening the spaces between words.
        let synopsis = synopsis.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            synopsis.starts_with(&format!("{invoked} ")) || synopsis == invoked,
            "{page}: the synopsis does not show how it is invoked (`{invoked}`): {synopsis}"
        );
    }
}
