//! Access-review campaigns (seed 003's access-review sign-offs, seed 002 step 2).
//!
//! A campaign reviews one or more *populations*: evidence definitions declared
//! `population = true` with an `account_key` (a group's members, IAM users, database
//! roles…). Starting it freezes a snapshot of the latest collection of each population
//! (stored in the blob store, its SHA-256 in the `access_review.started` ledger event);
//! each account is tagged `new`, `unchanged` or `removed` against the last *completed*
//! campaign of the same scope (the same set of populations) and flagged `deactivated`,
//! `dormant`, `privileged` (and `changed` when its row differs from last time).
//!
//! Reviewers, assigned per population, decide each entry: `keep`, `revoke`, `defer` or
//! `escalate`, with a note (required for all but `keep`). `keep` and `revoke` are final;
//! `defer` and `escalate` may later be replaced by a final decision. A reviewer is named
//! as vouch knows the caller (the API's actor id: `user:alice`, `token:ci`,
//! `jwt:alice@example.com`; the CLI's `--by`). **Own accounts:** an account belongs to a
//! reviewer when it equals (without case) the reviewer's id without its `user:` /
//! `token:` / `jwt:` prefix, that name's part before `@`, or one of the `accounts`
//! declared for the reviewer; a
//! reviewer may never decide an account of their own — another reviewer of the
//! population must — and a campaign whose population has an account that only its owner
//! could decide is refused at start (add a second reviewer).
//!
//! States: `draft` → `in_progress` → `completed` | `cancelled`. Completion is refused
//! while any entry (other than a `removed` one, which has nothing left to decide) has
//! no final decision: none yet, or `defer` / `escalate` (open questions; seed 003 and
//! the access-review practice it follows treat them as not final, and a signed record
//! must not close them). Each `revoke` opens a remediation finding, closed by
//! [`after_collection`] once a later, readable collection with accounts in it no longer
//! holds the account. The completed campaign is a canonical JSON document signed with
//! vouch's signing key (ECDSA P-256, base64 DER — `openssl dgst -sha256 -verify` checks
//! it). Every step is a ledger event
//! (`access_review.created|started|decided|completed|cancelled|remediated`), appended
//! only after the conditional write it records succeeded (and that write undone if the
//! append fails): two reviewers deciding one entry at once give one stored decision,
//! one ledger event and one 409. A decision, a completion and a cancellation each update
//! the campaign row in their transaction, so they are serialised: the signed document is
//! exactly the decisions stored, and nothing is decided after it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use vouch_config::Config;
use vouch_core::period::Period;
use vouch_ledger::{Keys, Ledger};
use vouch_store::Store;

/// The states of a campaign.
pub const STATUSES: &[&str] = &["draft", "in_progress", "completed", "cancelled"];
/// The decisions a reviewer can make.
pub const DECISIONS: &[&str] = &["keep", "revoke", "defer", "escalate"];
/// Decisions that close an entry for good (the others may be replaced).
pub const FINAL: &[&str] = &["keep", "revoke"];
/// The Trust Services Criteria a completed campaign is evidence for.
pub const CRITERIA: &[&str] = &["CC6.2", "CC6.3"];
/// The `type` of a signed campaign document.
pub const DOCUMENT_TYPE: &str = "vouch-access-review";

/// Errors of access reviews. Every request error names the field at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReviewError {
    /// A request value is wrong (`field` names it).
    #[error("{field}: {message}")]
    Invalid {
        /// The request field at fault (`populations[0].evidence`, `decision`, …).
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// No campaign has this id.
    #[error("no access review {0}")]
    NotFound(String),
    /// The caller may not do this: not a reviewer of the population (`not_a_reviewer`) or
    /// the account is their own (`self_review`).
    #[error("{message}")]
    Forbidden {
        /// `not_a_reviewer` or `self_review`.
        code: &'static str,
        /// The field at fault.
        field: String,
        /// One sentence for people.
        message: String,
    },
    /// The campaign's state does not allow it: `undecided_entries` (completion with
    /// entries without a final decision, `undecided` says how many), `not_in_progress`,
    /// `not_a_draft`, `already_decided`, `decision_pending` (a decision still being
    /// recorded in the ledger: retry).
    #[error("{message}")]
    Conflict {
        /// A stable code.
        code: &'static str,
        /// One sentence for people.
        message: String,
        /// For `undecided_entries`: how many entries have no final decision (none,
        /// `defer` or `escalate`; the message gives each count).
        undecided: Option<u64>,
    },
    /// A stored campaign cannot be read back.
    #[error("stored access review: {0}")]
    Corrupt(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] vouch_store::StoreError),
    /// Reading the populations' evidence failed.
    #[error(transparent)]
    Evidence(#[from] vouch_evidence::EvidenceError),
    /// Opening or resolving a remediation finding failed.
    #[error(transparent)]
    Checks(#[from] vouch_checks::CheckError),
    /// Appending to the ledger failed.
    #[error(transparent)]
    Ledger(#[from] vouch_ledger::LedgerError),
    /// The blob store (snapshots) failed.
    #[error(transparent)]
    Blob(#[from] vouch_store::blobs::BlobError),
    /// Rendering the signed document set (the PDF) failed.
    #[error("rendering the signed access review: {0}")]
    Render(String),
}

/// A signing error of the shared machinery ([`crate::signature`], the detached-signature
/// and key-pinning checks of [`crate::attest`]) as an access-review error: a bad
/// signature or key is invalid (naming the field its message starts with), a draft
/// that is stale or a key other than the pinned one a conflict.
impl From<crate::Error> for ReviewError {
    fn from(e: crate::Error) -> Self {
        use crate::Error as E;
        let split = |m: String, default: &str| -> (String, String) {
            match m.split_once(": ") {
                Some((f, rest))
                    if !f.is_empty()
                        && f.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.') =>
                {
                    (f.to_string(), rest.to_string())
                }
                _ => (default.to_string(), m),
            }
        };
        match e {
            E::Invalid(m) => {
                let (field, message) = split(m, "signature");
                ReviewError::Invalid { field, message }
            }
            E::Signature(m) => ReviewError::Invalid {
                field: "personal_key".into(),
                message: m,
            },
            E::Conflict(m) => conflict("signature_conflict", m),
            E::Forbidden(m) => ReviewError::Forbidden {
                code: "forbidden",
                field: "signature".into(),
                message: m,
            },
            E::NotFound(m) => ReviewError::NotFound(m),
            E::Store(e) => ReviewError::Store(e),
            E::Ledger(e) => ReviewError::Ledger(e),
            E::Checks(e) => ReviewError::Checks(e),
            other => ReviewError::Corrupt(other.to_string()),
        }
    }
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> ReviewError {
    ReviewError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

fn conflict(code: &'static str, message: impl Into<String>) -> ReviewError {
    ReviewError::Conflict {
        code,
        message: message.into(),
        undecided: None,
    }
}

/// A reviewer of a population: who they are (the identity vouch knows them by: a token
/// or user name, an email) and the accounts in the populations that are theirs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Reviewer {
    /// The reviewer's identity (the API caller's actor id, the CLI's `--as`).
    pub id: String,
    /// Accounts that are the reviewer's own besides their id and its part before `@`.
    #[serde(default)]
    pub accounts: Vec<String>,
}

impl Reviewer {
    /// Whether `account` is this reviewer's own (see the module documentation).
    pub fn owns(&self, account: &str) -> bool {
        let a = account.trim().to_lowercase();
        let id = self.id.trim().to_lowercase();
        // `user:alice`, `token:ci`, `jwt:alice@example.com`: the API's actor ids.
        let id = ["user:", "token:", "jwt:"]
            .iter()
            .find_map(|p| id.strip_prefix(p))
            .map(str::to_string)
            .unwrap_or(id);
        let local = id.split('@').next().unwrap_or("").to_string();
        // Compared on both sides' part before `@`: `user:alice` owns `alice@x.example`
        // (the trial decided its own privileged account that way). Two different
        // people sharing a local part then need a second reviewer: the safe side.
        let account_local = a.split('@').next().unwrap_or("");
        a == id
            || (!local.is_empty() && (a == local || account_local == local))
            || self.accounts.iter().any(|x| x.trim().to_lowercase() == a)
    }
    fn is(&self, who: &str) -> bool {
        self.id.trim().eq_ignore_ascii_case(who.trim())
    }
}

/// One population asked for when a campaign is created.
#[derive(Debug, Clone)]
pub struct PopulationSpec {
    /// The evidence definition (declared `population = true`).
    pub evidence: String,
    /// Who decides its entries.
    pub reviewers: Vec<Reviewer>,
}

/// A campaign to create.
#[derive(Debug, Clone)]
pub struct NewCampaign {
    /// A title (`Q4 2026 database access review`).
    pub title: String,
    /// The populations and their reviewers.
    pub populations: Vec<PopulationSpec>,
    /// Leave it a draft (no snapshot yet); otherwise it is started at once.
    pub draft: bool,
}

/// An evidence item a snapshot was taken from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ItemRef {
    /// The evidence item id.
    pub id: String,
    /// SHA-256 of its content.
    pub sha256: Option<String>,
    /// Its `evidence.collected` ledger seq.
    pub ledger_seq: Option<u64>,
    /// When its collection started.
    pub collected_at: String,
}

/// A population of a campaign.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Population {
    /// The evidence definition id.
    pub evidence_id: String,
    /// Its title.
    pub title: String,
    /// Who decides its entries.
    pub reviewers: Vec<Reviewer>,
    /// The items of the snapshot (empty for a draft).
    #[serde(default)]
    pub items: Vec<ItemRef>,
}

/// A ledger event of a campaign.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EventRef {
    /// `access_review.started`, …
    pub action: String,
    /// Its ledger seq.
    pub seq: Option<u64>,
    /// When.
    pub at: String,
    /// Who.
    pub by: String,
}

/// A campaign: the stored record (canonical JSON in `access_reviews.record`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Campaign {
    /// UUID v7.
    pub id: String,
    /// Its title.
    pub title: String,
    /// The populations' evidence ids, sorted, joined by `,`: campaigns of the same scope
    /// are compared.
    pub scope: String,
    /// One of [`STATUSES`].
    pub status: String,
    /// The populations.
    pub populations: Vec<Population>,
    /// When it was created.
    pub created_at: String,
    /// Who created it.
    pub created_by: String,
    /// When it was started (the snapshot taken).
    pub started_at: Option<String>,
    /// SHA-256 of the snapshot (canonical JSON in the blob store).
    pub snapshot_sha256: Option<String>,
    /// The last completed campaign of the same scope when this one started.
    pub previous: Option<String>,
    /// When it was completed or cancelled.
    pub ended_at: Option<String>,
    /// Who completed or cancelled it.
    pub ended_by: Option<String>,
    /// Why it was cancelled.
    pub cancel_reason: Option<String>,
    /// SHA-256 of the signed document (completed campaigns).
    pub document_sha256: Option<String>,
    /// The completer's own signature over the document (`vouch review complete
    /// --ssh-key/--gpg-key`, or a detached signature over the API's draft).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personal_signature: Option<crate::signature::PersonalSignature>,
    /// The SHA-256 of each file of the signed document set (`access-review.json`,
    /// `.md`, `.pdf`), as recorded in the `access_review.completed` event.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub files: BTreeMap<String, String>,
    /// Every ledger event of the campaign except decisions (those are on the entries).
    pub events: Vec<EventRef>,
}

