//! Seed 001's quarterly review on SQLite and PostgreSQL (issue 15): the sample of merged
//! PRs drawn from the quarter's PR evidence (real command collections of a JSON file the
//! test rewrites per month) under a seed bound to a ledger checkpoint, decided PR by PR
//! (each decision a ledger event) before an unqualified signature; a quarter without PR
//! evidence is `no_evidence`. Also: a window not yet open cannot be opened by hand, and
//! findings opened by the scheduler carry the scheduler's clock, not the system's.

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;
use vouch_config::Config;
use vouch_core::period::Period;
use vouch_ledger::{keys, Keys, Ledger, LedgerOptions};
use vouch_signoff::attest::{Opinion, SignRequest, Signoffs};
use vouch_signoff::quarterly::{self, MonthFacts, ReviewFacts, KIND_REVIEW, PR_STEP};
use vouch_signoff::Error;
use vouch_store::Store;
use vouch_test_support::{pg_url, Kind, PgSchema};

const CATALOG: &str = r#"
[[source]]
name = "gh"
kind = "command"

[[evidence]]
id = "change.merged-prs"
title = "Pull requests merged in the period"
source = "gh"
argv = ["cat", "{{pack_dir}}/prs.json"]
criteria = ["CC8.1"]
"#;

struct Fx {
    _dir: tempfile::TempDir,
    dir: PathBuf,
    config: Config,
    keys: Keys,
    store: Store,
    ledger: Ledger,
    _schema: Option<PgSchema>,
}

impl Fx {
    fn new(kind: Kind, catalog: &str) -> Option<Fx> {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let text = vouch_config::template("Test Org", "test.example/vouch/audit");
        std::fs::write(
            dir.join(vouch_config::CONFIG_FILE),
            format!("include = [\"evidence.toml\"]\n{text}"),
        )
        .unwrap();
        std::fs::write(dir.join("evidence.toml"), catalog).unwrap();
        let mut config = Config::load(&dir).unwrap_or_else(|e| panic!("{e}"));
        keys::generate_missing(&config).unwrap();
        let mut schema = None;
        if kind == Kind::Postgres {
            let Some(url) = pg_url() else {
                eprintln!("skipping: VOUCH_TEST_DATABASE_URL not set");
                return None;
            };
            let s = PgSchema::new(&url, "vouch_quarterly_test");
            config.settings.database.url = url;
            config.settings.database.schema = s.name.clone();
            schema = Some(s);
        }
        config.settings.attestations.pr_sample_size = 3;
        let keys = Keys::load(&config).unwrap();
        let store = vouch_store::open(&config.database_url(), config.database_schema().as_deref())
            .unwrap_or_else(|e| panic!("cannot open the {kind:?} store: {e}"));
        let ledger = Ledger::open(store.clone(), &keys, LedgerOptions::from_config(&config));
        Some(Fx {
            _dir: tmp,
            dir,
            config,
            keys,
            store,
            ledger,
            _schema: schema,
        })
    }

