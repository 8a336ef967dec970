//! Attestations: windows, drafts pre-filled from check results, signing, lateness.
//!
//! An attestation is a row of `attestations` per kind and period. The scheduler's
//! [`Signoffs::sync`] opens each window at its opening time with a draft (one step per
//! control in scope, pre-filled from the period's stored check results, failing rows,
//! evidence items and open findings), records a window that closed before vouch could
//! open it as `missed`, and a window that closed unsigned as `overdue` — both with a high
//! finding. [`Signoffs::sign`] re-reads the results (the draft opens before the period
//! ends), applies the signer's notes, refuses `unqualified` when a step did not pass or a
//! high/critical finding is open, freezes the document (canonical JSON signed with
//! vouch's key and optionally the signer's own) and records it in the ledger. Every step
//! is a ledger event.

use crate::schedule::{self, Window};
use crate::signature::{PersonalKey, SignedDocument};
use crate::Error;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use vouch_config::Config;
use vouch_core::event::format_timestamp as ts;
use vouch_core::period::Period;
use vouch_ledger::{Keys, Ledger};
use vouch_store::Store;

/// The kind of seed 002's quarterly (or monthly) attestation.
pub const KIND_ATTESTATION: &str = "attestation";
/// The kind of seed 001's monthly collection sign-off.
pub const KIND_COLLECTION: &str = "collection-signoff";

/// Statuses: `open` (draft, window open), `overdue` (closed unsigned), `missed` (closed
/// before a draft could be made), `signed`.
pub const STATUSES: &[&str] = &["open", "overdue", "missed", "signed"];

/// Step statuses that are exceptions (anything but `pass` and `not_applicable`).
const EXCEPTION_STATUSES: &[&str] = &["fail", "error", "no_evidence", "not_tested"];

/// An open finding linked to an attestation or step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingRef {
    /// The finding's check, if a check opened it.
    pub check_id: Option<String>,
    /// The finding's id.
    pub id: String,
    /// Its severity.
    pub severity: String,
    /// Its status (`open` or `accepted`).
    pub status: String,
    /// Its title.
    pub title: String,
}

/// One check's verdict over the attested period, in a step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepCheck {
    /// The check's id.
    pub check_id: String,
    /// The evidence items its results read (ids, hashes, ledger seqs).
    pub evidence: Vec<Value>,
    /// The failing rows of its results (as stored, at most the check's limit each).
    pub failing: Vec<Value>,
    /// How many rows failed, over all its results.
    pub failing_count: u64,
    /// One sentence per result, or why there is none.
    pub messages: Vec<String>,
    /// The periods of the results read (the attested period and/or its months).
    pub periods: Vec<String>,
    /// The results read (ids and the ledger seqs of their `check.evaluated` events).
    pub results: Vec<Value>,
    /// The rolled-up status: `pass`, `fail`, `error`, `no_evidence`… (never `pass` when no
    /// result exists).
    pub status: String,
}

/// One step of a draft: a control in scope (or a criterion of a collection sign-off).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// The checks supporting it and their verdicts.
    pub checks: Vec<StepCheck>,
    /// The control's id (or the criterion's key).
    pub control_id: String,
    /// Trust Services Criteria it addresses.
    pub criteria: Vec<String>,
    /// What was checked, for criteria judged by vouch directly.
    pub detail: Option<String>,
    /// Open findings linked to it.
    pub findings: Vec<FindingRef>,
    /// The signer's note.
    pub note: Option<String>,
    /// 1-based step number.
    pub number: u32,
    /// `pass`, `fail`, `error`, `no_evidence`, `not_tested` or `not_applicable`.
    pub status: String,
    /// The control's title.
    pub title: String,
    /// The quarterly review's sample of merged PRs with their reviewer decisions (only
    /// on that step; absent elsewhere, so other documents' bytes are unchanged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample: Option<crate::quarterly::PrSample>,
}

/// Who signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signer {
    /// Their name (the API caller's actor, or `--signer`/the login name in the CLI).
    pub name: String,
    /// Their role.
    pub role: String,
    /// `api` or `cli`.
    pub via: String,
}

/// The signing of a document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signing {
    /// Signed after the hard close.
    pub late: bool,
    /// `unqualified` or `qualified`.
    pub opinion: String,
    /// The signer's own signature kind, if any (`ssh`, `gpg`).
    pub personal_signature: Option<String>,
    /// When (RFC 3339).
    pub signed_at: String,
    /// Who.
    pub signer: Signer,
    /// vouch's signing key id.
    pub vouch_key_id: String,
}

/// An attestation or collection sign-off, as stored and served.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attestation {
    /// The hard close (RFC 3339): signing at or after it is late.
    pub closes_at: String,
    /// When the row was made (RFC 3339).
    pub created_at: String,
    /// Hex SHA-256 of the signed canonical document, once signed.
    pub document_sha256: Option<String>,
    /// Why `unqualified` is not allowed (empty when it is).
    pub exceptions: Vec<String>,
    /// Open high/critical findings (any control) at the last pre-fill.
    pub findings: Vec<FindingRef>,
    /// The attestation's id (UUIDv7).
    pub id: String,
    /// `attestation` or `collection-signoff`.
    pub kind: String,
    /// Signed after the hard close (or not signed by it).
    pub late: bool,
    /// The ledger seq of the `attestation.signed` event, once signed.
    pub ledger_seq: Option<u64>,
    /// Findings vouch opened about this document's timeliness (missed, overdue, late).
    pub lateness_findings: Vec<String>,
    /// When the window opens (RFC 3339).
    pub opens_at: String,
    /// The organisation.
    pub organization: String,
    /// The attested period's label (`2026-Q3`).
    pub period: String,
    /// The attested period's end (exclusive, RFC 3339).
    pub period_end: String,
    /// The attested period's start (RFC 3339).
    pub period_start: String,
    /// When the steps were last pre-filled from stored results (RFC 3339).
    pub prefilled_at: Option<String>,
    /// The signing, once signed.
    pub signed: Option<Signing>,
    /// The role that signs it.
    pub signer_role: String,
    /// `open`, `overdue`, `missed` or `signed`.
    pub status: String,
    /// The steps (empty for a missed window until someone signs it late).
    pub steps: Vec<Step>,
    /// The target date (RFC 3339).
    pub target_at: String,
    /// A title for people.
    pub title: String,
    /// Whether an `unqualified` opinion may be given now.
    pub unqualified_allowed: bool,
}

/// `unqualified` or `qualified`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opinion {
    /// No exceptions.
    Unqualified,
    /// With the listed exceptions.
    Qualified,
}

impl Opinion {
    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            Opinion::Unqualified => "unqualified",
            Opinion::Qualified => "qualified",
        }
    }
}

/// A request to sign.
#[derive(Debug, Clone)]
pub struct SignRequest {
    /// The signer's name.
    pub signer: String,
    /// The signer's role (must be the document's signer role).
    pub role: String,
    /// `api` or `cli`.
    pub via: String,
    /// The opinion asked for.
    pub opinion: Opinion,
    /// Notes by step number (`3`) or control id.
    pub notes: BTreeMap<String, String>,
    /// The signer's own key, if they sign personally too.
    pub personal: Option<PersonalKey>,
}

/// How long a draft fetched for a detached signature may be signed (hours).
pub const DRAFT_VALID_HOURS: i64 = 1;