/// An entry: one account of one population, its tag, flags and decision.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Entry {
    /// The population (evidence id).
    pub population: String,
    /// The account.
    pub account: String,
    /// `new`, `unchanged` or `removed` against the previous completed campaign.
    pub tag: String,
    /// `deactivated`, `dormant`, `privileged`, `changed`, `duplicate`.
    pub flags: Vec<String>,
    /// The evidence row (null for a removed account).
    pub row: Value,
    /// The current decision.
    pub decision: Option<String>,
    /// The decision's note.
    pub note: Option<String>,
    /// Who decided.
    pub decided_by: Option<String>,
    /// When.
    pub decided_at: Option<String>,
    /// The remediation finding of a `revoke`.
    pub finding_id: Option<String>,
    /// When a later collection showed the account gone.
    pub remediated_at: Option<String>,
    /// What showed it (evidence items).
    pub remediation: Option<Value>,
}

/// Counts over a campaign's entries.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Summary {
    /// Every entry.
    pub entries: u64,
    /// Entries that need a decision (all but `removed`).
    pub to_decide: u64,
    /// Entries without a decision among those.
    pub undecided: u64,
    /// By decision.
    pub decisions: BTreeMap<String, u64>,
    /// By tag.
    pub tags: BTreeMap<String, u64>,
    /// By flag.
    pub flags: BTreeMap<String, u64>,
}

/// A campaign with its entries (what `show` and the API return).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct View {
    /// The campaign.
    pub campaign: Campaign,
    /// Counts.
    pub summary: Summary,
    /// The entries, by population then account.
    pub entries: Vec<Entry>,
    /// The signed document (completed campaigns): canonical JSON text.
    pub document: Option<String>,
    /// base64 DER ECDSA P-256 / SHA-256 signature over the document's bytes.
    pub signature: Option<String>,
}

/// What a campaign operation needs.
pub struct Ctx<'a> {
    /// The configuration (population definitions).
    pub config: &'a Config,
    /// The database.
    pub store: &'a Store,
    /// The ledger every step is recorded in.
    pub ledger: &'a Ledger,
}

fn ts(t: &DateTime<Utc>) -> String {
    vouch_core::event::format_timestamp(t)
}

#[allow(clippy::too_many_arguments)] // one per field of the event; every caller names them all
fn record_event(
    ledger: &Ledger,
    action: &str,
    by: &str,
    at: &DateTime<Utc>,
    id: &str,
    title: &str,
    description: String,
    metadata: Value,
) -> Result<Option<u64>, ReviewError> {
    let appended = vouch_ledger::audit::record(
        ledger,
        json!({
            "action": action, "category": "security", "result": "success",
            "timestamp": ts(at),
            "actor": {"id": by, "email": null, "ip": null},
            "resource": {"type": "access_review", "id": id, "name": title},
            "details": {"description": description},
            "metadata": metadata,
        }),
    )?;
    Ok(appended.seqs.first().copied())
}

fn record_text(c: &Campaign) -> String {
    vouch_core::canonical::to_string(&serde_json::to_value(c).unwrap_or_default())
}

/// Store the campaign's record again (after its ledger event: the event's seq goes in).
fn store_record(store: &Store, c: &Campaign) -> Result<(), ReviewError> {
    let rec = record_text(c);
    store.write(&mut |sql| {
        sql.execute(
            "UPDATE access_reviews SET record = $2 WHERE id = $1",
            &[c.id.clone().into(), rec.clone().into()],
        )?;
        Ok(())
    })?;
    Ok(())
}

/// Map a write aborted for a reason the closure set (`why`) to that reason.
fn aborted(e: vouch_store::StoreError, why: &mut Option<ReviewError>) -> ReviewError {
    match (e, why.take()) {
        (vouch_store::StoreError::Aborted(_), Some(r)) => r,
        (vouch_store::StoreError::Aborted(m), None) => conflict("not_in_progress", m),
        (other, _) => other.into(),
    }
}

fn abort(why: &mut Option<ReviewError>, r: ReviewError) -> vouch_store::StoreError {
    let m = r.to_string();
    *why = Some(r);
    vouch_store::StoreError::Aborted(m)
}

/// Sign `bytes` with vouch's signing key, as every signed document is
/// ([`crate::signature::sign_vouch`]): base64 of the DER ECDSA P-256 / SHA-256
/// signature, the form of packets' `.sig` files (`openssl dgst -sha256 -verify`).
pub fn sign(keys: &Keys, bytes: &[u8]) -> String {
    crate::signature::sign_vouch(keys, bytes).signature
}

/// Check a document's signature with an SPKI PEM public key.
pub fn verify(public_pem: &str, document: &[u8], signature_b64: &str) -> Result<(), String> {
    vouch_ledger::sign::verify_b64(public_pem, document, signature_b64)
}

/// The rows of the latest successful collection of a population, with its items.
pub struct Snapshot {
    /// The items of that collection.
    pub items: Vec<ItemRef>,
    /// Accounts and their rows (the last row when an account appears twice), and
    /// whether it appeared more than once.
    pub accounts: BTreeMap<String, (Value, bool)>,
}

/// Read the latest collection of population `evidence_id` (`field` names the request
/// field for errors).
pub fn load_population(
    config: &Config,
    store: &Store,
    evidence_id: &str,
    field: &str,
) -> Result<Snapshot, ReviewError> {
    let def = population_def(config, evidence_id, field)?;
    let items = vouch_evidence::list(
        store,
        &vouch_evidence::ListFilter {
            evidence_id: Some(evidence_id.to_string()),
            period: None,
            limit: None,
        },
    )?;
    let Some(latest) = items
        .iter()
        .map(|i| i.record["started_at"].as_str().unwrap_or("").to_string())
        .max()
    else {
        return Err(invalid(
            field,
            format!("no evidence `{evidence_id}` has been collected yet (run `vouch collect {evidence_id}`)"),
        ));
    };
    let run: Vec<_> = items
        .into_iter()
        .filter(|i| i.record["started_at"].as_str() == Some(latest.as_str()))
        .collect();
    if let Some(bad) = run.iter().find(|i| !i.ok()) {
        return Err(invalid(
            field,
            format!(
                "the latest collection of `{evidence_id}` failed ({}); collect it again before reviewing",
                bad.record["error"].as_str().unwrap_or("")
            ),
        ));
    }
    let blobs = vouch_evidence::blob_store(config);
    let key = def.account_key.clone().unwrap_or_default();
    let mut accounts: BTreeMap<String, (Value, bool)> = BTreeMap::new();
    let mut refs = Vec::new();
    for item in &run {
        refs.push(ItemRef {
            id: item.id().to_string(),
            sha256: item.sha256().map(str::to_string),
            ledger_seq: item.ledger_seq,
            collected_at: latest.clone(),
        });
        let Some(sha) = item.sha256() else { continue };
        let bytes = blobs.get(sha)?;
        let media = item.record["media_type"].as_str().unwrap_or("");
        let path = (media == "application/json")
            .then_some(def.rows.as_deref())
            .flatten();
        let rows = vouch_evidence::rows::parse(&bytes, media, path)
            .map_err(|e| invalid(field, format!("evidence item {}: {e}", item.id())))?;
        for (n, row) in rows.into_iter().enumerate() {
            let account = match vouch_evidence::rows::field(&row, &key) {
                Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
                Some(Value::Number(x)) => x.to_string(),
                _ => {
                    return Err(invalid(
                        field,
                        format!(
                            "row {} of evidence item {} has no account in `{key}` (account_key of `{evidence_id}`)",
                            n + 1,
                            item.id()
                        ),
                    ))
                }
            };
            let dup = accounts.contains_key(&account);
            accounts.insert(account, (row, dup));
        }
    }
    Ok(Snapshot {
        items: refs,
        accounts,
    })
}

fn population_def<'a>(
    config: &'a Config,
    evidence_id: &str,
    field: &str,
) -> Result<&'a vouch_config::evidence::EvidenceDef, ReviewError> {
    let Some(def) = config.evidence_def(evidence_id) else {
        let known: Vec<&str> = config
            .evidence
            .iter()
            .filter(|d| d.population)
            .map(|d| d.id.as_str())
            .collect();
        return Err(invalid(
            field,
            format!(
                "no evidence definition `{evidence_id}` (populations: {})",
                if known.is_empty() {
                    "none declared".into()
                } else {
                    known.join(", ")
                }
            ),
        ));
    };
    if !def.population {
        return Err(invalid(
            field,
            format!("evidence `{evidence_id}` is not declared `population = true` (with an `account_key`)"),
        ));
    }
    Ok(def)
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => matches!(
            s.trim().to_lowercase().as_str(),
            "true" | "t" | "1" | "yes" | "y"
        ),
        _ => false,
    }
}

