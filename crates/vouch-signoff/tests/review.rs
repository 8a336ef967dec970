//! Access-review campaigns on SQLite and PostgreSQL: snapshots from real collections (a
//! command source reading a JSON file the test rewrites between collections), tags
//! against the last completed campaign, flags, reviewers and own accounts, completion
//! refused while entries are pending, revoke findings closed by a later collection, the
//! signed document checked with `openssl`.

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{json, Value};
use std::path::PathBuf;
use vouch_config::Config;
use vouch_ledger::{keys, Keys, Ledger, LedgerOptions};
use vouch_signoff::review::{
    self, Ctx, Decision, NewCampaign, PopulationSpec, ReviewError, Reviewer,
};
use vouch_store::Store;
use vouch_test_support::{pg_url, Kind, PgSchema};

const CATALOG: &str = r#"
[[source]]
name = "directory"
kind = "command"

[[evidence]]
id = "db.roles"
title = "Database roles"
source = "directory"
argv = ["cat", "{{pack_dir}}/users.json"]
criteria = ["CC6.2"]
population = true
account_key = "name"
last_login_key = "last_login"
dormant_days = 30
active_key = "active"
privileged_key = "role"
privileged_values = ["admin", "owner"]
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
    fn new(kind: Kind) -> Option<Fx> {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let text = vouch_config::template("Test Org", "test.example/vouch/audit");
        std::fs::write(
            dir.join(vouch_config::CONFIG_FILE),
            format!("include = [\"evidence.toml\"]\n{text}"),
        )
        .unwrap();
        std::fs::write(dir.join("evidence.toml"), CATALOG).unwrap();
        let mut config = Config::load(&dir).unwrap_or_else(|e| panic!("{e}"));
        keys::generate_missing(&config).unwrap();
        let mut schema = None;
        if kind == Kind::Postgres {
            let Some(url) = pg_url() else {
                eprintln!("skipping: VOUCH_TEST_DATABASE_URL not set");
                return None;
            };
            let s = PgSchema::new(&url, "vouch_review_test");
            config.settings.database.url = url;
            config.settings.database.schema = s.name.clone();
            schema = Some(s);
        }
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

    fn ctx(&self) -> Ctx<'_> {
        Ctx {
            config: &self.config,
            store: &self.store,
            ledger: &self.ledger,
        }
    }

    /// Write the population and collect it (a real command collection), then run the
    /// post-collection hook as the engine does.
    fn collect(&self, users: Value, at: DateTime<Utc>) -> Vec<review::Entry> {
        std::fs::write(self.dir.join("users.json"), users.to_string()).unwrap();
        let period = vouch_core::period::Period::parse("2026-10", at).unwrap();
        let items = vouch_evidence::Collector::new(&self.config, self.store.clone(), &self.ledger)
            .collect(&["db.roles".to_string()], &period, &mut |_| {})
            .unwrap();
        assert!(items.iter().all(|i| i.ok()), "{:?}", items[0].record);
        review::after_collection(&self.ctx(), &items, at).unwrap()
    }

    fn leaves(&self) -> String {
        let size = self.store.head().unwrap().size;
        (0..size)
            .map(|s| self.store.leaf(s).unwrap().unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// The PDF renderer these tests give completion: the document bytes themselves (the
/// typst rendering lives in vouch-packet; its PDFs are tested there and in the CLI).
fn render_pdf(json: &[u8], _at: DateTime<Utc>) -> Result<Vec<u8>, String> {
    Ok(json.to_vec())
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 10, 15, 12, 0, 0).unwrap()
}

fn reviewers() -> Vec<Reviewer> {
    vec![
        Reviewer {
            id: "alice@example.com".into(),
            accounts: vec!["alice_admin".into()],
        },
        Reviewer {
            id: "dave@example.com".into(),
            accounts: vec![],
        },
    ]
}

fn campaign(title: &str) -> NewCampaign {
    NewCampaign {
        title: title.into(),
        populations: vec![PopulationSpec {
            evidence: "db.roles".into(),
            reviewers: reviewers(),
        }],
        draft: false,
    }
}

fn decision(account: &str, d: &str, note: Option<&str>) -> Decision {
    Decision {
        population: "db.roles".into(),
        account: account.into(),
        decision: d.into(),
        note: note.map(str::to_string),
    }
}

fn first_users() -> Value {
    let recent = (t0() - Duration::days(3)).to_rfc3339();
    let old = (t0() - Duration::days(200)).to_rfc3339();
    json!([
        {"name": "alice", "role": "admin", "last_login": recent, "active": true},
        {"name": "alice_admin", "role": "owner", "last_login": recent, "active": true},
        {"name": "bob", "role": "member", "last_login": old, "active": true},
        {"name": "carol", "role": "member", "last_login": null, "active": false},
    ])
}

fn entry<'a>(v: &'a review::View, account: &str) -> &'a review::Entry {
    v.entries
        .iter()
        .find(|e| e.account == account)
        .unwrap_or_else(|| panic!("no entry {account}"))
}