/// The kind of a detached signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DetachedKind {
    /// `ssh-keygen -Y sign -n vouch-attestation`.
    Ssh,
    /// `gpg --armor --detach-sign`.
    Gpg,
}

/// A signature the signer made on their own machine over a draft's bytes.
#[derive(Debug, Clone)]
pub struct DetachedSignature {
    /// `ssh` or `gpg`.
    pub kind: DetachedKind,
    /// The armored signature.
    pub signature: String,
    /// The SSH public key (or allowed-signers line), or the armored OpenPGP public key.
    pub public_key: String,
    /// The draft's `signed.signed_at`: when it was made.
    pub prepared_at: DateTime<Utc>,
    /// Hex SHA-256 of the draft bytes that were signed.
    pub document_sha256: String,
}

impl DetachedSignature {
    /// Refuse a draft time in the future (`field`: the request field holding it,
    /// `draft_field`: where the draft holds it) or more than [`DRAFT_VALID_HOURS`] old.
    pub fn check_age(
        &self,
        now: DateTime<Utc>,
        field: &str,
        draft_field: &str,
    ) -> Result<(), Error> {
        if self.prepared_at > now + chrono::Duration::minutes(1) {
            return Err(Error::Invalid(format!(
                "{field}: {} is in the future: send the draft's {draft_field}",
                ts(&self.prepared_at)
            )));
        }
        if now - self.prepared_at > chrono::Duration::hours(DRAFT_VALID_HOURS) {
            return Err(Error::Conflict(format!(
                "the draft was made at {}, more than {DRAFT_VALID_HOURS} hour(s) ago: fetch it again and sign that",
                ts(&self.prepared_at)
            )));
        }
        Ok(())
    }

    /// The signer's personal signature over `bytes` (the draft), checked with the key
    /// sent alone (`ssh-keygen -Y verify`, or `gpg --verify` in a throwaway keyring):
    /// invalid, naming the problem, when it does not verify or the key is not a public
    /// key. Shared by attestations and access-review campaigns.
    pub fn personal_signature(
        &self,
        signer: &str,
        bytes: &[u8],
    ) -> Result<crate::signature::PersonalSignature, Error> {
        use crate::signature::{self as sig, PersonalSignature};
        let sha = vouch_store::blobs::sha256_hex(bytes);
        let bad = |e: Error| {
            Error::Invalid(format!(
                "signature: it does not verify over the draft (SHA-256 {sha}) with the key sent: {}",
                e.to_string().trim_start_matches("public_key: ")
            ))
        };
        Ok(match self.kind {
            DetachedKind::Ssh => {
                if self.public_key.contains("PRIVATE KEY") {
                    return Err(Error::Invalid(
                        "public_key: that is a private key; send the public key (the .pub file)"
                            .into(),
                    ));
                }
                let key = sig::ssh_public_key_of(&self.public_key).ok_or_else(|| {
                    Error::Invalid("public_key: not an SSH public key or allowed-signers line (ssh-ed25519 AAAA…)".into())
                })?;
                let s = PersonalSignature::Ssh {
                    signature: self.signature.clone(),
                    public_key: key,
                    principal: sig::principal_of(signer),
                };
                sig::verify_personal(&s, bytes).map_err(bad)?;
                s
            }
            DetachedKind::Gpg => {
                if self.public_key.contains("PRIVATE KEY BLOCK")
                    || !self.public_key.contains("BEGIN PGP PUBLIC KEY BLOCK")
                {
                    return Err(Error::Invalid(
                        "public_key: not an armored OpenPGP public key (gpg --armor --export ID); never a private key".into(),
                    ));
                }
                let fpr = sig::gpg_verify_with_key(&self.signature, &self.public_key, bytes)
                    .map_err(bad)?;
                PersonalSignature::Gpg {
                    signature: self.signature.clone(),
                    key_id: fpr,
                }
            }
        })
    }
}

/// A document ready to be signed.
struct Prepared {
    a: Attestation,
    unsigned: Attestation,
    late: bool,
    document: Value,
}

/// What [`Signoffs::sync`] did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SyncReport {
    /// Windows opened (periods).
    pub opened: Vec<String>,
    /// Windows recorded as missed.
    pub missed: Vec<String>,
    /// Windows closed unsigned (`overdue`), any kind.
    pub overdue: Vec<String>,
}

/// Sign-off operations over one data directory.
pub struct Signoffs<'a> {
    /// The configuration (controls, checks, `[attestations]`).
    pub config: &'a Config,
    /// The store.
    pub store: Store,
    /// The ledger every step is recorded in.
    pub ledger: &'a Ledger,
    /// vouch's keys (the signing key signs documents).
    pub keys: &'a Keys,
}

fn parse_t(s: &str) -> Option<DateTime<Utc>> {
    vouch_core::period::parse_instant(s)
}

