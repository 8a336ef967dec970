//! Seed 001's quarterly review as a sign-off template for the team lead: the hash chain
//! unbroken for the quarter's three months (vouch's verification of the ledger, each
//! monthly packet's verification, and consistency proofs between consecutive monthly
//! packets' checkpoints), no gaps in backup history and no unaccounted vault credential
//! rotations (the results of checks over that evidence), and a sample of merged PRs
//! drawn from the quarter's PR evidence under a seed bound to the ledger checkpoint at
//! request time, each decided by the reviewer (`approved`, or `exception` with a note),
//! each decision a ledger event.
//! The facts are gathered by the engine (which reads packets and the ledger); this
//! module judges them into steps, never `pass` for what was not checked.

use crate::attest::{canonical, Attestation, Signoffs, Step, StepCheck};
use crate::schedule::Window;
use crate::Error;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;
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
        sample: None,
    }
}

/// The review's steps, judged from the facts and the drawn PR sample.
pub fn steps(f: &ReviewFacts, sample: PrSample) -> Vec<Step> {
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
            sample: None,
        },
        checks_step(2, "backup-history", "No gaps in backup history", "backup evidence (check ids containing `backup`)", &f.backups),
        checks_step(3, "vault-rotations", "No unaccounted-for vault credential rotations", "vault rotation evidence (check ids containing `vault` or `rotation`)", &f.rotations),
        pr_step(sample),
    ]
}

/// The control id of the PR-sample step.
pub const PR_STEP: &str = "pr-sample";

/// A reviewer's decision on one sampled PR.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrDecision {
    /// `approved` or `exception`.
    pub decision: String,
    /// Why (required for an exception).
    pub note: Option<String>,
    /// Who decided (the API caller's actor or the CLI's signer name).
    pub by: String,
    /// Their role.
    pub role: String,
    /// When (RFC 3339).
    pub at: String,
    /// The ledger seq of the `quarterly_review.pr_decided` event.
    pub ledger_seq: Option<u64>,
}

/// The evidence item a PR was read from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrItem {
    /// The evidence definition (`change.merged-prs`).
    pub evidence_id: String,
    /// The item's id.
    pub item_id: String,
    /// The item's period label.
    pub period: String,
    /// The content's SHA-256.
    pub sha256: Option<String>,
    /// The seq of its `evidence.collected` event.
    pub ledger_seq: Option<u64>,
    /// How many PR rows it held.
    pub rows: u64,
}

/// One merged PR of the sample.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SampledPr {
    /// Its identity in the evidence: `html_url`, else `url`, else `number`, else `id`.
    pub key: String,
    /// The PR number, if the row has one.
    pub number: Option<u64>,
    /// Its title.
    pub title: Option<String>,
    /// Its author (`user.login`, `author.login` or `author`).
    pub author: Option<String>,
    /// When it was merged (`pull_request.merged_at`, `merged_at` or `closed_at`).
    pub merged_at: Option<String>,
    /// The evidence item it was read from.
    pub item_id: String,
    /// Hex SHA-256(seed ‖ "\n" ‖ key): the sample is the PRs of lowest rank.
    pub rank: String,
    /// The reviewer's decision, once given.
    pub decision: Option<PrDecision>,
}

/// The PR sample of a quarterly review: how it was drawn (reproducible by an auditor
/// from the recorded basis) and the PRs with their decisions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrSample {
    /// How the seed was made, in words.
    pub basis: String,
    /// Hex SHA-256 of the basis string.
    pub seed: String,
    /// The size of the ledger checkpoint the seed is bound to.
    pub checkpoint_size: u64,
    /// Its root (base64).
    pub checkpoint_root: String,
    /// The configured sample size (`[attestations] pr_sample_size`).
    pub requested: u32,
    /// How many distinct merged PRs the quarter's PR evidence holds.
    pub population: u64,
    /// The evidence definitions read (collection_exports' `prs`, or ids containing `prs`
    /// or `pull`).
    pub evidence_ids: Vec<String>,
    /// The items read (the latest successful one per definition and period).
    pub items: Vec<PrItem>,
    /// The sampled PRs, by rank.
    pub prs: Vec<SampledPr>,
}

/// The seed basis: the review's quarter and organisation with the ledger checkpoint the
/// draw is bound to (nobody chooses the sample: the root depends on every event so far).
pub fn seed_basis(organization: &str, quarter: &str, size: u64, root: &str) -> String {
    format!("vouch pr-sample v1\norganization={organization}\nquarter={quarter}\ncheckpoint_size={size}\ncheckpoint_root={root}\n")
}