fn falsy(v: &Value) -> bool {
    match v {
        Value::Bool(b) => !*b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => matches!(
            s.trim().to_lowercase().as_str(),
            "false" | "f" | "0" | "no" | "n" | "disabled" | "inactive" | "suspended"
        ),
        _ => false,
    }
}

/// The flags of one row of a population (see the module documentation).
pub fn flags_of(
    def: &vouch_config::evidence::EvidenceDef,
    row: &Value,
    at: &DateTime<Utc>,
) -> Vec<String> {
    let mut flags = Vec::new();
    if let Some(k) = &def.active_key {
        if vouch_evidence::rows::field(row, k).is_some_and(falsy) {
            flags.push("deactivated".to_string());
        }
    }
    if let Some(k) = &def.last_login_key {
        let days = i64::from(
            def.dormant_days
                .unwrap_or(vouch_config::evidence::DEFAULT_DORMANT_DAYS),
        );
        // Never logged in counts as dormant: the account is unused either way.
        let last = vouch_evidence::rows::field(row, k).and_then(vouch_evidence::rows::parse_time);
        if last.is_none_or(|t| *at - t > chrono::Duration::days(days)) {
            flags.push("dormant".to_string());
        }
    }
    if let Some(k) = &def.privileged_key {
        let privileged = vouch_evidence::rows::field(row, k).is_some_and(|v| {
            if def.privileged_values.is_empty() {
                truthy(v)
            } else {
                let text = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                def.privileged_values
                    .iter()
                    .any(|p| p.trim().eq_ignore_ascii_case(text.trim()))
            }
        });
        if privileged {
            flags.push("privileged".to_string());
        }
    }
    flags
}

fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

fn scope_of(populations: &[PopulationSpec]) -> String {
    let set: BTreeSet<&str> = populations.iter().map(|p| p.evidence.as_str()).collect();
    set.into_iter().collect::<Vec<_>>().join(",")
}