impl Signoffs<'_> {
    fn settings(&self) -> &vouch_config::AttestationSettings {
        &self.config.settings.attestations
    }

    /// Open every window that has opened by `now` (with a draft), record as `missed`
    /// each window that closed before it could be opened, and mark `overdue` each open
    /// document past its hard close. Windows that closed before `since` (when this
    /// database was initialised) are not vouch's to report. Idempotent.
    pub fn sync(&self, now: DateTime<Utc>, since: DateTime<Utc>) -> Result<SyncReport, Error> {
        let mut report = SyncReport::default();
        if self.settings().enabled {
            for w in schedule::windows_between(self.settings(), since, now) {
                if self.find(KIND_ATTESTATION, &w.period.label)?.is_some() {
                    continue;
                }
                // A concurrent sync may make the row first: then it is that one's to
                // report (and to record in the ledger), not ours.
                if now < w.closes_at {
                    if self.open_window(&w, now)?.is_some() {
                        report.opened.push(w.period.label.clone());
                    }
                } else if self.record_missed(&w, now)? {
                    report.missed.push(w.period.label.clone());
                }
            }
        }
        let rows = self.store.query(
            "SELECT record FROM attestations WHERE status = 'open' AND closes_at <= $1 ORDER BY closes_at",
            &[ts(&now).into()],
        )?;
        for r in rows {
            let open = decode(&r.text(0))?;
            if self.close_unsigned(&open, now)? {
                report
                    .overdue
                    .push(format!("{}:{}", open.kind, open.period));
            }
        }
        Ok(report)
    }

    /// Open the attestation window of `period` now (a manual `POST /attestations`):
    /// a draft, unless it exists. Refused (invalid, naming the opening time) for a window
    /// that has not opened yet, and (conflict) for one that has closed: it is recorded as
    /// missed by the scheduler and can still be signed late.
    pub fn open_period(&self, period: &Period, now: DateTime<Utc>) -> Result<Attestation, Error> {
        let label = schedule::period_containing(self.settings(), period.start).label;
        if label != period.label {
            return Err(Error::Invalid(format!(
                "period: `{}` is not a {} attestation period (try {label})",
                period.label,
                self.settings().cadence
            )));
        }
        if let Some(a) = self.find(KIND_ATTESTATION, &period.label)? {
            return Err(Error::Conflict(format!(
                "the {} attestation exists already ({}, {})",
                period.label, a.id, a.status
            )));
        }
        let w = schedule::window(self.settings(), period);
        // A window opened early would list as `open` but refuse every signature until
        // its opening time: refuse it now, naming when it opens (seed 002: five days
        // before the target; `open_days_before` in `[attestations]`).
        if now < w.opens_at {
            return Err(Error::Invalid(format!(
                "period: the {} window opens at {} ({} days before its target {}); it cannot be opened or signed before",
                period.label,
                ts(&w.opens_at),
                self.settings().open_days_before,
                ts(&w.target_at)
            )));
        }
        if now >= w.closes_at {
            return Err(Error::Conflict(format!(
                "the {} window closed at {}; it is not opened after its close (a missed window can still be signed late)",
                period.label,
                ts(&w.closes_at)
            )));
        }
        self.open_window(&w, now)?.ok_or_else(|| {
            Error::Conflict(format!("the {} attestation exists already", period.label))
        })
    }

    /// Mark an open document past its hard close `overdue`. The status changes only if
    /// it is still open and unsigned (a conditional update: a signature or another sweep
    /// that got there first wins); only then is the high finding opened and the
    /// `attestation.window_closed_unsigned` event recorded. If either cannot be
    /// recorded, the row is put back to `open`. Whether this call closed it.
    fn close_unsigned(&self, open: &Attestation, now: DateTime<Utc>) -> Result<bool, Error> {
        let mut a = open.clone();
        a.status = "overdue".into();
        a.late = true;
        let record = canonical(&a)?;
        let mut n = 0;
        self.store.write(&mut |sql| {
            n = sql.execute(
                "UPDATE attestations SET status = 'overdue', record = $2 WHERE id = $1 AND status = 'open' AND document IS NULL",
                &[a.id.clone().into(), record.clone().into()],
            )?;
            Ok(())
        })?;
        if n != 1 {
            return Ok(false);
        }
        let undo = |e: Error| -> Error {
            let _ = self.restore(open, "overdue");
            e
        };
        let f = self
            .lateness_finding(
                &a,
                "high",
                &format!("{} not signed by its hard close", a.title),
                &format!(
                    "The {} window closed at {} without a signature. It can still be signed (marked late).",
                    a.title, a.closes_at
                ),
                now,
            )
            .map_err(undo)?;
        a.lateness_findings.push(f);
        self.event(
            &a,
            "attestation.window_closed_unsigned",
            None,
            now,
            json!({}),
        )
        .map_err(undo)?;
        self.save(&a)?;
        Ok(true)
    }

    /// Put an unsigned row back as it was (`previous`), if it still has status `now_is`:
    /// the undo of a status change whose ledger event could not be appended.
    fn restore(&self, previous: &Attestation, now_is: &str) -> Result<(), Error> {
        let record = canonical(previous)?;
        self.store.write(&mut |sql| {
            sql.execute(
                "UPDATE attestations SET status = $2, record = $3 WHERE id = $1 AND status = $4 AND document IS NULL",
                &[previous.id.clone().into(), previous.status.clone().into(), record.clone().into(), now_is.into()],
            )?;
            Ok(())
        })?;
        Ok(())
    }

    fn new_record(
        &self,
        kind: &str,
        w: &Window,
        now: DateTime<Utc>,
        title: String,
        role: &str,
    ) -> Attestation {
        let t = w.times();
        Attestation {
            closes_at: t.closes_at,
            created_at: ts(&now),
            document_sha256: None,
            exceptions: Vec::new(),
            findings: Vec::new(),
            id: uuid::Uuid::now_v7().to_string(),
            kind: kind.into(),
            late: false,
            ledger_seq: None,
            lateness_findings: Vec::new(),
            opens_at: t.opens_at,
            organization: self.config.settings.organization.name.clone(),
            period: w.period.label.clone(),
            period_end: ts(&w.period.end),
            period_start: ts(&w.period.start),
            prefilled_at: None,
            signed: None,
            signer_role: role.into(),
            status: "open".into(),
            steps: Vec::new(),
            target_at: t.target_at,
            title,
            unqualified_allowed: false,
        }
    }

    /// Make the draft row first (`ON CONFLICT DO NOTHING`); only the caller whose row it
    /// is records the window in the ledger. `None` when the row existed already.
    fn open_window(&self, w: &Window, now: DateTime<Utc>) -> Result<Option<Attestation>, Error> {
        let mut a = self.new_record(
            KIND_ATTESTATION,
            w,
            now,
            format!("{} attestation", w.period.label),
            &self.settings().signer_role.clone(),
        );
        self.prefill(&mut a, now)?;
        if !self.insert(&a)? {
            return Ok(None);
        }
        let recorded = self
            .event(
                &a,
                "attestation.window_opened",
                None,
                now,
                json!({"opens_at": a.opens_at, "closes_at": a.closes_at}),
            )
            .and_then(|_| {
                self.event(
                    &a,
                    "attestation.draft_created",
                    None,
                    now,
                    json!({"steps": a.steps.len(), "exceptions": a.exceptions.len()}),
                )
            });
        if let Err(e) = recorded {
            self.unwind_insert(&a);
            return Err(e);
        }
        Ok(Some(a))
    }

    /// Record a window that closed before it was opened: the row first (`ON CONFLICT
    /// DO NOTHING`), then, only if it is ours, the ledger event and the high finding.
    /// Whether this call recorded it.
    fn record_missed(&self, w: &Window, now: DateTime<Utc>) -> Result<bool, Error> {
        let mut a = self.new_record(
            KIND_ATTESTATION,
            w,
            now,
            format!("{} attestation", w.period.label),
            &self.settings().signer_role.clone(),
        );
        a.status = "missed".into();
        a.late = true;
        if !self.insert(&a)? {
            return Ok(false);
        }
        if let Err(e) = self.event(
            &a,
            "attestation.window_missed",
            None,
            now,
            json!({"opens_at": a.opens_at, "closes_at": a.closes_at}),
        ) {
            self.unwind_insert(&a);
            return Err(e);
        }
        let f = self.lateness_finding(
            &a,
            "high",
            &format!("{} window missed", a.title),
            &format!(
                "The {} window ({} to {}) closed before vouch could open it: no attestation was made in time. It can still be signed (marked late).",
                a.title, a.opens_at, a.closes_at
            ),
            now,
        )?;
        a.lateness_findings.push(f);
        self.save(&a)?;
        Ok(true)
    }

    /// Open a finding about a document's timeliness; its id.
    fn lateness_finding(
        &self,
        a: &Attestation,
        severity: &str,
        title: &str,
        description: &str,
        now: DateTime<Utc>,
    ) -> Result<String, Error> {
        let f = vouch_checks::findings::open_at(
            &self.store,
            self.ledger,
            self.config,
            title,
            severity,
            None,
            Some(description),
            "vouch",
            now,
        )?;
        let _ = a;
        Ok(f["id"].as_str().unwrap_or_default().to_string())
    }

    /// Re-read the stored results and findings into the steps (notes are kept).
    pub(crate) fn prefill(&self, a: &mut Attestation, now: DateTime<Utc>) -> Result<(), Error> {
        if a.kind == KIND_COLLECTION || a.kind == crate::quarterly::KIND_REVIEW {
            // Collection sign-off steps are judged when the request is made
            // (crate::collection) and are not re-derived here.
        } else {
            let notes: BTreeMap<String, Option<String>> = a
                .steps
                .iter()
                .map(|s| (s.control_id.clone(), s.note.clone()))
                .collect();
            a.steps = self.steps(a)?;
            for s in &mut a.steps {
                s.note = notes.get(&s.control_id).cloned().flatten();
            }
        }
        a.findings = open_findings(&self.store)?
            .into_iter()
            .filter(|f| matches!(f.severity.as_str(), "high" | "critical"))
            .filter(|f| !a.lateness_findings.contains(&f.id))
            .collect();
        a.exceptions = exceptions(a);
        a.unqualified_allowed = a.exceptions.is_empty();
        a.prefilled_at = Some(ts(&now));
        Ok(())
    }

    /// One step per control in scope, from the stored results of the period (and, for
    /// a quarter or year, of its months).
    fn steps(&self, a: &Attestation) -> Result<Vec<Step>, Error> {
        let start =
            parse_t(&a.period_start).ok_or_else(|| Error::Corrupt("period_start".into()))?;
        let end = parse_t(&a.period_end).ok_or_else(|| Error::Corrupt("period_end".into()))?;
        let mut periods = vec![Period {
            start,
            end,
            label: a.period.clone(),
        }];
        let mut m = Period::month_of(start);
        while m.start < end && m.end <= end && !(m.start == start && m.end == end) {
            periods.push(m.clone());
            m = Period::month_of(m.end);
        }
        let mut by_check: BTreeMap<String, Vec<(String, Value)>> = BTreeMap::new();
        for p in &periods {
            for r in vouch_checks::results::latest_results(&self.store, p, None)? {
                let id = r["check_id"].as_str().unwrap_or_default().to_string();
                by_check.entry(id).or_default().push((p.label.clone(), r));
            }
        }
        let findings = vouch_checks::findings::list(&self.store, Some("open"))?;
        let scope = &self.settings().controls;
        let mut steps = Vec::new();
        for c in self
            .config
            .controls
            .iter()
            .filter(|c| scope.is_empty() || scope.contains(&c.id))
        {
            let mut checks = Vec::new();
            for check_id in &c.checks {
                let results = by_check.get(check_id).cloned().unwrap_or_default();
                checks.push(step_check(check_id, &results, &periods));
            }
            let status = if checks.is_empty() {
                "no_evidence"
            } else {
                vouch_checks::controls::rollup(checks.iter().map(|x| x.status.as_str()))
            };
            steps.push(Step {
                detail: checks
                    .is_empty()
                    .then(|| "no check supports this control: nothing was judged".to_string()),
                findings: findings
                    .iter()
                    .filter(|f| {
                        f["check_id"]
                            .as_str()
                            .is_some_and(|x| c.checks.iter().any(|y| y == x))
                            || f["controls"]
                                .as_array()
                                .is_some_and(|l| l.iter().any(|x| x == c.id.as_str()))
                    })
                    .map(finding_ref)
                    .collect(),
                checks,
                control_id: c.id.clone(),
                criteria: c.criteria.clone(),
                note: None,
                number: steps.len() as u32 + 1,
                status: status.into(),
                title: c.title.clone(),
                sample: None,
            });
        }
        Ok(steps)
    }

    /// Every attestation and sign-off, newest period first (optionally one kind/status).
    pub fn list(
        &self,
        kind: Option<&str>,
        status: Option<&str>,
    ) -> Result<Vec<Attestation>, Error> {
        if let Some(s) = status {
            if !STATUSES.contains(&s) {
                return Err(Error::Invalid(format!(
                    "status must be one of {}",
                    STATUSES.join(", ")
                )));
            }
        }
        let rows = self.store.query(
            "SELECT record FROM attestations ORDER BY opens_at DESC, kind",
            &[],
        )?;
        let mut out = Vec::new();
        for r in rows {
            let a = decode(&r.text(0))?;
            if kind.is_none_or(|k| a.kind == k) && status.is_none_or(|s| a.status == s) {
                out.push(a);
            }
        }
        Ok(out)
    }

    /// The document with this id (or a unique prefix of at least 8 characters).
    pub fn get(&self, id: &str) -> Result<Attestation, Error> {
        if id.len() < 8 || !id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
            return Err(Error::Invalid(format!(
                "`{id}` is not an attestation id (give at least 8 characters of it)"
            )));
        }
        let rows = self.store.query(
            "SELECT record FROM attestations WHERE id LIKE $1 ORDER BY id LIMIT 2",
            &[format!("{id}%").into()],
        )?;
        match rows.len() {
            0 => Err(Error::NotFound(format!("no attestation {id}"))),
            1 => decode(&rows[0].text(0)),
            _ => Err(Error::Invalid(format!(
                "`{id}` matches more than one attestation; give more of the id"
            ))),
        }
    }

    /// The document of a kind and period, if any.
    pub fn find(&self, kind: &str, period: &str) -> Result<Option<Attestation>, Error> {
        let rows = self.store.query(
            "SELECT record FROM attestations WHERE kind = $1 AND period = $2",
            &[kind.into(), period.into()],
        )?;
        rows.first().map(|r| decode(&r.text(0))).transpose()
    }

    /// The signed document of an attestation (`None` while unsigned).
    pub fn document(&self, id: &str) -> Result<Option<SignedDocument>, Error> {
        let a = self.get(id)?;
        let rows = self.store.query(
            "SELECT document FROM attestations WHERE id = $1",
            &[a.id.clone().into()],
        )?;
        rows.first()
            .and_then(|r| r.opt_text(0))
            .map(|d| {
                serde_json::from_str(&d)
                    .map_err(|e| Error::Corrupt(format!("stored signed document: {e}")))
            })
            .transpose()
    }

    /// The draft as it would be signed now: steps re-read from the stored results
    /// (nothing is written).
    pub fn preview(&self, id: &str, now: DateTime<Utc>) -> Result<Attestation, Error> {
        let mut a = self.get(id)?;
        if a.signed.is_none() {
            self.prefill(&mut a, now)?;
        }
        Ok(a)
    }

    /// Sign a document: re-read the results, apply the notes, check the role and the
    /// opinion, freeze and sign the document, record it in the ledger. Late after the
    /// hard close (a finding is opened). A second signature is a conflict.
    pub fn sign(
        &self,
        id: &str,
        req: &SignRequest,
        now: DateTime<Utc>,
    ) -> Result<(Attestation, SignedDocument), Error> {
        let kind = req.personal.as_ref().map(|k| match k {
            PersonalKey::Ssh(_) => "ssh",
            PersonalKey::Gpg(_) => "gpg",
        });
        let p = self.prepare(id, req, kind, now, now)?;
        let signed = SignedDocument::sign(
            self.keys,
            p.document.clone(),
            req.personal.as_ref().map(|k| (k, req.signer.as_str())),
        )?;
        self.finish(p, signed, req, now)
    }

    /// The draft a signer signs with their own key elsewhere (`POST
    /// /attestations/{id}/draft`): the document exactly as [`Signoffs::sign_detached`]
    /// will freeze it — steps re-read now, the notes and opinion of `req`, the signer,
    /// `personal_signature` = `kind` (`ssh` or `gpg`), `signed_at` = now (when the draft
    /// was made). Its canonical bytes are what the signature must cover. Nothing is
    /// written.
    pub fn draft(
        &self,
        id: &str,
        req: &SignRequest,
        kind: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<u8>, Error> {
        if !["ssh", "gpg"].contains(&kind) {
            return Err(Error::Invalid(format!(
                "signature_kind: must be ssh or gpg, not `{kind}`"
            )));
        }
        let p = self.prepare(id, req, Some(kind), now, now)?;
        Ok(crate::signature::canonical_bytes(&p.document))
    }

    /// Sign with a detached signature the signer made over a draft (from
    /// [`Signoffs::draft`]): the document is rebuilt as of the draft's `signed_at`; if
    /// its bytes are not the ones signed (`document_sha256`: results, findings, notes or
    /// lateness changed since), a conflict; the signature must verify over exactly those
    /// bytes with the key sent (`ssh-keygen -Y verify`, or `gpg --verify` with that key
    /// alone), else invalid, naming the problem. Then frozen and recorded like
    /// [`Signoffs::sign`].
    pub fn sign_detached(
        &self,
        id: &str,
        req: &SignRequest,
        det: &DetachedSignature,
        now: DateTime<Utc>,
    ) -> Result<(Attestation, SignedDocument), Error> {
        use crate::signature as sig;
        det.check_age(now, "signed_at", "signed.signed_at")?;
        let kind = match det.kind {
            DetachedKind::Ssh => "ssh",
            DetachedKind::Gpg => "gpg",
        };
        let p = self.prepare(id, req, Some(kind), det.prepared_at, now)?;
        let bytes = sig::canonical_bytes(&p.document);
        let sha = vouch_store::blobs::sha256_hex(&bytes);
        if !sha.eq_ignore_ascii_case(det.document_sha256.trim()) {
            return Err(Error::Conflict(format!(
                "the draft changed since it was fetched: it is now SHA-256 {sha}, the signature is over {} (check results, findings, notes, opinion or lateness changed): fetch the draft again and sign that",
                det.document_sha256.trim()
            )));
        }
        let personal = det.personal_signature(&req.signer, &bytes)?;
        let signed = SignedDocument {
            sha256: sha,
            vouch: sig::sign_vouch(self.keys, &bytes),
            personal: Some(personal),
            document: p.document.clone(),
            timestamp: None,
        };
        self.finish(p, signed, req, now)
    }

    /// Everything of a signature up to the frozen document: the checks (frozen, role,
    /// signer, window opened), the steps re-read (as of `at`), the notes, the opinion,
    /// lateness (as of `now`, when it is frozen), the signing block (`signed_at` = `at`).
    fn prepare(
        &self,
        id: &str,
        req: &SignRequest,
        personal_kind: Option<&str>,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Prepared, Error> {
        let mut a = self.get(id)?;
        let unsigned = a.clone();
        if a.signed.is_some() || a.status == "signed" {
            return Err(Error::Conflict(format!(
                "{} ({}) is signed already: a signed document is frozen",
                a.title, a.id
            )));
        }
        if req.role != a.signer_role {
            return Err(Error::Forbidden(format!(
                "{} is signed by the `{}` role; `{}` may not sign it",
                a.title, a.signer_role, req.role
            )));
        }
        if req.signer.trim().is_empty() {
            return Err(Error::Invalid("signer: a name is needed".into()));
        }
        let opens = parse_t(&a.opens_at).ok_or_else(|| Error::Corrupt("opens_at".into()))?;
        if now < opens {
            return Err(Error::Conflict(format!(
                "the {} window opens at {}",
                a.title, a.opens_at
            )));
        }
        self.prefill(&mut a, at)?;
        let (title, n_steps) = (a.title.clone(), a.steps.len());
        for (key, text) in &req.notes {
            let step = a
                .steps
                .iter_mut()
                .find(|s| s.number.to_string() == *key || s.control_id == *key)
                .ok_or_else(|| {
                    Error::Invalid(format!(
                        "note: `{key}` is neither a step number nor a control id of {title} (steps 1-{n_steps})"
                    ))
                })?;
            step.note = Some(text.clone());
        }
        if req.opinion == Opinion::Unqualified && !a.unqualified_allowed {
            return Err(Error::Invalid(format!(
                "opinion: an unqualified {} is not allowed: {}; sign it qualified (the exceptions are listed in it)",
                a.title,
                a.exceptions.join("; ")
            )));
        }
        let closes = parse_t(&a.closes_at).ok_or_else(|| Error::Corrupt("closes_at".into()))?;
        let late = now >= closes;
        a.late = a.late || late;
        a.status = "signed".into();
        a.signed = Some(Signing {
            late,
            opinion: req.opinion.as_str().into(),
            personal_signature: personal_kind.map(str::to_string),
            signed_at: ts(&at),
            signer: Signer {
                name: req.signer.clone(),
                role: req.role.clone(),
                via: req.via.clone(),
            },
            vouch_key_id: self.keys.signing_key_id(),
        });
        let document = serde_json::to_value(&a).map_err(|e| Error::Corrupt(e.to_string()))?;
        Ok(Prepared {
            a,
            unsigned,
            late,
            document,
        })
    }

    /// Store and record a signed document (from [`Signoffs::prepare`]).
    fn finish(
        &self,
        p: Prepared,
        signed: SignedDocument,
        req: &SignRequest,
        now: DateTime<Utc>,
    ) -> Result<(Attestation, SignedDocument), Error> {
        let Prepared {
            mut a,
            unsigned,
            late,
            ..
        } = p;
        // A personal signature counts only by the signer's pinned key (checked before
        // anything is written, for the CLI's own signature and a detached one alike).
        let mut signer_key = self.check_signer_key(&req.signer, signed.personal.as_ref())?;
        // The RFC 3161 timestamp of the signed bytes, when an authority is configured.
        // Asked before the guarded write (not holding a signed-but-unrecorded row for
        // the authority's round trip); a failure is recorded, and the signature stands.
        let mut signed = signed;
        let tsa = self.config.settings.timestamp.url.clone();
        if !tsa.is_empty() {
            signed.timestamp(&tsa, now);
        }
        // Trust on first use is decided inside the write: `signer_key_pins` has one row
        // per signer, so of concurrent first signatures with different keys exactly one
        // pins its key; the others see that pin and are refused (nothing written).
        let pin = match (&signed.personal, &signer_key) {
            (Some(p), Some(k)) if k["pinned_by"] != "config" => {
                Some((p, self.legacy_pin(&req.signer)?))
            }
            _ => None,
        };
        // The guarded write first: of concurrent signers exactly one changes the row;
        // only that one records the signature in the ledger (and opens the late
        // finding). The others get a conflict and record nothing.
        let doc_text = serde_json::to_string(&signed).map_err(|e| Error::Corrupt(e.to_string()))?;
        a.document_sha256 = Some(signed.sha256.clone());
        let first = canonical(&a)?;
        let mut n = 0;
        let mut refused: Option<Error> = None;
        let mut registered = false;
        let written = self.store.write(&mut |sql| {
            (refused, registered, n) = (None, false, 0);
            if let Some((p, legacy)) = &pin {
                match pin_in_tx(sql, &req.signer, p, legacy, &a.id, &now)? {
                    Ok((r, source)) => {
                        registered = r;
                        if let Some(k) = signer_key.as_mut() {
                            k["pinned_by"] = json!(if registered { "registered" } else { source.as_str() });
                        }
                    }
                    Err(e) => {
                        refused = Some(e);
                        return Err(vouch_store::StoreError::Aborted("signer key not pinned".into()));
                    }
                }
            }
            n = sql.execute(
                "UPDATE attestations SET status = 'signed', signed_at = $2, record = $3, document = $4 WHERE id = $1 AND document IS NULL",
                &[a.id.clone().into(), ts(&now).into(), first.clone().into(), doc_text.clone().into()],
            )?;
            if n != 1 {
                // Signed by someone else: nothing of ours (not the pin either) is kept.
                return Err(vouch_store::StoreError::Aborted("signed already".into()));
            }
            Ok(())
        });
        if let Some(e) = refused {
            return Err(e);
        }
        match written {
            Ok(()) => {}
            Err(vouch_store::StoreError::Aborted(_)) if n != 1 => {
                return Err(Error::Conflict(format!(
                    "{} ({}) is signed already: a signed document is frozen",
                    a.title, a.id
                )))
            }
            Err(e) => return Err(e.into()),
        }
        let appended = self.event(
            &a,
            "attestation.signed",
            Some(&req.signer),
            now,
            json!({
                "document_sha256": signed.sha256, "opinion": req.opinion.as_str(), "late": late,
                "vouch_key_id": signed.vouch.key_id,
                "personal_signature": a.signed.as_ref().and_then(|s| s.personal_signature.clone()),
                "exceptions": a.exceptions.len(), "role": req.role,
                "signer_key": signer_key,
                "timestamp": signed.timestamp.as_ref().map(crate::signature::DocumentTimestamp::summary),
            }),
        );
        let seq = match appended {
            Ok(seq) => seq,
            Err(e) => {
                // Not recorded, so not signed: put the row back as it was.
                let previous = canonical(&unsigned)?;
                let _ = self.store.write(&mut |sql| {
                    sql.execute(
                        "UPDATE attestations SET status = $2, signed_at = NULL, record = $3, document = NULL WHERE id = $1 AND document = $4",
                        &[unsigned.id.clone().into(), unsigned.status.clone().into(), previous.clone().into(), doc_text.clone().into()],
                    )?;
                    if registered {
                        sql.execute(
                            "DELETE FROM signer_key_pins WHERE signer = $1 AND document_id = $2 AND pinned_by = 'first_use'",
                            &[req.signer.clone().into(), unsigned.id.clone().into()],
                        )?;
                    }
                    Ok(())
                });
                return Err(e);
            }
        };
        a.ledger_seq = Some(seq);
        // The seq (and the late finding) go into the record in a second update: the
        // signed document itself is already frozen and does not hold them.
        let late_finding = if late {
            self.lateness_finding(
                &a,
                "medium",
                &format!("{} signed late", a.title),
                &format!(
                    "Signed at {} by {}, after the hard close at {}.",
                    ts(&now),
                    req.signer,
                    a.closes_at
                ),
                now,
            )
            .map(Some)
        } else {
            Ok(None)
        };
        if let Ok(Some(f)) = &late_finding {
            a.lateness_findings.push(f.clone());
        }
        let record = canonical(&a)?;
        self.store.write(&mut |sql| {
            sql.execute(
                "UPDATE attestations SET record = $2 WHERE id = $1 AND document = $3",
                &[
                    a.id.clone().into(),
                    record.clone().into(),
                    doc_text.clone().into(),
                ],
            )?;
            Ok(())
        })?;
        late_finding?;
        Ok((a, signed))
    }

    /// The key `signer` signs personally with: see [`pinned_key`].
    pub fn pinned_key(&self, signer: &str) -> Result<Option<(String, &'static str)>, Error> {
        pinned_key(self.config, &self.store, signer)
    }

    /// See [`legacy_pin`].
    fn legacy_pin(&self, signer: &str) -> Result<Option<(String, Option<String>)>, Error> {
        legacy_pin(&self.store, signer)
    }

    fn check_signer_key(
        &self,
        signer: &str,
        personal: Option<&crate::signature::PersonalSignature>,
    ) -> Result<Option<Value>, Error> {
        check_signer_key(self.config, &self.store, signer, personal)
    }

    /// Record a step in the ledger; its seq.
    pub(crate) fn event(
        &self,
        a: &Attestation,
        action: &str,
        actor: Option<&str>,
        now: DateTime<Utc>,
        extra: Value,
    ) -> Result<u64, Error> {
        let record = serde_json::to_value(a).map_err(|e| Error::Corrupt(e.to_string()))?;
        let sha = vouch_store::blobs::sha256_hex(&vouch_core::canonical::to_vec(&record));
        let mut metadata = json!({"kind": a.kind, "period": a.period, "status": a.status, "record_sha256": sha, "closes_at": a.closes_at});
        if let (Some(m), Value::Object(x)) = (metadata.as_object_mut(), extra) {
            m.extend(x);
        }
        let mut ev = json!({
            "timestamp": ts(&now),
            "action": action, "category": "administrative", "result": "success",
            "resource": {"type": a.kind, "id": a.id, "name": a.title},
            "details": {"description": describe(a, action)},
            "metadata": metadata,
        });
        if let Some(who) = actor {
            ev["actor"] = json!({"id": who, "email": null, "ip": null});
        }
        let r = vouch_ledger::audit::record(self.ledger, ev)?;
        Ok(r.seqs.first().copied().unwrap_or(0))
    }

    /// Insert a new row; false (nothing written) when one of its kind and period exists.
    pub(crate) fn insert(&self, a: &Attestation) -> Result<bool, Error> {
        let record = canonical(a)?;
        let mut n = 0;
        self.store.write(&mut |sql| {
            n = sql.execute(
                "INSERT INTO attestations (id, kind, period, status, opens_at, closes_at, created_at, record) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (kind, period) DO NOTHING",
                &[a.id.clone().into(), a.kind.clone().into(), a.period.clone().into(), a.status.clone().into(), a.opens_at.clone().into(), a.closes_at.clone().into(), a.created_at.clone().into(), record.clone().into()],
            )?;
            Ok(())
        })?;
        Ok(n == 1)
    }

    /// Remove a row just inserted whose ledger event could not be appended, so nothing
    /// stays unrecorded (best effort: the append's error is what the caller reports).
    fn unwind_insert(&self, a: &Attestation) {
        let _ = self.store.write(&mut |sql| {
            sql.execute(
                "DELETE FROM attestations WHERE id = $1 AND document IS NULL",
                &[a.id.clone().into()],
            )?;
            Ok(())
        });
    }

    fn save(&self, a: &Attestation) -> Result<(), Error> {
        let record = canonical(a)?;
        self.store.write(&mut |sql| {
            sql.execute(
                "UPDATE attestations SET status = $2, record = $3 WHERE id = $1 AND document IS NULL",
                &[a.id.clone().into(), a.status.clone().into(), record.clone().into()],
            )?;
            Ok(())
        })?;
        Ok(())
    }

    /// Create a document of another kind (collection sign-off) with given steps, record
    /// it; used by [`crate::collection`].
    pub(crate) fn create(
        &self,
        kind: &str,
        w: &Window,
        now: DateTime<Utc>,
        title: String,
        role: &str,
        steps: Vec<Step>,
    ) -> Result<Attestation, Error> {
        let mut a = self.new_record(kind, w, now, title, role);
        a.steps = steps;
        self.prefill(&mut a, now)?;
        // The row first; the request is recorded only by the caller who made it (a
        // concurrent request for the same period gets the existing document).
        if !self.insert(&a)? {
            return self.find(kind, &a.period)?.ok_or_else(|| {
                Error::Conflict(format!("the {} {} exists already", a.period, kind))
            });
        }
        if let Err(e) = self.event(
            &a,
            "signoff.requested",
            None,
            now,
            json!({"steps": a.steps.len(), "exceptions": a.exceptions.len()}),
        ) {
            self.unwind_insert(&a);
            return Err(e);
        }
        Ok(a)
    }
}

/// The key `signer` signs personally with (attestations, sign-offs and access-review
/// campaigns alike): the one configured for them (`[attestations] signer_keys`, source
/// `config`), else their row of `signer_key_pins` (source `first_use`: the key of their
/// first personally signed document, whose ledger event recorded it as `registered`;
/// or `rotated` by an admin), else the key of their first personally signed document
/// among those signed before pins were stored ([`legacy_pin`]). `None`: no key is
/// pinned yet.
pub fn pinned_key(
    config: &Config,
    store: &Store,
    signer: &str,
) -> Result<Option<(String, &'static str)>, Error> {
    if let Some(k) = config.settings.attestations.signer_keys.get(signer) {
        return Ok(Some((k.clone(), "config")));
    }
    let rows = store.query(
        "SELECT public_key, pinned_by FROM signer_key_pins WHERE signer = $1",
        &[signer.into()],
    )?;
    if let Some(r) = rows.first() {
        let source = if r.text(1) == "rotated" {
            "rotated"
        } else {
            "first_use"
        };
        return Ok(Some((r.text(0), source)));
    }
    Ok(legacy_pin(store, signer)?.map(|(k, _)| (k, "first_use")))
}

/// The key of `signer`'s first personally signed document — an attestation or a
/// completed access-review campaign, whichever came first — with the attestation's id
/// (`None` for a campaign), for documents signed before pins were stored in
/// `signer_key_pins` (migration 25), or by a path that does not store one.
pub(crate) fn legacy_pin(
    store: &Store,
    signer: &str,
) -> Result<Option<(String, Option<String>)>, Error> {
    use crate::signature::PersonalSignature;
    // The key of a personal signature, when it pins one. Documents signed before
    // fingerprints were recorded carry the name the signer gave, which pins nothing.
    let key_of = |p: &PersonalSignature| match p {
        PersonalSignature::Ssh { public_key, .. } => Some(public_key.clone()),
        PersonalSignature::Gpg { key_id, .. }
            if key_id.len() >= 16 && key_id.bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            Some(key_id.clone())
        }
        _ => None,
    };
    let mut first: Option<(String, String, Option<String>)> = None;
    let rows = store.query(
        "SELECT document, signed_at, id FROM attestations WHERE document IS NOT NULL ORDER BY signed_at, id",
        &[],
    )?;
    for r in rows {
        let Some(text) = r.opt_text(0) else { continue };
        let d: SignedDocument = serde_json::from_str(&text)
            .map_err(|e| Error::Corrupt(format!("stored signed document: {e}")))?;
        if d.document["signed"]["signer"]["name"].as_str() != Some(signer) {
            continue;
        }
        if let Some(k) = d.personal.as_ref().and_then(key_of) {
            first = Some((r.opt_text(1).unwrap_or_default(), k, Some(r.text(2))));
            break;
        }
    }
    for (at, p) in crate::review::personal_signatures_of(store, signer)
        .map_err(|e| Error::Corrupt(format!("access reviews: {e}")))?
    {
        if let Some(k) = key_of(&p) {
            if first.as_ref().is_none_or(|(t, _, _)| at < *t) {
                first = Some((at, k, None));
            }
            break;
        }
    }
    Ok(first.map(|(_, k, doc)| (k, doc)))
}

