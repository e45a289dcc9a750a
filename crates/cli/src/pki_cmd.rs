//! `utbyte pki …` — the federation certificate authority and node certificates.

use anyhow::Context as _;
use clap::Subcommand;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use utbyte_pki::{CertificateInfo, FederationCa, NodeRequest, Validity, DEFAULT_CA_NAME};

#[derive(Subcommand)]
pub enum PkiCommand {
    /// Create a federation CA in DIR: ca.crt (the trust anchor every node gets) and ca.key
    /// (0600). Refuses to overwrite an existing CA.
    Init {
        dir: PathBuf,
        /// The CA's name (its certificate's commonName).
        #[arg(long, default_value = DEFAULT_CA_NAME)]
        name: String,
        /// Validity in days.
        #[arg(long, default_value_t = 3650)]
        days: u32,
    },
    /// Issue a node certificate for an authority with the CA in DIR; writes node.crt,
    /// node.key (0600) and ca.crt into --out, refusing to overwrite any of them.
    Issue {
        dir: PathBuf,
        /// The authority's id in the federation (as in the rulebook), e.g. skatteverket.
        #[arg(long)]
        authority: String,
        /// The authority's organisationsnummer, NNNNNN-NNNN.
        #[arg(long)]
        orgnr: String,
        /// The authority's name, e.g. Skatteverket.
        #[arg(long)]
        name: String,
        /// A DNS name other nodes reach this node at (repeatable).
        #[arg(long = "dns", value_name = "NAME")]
        dns_names: Vec<String>,
        /// An IP address other nodes reach this node at (repeatable).
        #[arg(long = "ip", value_name = "ADDR")]
        ip_addresses: Vec<IpAddr>,
        /// Validity in days; at most until the CA expires.
        #[arg(long, default_value_t = 365)]
        days: u32,
        /// The node's credentials directory (created 0700 if missing).
        #[arg(long)]
        out: PathBuf,
    },
    /// Print a certificate's authority, organisationsnummer, fingerprint and validity.
    Show { cert: PathBuf },
}

pub fn run(cmd: PkiCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        PkiCommand::Init { dir, name, days } => init(&dir, &name, days),
        PkiCommand::Issue {
            dir,
            authority,
            orgnr,
            name,
            dns_names,
            ip_addresses,
            days,
            out,
        } => {
            let mut request = NodeRequest::new(&authority, &orgnr, &name)?;
            for dns in &dns_names {
                request = request.dns_name(dns)?;
            }
            for ip in ip_addresses {
                request = request.ip_address(ip);
            }
            issue(&dir, &request.validity(Validity::Days(days)), &out)
        }
        PkiCommand::Show { cert } => show(&cert),
    }
}

fn init(dir: &Path, name: &str, days: u32) -> anyhow::Result<ExitCode> {
    let ca = FederationCa::init(dir, name, Validity::Days(days))
        .with_context(|| format!("cannot create a federation CA in {}", dir.display()))?;
    println!("created federation CA {name:?} in {}", dir.display());
    println!("  fingerprint  {}", ca.certificate().fingerprint());
    println!("  not after    {}", date(ca.not_after())?);
    Ok(ExitCode::SUCCESS)
}

fn issue(dir: &Path, request: &NodeRequest, out: &Path) -> anyhow::Result<ExitCode> {
    let ca = FederationCa::open(dir)
        .with_context(|| format!("cannot open the federation CA in {}", dir.display()))?;
    let credentials = ca
        .issue(request)
        .with_context(|| format!("cannot issue a certificate for {}", request.authority()))?;
    credentials
        .write_to(out)
        .with_context(|| format!("cannot write the node's credentials to {}", out.display()))?;
    let identity = credentials.certificate.identity();
    println!(
        "issued a node certificate for {} ({}, {}) into {}",
        identity.authority,
        identity.name,
        identity.orgnr,
        out.display()
    );
    println!("  fingerprint  {}", identity.fingerprint);
    Ok(ExitCode::SUCCESS)
}

fn show(path: &Path) -> anyhow::Result<ExitCode> {
    let info = CertificateInfo::load(path).context("cannot show the certificate")?;
    let row = |label: &str, value: &dyn std::fmt::Display| println!("{label:<12} {value}");
    match &info.identity {
        Some(identity) => {
            row("authority", &identity.authority);
            row("orgnr", &identity.orgnr);
            row("name", &identity.name);
        }
        None => row("federation CA", &info.subject),
    }
    row("fingerprint", &info.fingerprint);
    row("subject", &info.subject);
    row("issuer", &info.issuer);
    row("serial", &info.serial);
    row("not before", &date(info.not_before)?);
    row("not after", &date(info.not_after)?);
    let now = OffsetDateTime::now_utc();
    let status = if now < info.not_before {
        "not yet valid"
    } else if now > info.not_after {
        "EXPIRED"
    } else {
        "valid"
    };
    row("status", &status);
    for dns in &info.dns_names {
        row("dns", dns);
    }
    for ip in &info.ip_addresses {
        row("ip", ip);
    }
    Ok(ExitCode::SUCCESS)
}

fn date(at: OffsetDateTime) -> anyhow::Result<String> {
    Ok(at.format(&Rfc3339)?)
}