    fn signoffs(&self) -> Signoffs<'_> {
        Signoffs {
            config: &self.config,
            store: self.store.clone(),
            ledger: &self.ledger,
            keys: &self.keys,
        }
    }

    /// Collect a month's merged PRs (GitHub search rows) with a real command run.
    fn collect_month(&self, month: &str, prs: &[u64]) {
        let rows: Vec<Value> = prs
            .iter()
            .map(|n| {
                json!({
                    "number": n, "title": format!("Change {n}"),
                    "html_url": format!("https://github.com/acme/app/pull/{n}"),
                    "user": {"login": format!("dev{}", n % 3)},
                    "pull_request": {"merged_at": format!("{month}-10T12:00:00Z")},
                })
            })
            .collect();
        std::fs::write(self.dir.join("prs.json"), json!(rows).to_string()).unwrap();
        let period = Period::parse(month, t("2026-10-01T00:00:00Z")).unwrap();
        let items = vouch_evidence::Collector::new(&self.config, self.store.clone(), &self.ledger)
            .collect(&["change.merged-prs".to_string()], &period, &mut |_| {})
            .unwrap();
        assert!(items.iter().all(|i| i.ok()), "{:?}", items[0].record);
    }

    fn leaves(&self) -> String {
        let size = self.store.head().unwrap().size;
        (0..size)
            .map(|s| self.store.leaf(s).unwrap().unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn q3() -> Period {
    Period::parse("2026-Q3", t("2026-10-02T00:00:00Z")).unwrap()
}

/// Facts of a quarter whose other three steps pass, so only the PR sample decides.
fn passing_facts() -> ReviewFacts {
    let month = |m: &str, next: bool| MonthFacts {
        month: m.into(),
        packet: Ok("packet verified".into()),
        consistency_to_next: next.then(|| Ok("consistency proof verified".into())),
    };
    let row = |id: &str| {
        (
            id.to_string(),
            "2026-07".to_string(),
            "pass".to_string(),
            "ok".to_string(),
        )
    };
    ReviewFacts {
        months: vec![
            month("2026-07", true),
            month("2026-08", true),
            month("2026-09", false),
        ],
        ledger: Ok(10),
        backups: vec![row("backups.daily")],
        rotations: vec![row("vault.rotations")],
    }
}

fn lead(opinion: Opinion) -> SignRequest {
    SignRequest {
        signer: "Terry Lead".into(),
        role: "team-lead".into(),
        via: "api".into(),
        opinion,
        notes: BTreeMap::new(),
        personal: None,
    }
}

fn sample_of(a: &vouch_signoff::attest::Attestation) -> &quarterly::PrSample {
    a.steps
        .iter()
        .find(|s| s.control_id == PR_STEP)
        .and_then(|s| s.sample.as_ref())
        .expect("the PR step has a sample")
}

fn step_status(a: &vouch_signoff::attest::Attestation) -> String {
    a.steps
        .iter()
        .find(|s| s.control_id == PR_STEP)
        .unwrap()
        .status
        .clone()
}

vouch_test_support::on_both!(pr_sample_drawn_from_evidence_decided_then_signed, |kind| {
    let Some(fx) = Fx::new(kind, CATALOG) else {
        return;
    };
    fx.collect_month("2026-07", &[101, 102, 103]);
    fx.collect_month("2026-08", &[104, 105]);
    // August collected again: only its latest item counts (no PR twice, none lost).
    fx.collect_month("2026-08", &[104, 105, 106]);
    fx.collect_month("2026-09", &[107]);
    let s = fx.signoffs();
    let now = t("2026-10-02T09:00:00Z");
    let a = s
        .request_quarterly_review(&q3(), &passing_facts(), now)
        .unwrap();
    assert_eq!(
        (a.kind.as_str(), a.period.as_str()),
        (KIND_REVIEW, "2026-Q3")
    );
    let sample = sample_of(&a).clone();
    assert_eq!(sample.population, 7, "{sample:?}");
    assert_eq!((sample.requested, sample.prs.len()), (3, 3));
    assert_eq!(
        sample.items.len(),
        3,
        "one item per month: {:?}",
        sample.items
    );
    assert_eq!(step_status(&a), "not_tested");
    // The seed is the SHA-256 of its recorded basis, which names a real checkpoint:
    // an auditor recomputes the draw from the checkpoint and the evidence.
    let cp = fx.ledger.checkpoint_at(sample.checkpoint_size).unwrap();
    assert_eq!(cp.root, sample.checkpoint_root);
    assert_eq!(
        sample.basis,
        quarterly::seed_basis("Test Org", "2026-Q3", cp.size, &cp.root)
    );
    assert_eq!(
        sample.seed,
        vouch_store::blobs::sha256_hex(sample.basis.as_bytes())
    );
    let mut all: Vec<(String, String)> = (101..=107)
        .map(|n| {
            let key = format!("https://github.com/acme/app/pull/{n}");
            (quarterly::rank(&sample.seed, &key), key)
        })
        .collect();
    all.sort();
    let want: Vec<&str> = all.iter().take(3).map(|(_, k)| k.as_str()).collect();
    let got: Vec<&str> = sample.prs.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(got, want);
    // Requested again (the job after a re-run): the same review, not a new draw.
    let again = s
        .request_quarterly_review(&q3(), &passing_facts(), now)
        .unwrap();
    assert_eq!(
        (again.id.as_str(), sample_of(&again)),
        (a.id.as_str(), &sample)
    );

    // Undecided: an unqualified signature is refused and names the step.
    let e = s.sign(&a.id, &lead(Opinion::Unqualified), now).unwrap_err();
    assert!(
        matches!(&e, Error::Invalid(m) if m.starts_with("opinion:") && m.contains("pr-sample")),
        "{e}"
    );
    // Bad decisions name the field; other roles may not decide.
    let pr = |i: usize| sample.prs[i].number.unwrap().to_string();
    let e = s
        .decide_pr(&a.id, "999", "approved", None, "terry", "team-lead", now)
        .unwrap_err();
    assert!(
        matches!(&e, Error::Invalid(m) if m.starts_with("pr:")),
        "{e}"
    );
    let e = s
        .decide_pr(
            &a.id,
            &pr(0),
            "exception",
            Some("  "),
            "terry",
            "team-lead",
            now,
        )
        .unwrap_err();
    assert!(
        matches!(&e, Error::Invalid(m) if m.starts_with("note:")),
        "{e}"
    );
    let e = s
        .decide_pr(&a.id, &pr(0), "maybe", None, "terry", "team-lead", now)
        .unwrap_err();
    assert!(
        matches!(&e, Error::Invalid(m) if m.starts_with("decision:")),
        "{e}"
    );
    let e = s
        .decide_pr(
            &a.id,
            &pr(0),
            "approved",
            None,
            "olga",
            "compliance-officer",
            now,
        )
        .unwrap_err();
    assert!(matches!(e, Error::Forbidden(_)), "{e}");
    // An exception fails the step; changed to approved (also recorded), then the rest.
    let b = s
        .decide_pr(
            &a.id,
            &format!("#{}", pr(0)),
            "exception",
            Some("merged without review"),
            "terry",
            "team-lead",
            now,
        )
        .unwrap();
    assert_eq!(step_status(&b), "fail");
    let b = s
        .decide_pr(
            &a.id,
            &pr(0),
            "approved",
            Some("review found in the PR"),
            "terry",
            "team-lead",
            now,
        )
        .unwrap();
    assert_eq!(step_status(&b), "not_tested");
    let b = s
        .decide_pr(
            &a.id,
            &sample.prs[1].key,
            "approved",
            None,
            "terry",
            "team-lead",
            now,
        )
        .unwrap();
    assert_eq!(step_status(&b), "not_tested");
    let b = s
        .decide_pr(&a.id, &pr(2), "approved", None, "terry", "team-lead", now)
        .unwrap();
    assert_eq!(step_status(&b), "pass");
    assert!(b.unqualified_allowed, "{:?}", b.exceptions);
    // Each decision is a ledger event, and the decision names its seq.
    let leaves = fx.leaves();
    assert_eq!(leaves.matches("\"quarterly_review.pr_decided\"").count(), 4);
    let d = sample_of(&b).prs[2].decision.clone().unwrap();
    let seq = d.ledger_seq.expect("the decision's ledger seq");
    let leaf = fx.store.leaf(seq).unwrap().unwrap();
    assert!(leaf.contains("quarterly_review.pr_decided") && leaf.contains(&sample.prs[2].key));
    // Stored: re-read from the database.
    assert_eq!(step_status(&s.get(&a.id).unwrap()), "pass");

    let (signed, doc) = s.sign(&a.id, &lead(Opinion::Unqualified), now).unwrap();
    assert_eq!(signed.signed.unwrap().opinion, "unqualified");
    doc.verify().unwrap();
    let frozen = &doc.document["steps"][3]["sample"]["prs"];
    assert_eq!(frozen.as_array().unwrap().len(), 3);
    assert_eq!(frozen[0]["decision"]["decision"], "approved");
    let md = vouch_signoff::markdown::render(&s.get(&a.id).unwrap());
    assert!(
        md.contains("## PR sample") && md.contains(&sample.seed),
        "{md}"
    );
    // Frozen: no more decisions.
    let e = s
        .decide_pr(
            &a.id,
            &pr(0),
            "exception",
            Some("x"),
            "terry",
            "team-lead",
            now,
        )
        .unwrap_err();
    assert!(matches!(e, Error::Conflict(_)), "{e}");
});

vouch_test_support::on_both!(pr_sample_without_pr_evidence_is_no_evidence, |kind| {
    // No PR evidence collected at all, then a catalog without any PR definition.
    let Some(fx) = Fx::new(kind, CATALOG) else {
        return;
    };
    let s = fx.signoffs();
    let now = t("2026-10-02T09:00:00Z");
    let a = s
        .request_quarterly_review(&q3(), &passing_facts(), now)
        .unwrap();
    assert_eq!(step_status(&a), "no_evidence");
    assert!(!a.unqualified_allowed);
    let sample = sample_of(&a);
    assert_eq!((sample.population, sample.prs.len()), (0, 0));
    assert_eq!(sample.evidence_ids, vec!["change.merged-prs".to_string()]);
    let e = s
        .decide_pr(&a.id, "1", "approved", None, "terry", "team-lead", now)
        .unwrap_err();
    assert!(
        matches!(&e, Error::Invalid(m) if m.contains("sampled: none")),
        "{e}"
    );
    assert!(s.sign(&a.id, &lead(Opinion::Unqualified), now).is_err());
    // PR evidence with no rows in the quarter: still nothing to sample, never a pass.
    let Some(fx) = Fx::new(kind, CATALOG) else {
        return;
    };
    fx.collect_month("2026-08", &[]);
    let a = fx
        .signoffs()
        .request_quarterly_review(&q3(), &passing_facts(), now)
        .unwrap();
    assert_eq!(step_status(&a), "no_evidence");
    assert_eq!(sample_of(&a).items.len(), 1);
    // Fewer PRs than the sample size: all of them.
    let Some(fx) = Fx::new(kind, CATALOG) else {
        return;
    };
    fx.collect_month("2026-09", &[7, 8]);
    let a = fx
        .signoffs()
        .request_quarterly_review(&q3(), &passing_facts(), now)
        .unwrap();
    assert_eq!(sample_of(&a).prs.len(), 2);
});

// Issue 15 item 5: a window whose opening is still ahead is refused with the time it
// opens (before: opened, listed `open`, then every signature refused with 409).
vouch_test_support::on_both!(attest_open_before_the_window_opens_is_refused, |kind| {
    let Some(fx) = Fx::new(kind, CATALOG) else {
        return;
    };
    let s = fx.signoffs();
    let e = s.open_period(&q3(), t("2026-09-01T00:00:00Z")).unwrap_err();
    assert!(
        matches!(&e, Error::Invalid(m) if m.starts_with("period: the 2026-Q3 window opens at 2026-09-26T00:00:00")),
        "{e}"
    );
    assert!(s.list(None, None).unwrap().is_empty());
    // From its opening on it is opened, and signable.
    let a = s.open_period(&q3(), t("2026-09-26T00:00:00Z")).unwrap();
    assert_eq!(a.status, "open");
});

// Issue 15 item 6: the findings a sync opens (a missed window) carry the scheduler's
// clock, so time-travel tests and catch-up runs date them right.
vouch_test_support::on_both!(attest_missed_window_finding_dated_by_the_clock, |kind| {
    let Some(fx) = Fx::new(kind, CATALOG) else {
        return;
    };
    let now = Utc.with_ymd_and_hms(2026, 10, 20, 8, 0, 0).unwrap();
    let r = fx.signoffs().sync(now, t("2026-09-01T00:00:00Z")).unwrap();
    assert_eq!(r.missed, vec!["2026-Q3".to_string()]);
    let f = vouch_checks::findings::list(&fx.store, Some("open")).unwrap();
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0]["created_at"], "2026-10-20T08:00:00.000000Z");
    assert_eq!(f[0]["first_seen"], "2026-10-20T08:00:00.000000Z");
});