/// Refuse (conflict, naming the pinned key's fingerprint) a personal signature by
/// another key than the signer's pinned one ([`pinned_key`]); what the ledger records
/// of the key: `{"fingerprint", "pinned_by": "config" | "first_use" | "rotated" |
/// "registered"}` (`registered`: no key was pinned, this one is from now on). `None`
/// without a personal signature. Attestations re-check the pin inside their signing
/// transaction (`signer_key_pins`), so concurrent first signatures pin one key.
pub fn check_signer_key(
    config: &Config,
    store: &Store,
    signer: &str,
    personal: Option<&crate::signature::PersonalSignature>,
) -> Result<Option<Value>, Error> {
    let Some(p) = personal else { return Ok(None) };
    let fingerprint = p.key_fingerprint();
    match pinned_key(config, store, signer)? {
        Some((k, source)) if p.is_by(&k) => Ok(Some(
            json!({"fingerprint": fingerprint, "pinned_by": source}),
        )),
        Some((k, source)) => Err(pin_conflict(signer, &k, source, &fingerprint)),
        None => Ok(Some(
            json!({"fingerprint": fingerprint, "pinned_by": "registered"}),
        )),
    }
}

/// Trust on first use, decided inside a signing transaction (attestations, sign-offs
/// and access-review completions alike): insert `signer`'s pin — the key of a document
/// signed before pins were stored (`legacy`, see [`legacy_pin`]), else this signature's
/// key for document `doc_id` — unless a row exists, then read the row back. `signer_key_pins`
/// has one row per signer, so of concurrent first signatures with different keys
/// exactly one pins its key. Ok(Ok((registered, pinned_by))) when `p` is by the pinned
/// key (`registered`: this signature pinned it); Ok(Err(conflict)) when it is not (the
/// caller aborts its transaction).
pub(crate) fn pin_in_tx(
    sql: &mut dyn vouch_store::Sql,
    signer: &str,
    p: &crate::signature::PersonalSignature,
    legacy: &Option<(String, Option<String>)>,
    doc_id: &str,
    now: &DateTime<Utc>,
) -> vouch_store::Result<Result<(bool, String), Error>> {
    let (key, doc) = match legacy {
        Some((k, d)) => (k.clone(), d.clone()),
        None => (pinned_key_of(p), Some(doc_id.to_string())),
    };
    let inserted = sql.execute(
        "INSERT INTO signer_key_pins (signer, public_key, fingerprint, pinned_by, document_id, pinned_at) VALUES ($1, $2, $3, 'first_use', $4, $5) ON CONFLICT (signer) DO NOTHING",
        &[signer.into(), key.clone().into(), crate::signature::pinned_fingerprint(&key).into(), doc.into(), ts(now).into()],
    )?;
    let rows = sql.query(
        "SELECT public_key, pinned_by FROM signer_key_pins WHERE signer = $1",
        &[signer.into()],
    )?;
    let (pinned, source) = rows
        .first()
        .map(|r| (r.text(0), r.text(1)))
        .unwrap_or_default();
    if !p.is_by(&pinned) {
        return Ok(Err(pin_conflict(
            signer,
            &pinned,
            &source,
            &p.key_fingerprint(),
        )));
    }
    Ok(Ok((inserted == 1 && legacy.is_none(), source)))
}