fn validate(ctx: &Ctx<'_>, n: &NewCampaign) -> Result<Vec<Population>, ReviewError> {
    if n.title.trim().is_empty() {
        return Err(invalid("title", "must not be empty"));
    }
    if n.title.len() > 200 {
        return Err(invalid("title", "at most 200 characters"));
    }
    if n.populations.is_empty() {
        return Err(invalid("populations", "give at least one population"));
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (i, p) in n.populations.iter().enumerate() {
        let field = format!("populations[{i}].evidence");
        let def = population_def(ctx.config, &p.evidence, &field)?;
        if !seen.insert(p.evidence.clone()) {
            return Err(invalid(field, format!("`{}` is given twice", p.evidence)));
        }
        let rf = format!("populations[{i}].reviewers");
        if p.reviewers.is_empty() {
            return Err(invalid(rf, "give at least one reviewer"));
        }
        let mut ids = BTreeSet::new();
        for r in &p.reviewers {
            if r.id.trim().is_empty() {
                return Err(invalid(&rf, "a reviewer id is empty"));
            }
            if !ids.insert(r.id.trim().to_lowercase()) {
                return Err(invalid(&rf, format!("reviewer `{}` is given twice", r.id)));
            }
        }
        out.push(Population {
            evidence_id: p.evidence.clone(),
            title: def.title.clone(),
            reviewers: p.reviewers.clone(),
            items: Vec::new(),
        });
    }
    Ok(out)
}

/// Create a campaign: a draft, or (unless `draft`) started at once. `at` is "now" (an
/// injectable clock for tests).
pub fn create(
    ctx: &Ctx<'_>,
    n: &NewCampaign,
    by: &str,
    at: DateTime<Utc>,
) -> Result<View, ReviewError> {
    let populations = validate(ctx, n)?;
    let id = new_id();
    let mut c = Campaign {
        id: id.clone(),
        title: n.title.trim().to_string(),
        scope: scope_of(&n.populations),
        status: "draft".into(),
        populations,
        created_at: ts(&at),
        created_by: by.to_string(),
        started_at: None,
        snapshot_sha256: None,
        previous: None,
        ended_at: None,
        ended_by: None,
        cancel_reason: None,
        document_sha256: None,
        personal_signature: None,
        files: BTreeMap::new(),
        events: Vec::new(),
    };
    if n.draft {
        // The row first, its ledger event after (removed again if the event cannot be
        // appended): the ledger never records what did not happen.
        let rec = record_text(&c);
        ctx.store.write(&mut |sql| {
            sql.execute(
                "INSERT INTO access_reviews (id, scope, status, created_at, record) VALUES ($1, $2, $3, $4, $5)",
                &[c.id.clone().into(), c.scope.clone().into(), "draft".into(), c.created_at.clone().into(), rec.clone().into()],
            )?;
            Ok(())
        })?;
        let seq = match record_event(
            ctx.ledger,
            "access_review.created",
            by,
            &at,
            &id,
            &c.title,
            format!(
                "Access review `{}` created as a draft ({})",
                c.title, c.scope
            ),
            json!({"scope": c.scope, "status": "draft"}),
        ) {
            Ok(seq) => seq,
            Err(e) => {
                let _ = ctx.store.write(&mut |sql| {
                    sql.execute(
                        "DELETE FROM access_reviews WHERE id = $1 AND status = 'draft'",
                        &[c.id.clone().into()],
                    )?;
                    Ok(())
                });
                return Err(e);
            }
        };
        c.events.push(EventRef {
            action: "access_review.created".into(),
            seq,
            at: ts(&at),
            by: by.into(),
        });
        store_record(ctx.store, &c)?;
        return get(ctx.store, &id);
    }
    take_snapshot(ctx, c, by, at, true)
}

/// Start a draft: take the snapshot.
pub fn start(ctx: &Ctx<'_>, id: &str, by: &str, at: DateTime<Utc>) -> Result<View, ReviewError> {
    let c = get(ctx.store, id)?.campaign;
    if c.status != "draft" {
        return Err(conflict(
            "not_a_draft",
            format!("access review {} is {}, not a draft", c.id, c.status),
        ));
    }
    // The reviewers may have been valid against another configuration: check again.
    let spec = NewCampaign {
        title: c.title.clone(),
        populations: c
            .populations
            .iter()
            .map(|p| PopulationSpec {
                evidence: p.evidence_id.clone(),
                reviewers: p.reviewers.clone(),
            })
            .collect(),
        draft: false,
    };
    validate(ctx, &spec)?;
    take_snapshot(ctx, c, by, at, false)
}

fn take_snapshot(
    ctx: &Ctx<'_>,
    mut c: Campaign,
    by: &str,
    at: DateTime<Utc>,
    insert: bool,
) -> Result<View, ReviewError> {
    let previous: Option<String> = ctx
        .store
        .query(
            "SELECT id FROM access_reviews WHERE scope = $1 AND status = 'completed' ORDER BY ended_at DESC, id DESC LIMIT 1",
            &[c.scope.clone().into()],
        )?
        .first()
        .map(|r| r.text(0));
    // (population, account) → row hash, for the previous campaign's accounts still there.
    let mut before: BTreeMap<(String, String), Option<String>> = BTreeMap::new();
    if let Some(p) = &previous {
        for r in ctx.store.query(
            "SELECT population, account, row_sha256 FROM access_review_entries WHERE review_id = $1 AND tag <> 'removed'",
            &[p.into()],
        )? {
            before.insert((r.text(0), r.text(1)), r.opt_text(2));
        }
    }
    let mut entries = Vec::new();
    let mut snapshot = Vec::new();
    for (i, pop) in c.populations.iter_mut().enumerate() {
        let field = format!("populations[{i}].evidence");
        let def = population_def(ctx.config, &pop.evidence_id, &field)?;
        let snap = load_population(ctx.config, ctx.store, &pop.evidence_id, &field)?;
        pop.items = snap.items.clone();
        let mut accounts = Vec::new();
        for (account, (row, dup)) in &snap.accounts {
            // Every account must be decidable by someone other than its owner.
            if pop.reviewers.iter().all(|r| r.owns(account)) {
                return Err(invalid(
                    format!("populations[{i}].reviewers"),
                    format!(
                        "account `{account}` of `{}` belongs to its only reviewer; a reviewer cannot decide their own account: add a second reviewer",
                        pop.evidence_id
                    ),
                ));
            }
            let row_sha =
                vouch_store::blobs::sha256_hex(vouch_core::canonical::to_string(row).as_bytes());
            let key = (pop.evidence_id.clone(), account.clone());
            let mut flags = flags_of(def, row, &at);
            let tag = match before.get(&key) {
                None => "new",
                Some(old) => {
                    if old.as_deref() != Some(row_sha.as_str()) {
                        flags.push("changed".into());
                    }
                    "unchanged"
                }
            };
            if *dup {
                flags.push("duplicate".into());
            }
            accounts.push(json!({"account": account, "row": row}));
            entries.push((
                pop.evidence_id.clone(),
                account.clone(),
                tag,
                flags,
                Some(row.clone()),
                Some(row_sha),
            ));
        }
        for (p, a) in before.keys() {
            if *p == pop.evidence_id && !snap.accounts.contains_key(a) {
                entries.push((p.clone(), a.clone(), "removed", Vec::new(), None, None));
            }
        }
        snapshot.push(
            json!({"evidence_id": pop.evidence_id, "items": pop.items, "accounts": accounts}),
        );
    }
    let snap_doc = json!({"access_review": c.id, "taken_at": ts(&at), "previous": previous, "populations": snapshot});
    let snap_bytes = vouch_core::canonical::to_string(&snap_doc);
    let snap_sha = vouch_evidence::blob_store(ctx.config).put(snap_bytes.as_bytes())?;
    let new = entries.iter().filter(|e| e.2 == "new").count();
    let removed = entries.iter().filter(|e| e.2 == "removed").count();
    let draft_rec = record_text(&c);
    c.status = "in_progress".into();
    c.started_at = Some(ts(&at));
    c.snapshot_sha256 = Some(snap_sha.clone());
    c.previous = previous.clone();
    let rec = record_text(&c);
    // The conditional write first; the ledger event only once it happened.
    let mut why = None;
    ctx.store.write(&mut |sql| {
        if insert {
            sql.execute(
                "INSERT INTO access_reviews (id, scope, status, created_at, started_at, record) VALUES ($1, $2, $3, $4, $5, $6)",
                &[c.id.clone().into(), c.scope.clone().into(), "in_progress".into(), c.created_at.clone().into(), c.started_at.clone().into(), rec.clone().into()],
            )?;
        } else {
            let n = sql.execute(
                "UPDATE access_reviews SET status = 'in_progress', started_at = $2, record = $3 WHERE id = $1 AND status = 'draft'",
                &[c.id.clone().into(), c.started_at.clone().into(), rec.clone().into()],
            )?;
            if n == 0 {
                return Err(abort(&mut why, conflict("not_a_draft", format!("access review {} was started or cancelled meanwhile", c.id))));
            }
        }
        for (p, a, tag, flags, row, sha) in &entries {
            sql.execute(
                "INSERT INTO access_review_entries (review_id, population, account, tag, flags, row_json, row_sha256) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[c.id.clone().into(), p.into(), a.into(), (*tag).into(), serde_json::to_string(flags).unwrap_or_default().into(), row.as_ref().map(vouch_core::canonical::to_string).into(), sha.clone().into()],
            )?;
        }
        Ok(())
    }).map_err(|e| aborted(e, &mut why))?;
    let seq = match record_event(
        ctx.ledger,
        "access_review.started",
        by,
        &at,
        &c.id,
        &c.title,
        format!(
            "Access review `{}` started: {} accounts in {} population(s), {new} new, {removed} removed since the last completed review",
            c.title,
            entries.len() - removed,
            c.populations.len()
        ),
        json!({"scope": c.scope, "snapshot_sha256": snap_sha, "previous": previous, "entries": entries.len(), "new": new, "removed": removed}),
    ) {
        Ok(seq) => seq,
        Err(e) => {
            // Undo the start: the ledger does not hold it, so neither does the store.
            let _ = ctx.store.write(&mut |sql| {
                sql.execute(
                    "DELETE FROM access_review_entries WHERE review_id = $1",
                    &[c.id.clone().into()],
                )?;
                if insert {
                    sql.execute("DELETE FROM access_reviews WHERE id = $1", &[c.id.clone().into()])?;
                } else {
                    sql.execute(
                        "UPDATE access_reviews SET status = 'draft', started_at = NULL, record = $2 WHERE id = $1 AND status = 'in_progress'",
                        &[c.id.clone().into(), draft_rec.clone().into()],
                    )?;
                }
                Ok(())
            });
            return Err(e);
        }
    };
    c.events.push(EventRef {
        action: "access_review.started".into(),
        seq,
        at: ts(&at),
        by: by.into(),
    });
    store_record(ctx.store, &c)?;
    get(ctx.store, &c.id)
}

/// One decision.
#[derive(Debug, Clone)]
pub struct Decision {
    /// The population (evidence id).
    pub population: String,
    /// The account.
    pub account: String,
    /// One of [`DECISIONS`].
    pub decision: String,
    /// Why (required for all but `keep`).
    pub note: Option<String>,
}

/// Decide one entry as reviewer `by` (see the module documentation for who may).
pub fn decide(
    ctx: &Ctx<'_>,
    id: &str,
    d: &Decision,
    by: &str,
    at: DateTime<Utc>,
) -> Result<Entry, ReviewError> {
    if !DECISIONS.contains(&d.decision.as_str()) {
        return Err(invalid(
            "decision",
            format!("must be one of {}", DECISIONS.join(", ")),
        ));
    }
    let note = d.note.as_deref().map(str::trim).filter(|n| !n.is_empty());
    if note.is_none() && d.decision != "keep" {
        return Err(invalid(
            "note",
            format!("is required for `{}`: say why", d.decision),
        ));
    }
    if note.is_some_and(|n| n.len() > 4000) {
        return Err(invalid("note", "at most 4000 characters"));
    }
    let view = get(ctx.store, id)?;
    let c = &view.campaign;
    if c.status != "in_progress" {
        return Err(conflict(
            "not_in_progress",
            format!(
                "access review {} is {}: decisions are taken only while it is in progress",
                c.id, c.status
            ),
        ));
    }
    let Some(pop) = c.populations.iter().find(|p| p.evidence_id == d.population) else {
        return Err(invalid(
            "population",
            format!(
                "`{}` is not a population of this review ({})",
                d.population, c.scope
            ),
        ));
    };
    let Some(entry) = view
        .entries
        .iter()
        .find(|e| e.population == d.population && e.account == d.account)
    else {
        return Err(invalid(
            "account",
            format!(
                "no account `{}` in population `{}` of this review",
                d.account, d.population
            ),
        ));
    };
    if entry.tag == "removed" {
        return Err(invalid(
            "account",
            format!(
                "`{}` was removed since the last review: there is nothing to decide",
                d.account
            ),
        ));
    }
    let Some(reviewer) = pop.reviewers.iter().find(|r| r.is(by)) else {
        return Err(ReviewError::Forbidden {
            code: "not_a_reviewer",
            field: "population".into(),
            message: format!(
                "`{by}` is not a reviewer of `{}` (reviewers: {})",
                d.population,
                pop.reviewers
                    .iter()
                    .map(|r| r.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });
    };
    if reviewer.owns(&d.account) {
        let others: Vec<&str> = pop
            .reviewers
            .iter()
            .filter(|r| !r.owns(&d.account))
            .map(|r| r.id.as_str())
            .collect();
        return Err(ReviewError::Forbidden {
            code: "self_review",
            field: "account".into(),
            message: format!(
                "`{}` is your own account: a reviewer cannot decide their own access; another reviewer of `{}` must ({})",
                d.account,
                d.population,
                others.join(", ")
            ),
        });
    }
    if let Some(prev) = entry.decision.as_deref().filter(|p| FINAL.contains(p)) {
        return Err(conflict(
            "already_decided",
            format!(
                "`{}` was already decided `{prev}` by {} at {}; `keep` and `revoke` are final",
                d.account,
                entry.decided_by.as_deref().unwrap_or("?"),
                entry.decided_at.as_deref().unwrap_or("?")
            ),
        ));
    }
    let when = ts(&at);
    let prior = entry.decision.clone();
    let key = || -> Vec<vouch_store::sql::Value> {
        vec![
            c.id.clone().into(),
            d.population.clone().into(),
            d.account.clone().into(),
        ]
    };
    // The conditional write first, in one transaction; the ledger event only when it
    // changed the entry (two reviewers deciding at once: one wins, one 409, one event).
    let mut why = None;
    let mut version = 0i64;
    ctx.store.write(&mut |sql| {
        // Lock the campaign row: a completion or cancellation (which update it) waits
        // for this decision, and a decision after them finds the review ended.
        let open = sql.execute(
            "UPDATE access_reviews SET status = status WHERE id = $1 AND status = 'in_progress'",
            &[c.id.clone().into()],
        )?;
        if open == 0 {
            return Err(abort(&mut why, conflict("not_in_progress", format!(
                "access review {} ended meanwhile: decisions are taken only while it is in progress",
                c.id
            ))));
        }
        let mut params = key();
        params.extend([d.decision.clone().into(), note.map(str::to_string).into(), by.into(), when.clone().into(), prior.clone().unwrap_or_default().into()]);
        let n = sql.execute(
            "UPDATE access_review_entries SET decision = $4, note = $5, decided_by = $6, decided_at = $7 WHERE review_id = $1 AND population = $2 AND account = $3 AND (decision IS NULL OR decision IN ('defer', 'escalate')) AND COALESCE(decision, '') = $8 AND EXISTS (SELECT 1 FROM access_reviews WHERE id = $1 AND status = 'in_progress')",
            &params,
        )?;
        if n != 1 {
            return Err(abort(&mut why, conflict("already_decided", format!(
                "`{}` was decided by someone else meanwhile; reload the review",
                d.account
            ))));
        }
        let v = sql.query(
            "SELECT COALESCE(MAX(version), 0) + 1 FROM access_review_decisions WHERE review_id = $1 AND population = $2 AND account = $3",
            &key(),
        )?;
        version = v[0].int(0);
        let mut params = key();
        params.extend([version.into(), d.decision.clone().into(), note.map(str::to_string).into(), by.into(), when.clone().into()]);
        // ledger_seq is filled in once the event is appended.
        sql.execute(
            "INSERT INTO access_review_decisions (review_id, population, account, version, decision, note, decided_by, decided_at, ledger_seq) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL)",
            &params,
        )?;
        Ok(())
    }).map_err(|e| aborted(e, &mut why))?;
    let seq = match record_event(
        ctx.ledger,
        "access_review.decided",
        by,
        &at,
        &c.id,
        &c.title,
        format!(
            "Access review `{}`: `{}` in `{}` decided `{}`",
            c.title, d.account, d.population, d.decision
        ),
        json!({"population": d.population, "account": d.account, "decision": d.decision, "note": note, "tag": entry.tag, "flags": entry.flags, "row_sha256": vouch_store::blobs::sha256_hex(vouch_core::canonical::to_string(&entry.row).as_bytes())}),
    ) {
        Ok(seq) => seq,
        Err(e) => {
            // Not in the ledger, so not in the store: put the previous decision back.
            let _ = ctx.store.write(&mut |sql| {
                let mut params = key();
                params.extend([prior.clone().into(), entry.note.clone().into(), entry.decided_by.clone().into(), entry.decided_at.clone().into(), d.decision.clone().into(), by.into(), when.clone().into()]);
                sql.execute(
                    "UPDATE access_review_entries SET decision = $4, note = $5, decided_by = $6, decided_at = $7 WHERE review_id = $1 AND population = $2 AND account = $3 AND decision = $8 AND decided_by = $9 AND decided_at = $10",
                    &params,
                )?;
                let mut params = key();
                params.push(version.into());
                sql.execute(
                    "DELETE FROM access_review_decisions WHERE review_id = $1 AND population = $2 AND account = $3 AND version = $4",
                    &params,
                )?;
                Ok(())
            });
            return Err(e);
        }
    };
    // The finding before the seq: a completion waits for every decision's seq, so it
    // never raises a second finding for a revoke still in flight here. The seq is set
    // even when raising fails (completion then raises it).
    let raised = if d.decision == "revoke" {
        raise_remediation(ctx, c, entry, by, note).map(|_| ())
    } else {
        Ok(())
    };
    ctx.store.write(&mut |sql| {
        let mut params = key();
        params.extend([version.into(), seq.map(|s| s as i64).into()]);
        sql.execute(
            "UPDATE access_review_decisions SET ledger_seq = $5 WHERE review_id = $1 AND population = $2 AND account = $3 AND version = $4",
            &params,
        )?;
        Ok(())
    })?;
    raised?;
    get(ctx.store, &c.id)?
        .entries
        .into_iter()
        .find(|e| e.population == d.population && e.account == d.account)
        .ok_or_else(|| ReviewError::Corrupt("decided entry vanished".into()))
}

fn raise_remediation(
    ctx: &Ctx<'_>,
    c: &Campaign,
    entry: &Entry,
    by: &str,
    note: Option<&str>,
) -> Result<String, ReviewError> {
    let severity = if entry.flags.iter().any(|f| f == "privileged") {
        "high"
    } else {
        "medium"
    };
    let title = format!(
        "Revoke access of `{}` ({}), decided in access review `{}`",
        entry.account, entry.population, c.title
    );
    let f = vouch_checks::findings::raise(
        ctx.store,
        ctx.ledger,
        &vouch_checks::findings::Raised {
            source: "access_review",
            title: &title,
            severity,
            controls: CRITERIA.iter().map(|s| s.to_string()).collect(),
            description: note.unwrap_or("revoked in an access review"),
            remediation_plan: Some("Remove the account from the system; the next collection of the population closes this finding when the account is gone."),
            links: json!({"access_review": c.id, "population": entry.population, "account": entry.account}),
        },
        by,
    )?;
    let fid = f["id"].as_str().unwrap_or_default().to_string();
    ctx.store.write(&mut |sql| {
        sql.execute(
            "UPDATE access_review_entries SET finding_id = $4 WHERE review_id = $1 AND population = $2 AND account = $3",
            &[c.id.clone().into(), entry.population.clone().into(), entry.account.clone().into(), fid.clone().into()],
        )?;
        Ok(())
    })?;
    Ok(fid)
}

/// The signed record of a completed campaign.
#[derive(Debug, Clone)]
pub struct Completed {
    /// The campaign and its entries.
    pub view: View,
    /// The canonical JSON document that was signed.
    pub document: String,
    /// base64 DER signature over the document's bytes.
    pub signature: String,
    /// The document set to write: the document with vouch's and the completer's
    /// signatures, its PDF and Markdown renderings (hashes in the ledger event).
    pub files: DocumentSet,
}

/// A completed campaign's signed document set: what `vouch review complete`, the API and
/// `vouch review show --out` write beside attestations (vouch-packet writes the files).
#[derive(Debug, Clone)]
pub struct DocumentSet {
    /// The canonical document, vouch's signature and the completer's own, if any.
    pub signed: crate::signature::SignedDocument,
    /// The PDF rendering of the document (created at its `completed_at`: reproducible).
    pub pdf: Vec<u8>,
    /// The Markdown rendering of the document.
    pub markdown: String,
}

impl DocumentSet {
    /// SHA-256 of each file (`access-review.json`, `.md`, `.pdf`): what the
    /// `access_review.completed` event and packets record.
    pub fn hashes(&self) -> BTreeMap<String, String> {
        let h = vouch_store::blobs::sha256_hex;
        BTreeMap::from([
            (format!("{FILE_NAME}.json"), self.signed.sha256.clone()),
            (format!("{FILE_NAME}.md"), h(self.markdown.as_bytes())),
            (format!("{FILE_NAME}.pdf"), h(&self.pdf)),
        ])
    }
}

/// The file name of a signed campaign's documents (`access-review.json`, `.json.sig`,
/// `.md`, `.pdf`, `.pdf.sig`, and the completer's `.json.ssh.sig` or `.json.asc`).
pub const FILE_NAME: &str = "access-review";

/// Renders a signed campaign document (its canonical JSON) to PDF, with `at` (its
/// completion) as the creation date so the bytes are reproducible; vouch-packet's typst
/// renderer, passed in because this crate does not render.
pub type PdfRenderer<'a> = &'a dyn Fn(&[u8], DateTime<Utc>) -> Result<Vec<u8>, String>;

/// The completer's own signature, if any.
#[derive(Debug, Clone, Copy)]
pub enum Personal<'a> {
    /// vouch's signature only.
    None,
    /// Sign with this key here (the CLI: `--ssh-key FILE` / `--gpg-key ID`).
    Key(&'a crate::signature::PersonalKey),
    /// A signature the completer made elsewhere over [`draft`]'s bytes (the API).
    Detached(&'a crate::attest::DetachedSignature),
}

impl Personal<'_> {
    fn kind(&self) -> Option<&'static str> {
        use crate::attest::DetachedKind;
        use crate::signature::PersonalKey;
        match self {
            Personal::None => None,
            Personal::Key(PersonalKey::Ssh(_)) => Some("ssh"),
            Personal::Key(PersonalKey::Gpg(_)) => Some("gpg"),
            Personal::Detached(d) => Some(match d.kind {
                DetachedKind::Ssh => "ssh",
                DetachedKind::Gpg => "gpg",
            }),
        }
    }
}

/// The document set of a signed campaign document: `personal` is the completer's own
/// signature (from the record), `public_key_pem` vouch's key that signed it.
pub fn document_set(
    document: &str,
    signature: &str,
    public_key_pem: &str,
    personal: Option<crate::signature::PersonalSignature>,
    pdf: PdfRenderer<'_>,
) -> Result<DocumentSet, ReviewError> {
    let value: Value =
        serde_json::from_str(document).map_err(|e| ReviewError::Corrupt(e.to_string()))?;
    let at = value["access_review"]["completed_at"]
        .as_str()
        .and_then(vouch_core::period::parse_instant)
        .ok_or_else(|| ReviewError::Corrupt("the signed document has no completed_at".into()))?;
    let key_id = vouch_ledger::sign::key_id_of_pem(public_key_pem).map_err(ReviewError::Corrupt)?;
    Ok(DocumentSet {
        pdf: pdf(document.as_bytes(), at).map_err(ReviewError::Render)?,
        markdown: crate::markdown::render_review(&view_of_document(document)?),
        signed: crate::signature::SignedDocument {
            sha256: vouch_store::blobs::sha256_hex(document.as_bytes()),
            vouch: crate::signature::VouchSignature {
                key_id,
                public_key_pem: public_key_pem.to_string(),
                signature: signature.to_string(),
            },
            personal,
            document: value,
            timestamp: None,
        },
    })
}

/// The campaign as its signed document states it (for the Markdown rendering of the
/// document set: what was signed, not what changed later, such as remediations).
pub fn view_of_document(document: &str) -> Result<View, ReviewError> {
    let d: Value =
        serde_json::from_str(document).map_err(|e| ReviewError::Corrupt(e.to_string()))?;
    let bad = |e: serde_json::Error| ReviewError::Corrupt(format!("signed access review: {e}"));
    let a = &d["access_review"];
    let text = |k: &str| a[k].as_str().map(str::to_string);
    let campaign = Campaign {
        id: text("id").unwrap_or_default(),
        title: text("title").unwrap_or_default(),
        scope: text("scope").unwrap_or_default(),
        status: "completed".into(),
        populations: serde_json::from_value(a["populations"].clone()).map_err(bad)?,
        created_at: text("created_at").unwrap_or_default(),
        created_by: text("created_by").unwrap_or_default(),
        started_at: text("started_at"),
        snapshot_sha256: text("snapshot_sha256"),
        previous: text("previous"),
        ended_at: text("completed_at"),
        ended_by: text("completed_by"),
        cancel_reason: None,
        document_sha256: Some(vouch_store::blobs::sha256_hex(document.as_bytes())),
        personal_signature: None,
        files: BTreeMap::new(),
        events: serde_json::from_value(a["events"].clone()).map_err(bad)?,
    };
    Ok(View {
        campaign,
        summary: serde_json::from_value(d["summary"].clone()).map_err(bad)?,
        entries: serde_json::from_value(d["entries"].clone()).map_err(bad)?,
        document: None,
        signature: None,
    })
}

/// The signed document of a campaign completed by `by` at `at` (`completed_at`: for a
/// detached signature, when its draft was made) from its entries and decision history;
/// `personal` the kind of the completer's own signature (`ssh`, `gpg`), in the signed
/// bytes so it cannot be stripped unnoticed.
#[allow(clippy::too_many_arguments)] // the document's parts, each named by every caller
fn document_of(
    config: &Config,
    keys: &Keys,
    c: &Campaign,
    entries: &[Entry],
    history: &[vouch_store::Row],
    by: &str,
    at: &DateTime<Utc>,
    personal: Option<&str>,
) -> Value {
    let org = &config.settings.organization;
    let mut review = json!({
        "id": c.id, "title": c.title, "scope": c.scope, "status": "completed",
        "created_at": c.created_at, "created_by": c.created_by,
        "started_at": c.started_at, "snapshot_sha256": c.snapshot_sha256,
        "previous": c.previous, "completed_at": ts(at), "completed_by": by,
        "populations": c.populations, "events": c.events,
    });
    // Only when there is one, so documents without stay as they were.
    if let Some(k) = personal {
        review["personal_signature"] = json!(k);
    }
    json!({
        "type": DOCUMENT_TYPE,
        "version": 1,
        "organization": {"name": org.name, "id": org.id},
        "generator": {"name": "vouch", "version": vouch_core::VERSION},
        "signing_key": {"id": keys.signing_key_id(), "algorithm": "ECDSA P-256 SHA-256"},
        "criteria": CRITERIA,
        "access_review": review,
        "summary": summarize(entries),
        "entries": entries,
        "decision_history": history_of(history),
    })
}

/// The completed documents' personal signatures of `by` (when, signature), oldest
/// first: the signer-key pinning of [`crate::attest::pinned_key`] reads them.
pub fn personal_signatures_of(
    store: &Store,
    by: &str,
) -> Result<Vec<(String, crate::signature::PersonalSignature)>, ReviewError> {
    let rows = store.query(
        "SELECT ended_at, record FROM access_reviews WHERE status = 'completed' AND document IS NOT NULL ORDER BY ended_at, id",
        &[],
    )?;
    let mut out = Vec::new();
    for r in rows {
        let c: Campaign =
            serde_json::from_str(&r.text(1)).map_err(|e| ReviewError::Corrupt(e.to_string()))?;
        if c.ended_by.as_deref() != Some(by) {
            continue;
        }
        if let Some(p) = c.personal_signature {
            out.push((r.opt_text(0).unwrap_or_default(), p));
        }
    }
    Ok(out)
}

/// The exact bytes (canonical JSON) the completer signs with their own key before
/// completing over the API ([`complete`] with [`Personal::Detached`]): the document as
/// it would be signed now by `by`, with `personal_signature` = `kind` (`ssh` or `gpg`)
/// and `completed_at` = `at` (send it back as the draft's time). Refused like
/// completion while entries are undecided. Nothing is written.
pub fn draft(
    ctx: &Ctx<'_>,
    keys: &Keys,
    id: &str,
    by: &str,
    kind: &str,
    at: DateTime<Utc>,
) -> Result<Vec<u8>, ReviewError> {
    if !["ssh", "gpg"].contains(&kind) {
        return Err(invalid(
            "signature_kind",
            format!("must be ssh or gpg, not `{kind}`"),
        ));
    }
    let mut view = completable(ctx, id)?;
    // A revoke whose finding could not be opened at decision time gets it now, so the
    // draft is the document completion will rebuild (with the finding).
    let missing: Vec<Entry> = view
        .entries
        .iter()
        .filter(|e| e.decision.as_deref() == Some("revoke") && e.finding_id.is_none())
        .cloned()
        .collect();
    if !missing.is_empty() {
        for e in &missing {
            raise_remediation(
                ctx,
                &view.campaign,
                e,
                e.decided_by.as_deref().unwrap_or(by),
                e.note.as_deref(),
            )?;
        }
        view = completable(ctx, id)?;
    }
    let history = ctx
        .store
        .query(HISTORY_SQL, &[view.campaign.id.clone().into()])?;
    let doc = document_of(
        ctx.config,
        keys,
        &view.campaign,
        &view.entries,
        &history,
        by,
        &at,
        Some(kind),
    );
    Ok(vouch_core::canonical::to_vec(&doc))
}

/// A stale draft (older than the draft validity) is a document that changed: the same
/// code as any other draft to fetch again (`draft_changed`, as docs/access-reviews.md
/// lists it); the other shared refusals keep their mapping.
fn stale_draft(e: crate::Error) -> ReviewError {
    match e {
        crate::Error::Conflict(m) => conflict("draft_changed", m),
        other => other.into(),
    }
}

/// A detached signature's `completed_at` is the signer's (the draft's time), so it must
/// not predate what the document records: the start of the campaign and every decision
/// (the history included). Otherwise the signed record would say it was completed
/// before its last decision was taken.
fn check_completed_at(
    view: &View,
    history: &[vouch_store::Row],
    completed_at: &DateTime<Utc>,
) -> Result<(), ReviewError> {
    let mut latest: Option<(DateTime<Utc>, String)> = None;
    let mut see = |t: Option<String>, what: String| {
        if let Some(i) = t.as_deref().and_then(vouch_core::period::parse_instant) {
            if latest.as_ref().is_none_or(|(l, _)| i > *l) {
                latest = Some((i, what));
            }
        }
    };
    see(
        view.campaign.started_at.clone(),
        "the campaign started".into(),
    );
    for e in &view.entries {
        see(
            e.decided_at.clone(),
            format!("`{}` ({}) was decided", e.account, e.population),
        );
    }
    for r in history {
        see(
            Some(r.text(6)),
            format!("`{}` ({}) was decided", r.text(1), r.text(0)),
        );
    }
    match latest {
        Some((l, what)) if *completed_at < l => Err(conflict(
            "draft_changed",
            format!(
                "completed_at {} is before {what} at {}: a document cannot be completed before what it records; fetch the draft again and sign that",
                ts(completed_at),
                ts(&l)
            ),
        )),
        _ => Ok(()),
    }
}

/// The campaign, if it may be completed now: in progress, every entry settled, no
/// decision still being recorded.
fn completable(ctx: &Ctx<'_>, id: &str) -> Result<View, ReviewError> {
    let view = get(ctx.store, id)?;
    let c0 = &view.campaign;
    if c0.status != "in_progress" {
        return Err(conflict(
            "not_in_progress",
            format!(
                "access review {} is {}; only a review in progress can be completed",
                c0.id, c0.status
            ),
        ));
    }
    if let Some(e) = unsettled(&view.summary) {
        return Err(e);
    }
    // Read after the view: a decision stored before it is either fully recorded (seq,
    // and its finding) or still in flight, and then completion waits.
    if !ctx
        .store
        .query(
            "SELECT 1 FROM access_review_decisions WHERE review_id = $1 AND ledger_seq IS NULL",
            &[c0.id.clone().into()],
        )?
        .is_empty()
    {
        return Err(pending());
    }
    Ok(view)
}

/// Why a campaign cannot be completed yet: entries without a final decision (none, or
/// `defer` / `escalate`), counted each way. `None` when every entry is `keep` or `revoke`.
fn unsettled(s: &Summary) -> Option<ReviewError> {
    let deferred = s.decisions.get("defer").copied().unwrap_or(0);
    let escalated = s.decisions.get("escalate").copied().unwrap_or(0);
    let open = s.undecided + deferred + escalated;
    (open > 0).then(|| ReviewError::Conflict {
        code: "undecided_entries",
        message: format!(
            "{open} of {} entries have no decision or only a provisional one ({} undecided, {deferred} deferred, {escalated} escalated); every entry must be decided `keep` or `revoke` before the review is completed",
            s.to_decide, s.undecided
        ),
        undecided: Some(open),
    })
}

fn pending() -> ReviewError {
    conflict(
        "decision_pending",
        "a decision is still being recorded in the ledger; complete the review again in a moment",
    )
}

/// Complete a campaign: refused (`undecided_entries`, with the count) while any entry
/// has no final decision (none yet, or `defer` / `escalate`: open questions the signed
/// record would otherwise close); otherwise the document is built, signed with vouch's
/// key and, per `personal`, the completer's own (made here with their key, or a
/// detached signature over [`draft`]'s bytes: 409 when the document changed since, 400
/// when the signature does not verify over it; either way by the completer's pinned
/// key, see [`crate::attest::pinned_key`]), rendered (PDF by `pdf`, Markdown) and
/// recorded with every file's SHA-256. The files are the caller's to write
/// ([`Completed::files`]).
pub fn complete(
    ctx: &Ctx<'_>,
    keys: &Keys,
    id: &str,
    by: &str,
    at: DateTime<Utc>,
    personal: Personal<'_>,
    pdf: PdfRenderer<'_>,
) -> Result<Completed, ReviewError> {
    if let Personal::Detached(d) = personal {
        d.check_age(at, "completed_at", "access_review.completed_at")
            .map_err(stale_draft)?;
    }
    let view = completable(ctx, id)?;
    let c0 = view.campaign.clone();
    // The document as it stands now (as of the draft's time for a detached signature),
    // signed personally before the transaction (the tools run outside it); the
    // transaction below rebuilds it from the stored entries and refuses to complete if
    // its bytes differ, so what is signed is exactly what is stored.
    let completed_at = match personal {
        Personal::Detached(d) => d.prepared_at,
        _ => at,
    };
    let kind = personal.kind();
    // A revoke whose finding could not be opened at decision time gets it here, but only
    // once the signature and the key are accepted: a refused completion opens nothing.
    // The loop runs at most twice (the second time over the document with the findings).
    let mut raised = false;
    let (view, doc, bytes, sha, personal_sig, signer_key) = loop {
        let view = get(ctx.store, &c0.id)?;
        let history = ctx.store.query(HISTORY_SQL, &[c0.id.clone().into()])?;
        if matches!(personal, Personal::Detached(_)) {
            check_completed_at(&view, &history, &completed_at)?;
        }
        let doc = document_of(
            ctx.config,
            keys,
            &view.campaign,
            &view.entries,
            &history,
            by,
            &completed_at,
            kind,
        );
        let bytes = vouch_core::canonical::to_vec(&doc);
        let sha = vouch_store::blobs::sha256_hex(&bytes);
        let personal_sig = match personal {
            Personal::None => None,
            Personal::Key(k) => Some(crate::signature::sign_personal(k, by, &bytes)?),
            Personal::Detached(d) => {
                if !sha.eq_ignore_ascii_case(d.document_sha256.trim()) {
                    return Err(conflict(
                        "draft_changed",
                        format!(
                            "the draft changed since it was fetched: it is now SHA-256 {sha}, the signature is over {} (decisions, remediation findings or the campaign changed): fetch the draft again and sign that",
                            d.document_sha256.trim()
                        ),
                    ));
                }
                Some(d.personal_signature(by, &bytes)?)
            }
        };
        // A personal signature counts only by the completer's pinned key (the same
        // pinning as attestations: one person, one key). Checked here so nothing is
        // opened for a refused key, and again inside the completing transaction, which
        // stores a first-use pin (so concurrent first signatures pin one key).
        let signer_key =
            crate::attest::check_signer_key(ctx.config, ctx.store, by, personal_sig.as_ref())?;
        let missing: Vec<&Entry> = view
            .entries
            .iter()
            .filter(|e| e.decision.as_deref() == Some("revoke") && e.finding_id.is_none())
            .collect();
        if missing.is_empty() {
            break (view, doc, bytes, sha, personal_sig, signer_key);
        }
        if raised {
            return Err(ReviewError::Corrupt(format!(
                "the remediation finding of `{}` was opened but is not recorded on its entry",
                missing[0].account
            )));
        }
        if let Personal::Detached(_) = personal {
            // [`draft`] opens missing findings, so a draft signed without one predates it.
            return Err(conflict(
                "draft_changed",
                format!(
                    "the revoke of `{}` ({}) has no remediation finding yet, so the signed draft is not the document to complete: fetch the draft again (that opens the finding) and sign that",
                    missing[0].account, missing[0].population
                ),
            ));
        }
        for e in missing {
            raise_remediation(
                ctx,
                &c0,
                e,
                e.decided_by.as_deref().unwrap_or(by),
                e.note.as_deref(),
            )?;
        }
        raised = true;
    };
    let document = String::from_utf8(bytes.clone())
        .map_err(|e| ReviewError::Corrupt(format!("canonical JSON: {e}")))?;
    let signed = crate::signature::SignedDocument {
        sha256: sha.clone(),
        vouch: crate::signature::sign_vouch(keys, &bytes),
        personal: personal_sig.clone(),
        document: doc,
        // Campaign documents are not RFC 3161-timestamped at completion yet
        // (`vouch timestamp FILE` does it by hand).
        timestamp: None,
    };
    let signature = signed.vouch.signature.clone();
    // The renderings before anything is written: a PDF that cannot be made leaves the
    // campaign in progress.
    let files = DocumentSet {
        pdf: pdf(&bytes, completed_at).map_err(ReviewError::Render)?,
        markdown: crate::markdown::render_review(&view_of_document(&document)?),
        signed,
    };
    let hashes = files.hashes();
    let old_rec = record_text(&c0);
    // One transaction: take the campaign (only while in progress: a decision in flight
    // holds its row, so this waits for it), read the entries as they now stand, rebuild
    // the document: it must be the one signed. The signed document is exactly the
    // stored decisions.
    let mut why = None;
    let mut out: Option<(Campaign, Summary)> = None;
    // Trust on first use, decided in the transaction (unless the key is configured).
    let pin = match (&personal_sig, &signer_key) {
        (Some(p), Some(k)) if k["pinned_by"] != "config" => {
            Some((p, crate::attest::legacy_pin(ctx.store, by)?))
        }
        _ => None,
    };
    let mut signer_key = signer_key;
    let mut registered = false;
    ctx.store
        .write(&mut |sql| {
            registered = false;
            if let Some((p, legacy)) = &pin {
                match crate::attest::pin_in_tx(sql, by, p, legacy, &c0.id, &at)? {
                    Ok((r, source)) => {
                        registered = r;
                        if let Some(k) = signer_key.as_mut() {
                            k["pinned_by"] = json!(if registered { "registered" } else { source.as_str() });
                        }
                    }
                    Err(e) => return Err(abort(&mut why, e.into())),
                }
            }
            let mut c = c0.clone();
            c.status = "completed".into();
            // The document's time, which packets select by (`completed_in`); the ledger
            // event keeps its own.
            c.ended_at = Some(ts(&completed_at));
            c.ended_by = Some(by.to_string());
            let n = sql.execute(
                "UPDATE access_reviews SET status = 'completed', ended_at = $2 WHERE id = $1 AND status = 'in_progress'",
                &[c.id.clone().into(), c.ended_at.clone().into()],
            )?;
            if n == 0 {
                return Err(abort(&mut why, conflict("not_in_progress", format!("access review {} changed state meanwhile", c.id))));
            }
            let entries = match sql
                .query(
                    &format!("SELECT {ENTRY_COLUMNS} FROM access_review_entries WHERE review_id = $1 ORDER BY population, account"),
                    &[c.id.clone().into()],
                )?
                .iter()
                .map(entry_of)
                .collect::<Result<Vec<_>, _>>()
            {
                Ok(v) => v,
                Err(e) => return Err(abort(&mut why, e)),
            };
            let summary = summarize(&entries);
            if let Some(e) = unsettled(&summary) {
                return Err(abort(&mut why, e));
            }
            let rows = sql.query(HISTORY_SQL, &[c.id.clone().into()])?;
            if rows.iter().any(|r| r.opt_int(7).is_none()) {
                return Err(abort(&mut why, pending()));
            }
            let now_doc = document_of(ctx.config, keys, &view.campaign, &entries, &rows, by, &completed_at, kind);
            if vouch_core::canonical::to_string(&now_doc) != document {
                return Err(abort(&mut why, conflict("draft_changed", format!("access review {} changed while it was being signed: complete it again", c.id))));
            }
            c.document_sha256 = Some(sha.clone());
            c.personal_signature = personal_sig.clone();
            c.files = hashes.clone();
            sql.execute(
                "UPDATE access_reviews SET record = $2, document = $3, signature = $4 WHERE id = $1",
                &[c.id.clone().into(), record_text(&c).into(), document.clone().into(), signature.clone().into()],
            )?;
            out = Some((c, summary));
            Ok(())
        })
        .map_err(|e| aborted(e, &mut why))?;
    let Some((mut c, summary)) = out else {
        return Err(ReviewError::Corrupt("completion wrote nothing".into()));
    };
    let revoked = summary.decisions.get("revoke").copied().unwrap_or(0);
    let seq = match record_event(
        ctx.ledger,
        "access_review.completed",
        by,
        &at,
        &c.id,
        &c.title,
        format!(
            "Access review `{}` completed and signed: {} entries decided, {revoked} revoked",
            c.title, summary.to_decide
        ),
        json!({"scope": c.scope, "document_sha256": sha, "signing_key_id": keys.signing_key_id(), "decisions": summary.decisions,
               "files": hashes, "personal_signature": kind, "signer_key": signer_key}),
    ) {
        Ok(seq) => seq,
        Err(e) => {
            // Not in the ledger, so not completed: back in progress, unsigned.
            let _ = ctx.store.write(&mut |sql| {
                sql.execute(
                    "UPDATE access_reviews SET status = 'in_progress', ended_at = NULL, record = $2, document = NULL, signature = NULL WHERE id = $1 AND status = 'completed'",
                    &[c.id.clone().into(), old_rec.clone().into()],
                )?;
                if registered {
                    // The pin this unrecorded completion stored goes with it.
                    sql.execute(
                        "DELETE FROM signer_key_pins WHERE signer = $1 AND document_id = $2 AND pinned_by = 'first_use'",
                        &[by.into(), c.id.clone().into()],
                    )?;
                }
                Ok(())
            });
            return Err(e);
        }
    };
    c.events.push(EventRef {
        action: "access_review.completed".into(),
        seq,
        at: ts(&at),
        by: by.into(),
    });
    // Only the event's seq is added: status, files and document were stored above.
    store_record(ctx.store, &c)?;
    Ok(Completed {
        view: get(ctx.store, &c.id)?,
        document,
        signature,
        files,
    })
}

/// Cancel a draft or a campaign in progress (the reason is required and recorded).
pub fn cancel(
    ctx: &Ctx<'_>,
    id: &str,
    reason: &str,
    by: &str,
    at: DateTime<Utc>,
) -> Result<View, ReviewError> {
    if reason.trim().is_empty() {
        return Err(invalid(
            "reason",
            "is required: say why the review is cancelled",
        ));
    }
    let mut c = get(ctx.store, id)?.campaign;
    if !matches!(c.status.as_str(), "draft" | "in_progress") {
        return Err(conflict(
            "not_in_progress",
            format!("access review {} is already {}", c.id, c.status),
        ));
    }
    let old_rec = record_text(&c);
    let was = c.status.clone();
    c.status = "cancelled".into();
    c.ended_at = Some(ts(&at));
    c.ended_by = Some(by.into());
    c.cancel_reason = Some(reason.trim().into());
    let rec = record_text(&c);
    // The conditional write first (only from the state read: a decision in flight holds
    // the row, so this waits for it); the ledger event only once it happened.
    ctx.store.write(&mut |sql| {
        let n = sql.execute(
            "UPDATE access_reviews SET status = 'cancelled', ended_at = $2, record = $3 WHERE id = $1 AND status = $4",
            &[c.id.clone().into(), c.ended_at.clone().into(), rec.clone().into(), was.clone().into()],
        )?;
        if n == 0 {
            return Err(vouch_store::StoreError::Aborted(format!("access review {} changed state meanwhile", c.id)));
        }
        Ok(())
    }).map_err(|e| aborted(e, &mut None))?;
    let seq = match record_event(
        ctx.ledger,
        "access_review.cancelled",
        by,
        &at,
        &c.id,
        &c.title,
        format!("Access review `{}` cancelled: {}", c.title, reason.trim()),
        json!({"scope": c.scope, "reason": reason.trim(), "was": was}),
    ) {
        Ok(seq) => seq,
        Err(e) => {
            let _ = ctx.store.write(&mut |sql| {
                sql.execute(
                    "UPDATE access_reviews SET status = $2, ended_at = NULL, record = $3 WHERE id = $1 AND status = 'cancelled'",
                    &[c.id.clone().into(), was.clone().into(), old_rec.clone().into()],
                )?;
                Ok(())
            });
            return Err(e);
        }
    };
    c.events.push(EventRef {
        action: "access_review.cancelled".into(),
        seq,
        at: ts(&at),
        by: by.into(),
    });
    store_record(ctx.store, &c)?;
    get(ctx.store, &c.id)
}

const HISTORY_SQL: &str = "SELECT population, account, version, decision, note, decided_by, decided_at, ledger_seq FROM access_review_decisions WHERE review_id = $1 ORDER BY population, account, version";

fn history_of(rows: &[vouch_store::Row]) -> Vec<Value> {
    rows.iter()
        .map(|r| {
            json!({"population": r.text(0), "account": r.text(1), "version": r.int(2), "decision": r.text(3), "note": r.opt_text(4), "decided_by": r.text(5), "decided_at": r.text(6), "ledger_seq": r.opt_int(7)})
        })
        .collect()
}

fn resolve_id(store: &Store, id: &str) -> Result<String, ReviewError> {
    if id.len() < 8 || !id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
        return Err(invalid(
            "id",
            format!("`{id}` is not an access review id (give at least 8 characters of it)"),
        ));
    }
    let rows = store.query(
        "SELECT id FROM access_reviews WHERE id LIKE $1 ORDER BY id LIMIT 2",
        &[format!("{}%", id.to_lowercase()).into()],
    )?;
    match rows.len() {
        0 => Err(ReviewError::NotFound(id.into())),
        1 => Ok(rows[0].text(0)),
        _ => Err(invalid(
            "id",
            format!("`{id}` matches more than one access review; give more of the id"),
        )),
    }
}

fn entry_of(r: &vouch_store::Row) -> Result<Entry, ReviewError> {
    let parse = |s: Option<String>| -> Result<Value, ReviewError> {
        s.map(|t| serde_json::from_str(&t).map_err(|e| ReviewError::Corrupt(e.to_string())))
            .transpose()
            .map(Option::unwrap_or_default)
    };
    Ok(Entry {
        population: r.text(0),
        account: r.text(1),
        tag: r.text(2),
        flags: serde_json::from_str(&r.text(3)).map_err(|e| ReviewError::Corrupt(e.to_string()))?,
        row: parse(r.opt_text(4))?,
        decision: r.opt_text(5),
        note: r.opt_text(6),
        decided_by: r.opt_text(7),
        decided_at: r.opt_text(8),
        finding_id: r.opt_text(9),
        remediated_at: r.opt_text(10),
        remediation: r.opt_text(11).map(|t| parse(Some(t))).transpose()?,
    })
}

const ENTRY_COLUMNS: &str = "population, account, tag, flags, row_json, decision, note, decided_by, decided_at, finding_id, remediated_at, remediation";

fn summarize(entries: &[Entry]) -> Summary {
    let mut s = Summary {
        entries: entries.len() as u64,
        ..Summary::default()
    };
    for e in entries {
        *s.tags.entry(e.tag.clone()).or_default() += 1;
        for f in &e.flags {
            *s.flags.entry(f.clone()).or_default() += 1;
        }
        if e.tag == "removed" {
            continue;
        }
        s.to_decide += 1;
        match &e.decision {
            Some(d) => *s.decisions.entry(d.clone()).or_default() += 1,
            None => s.undecided += 1,
        }
    }
    s
}

/// One campaign (by id or a unique prefix of at least 8 characters) with its entries.
pub fn get(store: &Store, id: &str) -> Result<View, ReviewError> {
    let id = resolve_id(store, id)?;
    let rows = store.query(
        "SELECT record, document, signature FROM access_reviews WHERE id = $1",
        &[id.clone().into()],
    )?;
    let r = rows
        .first()
        .ok_or_else(|| ReviewError::NotFound(id.clone()))?;
    let campaign: Campaign =
        serde_json::from_str(&r.text(0)).map_err(|e| ReviewError::Corrupt(e.to_string()))?;
    let entries = store
        .query(
            &format!("SELECT {ENTRY_COLUMNS} FROM access_review_entries WHERE review_id = $1 ORDER BY population, account"),
            &[id.into()],
        )?
        .iter()
        .map(entry_of)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(View {
        summary: summarize(&entries),
        campaign,
        entries,
        document: r.opt_text(1),
        signature: r.opt_text(2),
    })
}

/// A campaign in a list: the record and its counts.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Listed {
    /// The campaign.
    pub campaign: Campaign,
    /// Counts over its entries.
    pub summary: Summary,
}

