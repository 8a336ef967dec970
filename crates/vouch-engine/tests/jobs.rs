//! The scheduler with a hand-moved clock: the monthly job at 03:00 on the 1st, exactly
//! once; catch-up after downtime; retries with backoff into a final failure; two
//! servers on one database running each period once.

use crate::common;

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use vouch_engine::jobs::{self, ManualClock, Runner};

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn runner<'a>(
    fx: &'a common::Fx,
    ledger: &'a vouch_engine::Ledger,
    clock: &'a ManualClock,
    worker: &str,
) -> Runner<'a> {
    Runner {
        config: &fx.config,
        store: fx.store.clone(),
        keys: &fx.keys,
        ledger,
        clock,
        worker: worker.into(),
        max_attempts: 3,
        backoff: Duration::minutes(5),
        // These tests travel back before the fixture's (real-time) initialisation.
        not_before: Some(t("2026-01-01T00:00:00Z")),
    }
}

fn keys(runs: &[jobs::Run]) -> Vec<String> {
    let mut k: Vec<String> = runs.iter().map(|r| r.run_key.clone()).collect();
    k.sort();
    k
}

on_both!(monthly_job_runs_once_and_catches_up, |fx| {
    fx.append_n(200); // September events
    let clock = ManualClock::at(t("2026-11-01T03:00:30Z"));
    let r = runner(&fx, &fx.ledger, &clock, "a");
    let done = r.tick().unwrap();
    assert_eq!(
        keys(&done),
        vec![
            "attestation-draft:2026-11-01",
            "generate-soc2-evidence:2026-10",
            "retention:2026-10-31",
            "verify-ledger:2026-11-01"
        ]
    );
    let gen = done
        .iter()
        .find(|x| x.job == "generate-soc2-evidence")
        .unwrap();
    assert_eq!(gen.status, "succeeded", "{gen}");
    assert_eq!(
        gen.outputs.as_ref().unwrap()["archive"]["status"],
        "skipped: no [archive] recipients configured"
    );
    // Seed 001: the month's collection sign-off was requested from the team lead.
    assert_eq!(gen.outputs.as_ref().unwrap()["signoff"]["status"], "open");
    assert!(fx
        .dir
        .path()
        .join("packets/2026-10/SOC2_Evidence.json")
        .exists());
    // The same minute, a minute later, half an hour later: nothing runs twice.
    for later in [
        "2026-11-01T03:00:45Z",
        "2026-11-01T03:01:00Z",
        "2026-11-01T03:29:00Z",
    ] {
        clock.set(t(later));
        assert!(r.tick().unwrap().is_empty(), "{later}");
    }
    // Down from November 2 to December 5: the missed December run happens once at start;
    // the nightly verification catches up its latest night only.
    clock.set(t("2026-12-05T09:00:00Z"));
    let done = r.tick().unwrap();
    assert_eq!(
        keys(&done),
        vec![
            "attestation-draft:2026-12-05",
            "generate-soc2-evidence:2026-11",
            "retention:2026-12-05",
            "verify-ledger:2026-12-05"
        ]
    );
    assert!(r.tick().unwrap().is_empty());
    let history = jobs::runs(&fx.store, Some("generate-soc2-evidence"), 10).unwrap();
    assert_eq!(
        keys(&history),
        vec![
            "generate-soc2-evidence:2026-10",
            "generate-soc2-evidence:2026-11"
        ]
    );
    // The integrity log and the ledger record the verifications.
    let log = jobs::integrity_log(&fx.store, 10).unwrap();
    assert_eq!(log.len(), 2);
    assert!(log.iter().all(|l| l["result"] == "pass"
        && l["errors"] == 0
        && l["rows_verified"].as_u64().unwrap() >= 200));
    assert!(fx.all_leaves().contains("\"action\":\"job.succeeded\""));
    assert!(fx
        .all_leaves()
        .contains("[JOB: generate-soc2-evidence] generate-soc2-evidence:2026-10: succeeded"));
});