/// The refusal of a personal signature by another key than the signer's pinned one,
/// naming the pinned key's fingerprint and how it was pinned.
fn pin_conflict(signer: &str, pinned: &str, source: &str, fingerprint: &str) -> Error {
    Error::Conflict(format!(
        "signature: {signer}'s personal signing key is pinned to {} ({}); this signature is by {fingerprint}. {}",
        crate::signature::pinned_fingerprint(pinned),
        match source {
            "config" => "configured in [attestations] signer_keys",
            "rotated" => "set by an admin's key rotation",
            _ => "the key of their first personally signed document",
        },
        if source == "config" {
            "An admin changes it in vouch.toml ([attestations] signer_keys)"
        } else {
            "An admin rotates it with `vouch attest keys rotate`"
        }
    ))
}

/// What a pin stores of a personal signature's key: the SSH public key (`ssh-ed25519
/// AAAA…`, without its comment) or the OpenPGP primary key's fingerprint.
fn pinned_key_of(p: &crate::signature::PersonalSignature) -> String {
    use crate::signature::PersonalSignature;
    match p {
        PersonalSignature::Ssh { public_key, .. } => {
            crate::signature::ssh_public_key_of(public_key).unwrap_or_else(|| public_key.clone())
        }
        PersonalSignature::Gpg { key_id, .. } => key_id.trim().to_uppercase(),
    }
}