/// Rank of a PR under a seed.
pub fn rank(seed: &str, key: &str) -> String {
    vouch_store::blobs::sha256_hex(format!("{seed}\n{key}").as_bytes())
}

/// Draw `n` PRs (all when fewer): the `n` of lowest rank, in rank order.
pub fn draw(seed: &str, mut prs: Vec<SampledPr>, n: u32) -> Vec<SampledPr> {
    for p in &mut prs {
        p.rank = rank(seed, &p.key);
    }
    prs.sort_by(|a, b| a.rank.cmp(&b.rank).then(a.key.cmp(&b.key)));
    prs.truncate(n as usize);
    prs
}

fn text_at(row: &Value, paths: &[&str]) -> Option<String> {
    paths
        .iter()
        .find_map(|p| match vouch_evidence::rows::field(row, p) {
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        })
}

/// A PR row of the evidence as a candidate (no rank yet); `None` when the row names no PR.
pub fn pr_of_row(row: &Value, item_id: &str) -> Option<SampledPr> {
    let key = text_at(row, &["html_url", "url", "number", "id"])?;
    Some(SampledPr {
        number: vouch_evidence::rows::field(row, "number").and_then(|v| match v {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.trim().trim_start_matches('#').parse().ok(),
            _ => None,
        }),
        title: text_at(row, &["title"]),
        author: text_at(row, &["user.login", "author.login", "author"]),
        merged_at: text_at(row, &["pull_request.merged_at", "merged_at", "closed_at"]),
        item_id: item_id.into(),
        rank: String::new(),
        decision: None,
        key,
    })
}

/// Step 4 from its sample: `no_evidence` without PRs (never pass), `not_tested` while a
/// sampled PR awaits a decision, `fail` with an exception, `pass` when every sampled PR
/// was approved.
pub fn pr_step(sample: PrSample) -> Step {
    let pending = sample.prs.iter().filter(|p| p.decision.is_none()).count();
    let exceptions: Vec<String> = sample
        .prs
        .iter()
        .filter(|p| {
            p.decision
                .as_ref()
                .is_some_and(|d| d.decision == "exception")
        })
        .map(label)
        .collect();
    let (status, detail) = if sample.prs.is_empty() {
        (
            "no_evidence",
            if sample.items.is_empty() {
                format!(
                    "no PR evidence collected for the quarter ({}): nothing to sample",
                    if sample.evidence_ids.is_empty() {
                        "no evidence definition named like `prs` or `pull`, and no `collection_exports.prs`".to_string()
                    } else {
                        sample.evidence_ids.join(", ")
                    }
                )
            } else {
                format!(
                    "the quarter's PR evidence ({} items) holds no merged PR: nothing to sample",
                    sample.items.len()
                )
            },
        )
    } else if !exceptions.is_empty() {
        (
            "fail",
            format!(
                "{} of {} sampled PRs (from {} merged) are exceptions: {}{}",
                exceptions.len(),
                sample.prs.len(),
                sample.population,
                exceptions.join(", "),
                if pending > 0 {
                    format!("; {pending} await a decision")
                } else {
                    String::new()
                }
            ),
        )
    } else if pending > 0 {
        (
            "not_tested",
            format!(
                "{pending} of {} sampled PRs (from {} merged) await a reviewer decision (`vouch signoff decide`)",
                sample.prs.len(),
                sample.population
            ),
        )
    } else {
        (
            "pass",
            format!(
                "all {} sampled PRs (from {} merged) approved by a reviewer",
                sample.prs.len(),
                sample.population
            ),
        )
    };
    Step {
        checks: Vec::new(),
        control_id: PR_STEP.into(),
        criteria: vec!["CC8.1".into()],
        detail: Some(detail),
        findings: Vec::new(),
        note: None,
        number: 4,
        status: status.into(),
        title: "Sample PRs reviewed for compliance with change-management policy".into(),
        sample: Some(sample),
    }
}

fn label(p: &SampledPr) -> String {
    match p.number {
        Some(n) => format!("#{n}"),
        None => p.key.clone(),
    }
}

/// Is `wanted` (`412`, `#412`, or the key) this PR?
fn names(p: &SampledPr, wanted: &str) -> bool {
    let w = wanted.trim();
    p.key == w
        || p.number
            .is_some_and(|n| w.trim_start_matches('#') == n.to_string())
}

