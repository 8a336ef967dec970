//! Seed 001's quarterly review as a sign-off template for the team lead: the hash chain
//! unbroken for the quarter's three months (vouch's verification of the ledger, each
//! monthly packet's verification, and consistency proofs between consecutive monthly
//! packets' checkpoints), no gaps in backup history and no unaccounted vault credential
//! rotations (the results of checks over that evidence), and a sample of merged PRs.
//! The facts are gathered by the engine (which reads packets and the ledger); this
//! module judges them into steps, never `pass` for what was not checked.

use crate::attest::{Attestation, Signoffs, Step, StepCheck};
use crate::schedule::Window;
use crate::Error;
use chrono::{DateTime, Duration, Utc};
use vouch_core::period::Period;

/// The kind of a quarterly review.
pub const KIND_REVIEW: &str = "quarterly-review";

/// One month of the quarter as its packet says.
#[derive(Debug, Clone)]
pub struct MonthFacts {
    /// `2026-07`.
    pub month: String,
    /// The packet's own verification (`Ok(description)`), or why there is none.
    pub packet: Result<String, String>,
    /// The consistency proof from this month's packet checkpoint to the next month's,
    /// checked (`None` for the last month).
    pub consistency_to_next: Option<Result<String, String>>,
}

/// What the engine found for the quarter.
#[derive(Debug, Clone)]
pub struct ReviewFacts {
    /// The three months.
    pub months: Vec<MonthFacts>,
    /// vouch's verification of the whole ledger now: `Ok(entries)` or `Err(reason)`.
    pub ledger: Result<u64, String>,
    /// Results of checks over backup evidence: (check id, period, status, message).
    pub backups: Vec<(String, String, String, String)>,
    /// Results of checks over vault credential rotations: (check id, period, status,
    /// message).
    pub rotations: Vec<(String, String, String, String)>,
}

fn checks_step(
    number: u32,
    key: &str,
    title: &str,
    what: &str,
    results: &[(String, String, String, String)],
) -> Step {
    let checks: Vec<StepCheck> = results
        .iter()
        .map(|(id, period, status, message)| StepCheck {
            check_id: id.clone(),
            evidence: Vec::new(),
            failing: Vec::new(),
            failing_count: 0,
            messages: vec![format!("{period}: {message}")],
            periods: vec![period.clone()],
            results: Vec::new(),
            status: status.clone(),
        })
        .collect();
    let status = vouch_checks::controls::rollup(checks.iter().map(|c| c.status.as_str()));
    Step {
        detail: checks.is_empty().then(|| {
            format!(
                "no check over {what} has a result for the quarter's months: nothing was judged"
            )
        }),
        checks,
        control_id: key.into(),
        criteria: Vec::new(),
        findings: Vec::new(),
        note: None,
        number,
        status: status.into(),
        title: title.into(),
    }
}

/// The review's steps, judged from the facts.
pub fn steps(f: &ReviewFacts) -> Vec<Step> {
    let mut lines = Vec::new();
    let mut ok = true;
    match &f.ledger {
        Ok(n) => lines.push(format!("ledger verified now: {n} entries")),
        Err(e) => {
            ok = false;
            lines.push(format!("ledger verification failed: {e}"));
        }
    }
    for m in &f.months {
        match &m.packet {
            Ok(d) => lines.push(format!("{}: {d}", m.month)),
            Err(e) => {
                ok = false;
                lines.push(format!("{}: {e}", m.month));
            }
        }
        match &m.consistency_to_next {
            Some(Ok(d)) => lines.push(format!("{} → next: {d}", m.month)),
            Some(Err(e)) => {
                ok = false;
                lines.push(format!("{} → next: {e}", m.month));
            }
            None => {}
        }
    }
    if f.months.len() != 3 {
        ok = false;
    }
    vec![
        Step {
            checks: Vec::new(),
            control_id: "hash-chain-3-months".into(),
            criteria: vec!["CC8.1".into()],
            detail: Some(lines.join("; ")),
            findings: Vec::new(),
            note: None,
            number: 1,
            status: if ok { "pass" } else { "fail" }.into(),
            title: "Hash chain unbroken for all 3 months (with consistency proofs between the monthly packets)".into(),
        },
        checks_step(2, "backup-history", "No gaps in backup history", "backup evidence (check ids containing `backup`)", &f.backups),
        checks_step(3, "vault-rotations", "No unaccounted-for vault credential rotations", "vault rotation evidence (check ids containing `vault` or `rotation`)", &f.rotations),
        Step {
            checks: Vec::new(),
            control_id: "pr-sample".into(),
            criteria: vec!["CC8.1".into()],
            detail: Some("a sample of merged PRs with a reviewer decision each is not drawn by vouch yet: review a sample of the quarter's PR evidence and record it in this step's note".into()),
            findings: Vec::new(),
            note: None,
            number: 4,
            status: "not_tested".into(),
            title: "Sample PRs reviewed for compliance with change-management policy".into(),
        },
    ]
}

impl Signoffs<'_> {
    /// Request the quarterly review of a quarter (once: an existing one is returned),
    /// for the collection signer role, due 30 days after the quarter.
    pub fn request_quarterly_review(
        &self,
        quarter: &Period,
        facts: &ReviewFacts,
        now: DateTime<Utc>,
    ) -> Result<Attestation, Error> {
        if !quarter.label.contains("-Q") {
            return Err(Error::Invalid(format!(
                "period: `{}` is not a quarter (2026-Q3)",
                quarter.label
            )));
        }
        if now < quarter.end {
            return Err(Error::Invalid(format!(
                "period: {} has not ended",
                quarter.label
            )));
        }
        if let Some(a) = self.find(KIND_REVIEW, &quarter.label)? {
            return Ok(a);
        }
        let s = &self.config.settings.attestations;
        let due = quarter.end + Duration::days(30);
        let w = Window {
            period: quarter.clone(),
            target_at: due,
            opens_at: now.min(due),
            closes_at: due,
        };
        self.create(
            KIND_REVIEW,
            &w,
            now,
            format!("{} quarterly review", quarter.label),
            &s.collection_signer_role.clone(),
            steps(facts),
        )
    }
}