fn describe(a: &Attestation, action: &str) -> String {
    match action {
        "attestation.window_opened" => format!(
            "The {} window opened; the hard close is {}",
            a.title, a.closes_at
        ),
        "attestation.draft_created" => format!(
            "Draft of the {}: {} steps, {} exceptions",
            a.title,
            a.steps.len(),
            a.exceptions.len()
        ),
        "attestation.window_missed" => format!(
            "The {} window ({} to {}) closed before it was opened: missed",
            a.title, a.opens_at, a.closes_at
        ),
        "attestation.window_closed_unsigned" => {
            format!("The {} window closed at {} unsigned", a.title, a.closes_at)
        }
        "attestation.signed" => {
            let s = a.signed.as_ref();
            format!(
                "{} signed {} by {} ({}){}",
                a.title,
                s.map(|s| s.opinion.as_str()).unwrap_or(""),
                s.map(|s| s.signer.name.as_str()).unwrap_or(""),
                s.map(|s| s.signer.role.as_str()).unwrap_or(""),
                if s.is_some_and(|s| s.late) {
                    ", late"
                } else {
                    ""
                }
            )
        }
        "attestation.timestamped" => format!(
            "The signed {} was timestamped by the RFC 3161 authority",
            a.title
        ),
        "quarterly_review.pr_decided" => {
            format!("{}: a reviewer decision on a sampled merged PR", a.title)
        }
        "signoff.requested" => format!(
            "Sign-off requested: {} ({} criteria, {} not met)",
            a.title,
            a.steps.len(),
            a.exceptions.len()
        ),
        other => format!("{}: {other}", a.title),
    }
}

