//! Seed 001's collection sign-off: after each monthly collection, a sign-off request
//! for the `team-lead` role (configurable) with the runbook's success criteria judged by
//! vouch and shown pass/fail — completed within 7 days of the period's end, all five
//! export types present (audit, auth, backups, PRs, DR drill), hash chain verified,
//! encrypted bundle in WORM, collection logged. The team lead signs it with the same
//! machinery as an attestation ([`crate::attest::Signoffs::sign`]); signing after the
//! 7 days is late.

use crate::attest::{Attestation, Signoffs, Step, KIND_COLLECTION};
use crate::schedule::Window;
use crate::Error;
use chrono::{DateTime, Duration, Utc};
use vouch_core::event::format_timestamp as ts;
use vouch_core::period::Period;

/// Seed 001's five export types.
pub const EXPORTS: &[&str] = &["audit", "auth", "backups", "prs", "dr-drill"];

/// What the collection run found, gathered by the engine (which can read packets and
/// archives; this crate sits below them).
#[derive(Debug, Clone)]
pub struct CollectionFacts {
    /// When the collection finished.
    pub completed_at: DateTime<Utc>,
    /// For each of [`EXPORTS`]: where it was found (`evidence backups: item 0193…`), or
    /// `None` when nothing was collected for it.
    pub exports: Vec<(String, Option<String>)>,
    /// The ledger verification: `Ok(entries checked)` or `Err(reason)`.
    pub chain: Result<u64, String>,
    /// The archive of the period (the collection log record), if any.
    pub archive: Option<serde_json::Value>,
}

fn step(number: u32, key: &str, title: &str, pass: bool, detail: String) -> Step {
    Step {
        checks: Vec::new(),
        control_id: key.into(),
        criteria: Vec::new(),
        detail: Some(detail),
        findings: Vec::new(),
        note: None,
        number,
        status: if pass { "pass" } else { "fail" }.into(),
        title: title.into(),
        sample: None,
    }
}

/// The criteria as steps, judged from the facts.
pub fn criteria(period: &Period, days: u32, f: &CollectionFacts) -> Vec<Step> {
    let due = period.end + Duration::days(i64::from(days));
    let missing: Vec<&str> = f
        .exports
        .iter()
        .filter(|(_, w)| w.is_none())
        .map(|(n, _)| n.as_str())
        .collect();
    let found: Vec<String> = f
        .exports
        .iter()
        .filter_map(|(n, w)| w.as_ref().map(|w| format!("{n}: {w}")))
        .collect();
    let encrypted = f
        .archive
        .as_ref()
        .is_some_and(|a| a["encryption"].as_array().is_some_and(|e| !e.is_empty()));
    vec![
        step(
            1,
            "completed-in-time",
            &format!("Monthly collection completed within {days} days of period end"),
            f.completed_at <= due,
            format!("completed {}, due by {}", ts(&f.completed_at), ts(&due)),
        ),
        step(
            2,
            "exports-present",
            "All 5 export types present (audit / auth / backups / prs / DR drill)",
            missing.is_empty() && f.exports.len() == EXPORTS.len(),
            if missing.is_empty() {
                found.join("; ")
            } else {
                format!(
                    "missing: {}; found: {}",
                    missing.join(", "),
                    found.join("; ")
                )
            },
        ),
        step(
            3,
            "hash-chain-verified",
            "Hash chain verified intact",
            f.chain.is_ok(),
            match &f.chain {
                Ok(n) => format!(
                    "vouch verified the ledger: {n} entries, chain, tree and checkpoints intact"
                ),
                Err(e) => format!("verification failed: {e}"),
            },
        ),
        step(
            4,
            "encrypted-in-worm",
            "Encrypted bundle stored in WORM storage",
            encrypted,
            match &f.archive {
                Some(a) if encrypted => format!(
                    "{} in {}",
                    a["folder"].as_str().unwrap_or(""),
                    a["storage"].as_str().unwrap_or("")
                ),
                Some(_) => "the archive is not encrypted (--no-encrypt)".into(),
                None => "no archive for the period (set [archive] recipients)".into(),
            },
        ),
        step(
            5,
            "collection-logged",
            "Collection logged",
            f.archive.is_some(),
            match &f.archive {
                Some(a) => format!(
                    "collection {} ({})",
                    a["id"].as_str().unwrap_or(""),
                    a["type"].as_str().unwrap_or("")
                ),
                None => "no collection record for the period".into(),
            },
        ),
    ]
}

impl Signoffs<'_> {
    /// Request the collection sign-off of a month (once: an existing request is returned
    /// unchanged). Due `collection_days` after the period's end; signed late after that.
    pub fn request_collection_signoff(
        &self,
        period: &Period,
        facts: &CollectionFacts,
        now: DateTime<Utc>,
    ) -> Result<Attestation, Error> {
        if let Some(a) = self.find(KIND_COLLECTION, &period.label)? {
            return Ok(a);
        }
        let s = &self.config.settings.attestations;
        let due = period.end + Duration::days(i64::from(s.collection_days));
        let w = Window {
            period: period.clone(),
            target_at: due,
            opens_at: now.min(due),
            closes_at: due,
        };
        let steps = criteria(period, s.collection_days, facts);
        self.create(
            KIND_COLLECTION,
            &w,
            now,
            format!("{} collection sign-off", period.label),
            &s.collection_signer_role.clone(),
            steps,
        )
    }
}
