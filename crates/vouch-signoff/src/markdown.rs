//! The Markdown rendering of a signed (or draft) document, shaped like seed 002's
//! `docs/ops/attestation-log/YYYY-QN.md`: date, quarter, the pass/fail result of each
//! step, open findings, the signature — for teams that also keep it in git.

use crate::attest::Attestation;

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// The document as Markdown.
pub fn render(a: &Attestation) -> String {
    let mut m = String::new();
    m.push_str(&format!("# {} — {}\n\n", a.organization, a.title));
    m.push_str(&format!(
        "- Period: {} ({} to {}, end exclusive)\n",
        a.period, a.period_start, a.period_end
    ));
    m.push_str(&format!(
        "- Window: opens {}, target {}, hard close {}\n",
        a.opens_at, a.target_at, a.closes_at
    ));
    m.push_str(&format!(
        "- Status: {}{}\n",
        a.status,
        if a.late { " (late)" } else { "" }
    ));
    if let Some(s) = &a.signed {
        m.push_str(&format!(
            "- Signed: {} by {} ({}, via {}), opinion **{}**{}\n",
            s.signed_at,
            s.signer.name,
            s.signer.role,
            s.signer.via,
            s.opinion,
            if s.late { ", after the hard close" } else { "" }
        ));
    }
    if let Some(p) = &a.prefilled_at {
        m.push_str(&format!("- Results as stored at: {p}\n"));
    }
    m.push_str("\n## Steps\n\n| # | Control | Criteria | Result | Failing rows | Findings | Note |\n|---|---|---|---|---|---|---|\n");
    for s in &a.steps {
        let failing: u64 = s.checks.iter().map(|c| c.failing_count).sum();
        m.push_str(&format!(
            "| {} | {} — {} | {} | {} | {} | {} | {} |\n",
            s.number,
            cell(&s.control_id),
            cell(&s.title),
            cell(&s.criteria.join(", ")),
            s.status.to_uppercase(),
            failing,
            s.findings
                .iter()
                .map(|f| f.id[..f.id.len().min(8)].to_string())
                .collect::<Vec<_>>()
                .join(", "),
            cell(s.note.as_deref().or(s.detail.as_deref()).unwrap_or("")),
        ));
    }
    if a.steps.is_empty() {
        m.push_str("| – | (no steps: the window was missed) | | | | | |\n");
    }
    m.push_str("\n## Evidence\n\n");
    for s in &a.steps {
        for c in &s.checks {
            m.push_str(&format!(
                "- Step {} `{}`: {} — {}\n",
                s.number,
                c.check_id,
                c.status,
                cell(&c.messages.join("; "))
            ));
            for e in &c.evidence {
                m.push_str(&format!(
                    "  - item {} sha256 {} ledger seq {}\n",
                    e["item_id"].as_str().unwrap_or("?"),
                    e["sha256"].as_str().unwrap_or("?"),
                    e["ledger_seq"]
                        .as_u64()
                        .map(|x| x.to_string())
                        .unwrap_or_else(|| "?".into())
                ));
            }
        }
    }
    for s in &a.steps {
        let Some(sample) = &s.sample else { continue };
        m.push_str(&format!(
            "\n## PR sample (step {})\n\n{} of {} merged PRs, seed `{}` = SHA-256 of:\n\n```\n{}```\n\n| PR | Title | Author | Merged | Decision | By | Note |\n|---|---|---|---|---|---|---|\n",
            s.number,
            sample.prs.len(),
            sample.population,
            sample.seed,
            sample.basis
        ));
        for p in &sample.prs {
            let d = p.decision.as_ref();
            m.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} |\n",
                cell(
                    &p.number
                        .map(|n| format!("#{n}"))
                        .unwrap_or_else(|| p.key.clone())
                ),
                cell(p.title.as_deref().unwrap_or("")),
                cell(p.author.as_deref().unwrap_or("")),
                cell(p.merged_at.as_deref().unwrap_or("")),
                d.map(|d| d.decision.as_str()).unwrap_or("pending"),
                cell(d.map(|d| d.by.as_str()).unwrap_or("")),
                cell(d.and_then(|d| d.note.as_deref()).unwrap_or("")),
            ));
        }
    }
    m.push_str("\n## Open findings\n\n");
    if a.findings.is_empty() && a.steps.iter().all(|s| s.findings.is_empty()) {
        m.push_str("None.\n");
    }
    let mut seen = Vec::new();
    for f in a
        .findings
        .iter()
        .chain(a.steps.iter().flat_map(|s| s.findings.iter()))
    {
        if seen.contains(&f.id) {
            continue;
        }
        seen.push(f.id.clone());
        m.push_str(&format!(
            "- {} ({}, {}): {}\n",
            f.id,
            f.severity,
            f.status,
            cell(&f.title)
        ));
    }
    m.push_str("\n## Exceptions\n\n");
    if a.exceptions.is_empty() {
        m.push_str("None: every step passed and no high or critical finding is open.\n");
    }
    for e in &a.exceptions {
        m.push_str(&format!("- {}\n", cell(e)));
    }
    if let Some(h) = &a.document_sha256 {
        m.push_str(&format!(
            "\n## Signature\n\nThe signed document is `attestation.json` (canonical JSON, SHA-256 `{h}`), signed with vouch's key (`attestation.json.sig`, `public_key.pem`){}. Ledger seq of the sign-off: {}.\n",
            match a.signed.as_ref().and_then(|s| s.personal_signature.as_deref()) {
                Some("ssh") => " and the signer's SSH key (`attestation.json.ssh.sig`, `allowed_signers`)",
                Some("gpg") => " and the signer's OpenPGP key (`attestation.json.asc`)",
                _ => "",
            },
            a.ledger_seq.map(|s| s.to_string()).unwrap_or_default()
        ));
    }
    m
}

