//! Integration tests of vouch-audit, on SQLite and PostgreSQL (`on_both!`): populations
//! from the ledger (root, event, exports), the commit → take → draw order and its
//! refusals, the sample export checked by the independent Python verifier (and refused
//! by it when tampered with), and the PBC flow with its ledger events.

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use vouch_audit::{pbc, population, sample, sampling, AuditError, Ctx};
use vouch_config::Config;
use vouch_core::period::Period;
use vouch_ledger::{Keys, Ledger};
use vouch_store::Store;
use vouch_test_support::{on_both, pg_url, Kind, PgSchema};

struct Fx {
    dir: tempfile::TempDir,
    config: Config,
    store: Store,
    ledger: Ledger,
    _schema: Option<PgSchema>,
}

const POPULATIONS: &str = r#"
[[population]]
id = "role-grants"
control = "CC6.2"
title = "Role grants"
action = "role.granted"
frequency = "multiple-daily"

[[population]]
id = "logins"
control = "CC6.1"
category = "authentication"
sample_size = 3
"#;

impl Fx {
    fn new(kind: Kind) -> Option<Fx> {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "{}\n{POPULATIONS}",
            vouch_config::template("Test Org", "test.example/vouch/audit")
        );
        std::fs::write(dir.path().join("vouch.toml"), text).unwrap();
        let mut config = Config::load(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let mut schema = None;
        if kind == Kind::Postgres {
            let url = pg_url()?;
            let s = PgSchema::new(&url, "vouch_audit");
            config.settings.database.url = url;
            config.settings.database.schema = s.name.clone();
            schema = Some(s);
        }
        vouch_ledger::keys::generate_missing(&config).unwrap();
        let keys = Keys::load(&config).unwrap();
        let store =
            vouch_store::open(&config.database_url(), config.database_schema().as_deref()).unwrap();
        let ledger = Ledger::open(
            store.clone(),
            &keys,
            vouch_ledger::LedgerOptions::from_config(&config),
        );
        Some(Fx {
            dir,
            config,
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

    /// `grants` role grants and `logins` logins on 2026-10-0X, plus noise.
    fn seed_events(&self, grants: usize, logins: usize) {
        let mut evs = Vec::new();
        for i in 0..grants {
            evs.push(event("role.granted", "authorization", i));
        }
        for i in 0..logins {
            evs.push(event("user.login", "authentication", i));
        }
        evs.push(event("config.changed", "administrative", 0));
        self.ledger.append(evs).unwrap();
    }

    fn actions(&self) -> Vec<Value> {
        self.store
            .query("SELECT leaf FROM ledger_entries ORDER BY seq", &[])
            .unwrap()
            .iter()
            .filter_map(|r| serde_json::from_str::<Value>(&r.text(0)).ok())
            .filter(|v| {
                let a = v["action"].as_str().unwrap_or("");
                a.starts_with("population.") || a.starts_with("sample.") || a.starts_with("pbc.")
            })
            .collect()
    }
}

fn event(action: &str, category: &str, i: usize) -> vouch_core::event::Event {
    vouch_core::event::Event::from_value(json!({
        "organization_id": "org-1",
        "actor": {"id": format!("user-{i}"), "email": null, "ip": "10.0.0.1"},
        "action": action, "category": category,
        "resource": {"type": "role", "id": format!("r{i}"), "name": null},
        "result": "success",
        "timestamp": format!("2026-10-{:02}T10:{:02}:00Z", 1 + i % 28, i % 60),
    }))
    .unwrap()
}

fn october() -> Period {
    Period::parse("2026-10", Utc::now()).unwrap()
}

fn now() -> DateTime<Utc> {
    Utc::now()
}

on_both!(ledger_population_root_event_and_exports, |kind| {
    let Some(fx) = Fx::new(kind) else { return };
    fx.seed_events(30, 4);
    let p = population::take(&fx.ctx(), "role-grants", &october(), "user:officer", now()).unwrap();
    assert_eq!(p.size, 30);
    // The root is over the leaves of exactly the matching events, in sequence order.
    // (Read through the backend: the exact stored bytes on both engines.)
    let leaves: Vec<String> = (0..p.ledger_seq.unwrap())
        .filter_map(|i| fx.store.leaf(i).unwrap())
        .filter(|l| l.contains(r#""action":"role.granted""#))
        .collect();
    assert_eq!(leaves.len(), 30);
    let t = vouch_audit::tree::Tree::new(leaves.iter().map(|l| l.as_bytes()));
    assert_eq!(p.root, vouch_core::b64(&t.root()));
    let nd = population::export_ndjson(&fx.config, &p).unwrap();
    assert_eq!(nd.lines().count(), 30);
    assert_eq!(nd.lines().next().unwrap(), leaves[0]);
    let csv = population::export_csv(&fx.config, &p).unwrap();
    assert_eq!(csv.lines().count(), 31);
    assert!(csv.starts_with("index,action,actor,"));
    // The ledger event carries the root, size and definition.
    let ev = fx.actions();
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0]["action"], "population.taken");
    assert_eq!(ev[0]["metadata"]["root"], p.root.as_str());
    assert_eq!(ev[0]["metadata"]["size"], 30);
    assert_eq!(ev[0]["metadata"]["definition"]["id"], "role-grants");
    assert_eq!(ev[0]["seq"], p.ledger_seq.unwrap());
    // Read back; a category filter; an unknown population names the field.
    assert_eq!(population::get(&fx.store, &p.id[..8]).unwrap(), p);
    let l = population::take(&fx.ctx(), "logins", &october(), "user:officer", now()).unwrap();
    assert_eq!(l.size, 4);
    assert_eq!(population::list(&fx.store, None).unwrap().len(), 2);
    match population::take(&fx.ctx(), "nope", &october(), "u", now()) {
        Err(AuditError::Invalid { field, message }) => {
            assert_eq!(field, "population");
            assert!(message.contains("role-grants"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    // Altered stored items are caught on read.
    let path = vouch_evidence::blob_store(&fx.config)
        .path(&p.items_sha256)
        .unwrap();
    let mut perm = std::fs::metadata(&path).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perm.set_readonly(false);
    std::fs::set_permissions(&path, perm).unwrap();
    std::fs::write(&path, nd.replacen("role.granted", "role.grantee", 1)).unwrap();
    assert!(population::export_ndjson(&fx.config, &p).is_err());
});

/// Commit, take, draw: the full order, and each refusal.
fn commit_take_draw(fx: &Fx) -> (String, sample::Sample) {
    let nonce = sampling::new_nonce();
    let c = sampling::commitment_of(&sampling::parse_nonce(&nonce).unwrap());
    let com = sample::commit(
        &fx.ctx(),
        "role-grants",
        &october(),
        &c,
        "user:auditor",
        now(),
    )
    .unwrap();
    // One commitment per population and period.
    assert!(matches!(
        sample::commit(
            &fx.ctx(),
            "role-grants",
            &october(),
            &c,
            "user:auditor",
            now()
        ),
        Err(AuditError::Conflict(_))
    ));
    // No population taken after the commitment yet.
    assert!(matches!(
        sample::draw(&fx.ctx(), &com.id, &nonce, "user:auditor", now()),
        Err(AuditError::Conflict(m)) if m.contains("take it now")
    ));
    let p = population::take(&fx.ctx(), "role-grants", &october(), "user:officer", now()).unwrap();
    // A wrong nonce is refused, naming the field.
    match sample::draw(
        &fx.ctx(),
        &com.id,
        &sampling::new_nonce(),
        "user:auditor",
        now(),
    ) {
        Err(AuditError::Invalid { field, .. }) => assert_eq!(field, "nonce"),
        other => panic!("{other:?}"),
    }
    let s = sample::draw(&fx.ctx(), &com.id, &nonce, "user:auditor", now()).unwrap();
    assert_eq!(s.population_id, p.id);
    assert_eq!(s.checkpoint.size, p.ledger_seq.unwrap() + 1);
    // multiple-daily, low risk: 25 of 30.
    assert_eq!(s.indices.len(), 25);
    assert_eq!(s.basis["method"], "frequency");
    // The seed is SHA-256(nonce ‖ root of that checkpoint) and the indices follow.
    let root = vouch_core::unb64_hash(&s.checkpoint.root).unwrap();
    let seed = sampling::seed_of(&hex::decode(&nonce).unwrap(), &root);
    assert_eq!(s.seed, hex::encode(seed));
    assert_eq!(s.indices, sampling::draw_indices(&seed, 30, 25));
    // Used once.
    assert!(matches!(
        sample::draw(&fx.ctx(), &com.id, &nonce, "user:auditor", now()),
        Err(AuditError::Conflict(_))
    ));
    (nonce, s)
}

on_both!(commit_take_draw_in_that_order, |kind| {
    let Some(fx) = Fx::new(kind) else { return };
    fx.seed_events(30, 0);
    // A population taken before the commitment is not eligible.
    population::take(&fx.ctx(), "role-grants", &october(), "user:officer", now()).unwrap();
    let (_, s) = commit_take_draw(&fx);
    let acts: Vec<String> = fx
        .actions()
        .iter()
        .map(|v| v["action"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        acts,
        [
            "population.taken",
            "sample.nonce_committed",
            "population.taken",
            "sample.drawn"
        ]
    );
    let drawn = fx.actions().pop().unwrap();
    assert_eq!(drawn["metadata"]["seed"], s.seed.as_str());
    assert_eq!(drawn["metadata"]["indices"], json!(s.indices));
    assert_eq!(sample::get(&fx.store, &s.id).unwrap(), s);
    // The export's proofs verify in Rust too.
    let doc = sample::export(&fx.ctx(), &s.id).unwrap();
    assert_eq!(doc["items"].as_array().unwrap().len(), 25);
    for k in ["commitment_event_proof", "population_event_proof"] {
        vouch_ledger::verify_proof_file(doc[k].as_str().unwrap(), &fx.ledger.verifier(), None)
            .unwrap();
    }
});

on_both!(
    pbc_requests_answers_and_decisions_are_ledger_events,
    |kind| {
        let Some(fx) = Fx::new(kind) else { return };
        fx.seed_events(30, 0);
        let (_, s) = commit_take_draw(&fx);
        let ctx = fx.ctx();
        let idx = s.indices[0];
        // Only sampled items; a request must say something.
        let not_sampled = (0..30).find(|i| !s.indices.contains(i)).unwrap();
        assert!(
            matches!(pbc::request(&ctx, &s.id, not_sampled, "x", "user:auditor", now()),
        Err(AuditError::Invalid { field, .. }) if field == "item")
        );
        assert!(
            matches!(pbc::request(&ctx, &s.id, idx, " ", "user:auditor", now()),
        Err(AuditError::Invalid { field, .. }) if field == "text")
        );
        let r = pbc::request(
            &ctx,
            &s.id,
            idx,
            "The approval for this grant",
            "user:auditor",
            now(),
        )
        .unwrap();
        assert_eq!(r.status, "open");
        // Accepting before an answer is a conflict.
        assert!(matches!(
            pbc::decide(&ctx, &r.id, true, None, "user:auditor", now()),
            Err(AuditError::Conflict(_))
        ));
        // The company answers with an upload.
        let file = fx.dir.path().join("approval.txt");
        std::fs::write(&file, "approved by alice on 2026-10-01").unwrap();
        let item = vouch_evidence::Collector::new(&fx.config, fx.store.clone(), &fx.ledger)
            .upload(&file, "pbc", Some("approval"), "user:officer", &october())
            .unwrap();
        assert!(
            matches!(pbc::answer(&ctx, &r.id, "00000000-0000", None, "user:officer", now()),
        Err(AuditError::Invalid { field, .. }) if field == "evidence_item")
        );
        let r = pbc::answer(
            &ctx,
            &r.id,
            item.id(),
            Some("see ticket"),
            "user:officer",
            now(),
        )
        .unwrap();
        assert_eq!(r.status, "answered");
        assert_eq!(r.answers[0].sha256, item.sha256().unwrap());
        // Returned without a comment: refused; with one: returned, answered again, accepted.
        assert!(
            matches!(pbc::decide(&ctx, &r.id, false, None, "user:auditor", now()),
        Err(AuditError::Invalid { field, .. }) if field == "comment")
        );
        let r = pbc::decide(
            &ctx,
            &r.id,
            false,
            Some("not signed"),
            "user:auditor",
            now(),
        )
        .unwrap();
        assert_eq!(r.status, "returned");
        let r = pbc::answer(&ctx, &r.id, item.id(), None, "user:officer", now()).unwrap();
        let r = pbc::decide(
            &ctx,
            &r.id,
            true,
            Some("ok"),
            "user:auditor",
            now() + Duration::seconds(1),
        )
        .unwrap();
        assert_eq!(r.status, "accepted");
        assert_eq!(r.version, 5);
        assert!(matches!(
            pbc::answer(&ctx, &r.id, item.id(), None, "user:officer", now()),
            Err(AuditError::Conflict(_))
        ));
        let acts: Vec<String> = fx
            .actions()
            .iter()
            .map(|v| v["action"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            &acts[3..],
            [
                "pbc.requested",
                "pbc.answered",
                "pbc.returned",
                "pbc.answered",
                "pbc.accepted"
            ]
        );
        assert_eq!(pbc::list(&fx.store, Some(&s.id)).unwrap(), vec![r]);
    }
);

fn verifier() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/independent/verify_sample.py")
}

fn run_verifier(key: &str, sample: &Path, population: Option<&Path>) -> (bool, String) {
    let mut c = Command::new("python3");
    c.arg(verifier()).args(["--key", key]);
    if let Some(p) = population {
        c.arg("--population").arg(p);
    }
    let o = c.arg(sample).output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
    (o.status.success(), out)
}

/// The Python verifier accepts the export and fails on a tampered item, a wrong nonce, a
/// changed index, a wrong key and a population file that is not the population.
#[test]
fn ext_python_verifier_checks_a_sample_and_catches_tampering() {
    if !vouch_test_support::ext::require(
        vouch_test_support::ext::runs(
            &vouch_test_support::ext::tool_path(),
            &["python3", "-c", "import cryptography"],
        ),
        "python3 with `cryptography` is needed",
    ) {
        return;
    }
    let fx = Fx::new(Kind::Sqlite).unwrap();
    fx.seed_events(120, 0);
    let (_, s) = commit_take_draw_custom(&fx);
    // A checkpoint after the draw, so the draw's own proof is in the export.
    fx.ledger.checkpoint().unwrap();
    let doc = sample::export(&fx.ctx(), &s.id).unwrap();
    let p = population::get(&fx.store, &s.population_id).unwrap();
    let dir = fx.dir.path();
    let pop_file = dir.join("population.ndjson");
    std::fs::write(
        &pop_file,
        population::export_ndjson(&fx.config, &p).unwrap(),
    )
    .unwrap();
    let key = fx.ledger.verifier().to_vkey();
    let write = |name: &str, v: &Value| {
        let f = dir.join(name);
        std::fs::write(&f, serde_json::to_vec_pretty(v).unwrap()).unwrap();
        f
    };
    let good = write("sample.json", &doc);
    let (ok, out) = run_verifier(&key, &good, Some(&pop_file));
    assert!(ok, "{out}");
    assert!(out.starts_with("OK sample"), "{out}");

    let mut bad = doc.clone();
    let item = bad["items"][0]["item"]
        .as_str()
        .unwrap()
        .replace("user-", "user_");
    bad["items"][0]["item"] = json!(item);
    let (ok, out) = run_verifier(&key, &write("t1.json", &bad), None);
    assert!(!ok && out.contains("not in the population root"), "{out}");

    let mut bad = doc.clone();
    bad["sample"]["nonce"] = json!(sampling::new_nonce());
    let (ok, out) = run_verifier(&key, &write("t2.json", &bad), None);
    assert!(!ok && out.contains("wrong nonce"), "{out}");

    let mut bad = doc.clone();
    let first = bad["sample"]["indices"][0].as_u64().unwrap();
    let other = (0..120).find(|i| !s.indices.contains(i)).unwrap();
    assert_ne!(first, other);
    bad["sample"]["indices"][0] = json!(other);
    let (ok, out) = run_verifier(&key, &write("t3.json", &bad), None);
    assert!(
        !ok && out.contains("indices are not those the seed gives"),
        "{out}"
    );

    let other_key = vouch_core::note::NoteSigner::generate("test.example/vouch/audit")
        .unwrap()
        .verifier()
        .to_vkey();
    let (ok, out) = run_verifier(&other_key, &good, None);
    assert!(!ok, "{out}");

    let mut lines = std::fs::read_to_string(&pop_file).unwrap();
    lines = lines.replacen("role.granted", "role.grantee", 1);
    let f = dir.join("pop-bad.ndjson");
    std::fs::write(&f, lines).unwrap();
    let (ok, out) = run_verifier(&key, &good, Some(&f));
    assert!(
        !ok && out.contains("does not hash to the population root"),
        "{out}"
    );
}

/// commit → take → draw for a 120-item population (population-size basis would be 12;
/// role-grants is multiple-daily: 25).
fn commit_take_draw_custom(fx: &Fx) -> (String, sample::Sample) {
    let nonce = sampling::new_nonce();
    let c = sampling::commitment_of(&sampling::parse_nonce(&nonce).unwrap());
    let com = sample::commit(
        &fx.ctx(),
        "role-grants",
        &october(),
        &c,
        "user:auditor",
        now(),
    )
    .unwrap();
    population::take(&fx.ctx(), "role-grants", &october(), "user:officer", now()).unwrap();
    let s = sample::draw(&fx.ctx(), &com.id, &nonce, "user:auditor", now()).unwrap();
    assert_eq!(s.indices.len(), 25);
    (nonce, s)
}

fn period(p: &str) -> Period {
    Period::parse(p, Utc::now()).unwrap()
}

fn committed(fx: &Fx, p: &str) -> (String, sample::Commitment) {
    let nonce = sampling::new_nonce();
    let c = sampling::commitment_of(&sampling::parse_nonce(&nonce).unwrap());
    let com = sample::commit(
        &fx.ctx(),
        "role-grants",
        &period(p),
        &c,
        "user:auditor",
        now(),
    )
    .unwrap();
    (nonce, com)
}

// Defect 1: the nonce was checked before the population: a premature reveal told the
// company (which runs the server) the nonce while it could still (re)take the population.
on_both!(no_nonce_is_read_before_the_population_is_taken, |kind| {
    let Some(fx) = Fx::new(kind) else { return };
    fx.seed_events(30, 0);
    let (nonce, com) = committed(&fx, "2026-10");
    // A wrong and a malformed nonce alike: refused for the missing population, so the
    // server never confirms or even parses a nonce before the population is fixed.
    for n in [sampling::new_nonce(), "zz".into(), nonce.clone()] {
        match sample::draw(&fx.ctx(), &com.id, &n, "user:auditor", now()) {
            Err(AuditError::Conflict(m)) => assert!(m.contains("take it now"), "{m}"),
            other => panic!("{n}: {other:?}"),
        }
    }
    // What the CLI checks before it reads the nonce file.
    assert!(matches!(
        sample::prepare(&fx.ctx(), &com.id, "user:auditor"),
        Err(AuditError::Conflict(_))
    ));
    let p = population::take(&fx.ctx(), "role-grants", &october(), "user:officer", now()).unwrap();
    let (_, _, pop, pseq, cp) = sample::prepare(&fx.ctx(), &com.id, "user:auditor").unwrap();
    assert_eq!(
        (pop.id.as_str(), pseq),
        (p.id.as_str(), p.ledger_seq.unwrap())
    );
    // The seed checkpoint is signed and holds the population event.
    let proof = fx.ledger.inclusion_proof(pseq, Some(cp.size)).unwrap();
    let (i, _) = vouch_ledger::verify_proof_file(&proof, &fx.ledger.verifier(), None).unwrap();
    assert_eq!(i, pseq);
    let s = sample::draw(&fx.ctx(), &com.id, &nonce, "user:auditor", now()).unwrap();
    assert_eq!(s.checkpoint.size, cp.size);
    assert_eq!(s.checkpoint.root, cp.root);
});

// Defect 2: commitments for overlapping periods of one definition gave the auditor
// several nonces for nearly the same population.
on_both!(overlapping_commitments_are_refused, |kind| {
    let Some(fx) = Fx::new(kind) else { return };
    let (_, com) = committed(&fx, "2026-10");
    let c = sampling::commitment_of(&sampling::parse_nonce(&sampling::new_nonce()).unwrap());
    for p in ["2026-Q4", "2026-10", "2026"] {
        match sample::commit(
            &fx.ctx(),
            "role-grants",
            &period(p),
            &c,
            "user:auditor",
            now(),
        ) {
            Err(AuditError::Conflict(m)) => assert!(m.contains(&com.id), "{p}: {m}"),
            other => panic!("{p}: {other:?}"),
        }
    }
    // Adjacent periods do not overlap (the end is exclusive); other definitions neither.
    sample::commit(
        &fx.ctx(),
        "role-grants",
        &period("2026-11"),
        &c,
        "user:auditor",
        now(),
    )
    .unwrap();
    sample::commit(
        &fx.ctx(),
        "role-grants",
        &period("2026-09"),
        &c,
        "user:auditor",
        now(),
    )
    .unwrap();
    sample::commit(
        &fx.ctx(),
        "logins",
        &period("2026-10"),
        &c,
        "user:auditor",
        now(),
    )
    .unwrap();
    // A drawn commitment still blocks an overlapping one.
    fx.seed_events(30, 0);
    let (nonce, com2) = committed(&fx, "2025-10");
    let oct25 = period("2025-10");
    fx.ledger
        .append(vec![vouch_core::event::Event::from_value(json!({
            "organization_id": "org-1", "actor": {"id": "u", "email": null, "ip": null},
            "action": "role.granted", "category": "authorization",
            "resource": {"type": "role", "id": "r", "name": null}, "result": "success",
            "timestamp": "2025-10-02T10:00:00Z"}))
        .unwrap()])
        .unwrap();
    population::take(&fx.ctx(), "role-grants", &oct25, "user:officer", now()).unwrap();
    sample::draw(&fx.ctx(), &com2.id, &nonce, "user:auditor", now()).unwrap();
    match sample::commit(
        &fx.ctx(),
        "role-grants",
        &period("2025-Q4"),
        &c,
        "user:auditor",
        now(),
    ) {
        Err(AuditError::Conflict(m)) => assert!(m.contains(&com2.id), "{m}"),
        other => panic!("{other:?}"),
    }
});

// Defect 2: one actor on both sides.
on_both!(the_population_taker_neither_commits_nor_draws, |kind| {
    let Some(fx) = Fx::new(kind) else { return };
    fx.seed_events(30, 0);
    let (nonce, com) = committed(&fx, "2026-10");
    population::take(&fx.ctx(), "role-grants", &october(), "user:auditor", now()).unwrap();
    match sample::draw(&fx.ctx(), &com.id, &nonce, "user:someone", now()) {
        Err(AuditError::Conflict(m)) => assert!(m.contains("taken by user:auditor"), "{m}"),
        other => panic!("{other:?}"),
    }
    let fx = Fx::new(kind).unwrap();
    fx.seed_events(30, 0);
    let (nonce, com) = committed(&fx, "2026-10");
    population::take(&fx.ctx(), "role-grants", &october(), "user:officer", now()).unwrap();
    assert!(matches!(
        sample::draw(&fx.ctx(), &com.id, &nonce, "user:officer", now()),
        Err(AuditError::Conflict(m)) if m.contains("may not also")
    ));
    sample::draw(&fx.ctx(), &com.id, &nonce, "user:auditor", now()).unwrap();
});

// Defect 3: the final `ledger_seq` write after the event failing left the record stuck.
on_both!(a_lost_ledger_seq_is_recovered_from_the_ledger, |kind| {
    let Some(fx) = Fx::new(kind) else { return };
    fx.seed_events(30, 0);
    let (nonce, com) = committed(&fx, "2026-10");
    let p = population::take(&fx.ctx(), "role-grants", &october(), "user:officer", now()).unwrap();
    // As if each final write had failed after its event was appended.
    let null = |table: &str| {
        fx.store
            .write(&mut |sql| {
                sql.execute(&format!("UPDATE {table} SET ledger_seq = NULL"), &[])?;
                Ok(())
            })
            .unwrap()
    };
    null("sample_commitments");
    null("populations");
    let s = sample::draw(&fx.ctx(), &com.id, &nonce, "user:auditor", now()).unwrap();
    assert_eq!(s.commitment_seq, com.ledger_seq.unwrap());
    assert_eq!(
        (s.population_id.clone(), s.population_seq),
        (p.id.clone(), p.ledger_seq.unwrap())
    );
    assert_eq!(
        sample::get_commitment(&fx.store, &com.id)
            .unwrap()
            .ledger_seq,
        com.ledger_seq
    );
    assert_eq!(
        population::get(&fx.store, &p.id).unwrap().ledger_seq,
        p.ledger_seq
    );
    null("samples");
    let got = sample::get(&fx.store, &s.id).unwrap();
    assert_eq!(got, s);
    let stored = fx
        .store
        .query("SELECT ledger_seq FROM samples", &[])
        .unwrap();
    assert_eq!(stored[0].opt_int(0), s.ledger_seq.map(|q| q as i64));
});

// Defect 1 (verifier): a population taken between the commitment and the one used,
// hidden by the company (its row deleted), is caught offline.
#[test]
fn ext_python_verifier_catches_an_earlier_population_left_out() {
    if !vouch_test_support::ext::require(
        vouch_test_support::ext::runs(
            &vouch_test_support::ext::tool_path(),
            &["python3", "-c", "import cryptography"],
        ),
        "python3 with `cryptography` is needed",
    ) {
        return;
    }
    for hide in [false, true] {
        let fx = Fx::new(Kind::Sqlite).unwrap();
        fx.seed_events(30, 0);
        let (nonce, com) = committed(&fx, "2026-10");
        fx.seed_events(3, 0);
        let first =
            population::take(&fx.ctx(), "role-grants", &october(), "user:officer", now()).unwrap();
        fx.seed_events(2, 0);
        if hide {
            let second =
                population::take(&fx.ctx(), "role-grants", &october(), "user:officer", now())
                    .unwrap();
            fx.store
                .write(&mut |sql| {
                    sql.execute(
                        "DELETE FROM populations WHERE id = $1",
                        &[first.id.clone().into()],
                    )?;
                    Ok(())
                })
                .unwrap();
            let s = sample::draw(&fx.ctx(), &com.id, &nonce, "user:auditor", now()).unwrap();
            assert_eq!(s.population_id, second.id);
            let doc = sample::export(&fx.ctx(), &s.id).unwrap();
            let n = s.population_seq - s.commitment_seq - 1;
            assert_eq!(
                doc["between_event_proofs"].as_array().unwrap().len() as u64,
                n
            );
            let f = fx.dir.path().join("sample.json");
            std::fs::write(&f, doc.to_string()).unwrap();
            let (ok, out) = run_verifier(&fx.ledger.verifier().to_vkey(), &f, None);
            assert!(
                !ok && out.contains("must use the first population"),
                "{out}"
            );
            // Leaving the in-between entries out is refused too.
            let mut bad = doc.clone();
            bad["between_event_proofs"] = json!([]);
            std::fs::write(&f, bad.to_string()).unwrap();
            let (ok, out) = run_verifier(&fx.ledger.verifier().to_vkey(), &f, None);
            assert!(!ok && out.contains("between"), "{out}");
        } else {
            // The honest case, with entries in between: accepted.
            let s = sample::draw(&fx.ctx(), &com.id, &nonce, "user:auditor", now()).unwrap();
            assert_eq!(s.population_id, first.id);
            let doc = sample::export(&fx.ctx(), &s.id).unwrap();
            let f = fx.dir.path().join("sample.json");
            std::fs::write(&f, doc.to_string()).unwrap();
            let (ok, out) = run_verifier(&fx.ledger.verifier().to_vkey(), &f, None);
            assert!(ok, "{out}");
        }
    }
}