/// Campaigns, newest first, optionally only those with a status.
pub fn list(store: &Store, status: Option<&str>) -> Result<Vec<Listed>, ReviewError> {
    if let Some(s) = status {
        if !STATUSES.contains(&s) {
            return Err(invalid(
                "status",
                format!("must be one of {}", STATUSES.join(", ")),
            ));
        }
    }
    let rows = match status {
        Some(s) => store.query(
            "SELECT id FROM access_reviews WHERE status = $1 ORDER BY id DESC",
            &[s.into()],
        )?,
        None => store.query("SELECT id FROM access_reviews ORDER BY id DESC", &[])?,
    };
    rows.iter()
        .map(|r| {
            let v = get(store, &r.text(0))?;
            Ok(Listed {
                campaign: v.campaign,
                summary: v.summary,
            })
        })
        .collect()
}

/// The access-review campaigns of a period and their decisions: every campaign that was
/// started before the period ended and had not ended (completed or cancelled) before it
/// began, as it stands now, oldest first. Reports (seed 003's monthly `access_review`)
/// read this.
pub fn in_period(store: &Store, period: &Period) -> Result<Vec<View>, ReviewError> {
    let rows = store.query(
        "SELECT id FROM access_reviews WHERE started_at IS NOT NULL AND started_at < $1 AND (ended_at IS NULL OR ended_at >= $2) ORDER BY started_at, id",
        &[ts(&period.end).into(), ts(&period.start).into()],
    )?;
    rows.iter().map(|r| get(store, &r.text(0))).collect()
}