pub(crate) fn canonical(a: &Attestation) -> Result<String, Error> {
    Ok(vouch_core::canonical::to_string(
        &serde_json::to_value(a).map_err(|e| Error::Corrupt(e.to_string()))?,
    ))
}

pub(crate) fn decode(text: &str) -> Result<Attestation, Error> {
    serde_json::from_str(text).map_err(|e| Error::Corrupt(format!("stored attestation: {e}")))
}

/// Why an unqualified opinion is not allowed: each step that did not pass and each
/// open high/critical finding.
fn exceptions(a: &Attestation) -> Vec<String> {
    let mut out = Vec::new();
    if a.steps.is_empty() {
        out.push(if a.kind == KIND_ATTESTATION {
            "no controls in scope: nothing was attested".to_string()
        } else {
            "no criteria: nothing was judged".to_string()
        });
    }
    out.extend(
        a.steps
            .iter()
            .filter(|s| EXCEPTION_STATUSES.contains(&s.status.as_str()))
            .map(|s| format!("step {} ({}): {}", s.number, s.control_id, s.status)),
    );
    out.extend(a.findings.iter().map(|f| {
        format!(
            "open {} finding {}: {}",
            f.severity,
            &f.id[..f.id.len().min(8)],
            f.title
        )
    }));
    out
}