on_both!(failing_job_retries_with_backoff_then_fails, |fx| {
    fx.append_n(50);
    // Break the ledger so the nightly verification fails every time.
    fx.exec("UPDATE ledger_entries SET leaf = replace(leaf, '\"result\":\"success\"', '\"result\":\"failure\"') WHERE seq = 10");
    let clock = ManualClock::at(t("2026-11-22T02:00:10Z"));
    let r = runner(&fx, &fx.ledger, &clock, "a");
    let first = r.tick().unwrap();
    let v = first
        .iter()
        .find(|x| x.job == "verify-ledger")
        .unwrap()
        .clone();
    assert_eq!((v.status.as_str(), v.attempt), ("retrying", 1), "{v}");
    assert_eq!(
        v.next_attempt_at.as_deref(),
        Some("2026-11-22T02:05:10.000000Z")
    );
    assert!(v.error.as_deref().unwrap().contains("broken at entry 10"));
    // Not due yet.
    clock.set(t("2026-11-22T02:04:00Z"));
    assert!(r.tick().unwrap().is_empty());
    // Second attempt at +5 min, third (last) at +10 min after that.
    clock.set(t("2026-11-22T02:05:10Z"));
    let second = r.tick().unwrap();
    assert_eq!(
        (second[0].attempt, second[0].status.as_str()),
        (2, "retrying")
    );
    assert_eq!(
        second[0].next_attempt_at.as_deref(),
        Some("2026-11-22T02:15:10.000000Z")
    );
    clock.set(t("2026-11-22T02:15:10Z"));
    let third = r.tick().unwrap();
    assert_eq!((third[0].attempt, third[0].status.as_str()), (3, "failed"));
    clock.set(t("2026-11-22T03:00:00Z"));
    assert!(r.tick().unwrap().is_empty(), "a failed run is final");
    let log = jobs::integrity_log(&fx.store, 10).unwrap();
    assert_eq!(log.len(), 3);
    assert!(log
        .iter()
        .all(|l| l["result"] == "fail" && l["errors"] == 1));
});

on_both!(two_servers_one_database_run_each_period_once, |fx| {
    fx.append_n(20);
    let clock = ManualClock::at(t("2026-11-01T03:00:05Z"));
    let other = fx.reopen();
    let barrier = std::sync::Barrier::new(2);
    let (a, b) = std::thread::scope(|s| {
        let ha = s.spawn(|| {
            barrier.wait();
            runner(&fx, &fx.ledger, &clock, "server-a").tick().unwrap()
        });
        let hb = s.spawn(|| {
            barrier.wait();
            runner(&fx, &other, &clock, "server-b").tick().unwrap()
        });
        (ha.join().unwrap(), hb.join().unwrap())
    });
    let mut all: Vec<jobs::Run> = a.into_iter().chain(b).collect();
    all.sort_by(|x, y| x.run_key.cmp(&y.run_key));
    assert_eq!(
        keys(&all),
        vec![
            "attestation-draft:2026-11-01",
            "generate-soc2-evidence:2026-10",
            "retention:2026-10-31",
            "verify-ledger:2026-11-01"
        ],
        "each period ran exactly once across both servers"
    );
    let history = jobs::runs(&fx.store, None, 100).unwrap();
    assert_eq!(history.len(), 4);
    assert_eq!(
        fx.all_leaves()
            .matches("generate-soc2-evidence:2026-10: succeeded")
            .count(),
        1
    );
});

on_both!(manual_run_and_unknown_job, |fx| {
    let clock = ManualClock::at(t("2026-11-22T12:00:00Z"));
    let r = runner(&fx, &fx.ledger, &clock, "cli");
    let run = r.run_now("verify-ledger", None).unwrap();
    assert_eq!(run.status, "succeeded");
    assert!(run.run_key.contains(":manual-"));
    assert!(r
        .run_now("nope", None)
        .unwrap_err()
        .to_string()
        .contains("no job `nope`"));
});