/// Campaigns completed inside `period` and at or before `as_of` (RFC 3339, fixed width):
/// what a packet of the period includes (reproducible: later completions are not folded
/// in). Their signed documents and signatures are in the views.
pub fn completed_in(store: &Store, period: &Period, as_of: &str) -> Result<Vec<View>, ReviewError> {
    let rows = store.query(
        "SELECT id FROM access_reviews WHERE status = 'completed' AND ended_at >= $1 AND ended_at < $2 AND ended_at <= $3 ORDER BY ended_at, id",
        &[ts(&period.start).into(), ts(&period.end).into(), as_of.into()],
    )?;
    rows.iter().map(|r| get(store, &r.text(0))).collect()
}

/// After a collection: every `revoke` of a population just collected whose account is no
/// longer in it gets its remediation finding resolved (with the evidence items that show
/// it) and an `access_review.remediated` ledger event. Call it where collection
/// completes (the engine's `collect` job and `vouch collect`). Returns the entries
/// remediated. A collection that cannot prove an account gone — unreadable, an item
/// without content, or no accounts at all — closes nothing (the reason is logged).
pub fn after_collection(
    ctx: &Ctx<'_>,
    collected: &[vouch_evidence::Item],
    at: DateTime<Utc>,
) -> Result<Vec<Entry>, ReviewError> {
    let pops: BTreeSet<String> = collected
        .iter()
        .filter(|i| i.ok())
        .filter_map(|i| i.record["evidence_id"].as_str().map(str::to_string))
        .filter(|id| ctx.config.evidence_def(id).is_some_and(|d| d.population))
        .collect();
    let mut done = Vec::new();
    for pop in pops {
        let pending = ctx.store.query(
            "SELECT review_id, account, finding_id FROM access_review_entries WHERE population = $1 AND decision = 'revoke' AND remediated_at IS NULL AND finding_id IS NOT NULL ORDER BY review_id, account",
            &[pop.clone().into()],
        )?;
        if pending.is_empty() {
            continue;
        }
        // Only a complete, readable collection can show an account gone. A population
        // that cannot be read (a row without its account), an item without content, or
        // a collection with no accounts at all (an empty export is far likelier a broken
        // source than everyone removed) closes nothing: the findings stay open, the
        // reason is logged, and the collection that called this does not fail.
        let snap = match load_population(ctx.config, ctx.store, &pop, "evidence") {
            Ok(snap) => snap,
            Err(e) => {
                tracing::warn!(population = %pop, open = pending.len(), "revoke findings stay open: the latest collection cannot be read ({e})");
                continue;
            }
        };
        if let Some(i) = snap.items.iter().find(|i| i.sha256.is_none()) {
            tracing::warn!(population = %pop, open = pending.len(), item = %i.id, "revoke findings stay open: an item of the latest collection has no content to read");
            continue;
        }
        if snap.accounts.is_empty() {
            tracing::warn!(population = %pop, open = pending.len(), "revoke findings stay open: the latest collection holds no accounts at all");
            continue;
        }
        for r in pending {
            let (review, account, finding) = (r.text(0), r.text(1), r.text(2));
            if snap.accounts.contains_key(&account) {
                continue;
            }
            let items: Vec<Value> = snap
                .items
                .iter()
                .map(|i| json!({"id": i.id, "sha256": i.sha256, "ledger_seq": i.ledger_seq}))
                .collect();
            let remediation = json!({"by": "collection", "evidence_id": pop, "items": items, "note": format!("`{account}` is no longer in population `{pop}`")});
            vouch_checks::findings::resolve_with(
                ctx.store,
                ctx.ledger,
                &finding,
                remediation.clone(),
                "vouch",
            )?;
            let title = get(ctx.store, &review)?.campaign.title;
            record_event(
                ctx.ledger,
                "access_review.remediated",
                "vouch",
                &at,
                &review,
                &title,
                format!(
                    "Revoked account `{account}` is gone from `{pop}`; finding {finding} resolved"
                ),
                json!({"population": pop, "account": account, "finding_id": finding, "items": items}),
            )?;
            let rem = vouch_core::canonical::to_string(&remediation);
            let when = ts(&at);
            ctx.store.write(&mut |sql| {
                sql.execute(
                    "UPDATE access_review_entries SET remediated_at = $4, remediation = $5 WHERE review_id = $1 AND population = $2 AND account = $3",
                    &[review.clone().into(), pop.clone().into(), account.clone().into(), when.clone().into(), rem.clone().into()],
                )?;
                Ok(())
            })?;
            if let Some(e) = get(ctx.store, &review)?
                .entries
                .into_iter()
                .find(|e| e.population == pop && e.account == account)
            {
                done.push(e);
            }
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::Reviewer;

    fn r(id: &str) -> Reviewer {
        Reviewer {
            id: id.into(),
            accounts: Vec::new(),
        }
    }

    /// Whose account is whose: exact, local part of the reviewer's id, local part of
    /// the account (the trial's `user:alice` deciding `alice@x.example` was allowed).
    #[test]
    fn a_reviewer_owns_their_accounts_however_written() {
        assert!(r("user:alice").owns("alice"));
        assert!(r("user:alice").owns("alice@x.example"));
        assert!(r("jwt:alice@x.example").owns("alice"));
        assert!(r("jwt:alice@x.example").owns("ALICE@x.example"));
        assert!(!r("user:alice").owns("bob@x.example"));
        assert!(!r("user:alice").owns("alicia@x.example"));
    }
}