fn finding_ref(f: &Value) -> FindingRef {
    FindingRef {
        check_id: f["check_id"].as_str().map(str::to_string),
        id: f["id"].as_str().unwrap_or_default().into(),
        severity: f["severity"].as_str().unwrap_or_default().into(),
        status: f["status"].as_str().unwrap_or_default().into(),
        title: f["title"].as_str().unwrap_or_default().into(),
    }
}

/// Findings not resolved (open or accepted).
fn open_findings(store: &Store) -> Result<Vec<FindingRef>, Error> {
    Ok(vouch_checks::findings::list(store, Some("open"))?
        .iter()
        .map(finding_ref)
        .collect())
}

fn step_check(check_id: &str, results: &[(String, Value)], periods: &[Period]) -> StepCheck {
    if results.is_empty() {
        return StepCheck {
            check_id: check_id.into(),
            evidence: Vec::new(),
            failing: Vec::new(),
            failing_count: 0,
            messages: vec![format!(
                "no stored result for {}: nothing was checked",
                periods
                    .iter()
                    .map(|p| p.label.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )],
            periods: Vec::new(),
            results: Vec::new(),
            status: "no_evidence".into(),
        };
    }
    let mut statuses: Vec<&str> = results
        .iter()
        .map(|(_, r)| vouch_checks::controls::result_status(r))
        .collect();
    // Without a result over the period itself, the months stand for it: each month
    // with no result was not checked, so the check cannot pass (one checked month of
    // three is not a checked quarter).
    let own = periods.first().map(|p| p.label.as_str());
    let covers_period = results.iter().any(|(p, _)| Some(p.as_str()) == own);
    let unchecked: Vec<&str> = if covers_period {
        Vec::new()
    } else {
        periods
            .iter()
            .skip(1)
            .map(|p| p.label.as_str())
            .filter(|m| !results.iter().any(|(p, _)| p == m))
            .collect()
    };
    if !unchecked.is_empty() {
        statuses.push("no_evidence");
    }
    let mut messages: Vec<String> = results
        .iter()
        .map(|(p, r)| format!("{p}: {}", r["message"].as_str().unwrap_or_default()))
        .collect();
    messages.extend(
        unchecked
            .iter()
            .map(|m| format!("{m}: no stored result: nothing was checked")),
    );
    StepCheck {
        check_id: check_id.into(),
        evidence: results
            .iter()
            .flat_map(|(_, r)| r["evidence"].as_array().cloned().unwrap_or_default())
            .collect(),
        failing: results
            .iter()
            .flat_map(|(_, r)| r["failing"].as_array().cloned().unwrap_or_default())
            .collect(),
        failing_count: results.iter().map(|(_, r)| r["failing_count"].as_u64().unwrap_or(0)).sum(),
        messages,
        periods: results.iter().map(|(p, _)| p.clone()).collect(),
        results: results
            .iter()
            .map(|(p, r)| json!({"id": r["id"], "period": p, "status": r["status"], "ledger_seq": r["ledger_seq"], "evaluated_at": r["evaluated_at"]}))
            .collect(),
        status: vouch_checks::controls::rollup(statuses).into(),
    }
}

/// Seconds until the hard close of each document still open, and whether each period's
/// attestation is signed: what `/metrics` reports (`vouch_attestation_signed{period}`,
/// `vouch_attestation_window_closes_in_seconds{period}`).
pub fn metrics(
    store: &Store,
    now: DateTime<Utc>,
) -> Result<Vec<(String, bool, Option<i64>)>, Error> {
    let rows = store.query(
        "SELECT period, status, closes_at FROM attestations WHERE kind = $1 ORDER BY opens_at",
        &[KIND_ATTESTATION.into()],
    )?;
    Ok(rows
        .iter()
        .map(|r| {
            let signed = r.text(1) == "signed";
            let closes = parse_t(&r.text(2)).map(|c| (c - now).num_seconds());
            (r.text(0), signed, if signed { None } else { closes })
        })
        .collect())
}