impl Signoffs<'_> {
    /// The evidence definitions holding merged PRs: `collection_exports.prs` when set,
    /// else every definition whose id contains `prs` or `pull`.
    fn pr_evidence_ids(&self) -> Vec<String> {
        let s = &self.config.settings.attestations;
        if let Some(id) = s.collection_exports.get("prs") {
            return vec![id.clone()];
        }
        self.config
            .evidence
            .iter()
            .map(|d| d.id.clone())
            .filter(|id| id.contains("prs") || id.contains("pull"))
            .collect()
    }

    /// Draw the quarter's PR sample: read the latest successful item per PR evidence
    /// definition and period inside the quarter, take the distinct PRs, and keep the
    /// `pr_sample_size` of lowest rank under a seed bound to the current checkpoint.
    pub fn draw_pr_sample(&self, quarter: &Period) -> Result<PrSample, Error> {
        let ids = self.pr_evidence_ids();
        let items = vouch_evidence::list(
            &self.store,
            &vouch_evidence::ListFilter {
                evidence_id: None,
                period: Some(quarter.clone()),
                limit: None,
            },
        )
        .map_err(|e| Error::Corrupt(format!("evidence items: {e}")))?;
        let blobs = vouch_evidence::blob_store(self.config);
        let mut seen_runs = std::collections::BTreeSet::new();
        let mut refs = Vec::new();
        let mut candidates: BTreeMap<String, SampledPr> = BTreeMap::new();
        // Newest first: the first successful item of a (definition, period) is its latest.
        for item in items.iter().filter(|i| i.ok()) {
            let eid = item.record["evidence_id"].as_str().unwrap_or_default();
            if !ids.iter().any(|x| x == eid) {
                continue;
            }
            let p = &item.record["period"];
            let period = p["label"].as_str().unwrap_or_default().to_string();
            let run = (
                eid.to_string(),
                p["start"].as_str().unwrap_or_default().to_string(),
                p["end"].as_str().unwrap_or_default().to_string(),
            );
            if !seen_runs.insert(run) {
                continue;
            }
            let Some(sha) = item.sha256() else { continue };
            let bytes = blobs
                .get(sha)
                .map_err(|e| Error::Corrupt(format!("evidence item {}: {e}", item.id())))?;
            let media = item.record["media_type"].as_str().unwrap_or("");
            let path = self
                .config
                .evidence_def(eid)
                .and_then(|d| d.rows.clone())
                .filter(|_| media == "application/json");
            let rows = vouch_evidence::rows::parse(&bytes, media, path.as_deref())
                .map_err(|e| Error::Corrupt(format!("evidence item {}: {e}", item.id())))?;
            refs.push(PrItem {
                evidence_id: eid.into(),
                item_id: item.id().into(),
                period,
                sha256: Some(sha.into()),
                ledger_seq: item.ledger_seq,
                rows: rows.len() as u64,
            });
            for row in &rows {
                if let Some(p) = pr_of_row(row, item.id()) {
                    candidates.entry(p.key.clone()).or_insert(p);
                }
            }
        }
        refs.sort_by(|a, b| (&a.evidence_id, &a.period).cmp(&(&b.evidence_id, &b.period)));
        let cp = self.ledger.checkpoint()?;
        let basis = seed_basis(
            &self.config.settings.organization.name,
            &quarter.label,
            cp.size,
            &cp.root,
        );
        let seed = vouch_store::blobs::sha256_hex(basis.as_bytes());
        let requested = self.config.settings.attestations.pr_sample_size;
        let population = candidates.len() as u64;
        let prs = draw(&seed, candidates.into_values().collect(), requested);
        Ok(PrSample {
            basis,
            seed,
            checkpoint_size: cp.size,
            checkpoint_root: cp.root,
            requested,
            population,
            evidence_ids: ids,
            items: refs,
            prs,
        })
    }

    /// Record a reviewer's decision on a sampled PR of a quarterly review (`approved`,
    /// or `exception` with a note). The reviewer is the review's signer role. The row
    /// is changed only if it is still the one read and unsigned; only then is the
    /// `quarterly_review.pr_decided` event appended (the row is put back if it cannot
    /// be). A decision may be changed until the review is signed; each is an event.
    #[allow(clippy::too_many_arguments)]
    pub fn decide_pr(
        &self,
        id: &str,
        pr: &str,
        decision: &str,
        note: Option<&str>,
        who: &str,
        role: &str,
        now: DateTime<Utc>,
    ) -> Result<Attestation, Error> {
        let mut a = self.get(id)?;
        if a.kind != KIND_REVIEW {
            return Err(Error::Invalid(format!(
                "id: {} is a {}, not a quarterly review: only reviews sample PRs",
                a.id, a.kind
            )));
        }
        if a.signed.is_some() || a.status == "signed" {
            return Err(Error::Conflict(format!(
                "{} ({}) is signed already: its PR decisions are frozen",
                a.title, a.id
            )));
        }
        if role != a.signer_role {
            return Err(Error::Forbidden(format!(
                "{} is decided and signed by the `{}` role; `{role}` may not decide its PRs",
                a.title, a.signer_role
            )));
        }
        if who.trim().is_empty() {
            return Err(Error::Invalid("signer: a name is needed".into()));
        }
        if !["approved", "exception"].contains(&decision) {
            return Err(Error::Invalid(format!(
                "decision: must be approved or exception, not `{decision}`"
            )));
        }
        let note = note.map(str::trim).filter(|n| !n.is_empty());
        if decision == "exception" && note.is_none() {
            return Err(Error::Invalid(
                "note: an exception needs a note saying what is wrong with the PR".into(),
            ));
        }
        let raw = self
            .store
            .query(
                "SELECT record FROM attestations WHERE id = $1",
                &[a.id.clone().into()],
            )?
            .first()
            .map(|r| r.text(0))
            .ok_or_else(|| Error::NotFound(format!("no attestation {id}")))?;
        let step = a
            .steps
            .iter_mut()
            .find(|s| s.control_id == PR_STEP)
            .ok_or_else(|| Error::Corrupt(format!("{} has no {PR_STEP} step", a.id)))?;
        let mut sample = step.sample.clone().ok_or_else(|| {
            Error::Invalid(format!(
                "pr: {} has no PR sample (requested before samples were drawn)",
                a.title
            ))
        })?;
        let sampled: Vec<String> = sample.prs.iter().map(label).collect();
        let Some(p) = sample.prs.iter_mut().find(|p| names(p, pr)) else {
            return Err(Error::Invalid(format!(
                "pr: `{pr}` is not in the sample of {} (sampled: {})",
                a.title,
                if sampled.is_empty() {
                    "none".to_string()
                } else {
                    sampled.join(", ")
                }
            )));
        };
        let key = p.key.clone();
        p.decision = Some(PrDecision {
            decision: decision.into(),
            note: note.map(str::to_string),
            by: who.into(),
            role: role.into(),
            at: vouch_core::event::format_timestamp(&now),
            ledger_seq: None,
        });
        let note_keep = step.note.clone();
        *step = pr_step(sample);
        step.note = note_keep;
        self.prefill(&mut a, now)?;
        let first = canonical(&a)?;
        let mut n = 0;
        self.store.write(&mut |sql| {
            n = sql.execute(
                "UPDATE attestations SET record = $2 WHERE id = $1 AND record = $3 AND document IS NULL",
                &[a.id.clone().into(), first.clone().into(), raw.clone().into()],
            )?;
            Ok(())
        })?;
        if n != 1 {
            return Err(Error::Conflict(format!(
                "{} changed or was signed meanwhile: read it again and decide again",
                a.title
            )));
        }
        let seq = match self.event(
            &a,
            "quarterly_review.pr_decided",
            Some(who),
            now,
            json!({"pr": key, "decision": decision, "note": note, "role": role}),
        ) {
            Ok(seq) => seq,
            Err(e) => {
                let _ = self.store.write(&mut |sql| {
                    sql.execute(
                        "UPDATE attestations SET record = $2 WHERE id = $1 AND record = $3 AND document IS NULL",
                        &[a.id.clone().into(), raw.clone().into(), first.clone().into()],
                    )?;
                    Ok(())
                });
                return Err(e);
            }
        };
        // The event's seq into the decision (a second guarded update).
        if let Some(d) = a
            .steps
            .iter_mut()
            .filter_map(|s| s.sample.as_mut())
            .flat_map(|s| s.prs.iter_mut())
            .find(|p| p.key == key)
            .and_then(|p| p.decision.as_mut())
        {
            d.ledger_seq = Some(seq);
        }
        let second = canonical(&a)?;
        self.store.write(&mut |sql| {
            sql.execute(
                "UPDATE attestations SET record = $2 WHERE id = $1 AND record = $3 AND document IS NULL",
                &[a.id.clone().into(), second.clone().into(), first.clone().into()],
            )?;
            Ok(())
        })?;
        Ok(a)
    }

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
            steps(facts, self.draw_pr_sample(quarter)?),
        )
    }
}