// Retention: entries past their class's retention go to WORM and leave the database;
// the ledger still verifies, the archive verifies against the stored hashes, and a leaf
// removed outside a retention run is caught.
on_both!(retention_archives_prunes_and_stays_verifiable, |fx| {
    let ev = |ts: &str, class: &str, i: usize| {
        vouch_core::event::Event::from_value(serde_json::json!({
            "timestamp": ts, "action": format!("act.{i}"), "category": "system", "result": "success", "retention": class,
            "actor": {"id": format!("u{i}")},
        }))
        .unwrap()
    };
    let events = vec![
        ev("2026-06-01T00:00:00Z", "debug", 0),       // past 30 days
        ev("2026-06-02T00:00:00Z", "security", 1),    // 7 years: kept
        ev("2026-07-01T00:00:00Z", "application", 2), // past 90 days
        ev("2026-11-10T00:00:00Z", "debug", 3),       // within 30 days: kept
        ev("2025-01-01T00:00:00Z", "access", 4),      // within 2 years: kept
    ];
    fx.ledger.append(events).unwrap();
    fx.ledger.checkpoint().unwrap();
    let clock = ManualClock::at(t("2026-11-22T03:30:20Z"));
    let r = runner(&fx, &fx.ledger, &clock, "a");
    let done = r.tick().unwrap();
    let ret = done.iter().find(|x| x.job == "retention").unwrap();
    assert_eq!(ret.status, "succeeded", "{ret}");
    assert_eq!(ret.outputs.as_ref().unwrap()["rows_archived"], 2);
    assert_eq!(
        ret.outputs.as_ref().unwrap()["classes"],
        serde_json::json!({"application": 1, "debug": 1})
    );
    // Leaves 0 and 2 are gone from the database, the rest stay.
    assert_eq!(fx.store.leaf(0).unwrap().unwrap(), "");
    assert_eq!(fx.store.leaf(2).unwrap().unwrap(), "");
    assert!(fx.store.leaf(1).unwrap().unwrap().contains("act.1"));
    // The ledger still verifies (tree, chain, checkpoints) …
    let v = fx.ledger.verify(&Default::default()).unwrap();
    assert!(v.valid, "{v:?}");
    // … the archive in WORM verifies against the stored leaf hashes …
    let dest = ret.outputs.as_ref().unwrap()["destination"]
        .as_str()
        .unwrap();
    let archive = std::fs::read(std::path::Path::new(dest).join("audit-archive.ndjson")).unwrap();
    // The run's folder is sealed read-only, as other WORM folders are.
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dest).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o555, "retention folder {dest} is {mode:o}");
        for f in ["audit-archive.ndjson", "MANIFEST.json", "MANIFEST.json.sig"] {
            let m = std::fs::metadata(std::path::Path::new(dest).join(f)).unwrap();
            assert_eq!(m.permissions().mode() & 0o777, 0o444, "{f}");
        }
    }
    assert_eq!(String::from_utf8_lossy(&archive).lines().count(), 2);
    let a = vouch_engine::seal::retention::verify_archive(&fx.store, &archive).unwrap();
    assert_eq!(
        (a["valid"].as_bool(), a["checked"].as_u64()),
        (Some(true), Some(2))
    );
    let forged = String::from_utf8_lossy(&archive).replace("act.0", "act.9");
    let a = vouch_engine::seal::retention::verify_archive(&fx.store, forged.as_bytes()).unwrap();
    assert_eq!(
        (a["valid"].as_bool(), a["broken_at"].as_u64()),
        (Some(false), Some(0))
    );
    // … exports skip pruned entries, and a retention run is recorded (seed 002's manifest table).
    let mut out = Vec::new();
    fx.ledger
        .export(
            &vouch_core::period::Period::parse("2026-06", Utc::now()).unwrap(),
            &mut out,
        )
        .unwrap();
    assert_eq!(String::from_utf8(out).unwrap().lines().count(), 1);
    assert!(fx
        .all_leaves()
        .contains("\"action\":\"retention.archived\""));
    // A leaf blanked by anyone else is a break.
    fx.exec("UPDATE ledger_entries SET leaf = '' WHERE seq = 1");
    let v = fx.ledger.verify(&Default::default()).unwrap();
    assert_eq!(v.broken_at, Some(1));
    assert!(v
        .reason
        .unwrap()
        .contains("removed outside a retention run"));
});

