//! Decisions rendered for people: what happens to each field and which provision says so.

use crate::decision::{Cited, Decision, FieldDecision, Outcome};
use crate::notice::Notice;
use crate::request::DisclosureRequest;
use crate::Rulebook;
use std::fmt::Write;

/// A plain-text explanation of a decision, as `utbyte rules explain` prints it.
pub fn render(rulebook: &Rulebook, request: &DisclosureRequest, decision: &Decision) -> String {
    let v = &rulebook.vocabulary;
    let name = |id: &str| {
        v.authorities
            .get(id)
            .map_or(id.to_owned(), |a| a.name.clone())
    };
    let unit = v
        .authorities
        .get(&request.recipient)
        .and_then(|a| a.units.iter().find(|u| u.id == request.unit))
        .map_or(request.unit.clone(), |u| u.name.clone());
    let basis = v
        .provisions
        .get(&request.legal_basis)
        .map_or(request.legal_basis.clone(), |p| {
            format!("{} (SFS {})", p.short, p.sfs)
        });
    let purpose = v
        .purposes
        .get(&request.purpose)
        .map_or(request.purpose.clone(), |p| p.title.clone());
    let mut out = rulebook_line(decision);
    let _ = writeln!(
        out,
        "Request    {} / {} ({}) asks {} for `{}`",
        name(&request.recipient),
        unit,
        request.role,
        decision
            .provider
            .as_deref()
            .map_or("an unknown provider".to_owned(), name),
        request.offering
    );
    let _ = writeln!(out, "Purpose    {purpose}");
    let _ = writeln!(out, "Basis      {basis}, case {}", request.case_ref);
    if let Some(provision) = v.provisions.get(&request.legal_basis) {
        let force = provision.period();
        if !force.is_always() {
            let _ = writeln!(out, "In force   {force}");
        }
        let day = request.date();
        let repealed = provision
            .repealed
            .is_some_and(|r| crate::dates::number(r) <= day);
        if let Some(transitional) = provision.transitional.as_ref().filter(|_| repealed) {
            let _ = writeln!(
                out,
                "Repealed   applies under its transitional rule: {}",
                transitional.note
            );
        }
    }
    if let Some(op) = &request.operation {
        let _ = writeln!(out, "Operation  {op}");
    }
    if request.subject.protected_identity {
        let _ = writeln!(out, "Subject    protected identity");
    }
    out.push_str(&fields(decision));
    out
}

/// A plain-text explanation of a notice's decision at the sender, as `utbyte rules explain
/// --notice` prints it.
pub fn render_notice(rulebook: &Rulebook, notice: &Notice, decision: &Decision) -> String {
    let v = &rulebook.vocabulary;
    let name = |id: &str| {
        v.authorities
            .get(id)
            .map_or(id.to_owned(), |a| a.name.clone())
    };
    let unit = |authority: &str, unit: &str| {
        v.authorities
            .get(authority)
            .and_then(|a| a.units.iter().find(|u| u.id == unit))
            .map_or(unit.to_owned(), |u| u.name.clone())
    };
    let mut out = rulebook_line(decision);
    let to = match &notice.recipient_unit {
        Some(u) => format!(
            "{} / {}",
            name(&notice.recipient),
            unit(&notice.recipient, u)
        ),
        None => name(&notice.recipient),
    };
    let _ = writeln!(
        out,
        "Notice     {} / {} ({}) tells {to}: `{}`",
        name(&notice.sender),
        unit(&notice.sender, &notice.sender_unit),
        notice.role,
        notice.kind
    );
    let purpose = v
        .purposes
        .get(&notice.purpose)
        .map_or(notice.purpose.clone(), |p| p.title.clone());
    let basis = v
        .provisions
        .get(&notice.legal_basis)
        .map_or(notice.legal_basis.clone(), |p| {
            format!("{} (SFS {})", p.short, p.sfs)
        });
    let _ = writeln!(out, "Purpose    {purpose}");
    let _ = writeln!(out, "Basis      {basis}, case {}", notice.case_ref);
    if notice.subject.protected_identity {
        let _ = writeln!(out, "Subject    protected identity");
    }
    out.push_str(&fields(decision));
    out
}

/// The rulebook version a decision was made with, its first line.
fn rulebook_line(decision: &Decision) -> String {
    let v = &decision.rulebook;
    format!(
        "Rulebook   {} {} (sha256 {})\n",
        v.name,
        v.version,
        &v.hash[..16.min(v.hash.len())]
    )
}

/// The fields' outcomes, the counts and the cited provisions: the part of an explanation a
/// request and a notice share.
fn fields(decision: &Decision) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Evaluated  {} of {} policies\n",
        decision.policies_evaluated, decision.policies_total
    );
    let width = decision
        .fields
        .iter()
        .map(|f| f.field.len())
        .max()
        .unwrap_or(0);
    for field in &decision.fields {
        render_field(&mut out, field, width);
    }
    let count = |o| decision.fields_with(o).count();
    let _ = writeln!(
        out,
        "\n{} disclose, {} review, {} refuse",
        count(Outcome::Disclose),
        count(Outcome::Review),
        count(Outcome::Refuse)
    );
    out.push_str(&legend(decision));
    out
}

fn render_field(out: &mut String, field: &FieldDecision, width: usize) {
    let outcome = field.outcome.to_string().to_uppercase();
    let _ = writeln!(
        out,
        "  {:<width$}  {:<8}  {}",
        field.field, outcome, field.ground
    );
    let indent = " ".repeat(width + 14);
    let mut cite = |label: &str, cited: &Cited| {
        let _ = writeln!(out, "{indent}{label:<4} {}", cite_line(cited));
        if let Some(weigh) = &cited.weigh {
            let _ = writeln!(out, "{indent}     weigh: {weigh}");
        }
    };
    for cited in &field.determining {
        cite("by", cited);
    }
    for cited in &field.candidates {
        cite("may", cited);
    }
    for error in &field.errors {
        let _ = writeln!(out, "{indent}error: {error}");
    }
}

fn cite_line(cited: &Cited) -> String {
    match &cited.pre_assessment {
        Some(pa) => format!("{} [pre-assessment {pa}]", cited.citation),
        None => format!("{} [{}]", cited.citation, cited.id),
    }
}

/// Each cited provision once, with its title.
fn legend(decision: &Decision) -> String {
    let mut seen = std::collections::BTreeMap::new();
    for cited in decision.fields.iter().flat_map(FieldDecision::citations) {
        seen.entry(cited.citation.to_string())
            .or_insert_with(|| cited.citation.title.clone());
    }
    let mut out = String::new();
    if !seen.is_empty() {
        let _ = writeln!(out, "\nCited provisions");
        for (citation, title) in seen {
            let _ = writeln!(out, "  {citation}  {title}");
        }
    }
    let _ = writeln!(
        out,
        "\n\"by\": the provision that decided the field. \"may\": a provision a reviewer may disclose under."
    );
    out
}