vouch_test_support::on_both!(campaign_across_two_reviews, |kind| {
    let Some(fx) = Fx::new(kind) else { return };
    let ctx = fx.ctx();
    fx.collect(first_users(), t0());

    // First campaign: everything is new; flags from the definition's rules.
    let v = review::create(
        &ctx,
        &campaign("Q4 database roles"),
        "officer@example.com",
        t0(),
    )
    .unwrap();
    let id = v.campaign.id.clone();
    assert_eq!(v.campaign.status, "in_progress");
    assert!(v.campaign.previous.is_none());
    assert_eq!(v.entries.len(), 4);
    assert!(v.entries.iter().all(|e| e.tag == "new"));
    assert_eq!(entry(&v, "alice").flags, vec!["privileged"]);
    assert_eq!(entry(&v, "bob").flags, vec!["dormant"]);
    assert_eq!(entry(&v, "carol").flags, vec!["deactivated", "dormant"]);
    let snap = v.campaign.snapshot_sha256.clone().unwrap();
    // The snapshot is in the blob store under its hash, and its hash in the ledger.
    let bytes = vouch_evidence::blob_store(&fx.config).get(&snap).unwrap();
    assert!(String::from_utf8_lossy(&bytes).contains("\"account\":\"bob\""));
    assert!(fx
        .leaves()
        .contains(&format!("\"snapshot_sha256\":\"{snap}\"")));

    // Self-review refused: alice's own accounts (her id's local part and a declared one).
    for own in ["alice", "alice_admin"] {
        match review::decide(
            &ctx,
            &id,
            &decision(own, "keep", None),
            "alice@example.com",
            t0(),
        ) {
            Err(ReviewError::Forbidden {
                code: "self_review",
                field,
                ..
            }) => assert_eq!(field, "account"),
            other => panic!("self-review of {own} was not refused: {other:?}"),
        }
    }
    // Someone not assigned to the population may not decide.
    match review::decide(
        &ctx,
        &id,
        &decision("bob", "keep", None),
        "mallory@example.com",
        t0(),
    ) {
        Err(ReviewError::Forbidden {
            code: "not_a_reviewer",
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
    // A revoke without a note names the field.
    match review::decide(
        &ctx,
        &id,
        &decision("bob", "revoke", None),
        "dave@example.com",
        t0(),
    ) {
        Err(ReviewError::Invalid { field, .. }) => assert_eq!(field, "note"),
        other => panic!("{other:?}"),
    }
    // The second reviewer decides alice's accounts.
    review::decide(
        &ctx,
        &id,
        &decision("alice", "keep", None),
        "dave@example.com",
        t0(),
    )
    .unwrap();
    review::decide(
        &ctx,
        &id,
        &decision("alice_admin", "keep", Some("break-glass owner")),
        "dave@example.com",
        t0(),
    )
    .unwrap();

    // Completion refused while two entries are pending, with the count.
    match review::complete(
        &ctx,
        &fx.keys,
        &id,
        "officer@example.com",
        t0(),
        review::Personal::None,
        &render_pdf,
    ) {
        Err(ReviewError::Conflict {
            code: "undecided_entries",
            undecided,
            ..
        }) => assert_eq!(undecided, Some(2)),
        other => panic!("completion with pending entries: {other:?}"),
    }
    let bob = review::decide(
        &ctx,
        &id,
        &decision("bob", "revoke", Some("left the company in August")),
        "alice@example.com",
        t0(),
    )
    .unwrap();
    let finding = bob.finding_id.clone().expect("a revoke opens a finding");
    let f = vouch_checks::findings::get(&fx.store, &finding).unwrap();
    assert_eq!(
        (f["status"].as_str(), f["source"].as_str()),
        (Some("open"), Some("access_review"))
    );
    assert_eq!(f["links"]["account"], "bob");
    // defer, then a final decision replaces it; a final decision is final.
    review::decide(
        &ctx,
        &id,
        &decision("carol", "defer", Some("ask HR")),
        "alice@example.com",
        t0(),
    )
    .unwrap();
    review::decide(
        &ctx,
        &id,
        &decision("carol", "keep", Some("HR: on leave, returns in December")),
        "dave@example.com",
        t0(),
    )
    .unwrap();
    match review::decide(
        &ctx,
        &id,
        &decision("carol", "revoke", Some("changed my mind")),
        "dave@example.com",
        t0(),
    ) {
        Err(ReviewError::Conflict {
            code: "already_decided",
            ..
        }) => {}
        other => panic!("{other:?}"),
    }

    let done = review::complete(
        &ctx,
        &fx.keys,
        &id,
        "officer@example.com",
        t0() + Duration::hours(1),
        review::Personal::None,
        &render_pdf,
    )
    .unwrap();
    assert_eq!(done.view.campaign.status, "completed");
    let doc: Value = serde_json::from_str(&done.document).unwrap();
    assert_eq!(doc["type"], "vouch-access-review");
    assert_eq!(doc["summary"]["decisions"]["revoke"], 1);
    assert_eq!(
        doc["decision_history"].as_array().unwrap().len(),
        5,
        "carol's defer is kept in the history"
    );
    assert_eq!(
        done.document,
        vouch_core::canonical::to_string(&doc),
        "the document is canonical JSON"
    );
    review::verify(
        &fx.keys.signing_public_pem(),
        done.document.as_bytes(),
        &done.signature,
    )
    .unwrap();
    let stored = review::get(&fx.store, &id).unwrap();
    assert_eq!(stored.signature.as_deref(), Some(done.signature.as_str()));
    // Issue 15 item 8: the completed campaign as Markdown, every account with its
    // decision, and the signed document's hash.
    let md = vouch_signoff::markdown::render_review(&stored);
    let sha = stored.campaign.document_sha256.clone().unwrap();
    assert!(md.contains(&format!("`{sha}`")), "{md}");
    assert!(
        md.contains("Completed: ") && md.contains("by officer@example.com"),
        "{md}"
    );
    for e in &stored.entries {
        let row = md
            .lines()
            .find(|l| l.starts_with(&format!("| {} |", e.account)))
            .unwrap_or_else(|| panic!("no row for {} in {md}", e.account));
        assert!(
            row.contains(e.decision.as_deref().unwrap_or("undecided")),
            "{row}"
        );
    }
    assert!(md.contains("revoke 1"), "{md}");
    // Nothing changes a completed campaign.
    assert!(matches!(
        review::decide(
            &ctx,
            &id,
            &decision("bob", "keep", None),
            "dave@example.com",
            t0()
        ),
        Err(ReviewError::Conflict {
            code: "not_in_progress",
            ..
        })
    ));

    // A collection whose rows cannot be read (no account key) closes nothing, and the
    // collection that ran the hook does not fail.
    assert!(fx.collect(json!([{"login": "bob"}]), t0()).is_empty());
    let f = vouch_checks::findings::get(&fx.store, &finding).unwrap();
    assert_eq!(f["status"], "open");

    // Bob is removed from the database, erin appears, alice's role changes: the next
    // collection closes bob's finding with the evidence that shows him gone.
    let mut users = first_users();
    let arr = users.as_array_mut().unwrap();
    arr.retain(|u| u["name"] != "bob");
    arr[0]["role"] = json!("member");
    arr.push(
        json!({"name": "erin", "role": "member", "last_login": t0().to_rfc3339(), "active": true}),
    );
    let later = t0() + Duration::days(2);
    let remediated = fx.collect(users, later);
    assert_eq!(remediated.len(), 1);
    assert_eq!(remediated[0].account, "bob");
    let f = vouch_checks::findings::get(&fx.store, &finding).unwrap();
    assert_eq!(f["status"], "resolved");
    assert_eq!(f["resolution"]["by"], "collection");
    assert!(f["resolution"]["items"][0]["sha256"].is_string());
    // A second collection does not resolve it again.
    assert!(fx.collect(fx_users(&fx), later).is_empty());

    // Second campaign of the same scope: tags against the completed first one.
    let v2 = review::create(
        &ctx,
        &campaign("Q1 database roles"),
        "officer@example.com",
        later,
    )
    .unwrap();
    assert_eq!(v2.campaign.previous.as_deref(), Some(id.as_str()));
    let tags: Vec<(&str, &str)> = v2
        .entries
        .iter()
        .map(|e| (e.account.as_str(), e.tag.as_str()))
        .collect();
    assert_eq!(
        tags,
        vec![
            ("alice", "unchanged"),
            ("alice_admin", "unchanged"),
            ("bob", "removed"),
            ("carol", "unchanged"),
            ("erin", "new")
        ]
    );
    assert!(entry(&v2, "alice").flags.contains(&"changed".to_string()));
    assert!(!entry(&v2, "alice")
        .flags
        .contains(&"privileged".to_string()));
    assert_eq!(
        v2.summary.to_decide, 4,
        "a removed account has nothing left to decide"
    );
    match review::decide(
        &ctx,
        &v2.campaign.id,
        &decision("bob", "keep", None),
        "dave@example.com",
        later,
    ) {
        Err(ReviewError::Invalid { field, .. }) => assert_eq!(field, "account"),
        other => panic!("{other:?}"),
    }

    // The period query sees both campaigns and their decisions.
    let oct = vouch_core::period::Period::parse("2026-10", t0()).unwrap();
    let of_period = review::in_period(&fx.store, &oct).unwrap();
    assert_eq!(of_period.len(), 2);
    assert_eq!(
        entry(&of_period[0], "bob").decision.as_deref(),
        Some("revoke")
    );
    let packet = review::completed_in(&fx.store, &oct, "2026-11-01T00:00:00.000000Z").unwrap();
    assert_eq!(packet.len(), 1);

    // Every step is in the ledger.
    let leaves = fx.leaves();
    for action in [
        "access_review.started",
        "access_review.decided",
        "access_review.completed",
        "access_review.remediated",
        "finding.opened",
        "finding.resolved",
    ] {
        assert!(
            leaves.contains(&format!("\"action\":\"{action}\"")),
            "{action} not in the ledger"
        );
    }
    let cancelled = review::cancel(
        &ctx,
        &v2.campaign.id,
        "superseded",
        "officer@example.com",
        later,
    )
    .unwrap();
    assert_eq!(cancelled.campaign.status, "cancelled");
    assert!(fx
        .leaves()
        .contains("\"action\":\"access_review.cancelled\""));
});

/// The current users file (unchanged), for a repeat collection.
fn fx_users(fx: &Fx) -> Value {
    serde_json::from_str(&std::fs::read_to_string(fx.dir.join("users.json")).unwrap()).unwrap()
}

vouch_test_support::on_both!(start_refused_when_only_the_owner_could_decide, |kind| {
    let Some(fx) = Fx::new(kind) else { return };
    fx.collect(first_users(), t0());
    let mut n = campaign("alone");
    n.populations[0].reviewers = vec![Reviewer {
        id: "alice@example.com".into(),
        accounts: vec![],
    }];
    match review::create(&fx.ctx(), &n, "officer@example.com", t0()) {
        Err(ReviewError::Invalid { field, message }) => {
            assert_eq!(field, "populations[0].reviewers");
            assert!(message.contains("`alice`"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    // Nothing half-written.
    assert!(review::list(&fx.store, None).unwrap().is_empty());
    // An unknown population and a definition that is not one name the field.
    let mut n = campaign("x");
    n.populations[0].evidence = "nope".into();
    assert!(
        matches!(review::create(&fx.ctx(), &n, "o", t0()), Err(ReviewError::Invalid { field, .. }) if field == "populations[0].evidence")
    );
    // A draft, started later.
    let mut n = campaign("draft first");
    n.draft = true;
    let d = review::create(&fx.ctx(), &n, "o", t0()).unwrap();
    assert_eq!((d.campaign.status.as_str(), d.entries.len()), ("draft", 0));
    let s = review::start(&fx.ctx(), &d.campaign.id, "o", t0()).unwrap();
    assert_eq!(
        (s.campaign.status.as_str(), s.entries.len()),
        ("in_progress", 4)
    );
});

#[test]
fn ext_signature_verifies_with_openssl() {
    if !vouch_test_support::ext::have(&["openssl"]) {
        return;
    }
    let fx = Fx::new(Kind::Sqlite).unwrap();
    let ctx = fx.ctx();
    fx.collect(
        json!([{"name": "bob", "role": "member", "last_login": t0().to_rfc3339(), "active": true}]),
        t0(),
    );
    let v = review::create(&ctx, &campaign("signed"), "officer@example.com", t0()).unwrap();
    review::decide(
        &ctx,
        &v.campaign.id,
        &decision("bob", "keep", None),
        "alice@example.com",
        t0(),
    )
    .unwrap();
    let done = review::complete(
        &ctx,
        &fx.keys,
        &v.campaign.id,
        "officer@example.com",
        t0(),
        review::Personal::None,
        &render_pdf,
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let (doc, sig, key) = (
        out.path().join("review.json"),
        out.path().join("review.sig.bin"),
        out.path().join("public.pem"),
    );
    std::fs::write(&doc, &done.document).unwrap();
    std::fs::write(&sig, vouch_core::unb64(&done.signature).unwrap()).unwrap();
    std::fs::write(&key, fx.keys.signing_public_pem()).unwrap();
    let run = |file: &std::path::Path| {
        std::process::Command::new("openssl")
            .args(["dgst", "-sha256", "-verify"])
            .arg(&key)
            .arg("-signature")
            .arg(&sig)
            .arg(file)
            .output()
            .unwrap()
    };
    let ok = run(&doc);
    assert!(ok.status.success(), "{}", vouch_test_support::text(&ok));
    assert!(String::from_utf8_lossy(&ok.stdout).contains("Verified OK"));
    // One changed byte and openssl refuses it.
    std::fs::write(&doc, done.document.replacen("\"keep\"", "\"kept\"", 1)).unwrap();
    assert!(!run(&doc).status.success());
}

#[test]
fn population_keys_are_validated() {
    let cases = [
        ("population = true\n", "account_key"),
        ("account_key = \"name\"\n", "account_key"),
        (
            "population = true\naccount_key = \"name\"\ndormant_days = 30\n",
            "dormant_days",
        ),
        (
            "population = true\naccount_key = \"name\"\nlast_login_key = \"l\"\ndormant_days = 0\n",
            "dormant_days",
        ),
        (
            "population = true\naccount_key = \"name\"\nprivileged_values = [\"admin\"]\n",
            "privileged_values",
        ),
    ];
    for (extra, key) in cases {
        let dir = tempfile::tempdir().unwrap();
        let text = vouch_config::template("Test Org", "test.example/vouch/audit");
        std::fs::write(
            dir.path().join(vouch_config::CONFIG_FILE),
            format!("include = [\"evidence.toml\"]\n{text}"),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("evidence.toml"),
            format!("[[source]]\nname = \"s\"\nkind = \"command\"\n\n[[evidence]]\nid = \"p\"\ntitle = \"P\"\nsource = \"s\"\nargv = [\"true\"]\n{extra}"),
        )
        .unwrap();
        let err = Config::load(dir.path())
            .err()
            .unwrap_or_else(|| panic!("{extra} was accepted"))
            .to_string();
        assert!(
            err.contains(key) && err.contains("evidence.toml"),
            "{extra}: {err}"
        );
    }
}

/// Ledger leaves of `action` about `account` (how many times the ledger says it happened).
fn events_for(fx: &Fx, action: &str, account: &str) -> usize {
    fx.leaves()
        .lines()
        .filter(|l| {
            l.contains(&format!("\"action\":\"{action}\""))
                && l.contains(&format!("\"account\":\"{account}\""))
        })
        .count()
}

// Two (here six) reviewers deciding one entry at once: exactly one wins, the others get
// 409 `already_decided`, and the ledger holds exactly one `access_review.decided` for it
// — it never records a decision that was not stored.
vouch_test_support::on_both!(concurrent_decisions_record_one_ledger_event, |kind| {
    let Some(fx) = Fx::new(kind) else { return };
    fx.collect(first_users(), t0());
    let id = review::create(&fx.ctx(), &campaign("race"), "o", t0())
        .unwrap()
        .campaign
        .id;
    let gate = std::sync::Barrier::new(6);
    let results: Vec<Result<review::Entry, ReviewError>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..6)
            .map(|n| {
                let (fx, id, gate) = (&fx, &id, &gate);
                s.spawn(move || {
                    let by = if n % 2 == 0 {
                        "alice@example.com"
                    } else {
                        "dave@example.com"
                    };
                    let d = if n % 3 == 0 { "keep" } else { "revoke" };
                    gate.wait();
                    review::decide(
                        &fx.ctx(),
                        id,
                        &decision("bob", d, Some(&format!("reviewer {n}"))),
                        by,
                        t0(),
                    )
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let won: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(won.len(), 1, "{results:?}");
    for r in &results {
        if let Err(e) = r {
            assert!(
                matches!(
                    e,
                    ReviewError::Conflict {
                        code: "already_decided",
                        ..
                    }
                ),
                "{e:?}"
            );
        }
    }
    assert_eq!(events_for(&fx, "access_review.decided", "bob"), 1);
    // The one stored decision is the one the ledger holds, with its seq.
    let v = review::get(&fx.store, &id).unwrap();
    assert_eq!(entry(&v, "bob").decision, won[0].decision);
    let seqs = fx
        .store
        .query(
            "SELECT ledger_seq FROM access_review_decisions WHERE review_id = $1 AND account = 'bob'",
            &[id.clone().into()],
        )
        .unwrap();
    assert_eq!(seqs.len(), 1);
    let seq = seqs[0].opt_int(0).expect("the decision's ledger seq") as u64;
    let leaf = fx.store.leaf(seq).unwrap().unwrap();
    assert!(
        leaf.contains("\"action\":\"access_review.decided\"")
            && leaf.contains("\"account\":\"bob\"")
    );
});

// Completing and deciding at once: the signed document holds exactly the stored
// decisions, two completions give one `completed` event, and a decision after the
// completion is refused without a ledger event.
vouch_test_support::on_both!(completion_races_decisions_and_itself, |kind| {
    let Some(fx) = Fx::new(kind) else { return };
    fx.collect(first_users(), t0());
    let ctx = fx.ctx();
    let id = review::create(&ctx, &campaign("race to complete"), "o", t0())
        .unwrap()
        .campaign
        .id;
    for a in ["alice", "alice_admin", "bob"] {
        review::decide(
            &ctx,
            &id,
            &decision(a, "keep", None),
            "dave@example.com",
            t0(),
        )
        .unwrap();
    }
    review::decide(
        &ctx,
        &id,
        &decision("carol", "escalate", Some("ask her manager")),
        "dave@example.com",
        t0(),
    )
    .unwrap();
    let gate = std::sync::Barrier::new(3);
    let (decided, completed) = std::thread::scope(|s| {
        let (fx, id, gate) = (&fx, &id, &gate);
        let d = s.spawn(move || {
            gate.wait();
            review::decide(
                &fx.ctx(),
                id,
                &decision("carol", "revoke", Some("manager: no longer needed")),
                "alice@example.com",
                t0(),
            )
        });
        let c: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(move || {
                    gate.wait();
                    review::complete(
                        &fx.ctx(),
                        &fx.keys,
                        id,
                        "o",
                        t0(),
                        review::Personal::None,
                        &render_pdf,
                    )
                })
            })
            .collect();
        (
            d.join().unwrap(),
            c.into_iter().map(|h| h.join().unwrap()).collect::<Vec<_>>(),
        )
    });
    assert!(decided.is_ok(), "{decided:?}");
    let stored = review::get(&fx.store, &id).unwrap();
    let wins: Vec<_> = completed.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert!(wins.len() <= 1, "{completed:?}");
    let completed_events = fx
        .leaves()
        .matches("\"action\":\"access_review.completed\"")
        .count();
    assert_eq!(completed_events, wins.len());
    if let Some(done) = wins.first() {
        let doc: Value = serde_json::from_str(&done.document).unwrap();
        assert_eq!(
            doc["entries"],
            serde_json::to_value(&stored.entries).unwrap()
        );
        assert_eq!(stored.document.as_deref(), Some(done.document.as_str()));
    } else {
        // Both completions lost to the escalation still open: complete it now.
        review::complete(
            &fx.ctx(),
            &fx.keys,
            &id,
            "o",
            t0(),
            review::Personal::None,
            &render_pdf,
        )
        .unwrap();
    }
    // After completion nothing is decided, and nothing is recorded.
    let before = events_for(&fx, "access_review.decided", "carol");
    assert!(matches!(
        review::decide(
            &fx.ctx(),
            &id,
            &decision("carol", "keep", None),
            "dave@example.com",
            t0()
        ),
        Err(ReviewError::Conflict { .. })
    ));
    assert_eq!(events_for(&fx, "access_review.decided", "carol"), before);
});

// `defer` and `escalate` are open questions: completion is refused while any is left,
// with the counts; a final decision replacing them lets it complete.
vouch_test_support::on_both!(deferred_and_escalated_entries_block_completion, |kind| {
    let Some(fx) = Fx::new(kind) else { return };
    fx.collect(first_users(), t0());
    let ctx = fx.ctx();
    let id = review::create(&ctx, &campaign("open questions"), "o", t0())
        .unwrap()
        .campaign
        .id;
    for a in ["alice", "alice_admin"] {
        review::decide(
            &ctx,
            &id,
            &decision(a, "keep", None),
            "dave@example.com",
            t0(),
        )
        .unwrap();
    }
    review::decide(
        &ctx,
        &id,
        &decision("bob", "defer", Some("ask HR")),
        "dave@example.com",
        t0(),
    )
    .unwrap();
    review::decide(
        &ctx,
        &id,
        &decision("carol", "escalate", Some("CISO to decide")),
        "dave@example.com",
        t0(),
    )
    .unwrap();
    match review::complete(
        &ctx,
        &fx.keys,
        &id,
        "o",
        t0(),
        review::Personal::None,
        &render_pdf,
    ) {
        Err(ReviewError::Conflict {
            code: "undecided_entries",
            undecided,
            message,
        }) => {
            assert_eq!(undecided, Some(2));
            assert!(
                message.contains("0 undecided, 1 deferred, 1 escalated"),
                "{message}"
            );
        }
        other => panic!("completion with a defer and an escalation: {other:?}"),
    }
    assert_eq!(
        review::get(&fx.store, &id).unwrap().campaign.status,
        "in_progress"
    );
    assert!(!fx
        .leaves()
        .contains("\"action\":\"access_review.completed\""));
    review::decide(
        &ctx,
        &id,
        &decision("bob", "keep", Some("HR: still employed")),
        "dave@example.com",
        t0(),
    )
    .unwrap();
    match review::complete(
        &ctx,
        &fx.keys,
        &id,
        "o",
        t0(),
        review::Personal::None,
        &render_pdf,
    ) {
        Err(ReviewError::Conflict { undecided, .. }) => assert_eq!(undecided, Some(1)),
        other => panic!("{other:?}"),
    }
    review::decide(
        &ctx,
        &id,
        &decision("carol", "revoke", Some("CISO: remove")),
        "alice@example.com",
        t0(),
    )
    .unwrap();
    let done = review::complete(
        &ctx,
        &fx.keys,
        &id,
        "o",
        t0(),
        review::Personal::None,
        &render_pdf,
    )
    .unwrap();
    let doc: Value = serde_json::from_str(&done.document).unwrap();
    // The history keeps the replaced defer and escalation, each with its ledger seq.
    let hist = doc["decision_history"].as_array().unwrap();
    assert_eq!(hist.len(), 6);
    assert!(hist.iter().all(|h| h["ledger_seq"].is_u64()), "{hist:?}");
});

// A collection that comes back empty cannot prove a revoked account gone: the finding
// stays open. A later collection without the account closes it.
vouch_test_support::on_both!(empty_collection_keeps_revoke_finding_open, |kind| {
    let Some(fx) = Fx::new(kind) else { return };
    fx.collect(first_users(), t0());
    let ctx = fx.ctx();
    let id = review::create(&ctx, &campaign("empty"), "o", t0())
        .unwrap()
        .campaign
        .id;
    let bob = review::decide(
        &ctx,
        &id,
        &decision("bob", "revoke", Some("left")),
        "alice@example.com",
        t0(),
    )
    .unwrap();
    let finding = bob.finding_id.unwrap();
    assert!(fx.collect(json!([]), t0()).is_empty());
    let f = vouch_checks::findings::get(&fx.store, &finding).unwrap();
    assert_eq!(f["status"], "open", "an empty collection closed {f}");
    assert_eq!(events_for(&fx, "access_review.remediated", "bob"), 0);
    let mut users = first_users();
    users.as_array_mut().unwrap().retain(|u| u["name"] != "bob");
    assert_eq!(fx.collect(users, t0()).len(), 1);
    let f = vouch_checks::findings::get(&fx.store, &finding).unwrap();
    assert_eq!(f["status"], "resolved");
});