/// An access-review campaign as Markdown (seed 003's "access review sign-offs", for
/// teams that keep the record in git or hand it to an auditor): who reviewed which
/// population, every account with its tag, flags and decision, the remediation of each
/// `revoke`, and — once completed — the SHA-256 of the signed canonical document (the
/// JSON and its `.sig` are the evidence; this rendering is a reading aid).
pub fn render_review(v: &crate::review::View) -> String {
    let c = &v.campaign;
    let mut m = format!("# Access review — {}\n\n", c.title);
    m.push_str(&format!(
        "- Campaign: `{}`\n- Status: **{}**\n",
        c.id, c.status
    ));
    m.push_str(&format!(
        "- Created: {} by {}\n",
        c.created_at, c.created_by
    ));
    if let Some(s) = &c.started_at {
        m.push_str(&format!(
            "- Started: {s} (snapshot SHA-256 `{}`)\n",
            c.snapshot_sha256.as_deref().unwrap_or("?")
        ));
    }
    if let Some(p) = &c.previous {
        m.push_str(&format!("- Compared with the completed campaign `{p}`\n"));
    }
    if let Some(e) = &c.ended_at {
        m.push_str(&format!(
            "- {}: {e} by {}\n",
            if c.status == "cancelled" {
                "Cancelled"
            } else {
                "Completed"
            },
            c.ended_by.as_deref().unwrap_or("?")
        ));
    }
    if let Some(r) = &c.cancel_reason {
        m.push_str(&format!("- Reason: {}\n", cell(r)));
    }
    match &c.document_sha256 {
        Some(h) => m.push_str(&format!(
            "- Signed document SHA-256: `{h}` (`access-review.json`, checked with `vouch verify` or openssl and its `.sig`)\n"
        )),
        None => m.push_str("- Not signed: only a completed campaign has a signed document\n"),
    }
    let s = &v.summary;
    m.push_str(&format!(
        "\n## Summary\n\n{} entries, {} to decide, {} undecided; decisions: {}; tags: {}; flags: {}\n",
        s.entries,
        s.to_decide,
        s.undecided,
        counts(&s.decisions),
        counts(&s.tags),
        counts(&s.flags)
    ));
    for p in &c.populations {
        m.push_str(&format!(
            "\n## {} (`{}`)\n\nReviewers: {}\n\n| Account | Tag | Flags | Decision | Note | By | At | Remediation |\n|---|---|---|---|---|---|---|---|\n",
            cell(&p.title),
            p.evidence_id,
            p.reviewers
                .iter()
                .map(|r| r.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
        for e in v.entries.iter().filter(|e| e.population == p.evidence_id) {
            let remediation = match (&e.finding_id, &e.remediated_at) {
                (Some(f), Some(at)) => format!("finding {} closed {at}", short(f)),
                (Some(f), None) => format!("finding {} open", short(f)),
                _ => String::new(),
            };
            m.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
                cell(&e.account),
                e.tag,
                e.flags.join(", "),
                e.decision.as_deref().unwrap_or("undecided"),
                cell(e.note.as_deref().unwrap_or("")),
                cell(e.decided_by.as_deref().unwrap_or("")),
                e.decided_at.as_deref().unwrap_or(""),
                remediation
            ));
        }
    }
    m
}

fn short(id: &str) -> &str {
    &id[..id.len().min(8)]
}

fn counts(c: &std::collections::BTreeMap<String, u64>) -> String {
    if c.is_empty() {
        return "none".into();
    }
    c.iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}