// A pruned entry's leaf is gone, so its audit-log index row cannot be checked against
// it; the retention run records a digest of those rows (and the index floor) in its
// ledger event, and verification recomputes it: an index row of a pruned entry altered
// or deleted afterwards is a break naming the run.
on_both!(retention_makes_pruned_index_rows_tamper_evident, |fx| {
    let ev = |ts: &str, class: &str, i: usize| {
        vouch_core::event::Event::from_value(serde_json::json!({
            "timestamp": ts, "action": format!("act.{i}"), "category": "system", "result": "success", "retention": class,
            "actor": {"id": format!("u{i}")},
        }))
        .unwrap()
    };
    fx.ledger
        .append(vec![
            ev("2026-06-01T00:00:00Z", "debug", 0),       // pruned
            ev("2026-06-02T00:00:00Z", "security", 1),    // kept
            ev("2026-07-01T00:00:00Z", "application", 2), // pruned
        ])
        .unwrap();
    let clock = ManualClock::at(t("2026-11-22T03:30:20Z"));
    let r = runner(&fx, &fx.ledger, &clock, "a");
    let done = r.tick().unwrap();
    let ret = done.iter().find(|x| x.job == "retention").unwrap();
    assert_eq!(ret.status, "succeeded", "{ret}");
    let run_id = ret.outputs.as_ref().unwrap()["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(fx.store.leaf(0).unwrap().unwrap(), "");
    let v = fx.ledger.verify(&Default::default()).unwrap();
    assert!(v.valid, "{v:?}");
    // The run's event carries the digest and the floor it was computed with.
    let leaves = fx.all_leaves();
    let event: Value = leaves
        .lines()
        .find(|l| l.contains("\"action\":\"retention.archived\""))
        .map(|l| serde_json::from_str(l).unwrap())
        .unwrap();
    assert_eq!(event["resource"]["id"], run_id.as_str());
    assert_eq!(
        event["metadata"]["index_sha256"].as_str().map(str::len),
        Some(64),
        "{event}"
    );
    assert!(event["metadata"]["index_floor"].is_u64(), "{event}");

    // An index row of a pruned entry altered with raw SQL: a break naming the run.
    fx.exec("UPDATE audit_index SET actor_id = 'someone-else' WHERE seq = 2");
    let v = fx.ledger.verify(&Default::default()).unwrap();
    assert!(
        !v.valid,
        "an altered index row of a pruned entry went unnoticed"
    );
    assert_eq!(v.broken_at, Some(0), "{v:?}");
    let reason = v.reason.clone().unwrap();
    assert!(reason.contains(&run_id), "{reason}");
    assert!(reason.contains("index"), "{reason}");
    // The typed reason (`BreakReason::PrunedIndex`), matched by its debug form.
    let typed = format!("{:?}", v.break_reason);
    assert!(
        typed.starts_with("Some(PrunedIndex {") && typed.contains(&run_id),
        "{typed}"
    );
    // Put back, it verifies again (the digest is recomputed, not assumed).
    fx.exec("UPDATE audit_index SET actor_id = 'u2' WHERE seq = 2");
    let v = fx.ledger.verify(&Default::default()).unwrap();
    assert!(v.valid, "{v:?}");
    // Raising the floor so that a deleted row of a pruned entry looks like one pruned
    // before the index existed: the floor is part of the digest.
    fx.exec("UPDATE audit_index_floor SET below = 3");
    fx.exec("DELETE FROM audit_index WHERE seq = 2");
    let v = fx.ledger.verify(&Default::default()).unwrap();
    assert!(
        !v.valid,
        "a deleted index row below a raised floor went unnoticed"
    );
    assert!(v.reason.unwrap().contains(&run_id));
});

// Issue 12: a fresh install must not packet a month it never saw. Catch-up skips
// occurrences before the database was initialised and periods before the ledger's
// first event; a manual run then builds the packet from the events; a second run
// says the packet exists (not rebuilt) and reports the late arrivals since.
on_both!(
    catch_up_skips_periods_before_init_and_the_first_event,
    |fx| {
        // The database's own record of its initialisation (real time, just now).
        let init = jobs::initialized_at(&fx.store).unwrap().unwrap();
        assert!((Utc::now() - init).num_seconds().abs() < 120, "{init}");

        // Serve started right after init: nothing of last month is caught up.
        let clock = ManualClock::at(Utc::now());
        let mut r = runner(&fx, &fx.ledger, &clock, "a");
        r.not_before = None; // read from the database
        let done = r.tick().unwrap();
        assert!(
            done.iter().all(|x| x.job != "generate-soc2-evidence"),
            "{done:?}"
        );
        let last = vouch_core::period::Period::last_month(Utc::now()).label;
        assert!(!fx.dir.path().join("packets").join(&last).exists());

        // A ledger with no events: no packet, even when the occurrence is after init.
        let clock = ManualClock::at(t("2026-11-01T03:00:30Z"));
        let r = runner(&fx, &fx.ledger, &clock, "b");
        let done = r.tick().unwrap();
        assert!(
            !keys(&done).contains(&"generate-soc2-evidence:2026-10".to_string()),
            "{:?}",
            keys(&done)
        );
        assert!(!fx.dir.path().join("packets/2026-10").exists());
        // The other jobs ran and logged events stamped November 1: October still ends
        // before the ledger's first event, so later ticks do not packet it either.
        clock.set(t("2026-11-01T04:10:00Z"));
        assert!(r
            .tick()
            .unwrap()
            .iter()
            .all(|x| x.job != "generate-soc2-evidence"));

        // October's events arrive (backdated); a manual run builds the packet from them.
        let mut gen = vouch_engine::demo::Generator::new(5, 8);
        let evs = gen.span(
            vouch_engine::demo::day(2026, 10, 1),
            vouch_engine::demo::day(2026, 11, 1),
            120,
        );
        fx.ledger.append(evs).unwrap();
        clock.set(t("2026-11-02T09:00:00Z"));
        let oct = vouch_core::period::Period::parse("2026-10", t("2026-11-02T09:00:00Z")).unwrap();
        let run = r
            .run_now("generate-soc2-evidence", Some(oct.clone()))
            .unwrap();
        assert_eq!(run.status, "succeeded", "{run}");
        assert_eq!(
            run.outputs.as_ref().unwrap()["packet"]["status"],
            "no_evidence",
            "{run}"
        );
        let packet: Value = serde_json::from_slice(
            &std::fs::read(fx.dir.path().join("packets/2026-10/SOC2_Evidence.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(packet["summary"]["events"], 120);

        // Two more October events after the packet: the next run does not rebuild, and
        // says why and what arrived late.
        let late: Vec<_> = (0..2)
        .map(|i| {
            common::event(serde_json::json!({"timestamp": format!("2026-10-1{i}T00:00:00Z"), "action": "late", "category": "system", "result": "success"}))
        })
        .collect();
        let seqs = fx.ledger.append(late).unwrap().seqs;
        clock.set(t("2026-11-02T09:05:00Z"));
        let run = r.run_now("generate-soc2-evidence", Some(oct)).unwrap();
        let p = &run.outputs.as_ref().unwrap()["packet"];
        assert_eq!(p["status"], "existing, not rebuilt", "{run}");
        assert_eq!(p["late_arrivals"]["count"], 2, "{run}");
        let note = run.outputs.as_ref().unwrap()["note"].as_str().unwrap();
        assert!(
            note.contains(&format!(
                "2 events for 2026-10 arrived after its packet, seqs {}..{}",
                seqs[0], seqs[1]
            )),
            "{note}"
        );
        assert!(fx.all_leaves().contains("existing, not rebuilt"));

        // Installed on December 1 at 01:00: the 03:00 run is on time, but November ended
        // before vouch existed, so it is not packeted automatically either.
        let clock = ManualClock::at(t("2026-12-01T03:00:30Z"));
        let mut r = runner(&fx, &fx.ledger, &clock, "c");
        r.not_before = Some(t("2026-12-01T01:00:00Z"));
        let done = r.tick().unwrap();
        assert!(
            done.iter().all(|x| x.job != "generate-soc2-evidence"),
            "{:?}",
            keys(&done)
        );
        r.not_before = Some(t("2026-11-30T23:00:00Z"));
        let done = r.tick().unwrap();
        assert!(
            keys(&done).contains(&"generate-soc2-evidence:2026-11".to_string()),
            "{:?}",
            keys(&done)
        );
    }
);

/// vouch's own events (a job, a check, the API's self-audit of a read) timestamped in
/// October are not October's evidence: the catch-up does not start on them.
fn own_events(fx: &common::Fx, day: &str) {
    for action in ["job.succeeded", "check.evaluated"] {
        vouch_engine::audit::record(
            &fx.ledger,
            serde_json::json!({"timestamp": format!("{day}T01:00:00Z"), "action": action, "category": "system", "result": "success"}),
        )
        .unwrap();
    }
    let read = common::event(serde_json::json!({
        "timestamp": format!("{day}T02:00:00Z"), "action": "api.GET /api/evidence", "category": "data_access",
        "result": "success", "actor": {"id": "alice", "ip": "127.0.0.1"},
        "metadata": {"status": 200, "source": "vouch-serve"},
    }));
    fx.ledger.append(vec![read]).unwrap();
}

on_both!(vouchs_own_events_do_not_start_the_catch_up, |fx| {
    own_events(&fx, "2026-10-03");
    assert_eq!(fx.store.head().unwrap().size, 3);
    assert_eq!(jobs::first_event_at(&fx.store).unwrap(), None);
    let clock = ManualClock::at(t("2026-11-01T03:00:30Z"));
    let r = runner(&fx, &fx.ledger, &clock, "b");
    let done = r.tick().unwrap();
    assert!(
        !keys(&done).contains(&"generate-soc2-evidence:2026-10".to_string()),
        "{:?}",
        keys(&done)
    );
    assert!(!fx.dir.path().join("packets/2026-10").exists());
    // An event of an audited system: that one counts.
    let real = common::event(
        serde_json::json!({"timestamp": "2026-10-09T08:00:00Z", "action": "user.login", "category": "authentication", "result": "success", "actor": {"id": "vouch-app"}}),
    );
    fx.ledger.append(vec![real]).unwrap();
    assert_eq!(
        jobs::first_event_at(&fx.store).unwrap(),
        Some(t("2026-10-09T08:00:00Z"))
    );
});

// A run whose worker died stays `running`; past the lease it is reclaimed — recorded as
// abandoned (`job.abandoned` in the ledger) and retried — instead of blocking its period
// forever. One already at its last attempt is failed, not retried.
on_both!(abandoned_running_runs_are_reclaimed_and_retried, |fx| {
    let started = "2026-11-02T02:00:00.000000Z";
    fx.exec(&format!(
        "INSERT INTO job_runs (id, job, run_key, scheduled_for, status, attempt, started_at, claimed_by) VALUES \
         ('01930000-0000-7000-8000-000000000001', 'verify-ledger', 'verify-ledger:2026-11-02', '{started}', 'running', 1, '{started}', 'dead-host:1'), \
         ('01930000-0000-7000-8000-000000000002', 'verify-ledger', 'verify-ledger:2026-11-01:manual-x', '{started}', 'running', 3, '{started}', 'dead-host:1')"
    ));
    // Within the lease: still someone else's run, nothing happens to it.
    let clock = ManualClock::at(t("2026-11-02T02:00:30Z"));
    let r = runner(&fx, &fx.ledger, &clock, "a");
    let done = r.tick().unwrap();
    assert!(!done.iter().any(|x| x.job == "verify-ledger"), "{done:?}");
    assert_eq!(
        fx.query_text("SELECT status FROM job_runs WHERE run_key = 'verify-ledger:2026-11-02'"),
        "running"
    );
    // Past the lease: reclaimed and retried by the same tick.
    clock.set(t("2026-11-02T08:00:30Z"));
    let done = r.tick().unwrap();
    let v = done
        .iter()
        .find(|x| x.run_key == "verify-ledger:2026-11-02")
        .unwrap_or_else(|| panic!("not retried: {done:?}"));
    assert_eq!((v.status.as_str(), v.attempt), ("succeeded", 2), "{v}");
    assert_eq!(v.claimed_by, "a");
    let last = fx.query_text(
        "SELECT status || ' ' || error FROM job_runs WHERE run_key = 'verify-ledger:2026-11-01:manual-x'",
    );
    assert!(last.starts_with("failed abandoned: attempt 3"), "{last}");
    assert!(last.contains("dead-host:1"), "{last}");
    let leaves = fx.all_leaves();
    let abandoned: Vec<Value> = leaves
        .lines()
        .filter(|l| l.contains("\"job.abandoned\""))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(abandoned.len(), 2, "{leaves}");
    assert!(abandoned
        .iter()
        .all(|e| e["metadata"]["worker"] == "dead-host:1" && e["result"] == "failure"));
    // Reclaimed once: another tick does not log it again.
    clock.set(t("2026-11-02T08:05:30Z"));
    r.tick().unwrap();
    assert_eq!(fx.all_leaves().matches("\"job.abandoned\"").count(), 2);
});
