//! The ledger on both databases: append, idempotency, group commit, proofs, exports,
//! and one test per kind of tampering, each done with plain SQL on the stored rows.

use crate::util;

use serde_json::json;
use sha2::{Digest, Sha256};
use vouch_core::merkle;
use vouch_core::note::{Checkpoint, NoteSigner};
use vouch_ledger::{BreakReason, LedgerError, VerifyOptions};

const N: usize = 600;

fn leaf_hash_of(text: &str) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(text.as_bytes());
    h.finalize().to_vec()
}

on_both!(append_checkpoint_verify, |fx| {
    let seqs = fx.append_n(N);
    assert_eq!(seqs, (0..N as u64).collect::<Vec<_>>());
    let cp = fx.ledger.checkpoint().unwrap();
    assert_eq!(cp.size, N as u64);
    let r = fx.verify();
    assert!(r.valid, "{r:?}");
    assert_eq!(
        (r.broken_at, r.checked, r.tree_size),
        (None, N as u64, N as u64)
    );
    assert_eq!(r.root, cp.root);
    let opened = Checkpoint::open(&cp.note, &fx.keys.log_verifier()).unwrap();
    assert_eq!(opened.size, N as u64);
    // A second handle (another process) sees and extends the same ledger.
    let other = fx.reopen();
    let more = other.append(vec![util::event(json!({"timestamp": "2026-10-02T00:00:00Z", "action": "x", "category": "system", "result": "success"}))]).unwrap();
    assert_eq!(more.seqs, vec![N as u64]);
    assert!(fx.verify().valid);
});

on_both!(idempotent_by_id, |fx| {
    let ev = json!({"id": "0190a0a0-0000-7000-8000-0000000000aa", "timestamp": "2026-10-01T10:00:00Z", "action": "user.login", "category": "authentication", "result": "success"});
    fx.append_n(5);
    let first = fx.ledger.append(vec![util::event(ev.clone())]).unwrap();
    assert_eq!((first.seqs.clone(), first.new), (vec![5], 1));
    let again = fx.ledger.append(vec![util::event(ev.clone())]).unwrap();
    assert_eq!((again.seqs, again.new, again.tree_size), (vec![5], 0, 6));
    // Same id within one batch, same content: one entry.
    let twice = fx
        .ledger
        .append(vec![util::event(ev.clone()), util::event(ev.clone())])
        .unwrap();
    assert_eq!(twice.seqs, vec![5, 5]);
    // Same id, different content: an error, and nothing of that batch is written.
    let mut changed = ev.clone();
    changed["result"] = json!("failure");
    let batch = vec![
        util::event(
            json!({"timestamp": "2026-10-01T11:00:00Z", "action": "a", "category": "system", "result": "success"}),
        ),
        util::event(changed),
    ];
    match fx.ledger.append(batch) {
        Err(LedgerError::Conflict { seq, .. }) => assert_eq!(seq, 5),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(fx.store.head().unwrap().size, 6);
    assert!(fx.verify().valid);
});

on_both!(concurrent_single_appenders_are_gathered, |fx| {
    let threads = 32;
    let per = 20;
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let ledger = if t % 2 == 0 { fx.ledger.clone() } else { fx.reopen() };
            std::thread::spawn(move || {
                (0..per)
                    .map(|i| {
                        let e = util::event(json!({"timestamp": format!("2026-10-01T10:{:02}:{:02}Z", t, i), "action": "ping", "category": "system", "result": "success"}));
                        ledger.append(vec![e]).unwrap().seqs[0]
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut all: Vec<u64> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    all.sort();
    assert_eq!(all, (0..(threads * per) as u64).collect::<Vec<_>>());
    fx.ledger.checkpoint().unwrap();
    let r = fx.verify();
    assert!(r.valid, "{r:?}");
});

on_both!(proofs_verify_and_cost_log_n_reads, |fx| {
    fx.append_n(N);
    let cp = fx.ledger.checkpoint().unwrap();
    let verifier = fx.keys.log_verifier();
    for index in [0u64, 1, 255, 256, 257, 511, 599] {
        for size in [index + 1, 300.max(index + 1), N as u64] {
            let text = fx.ledger.inclusion_proof(index, Some(size)).unwrap();
            let (i, c) = vouch_ledger::verify_proof_file(&text, &verifier, None).unwrap();
            assert_eq!((i, c.size), (index, size));
            // A proof for the wrong leaf does not verify.
            let other = fx.store.leaf((index + 1) % N as u64).unwrap().unwrap();
            assert!(
                vouch_ledger::verify_proof_file(&text, &verifier, Some(other.as_bytes())).is_err()
            );
        }
    }
    for (a, b) in [
        (0u64, 600u64),
        (1, 600),
        (255, 257),
        (256, 512),
        (300, 600),
        (600, 600),
    ] {
        let p = fx.ledger.consistency_proof(a, b).unwrap();
        let proof: Vec<_> = p
            .proof
            .iter()
            .map(|h| vouch_core::unb64_hash(h).unwrap())
            .collect();
        let old = vouch_core::unb64_hash(&p.from_root).unwrap();
        let new = vouch_core::unb64_hash(&p.to_root).unwrap();
        assert!(
            merkle::verify_consistency(a, b, &proof, &old, &new),
            "{a}..{b}"
        );
        assert_eq!(
            Checkpoint::open(&p.to_checkpoint, &verifier).unwrap().root,
            new
        );
    }
    assert_eq!(
        vouch_ledger::root_at(&fx.store, N as u64).unwrap().to_vec(),
        vouch_core::unb64(&cp.root).unwrap()
    );
    // Storage reads per proof grow with log n, not n.
    let mut src = vouch_ledger::StoreNodes {
        store: &fx.store,
        reads: 0,
    };
    merkle::inclusion_proof(&mut src, 3, N as u64).unwrap();
    assert!(src.reads <= 2 * 10, "{} reads", src.reads);
});

on_both!(export_lines_are_leaves, |fx| {
    fx.append_n(N);
    let period =
        vouch_core::period::Period::parse("2026-09-10..2026-09-20", chrono::Utc::now()).unwrap();
    let mut out = Vec::new();
    let n = fx.ledger.export(&period, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(text.lines().count() as u64, n);
    assert!(n > 100 && n < N as u64, "{n}");
    let mut last = None;
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let seq = v["seq"].as_u64().unwrap();
        assert!(last.is_none_or(|l| seq > l), "sequence order");
        last = Some(seq);
        let ts = vouch_core::period::parse_instant(v["timestamp"].as_str().unwrap()).unwrap();
        assert!(period.contains(ts));
        // Each line is exactly the leaf whose hash is in the tree.
        let hashes = fx.store.leaf_hashes(seq, seq + 1).unwrap();
        assert_eq!(leaf_hash_of(line), hashes[0].to_vec());
    }
});

// ---- tampering: one test per case, each must report the exact broken_at ----

fn broken(fx: &util::Fx) -> (Option<u64>, String) {
    let r = fx.verify();
    assert!(!r.valid, "tampering went unnoticed: {r:?}");
    // The text in reports is the reason's Display, so the two never disagree.
    let reason = r
        .break_reason
        .clone()
        .expect("a broken report carries its reason");
    assert_eq!(r.reason.as_deref(), Some(reason.to_string().as_str()));
    (r.broken_at, r.reason.unwrap_or_default())
}

/// The reason verification gives, as a value (docs/verification.md's table, by case).
fn reason(fx: &util::Fx) -> BreakReason {
    fx.verify().break_reason.expect("broken")
}

fn setup(fx: &util::Fx) {
    fx.append_n(N);
    fx.ledger.checkpoint().unwrap();
    assert!(fx.verify().valid);
}

on_both!(tamper_changed_field, |fx| {
    setup(&fx);
    fx.exec("UPDATE ledger_entries SET leaf = replace(leaf, '\"result\":\"success\"', '\"result\":\"failure\"') WHERE seq = 123");
    assert!(fx
        .query_text("SELECT leaf FROM ledger_entries WHERE seq = 123")
        .contains("failure"));
    assert_eq!(broken(&fx).0, Some(123));
    assert_eq!(reason(&fx), BreakReason::LeafAltered { seq: 123 });
});

on_both!(tamper_changed_lookup_column, |fx| {
    setup(&fx);
    // Moving an event out of a period by editing only the lookup column is caught too.
    fx.exec("UPDATE ledger_entries SET ts = '2001-01-01T00:00:00.000000Z' WHERE seq = 321");
    assert_eq!(broken(&fx).0, Some(321));
    assert_eq!(reason(&fx), BreakReason::LookupColumns { seq: 321 });
});

on_both!(tamper_deleted_row, |fx| {
    setup(&fx);
    fx.exec("DELETE FROM ledger_entries WHERE seq = 77");
    let (at, why) = broken(&fx);
    assert_eq!(at, Some(77), "{why}");
    assert_eq!(reason(&fx), BreakReason::Missing { seq: 77, next: 78 });
});

on_both!(tamper_inserted_row, |fx| {
    setup(&fx);
    // Make room at 200 by shifting every later row up, then insert a forged row there.
    fx.exec("UPDATE ledger_entries SET seq = -(seq + 1) WHERE seq >= 200");
    fx.exec("UPDATE ledger_entries SET seq = -seq WHERE seq < 0");
    let leaf = r#"{"action":"role.assign","category":"authorization","id":"0190a0a0-0000-7000-8000-00000000dead","result":"success","retention":"security","seq":200,"timestamp":"2026-09-15T00:00:00.000000Z"}"#;
    fx.exec_blob(&format!("INSERT INTO ledger_entries (seq, id, ts, leaf, leaf_hash, chain) VALUES (200, '0190a0a0-0000-7000-8000-00000000dead', '2026-09-15T00:00:00.000000Z', '{leaf}', $1, $1)"), &leaf_hash_of(leaf));
    let (at, why) = broken(&fx);
    assert_eq!(at, Some(200), "{why}");
    assert_eq!(reason(&fx), BreakReason::ChainBroken { seq: 200 });
});

on_both!(tamper_inserted_row_at_end, |fx| {
    setup(&fx);
    // A copy of row 5 with a fresh id, appended past the end with row 5's hashes.
    fx.exec(&format!("INSERT INTO ledger_entries (seq, id, ts, leaf, leaf_hash, chain) SELECT {N}, 'f' || id, ts, leaf, leaf_hash, chain FROM ledger_entries WHERE seq = 5"));
    let (at, why) = broken(&fx);
    assert_eq!(at, Some(N as u64), "{why}");
    assert_eq!(
        reason(&fx),
        BreakReason::Inserted {
            head_size: N as u64
        }
    );
});

on_both!(tamper_swapped_rows, |fx| {
    setup(&fx);
    fx.exec("UPDATE ledger_entries SET seq = -1 WHERE seq = 300");
    fx.exec("UPDATE ledger_entries SET seq = 300 WHERE seq = 301");
    fx.exec("UPDATE ledger_entries SET seq = 301 WHERE seq = -1");
    let (at, why) = broken(&fx);
    assert_eq!(at, Some(300), "{why}");
    assert_eq!(reason(&fx), BreakReason::ChainBroken { seq: 300 });
});

on_both!(tamper_truncated_tail, |fx| {
    setup(&fx);
    // Cut the last 50 rows and make the head look consistent with the shorter log;
    // the signed checkpoint still covers all 600.
    fx.exec("DELETE FROM ledger_entries WHERE seq >= 550");
    fx.exec("UPDATE ledger_head SET size = 550");
    let (at, why) = broken(&fx);
    assert_eq!(at, Some(550), "{why}");
    assert!(
        matches!(
            reason(&fx),
            BreakReason::Truncated {
                entries: 550,
                prefix: false,
                ..
            }
        ),
        "{why}"
    );
});

on_both!(tamper_rewritten_with_recomputed_leaf_hash, |fx| {
    setup(&fx);
    let leaf = fx.query_text("SELECT leaf FROM ledger_entries WHERE seq = 42");
    let forged = leaf
        .replacen("\"category\":", "\"category\":\"system\",\"x\":", 0)
        .replace("\"result\":\"success\"", "\"result\":\"denied\"")
        .replace("\"result\":\"failure\"", "\"result\":\"denied\"");
    assert_ne!(forged, leaf);
    fx.exec(&format!(
        "UPDATE ledger_entries SET leaf = '{}' WHERE seq = 42",
        forged.replace('\'', "''")
    ));
    fx.exec_blob(
        "UPDATE ledger_entries SET leaf_hash = $1 WHERE seq = 42",
        &leaf_hash_of(&forged),
    );
    let (at, why) = broken(&fx);
    assert_eq!(at, Some(42), "{why}");
    assert!(why.contains("HMAC"), "{why}");
    assert_eq!(reason(&fx), BreakReason::ChainBroken { seq: 42 });
});

on_both!(tamper_altered_checkpoint, |fx| {
    setup(&fx);
    let note = fx.query_text(&format!(
        "SELECT note FROM ledger_checkpoints WHERE size = {N}"
    ));
    let lines: Vec<&str> = note.lines().collect();
    let altered = note.replace(lines[2], &vouch_core::b64(&[9u8; 32]));
    fx.exec(&format!(
        "UPDATE ledger_checkpoints SET note = '{altered}' WHERE size = {N}"
    ));
    let (at, why) = broken(&fx);
    assert_eq!(at, Some(N as u64 - 1), "{why}");
    assert!(
        matches!(reason(&fx), BreakReason::CheckpointSignature { size, .. } if size == N as u64),
        "{why}"
    );
});

on_both!(tamper_forged_checkpoint, |fx| {
    setup(&fx);
    // A checkpoint at size 300 signed by someone else's key under our log's name.
    let forger = NoteSigner::generate("test.example/vouch/audit").unwrap();
    let note = forger.sign(
        &Checkpoint {
            origin: "test.example/vouch/audit".into(),
            size: 300,
            root: [1u8; 32],
        }
        .body(),
    );
    fx.exec_blob(&format!("INSERT INTO ledger_checkpoints (size, root, note, created_at) VALUES (300, $1, '{note}', '2026-10-01T00:00:00.000000Z')"), &[1u8; 32]);
    let (at, why) = broken(&fx);
    assert_eq!(at, Some(299), "{why}");
    assert!(
        matches!(
            reason(&fx),
            BreakReason::CheckpointSignature { size: 300, .. }
        ),
        "{why}"
    );
});

on_both!(tamper_stored_tree_node, |fx| {
    setup(&fx);
    fx.exec_blob(
        "UPDATE ledger_nodes SET hash = $1 WHERE level = 8 AND idx = 1",
        &[7u8; 32],
    );
    let (at, why) = broken(&fx);
    assert_eq!(at, Some(256), "{why}");
    assert_eq!(reason(&fx), BreakReason::NodeWrong { level: 8, index: 1 });
    // And a proof through that node no longer verifies against the signed checkpoint.
    let text = fx.ledger.inclusion_proof(3, Some(N as u64)).unwrap();
    assert!(vouch_ledger::verify_proof_file(&text, &fx.keys.log_verifier(), None).is_err());
});

on_both!(trusted_checkpoint_catches_wholesale_rollback, |fx| {
    setup(&fx);
    let trusted = fx.ledger.latest_checkpoint().unwrap().unwrap().note;
    // An attacker removes the tail, every checkpoint and fixes the head: the database
    // alone looks consistent, the checkpoint kept elsewhere does not.
    let head_at_500 = {
        let mut f = merkle::Frontier::new();
        for h in fx.store.leaf_hashes(0, 500).unwrap() {
            f.push(h, |_| {});
        }
        f
    };
    fx.exec("DELETE FROM ledger_entries WHERE seq >= 500");
    fx.exec("DELETE FROM ledger_checkpoints");
    fx.exec("DELETE FROM ledger_nodes WHERE (idx + 1) * 256 > 500 AND level = 8");
    fx.exec("UPDATE ledger_head SET size = 500");
    fx.exec_blob(
        "UPDATE ledger_head SET frontier = $1",
        &head_at_500.to_bytes(),
    );
    fx.exec("UPDATE ledger_head SET chain = (SELECT chain FROM ledger_entries WHERE seq = 499)");
    // ...and the audit-log index and its daily counters, rebuilt to match.
    fx.exec("DELETE FROM audit_index WHERE seq >= 500");
    fx.exec("DELETE FROM audit_daily");
    fx.exec("INSERT INTO audit_daily (day, category, result, count, first_seq, last_seq) SELECT substr(ts, 1, 10), category, result, count(*), min(seq), max(seq) FROM audit_index GROUP BY 1, 2, 3");
    fx.exec("UPDATE audit_combo SET count = (SELECT count(*) FROM audit_index i WHERE i.combo = audit_combo.id)");
    fx.exec("DELETE FROM audit_actor_combo");
    fx.exec("INSERT INTO audit_actor_combo (actor_id, combo, count) SELECT actor_id, combo, count(*) FROM audit_index WHERE actor_id IS NOT NULL GROUP BY actor_id, combo");
    assert!(fx.verify().valid, "the rollback is consistent on its own");
    let r = fx
        .ledger
        .verify(&VerifyOptions {
            trusted_checkpoint: Some(trusted),
            up_to: None,
        })
        .unwrap();
    assert_eq!((r.valid, r.broken_at), (false, Some(500)), "{r:?}");
    assert!(
        matches!(
            r.break_reason,
            Some(BreakReason::Truncated { entries: 500, .. })
        ),
        "{r:?}"
    );
});

on_both!(
    checkpoints_follow_new_events_at_the_configured_interval,
    |fx| {
        let opts = vouch_ledger::LedgerOptions {
            checkpoint_interval: std::time::Duration::from_millis(700),
            max_batch: 10_000,
            ..Default::default()
        };
        let ledger = vouch_ledger::Ledger::open(fx.store.clone(), &fx.keys, opts);
        let ev = |i: u32| {
            util::event(
                json!({"timestamp": format!("2026-10-01T00:00:{:02}Z", i % 60), "action": "tick", "category": "system", "result": "success"}),
            )
        };
        ledger.append(vec![ev(1), ev(2)]).unwrap();
        assert!(
            ledger.latest_checkpoint().unwrap().is_none(),
            "not before the interval has passed"
        );
        std::thread::sleep(std::time::Duration::from_millis(1500));
        assert_eq!(
            ledger.latest_checkpoint().unwrap().map(|c| c.size),
            Some(2),
            "a checkpoint covers the new events"
        );
        // Nothing new: no new checkpoint.
        std::thread::sleep(std::time::Duration::from_millis(1000));
        let mut count = 0;
        fx.store
            .scan_checkpoints(&mut |_| {
                count += 1;
                Ok(true)
            })
            .unwrap();
        assert_eq!(count, 1);
        ledger.append(vec![ev(3)]).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1500));
        assert_eq!(ledger.latest_checkpoint().unwrap().map(|c| c.size), Some(3));
    }
);

// Verification while other writers append: entries committed after verification began
// are not part of it and must never look inserted (seen with the HTTP server's
// self-audit events arriving during a verify).
on_both!(verify_during_concurrent_appends, |fx| {
    fx.append_n(500);
    let writer = fx.reopen();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let s2 = stop.clone();
    let t = std::thread::spawn(move || {
        let mut n = 0;
        let mut round = 0;
        while !s2.load(std::sync::atomic::Ordering::SeqCst) {
            round += 1;
            writer.append(util::events(1000 + round, 20)).unwrap();
            n += 20;
        }
        n
    });
    for _ in 0..15 {
        let r = fx.ledger.verify(&Default::default()).unwrap();
        assert!(r.valid, "{r:?}");
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(t.join().unwrap() > 0);
    assert!(fx.ledger.verify(&Default::default()).unwrap().valid);
});

// ---- the audit-log index (migration 0018): rows checked against leaves, counters
// recounted from the rows ----

on_both!(tamper_index_row_changed, |fx| {
    setup(&fx);
    // An actor hidden from the audit-log query by editing only its index row.
    fx.exec("UPDATE audit_index SET actor_id = 'usr_99' WHERE seq = 321");
    assert_eq!(broken(&fx).0, Some(321));
    assert_eq!(
        reason(&fx),
        BreakReason::IndexRow {
            seq: 321,
            missing: false
        }
    );
});

on_both!(tamper_index_row_timestamp, |fx| {
    setup(&fx);
    // Moving an event out of a date range in the index alone.
    fx.exec("UPDATE audit_index SET ts = '2001-01-01T00:00:00.000000Z' WHERE seq = 40");
    assert_eq!(
        reason(&fx),
        BreakReason::IndexRow {
            seq: 40,
            missing: false
        }
    );
});

on_both!(tamper_index_row_deleted, |fx| {
    setup(&fx);
    fx.exec("DELETE FROM audit_index WHERE seq = 100");
    assert_eq!(broken(&fx).0, Some(100));
    assert_eq!(
        reason(&fx),
        BreakReason::IndexRow {
            seq: 100,
            missing: true
        }
    );
});

on_both!(tamper_index_row_inserted, |fx| {
    setup(&fx);
    fx.exec("INSERT INTO audit_index (seq, action, category, result, ts) VALUES (5000, 'login', 'authentication', 'success', '2026-09-01T00:00:00.000000Z')");
    assert_eq!(reason(&fx), BreakReason::IndexExtra { seq: 5000 });
});

on_both!(tamper_daily_count, |fx| {
    setup(&fx);
    let day = fx.query_text("SELECT min(day) FROM audit_daily");
    fx.exec(&format!("UPDATE audit_daily SET count = count - 1 WHERE day = '{day}' AND category = 'authentication' AND result = 'success'"));
    let r = reason(&fx);
    match &r {
        BreakReason::DailyCount {
            day: d,
            category,
            result,
            stored,
            counted,
        } => {
            assert_eq!(
                (d.as_str(), category.as_str(), result.as_str()),
                (day.as_str(), "authentication", "success")
            );
            assert_eq!(*stored + 1, *counted);
        }
        other => panic!("expected a daily count break, got {other:?}"),
    }
    // A counter for a day with no events at all is caught too.
    fx.exec(&format!("UPDATE audit_daily SET count = count + 1 WHERE day = '{day}' AND category = 'authentication' AND result = 'success'"));
    assert!(fx.verify().valid);
    fx.exec("INSERT INTO audit_daily (day, category, result, count, first_seq, last_seq) VALUES ('1999-01-01', 'system', 'success', 3, 0, 2)");
    assert!(matches!(
        reason(&fx),
        BreakReason::DailyCount {
            stored: 3,
            counted: 0,
            ..
        }
    ));
});

on_both!(tamper_daily_seq_range, |fx| {
    setup(&fx);
    // Narrowing a day's seq range would hide its first event from date-range queries.
    let day = fx.query_text("SELECT min(day) FROM audit_daily WHERE count > 1");
    fx.exec(&format!(
        "UPDATE audit_daily SET first_seq = first_seq + 1 WHERE day = '{day}' AND count > 1"
    ));
    match reason(&fx) {
        BreakReason::DailySeqRange { day: d, .. } => assert_eq!(d, day),
        other => panic!("expected a daily seq range break, got {other:?}"),
    }
});

on_both!(index_rows_and_daily_counts_follow_appends, |fx| {
    setup(&fx);
    let events = util::events(7, N);
    // Every row says what its event says, and the counters add up to the events.
    let rows = fx
        .store
        .query("SELECT seq, organization_id, actor_id, action, resource_type, category, result, ts FROM audit_index ORDER BY seq", &[])
        .unwrap();
    assert_eq!(rows.len(), N);
    for (r, e) in rows.iter().zip(&events) {
        let f = e.fields();
        assert_eq!(r.opt_text(2).as_deref(), f["actor"]["id"].as_str());
        assert_eq!(r.text(3), e.action());
        assert_eq!(r.opt_text(4).as_deref(), f["resource"]["type"].as_str());
        assert_eq!(
            (r.text(5), r.text(6)),
            (e.category().to_string(), e.result().to_string())
        );
        assert_eq!(r.text(7), e.timestamp());
        assert_eq!(r.opt_text(1), None);
    }
    let daily = fx.store.daily_counts("2026-09-01", "2026-09-30").unwrap();
    assert_eq!(daily.iter().map(|d| d.count).sum::<u64>(), N as u64);
    let mut expected: std::collections::BTreeMap<(String, String, String), u64> =
        Default::default();
    for e in &events {
        *expected
            .entry((
                e.timestamp()[..10].to_string(),
                e.category().to_string(),
                e.result().to_string(),
            ))
            .or_default() += 1;
    }
    let got: std::collections::BTreeMap<_, _> = daily
        .iter()
        .map(|d| {
            (
                (d.day.clone(), d.category.clone(), d.result.clone()),
                d.count,
            )
        })
        .collect();
    assert_eq!(got, expected);
    // Bounds are inclusive days; outside them nothing.
    let one = fx.store.daily_counts("2026-09-02", "2026-09-02").unwrap();
    assert!(!one.is_empty() && one.iter().all(|d| d.day == "2026-09-02"));
    assert!(fx
        .store
        .daily_counts("2027-01-01", "2027-12-31")
        .unwrap()
        .is_empty());
    // A second append to the same days adds to the counters (upsert).
    fx.ledger.append(vec![util::event(json!({"timestamp": "2026-09-02T12:00:00Z", "action": "login", "category": "authentication", "result": "denied"}))]).unwrap();
    let again = fx.store.daily_counts("2026-09-02", "2026-09-02").unwrap();
    assert!(again.iter().any(|d| d.result == "denied" && d.count == 1));
    assert!(fx.verify().valid);
});

on_both!(index_backfilled_for_an_existing_ledger, |fx| {
    setup(&fx);
    // A ledger from before migration 0018, with an entry pruned by retention: drop what
    // 0018 made and forget that it ran, then reopen (which migrates).
    fx.exec("UPDATE ledger_entries SET leaf = '' WHERE seq = 5");
    fx.exec("INSERT INTO ledger_pruned (seq, run_id) VALUES (5, 'run-1')");
    // (Migration 0027 adds the combinations to the index table: it runs again too.)
    fx.exec("DROP TABLE audit_index; DROP TABLE audit_daily; DROP TABLE audit_index_floor; DROP TABLE audit_combo; DROP TABLE audit_actor_combo; DELETE FROM schema_migrations WHERE version IN (18, 27, 28)");
    let ledger = fx.reopen();
    let r = ledger.verify(&VerifyOptions::default()).unwrap();
    assert!(r.valid, "{r:?}");
    assert_eq!(
        fx.query_text("SELECT CAST(count(*) AS TEXT) FROM audit_index"),
        (N - 1).to_string()
    );
    let daily = fx.store.daily_counts("2026-01-01", "2026-12-31").unwrap();
    assert_eq!(daily.iter().map(|d| d.count).sum::<u64>(), N as u64 - 1);
    // The backfilled rows are checked like any other: tampering is caught.
    let action = fx.query_text("SELECT action FROM audit_index WHERE seq = 6");
    fx.exec("UPDATE audit_index SET action = 'nothing' WHERE seq = 6");
    assert_eq!(
        reason(&fx),
        BreakReason::IndexRow {
            seq: 6,
            missing: false
        }
    );
    fx.exec(&format!(
        "UPDATE audit_index SET action = '{action}' WHERE seq = 6"
    ));
    // New appends are indexed from the start; a later pruned entry keeps its row, and
    // deleting that row is caught (only entries pruned before the index may lack one).
    ledger.append(vec![util::event(json!({"timestamp": "2026-09-03T00:00:00Z", "action": "x", "category": "system", "result": "success"}))]).unwrap();
    fx.exec(&format!(
        "UPDATE ledger_entries SET leaf = '' WHERE seq = {N}"
    ));
    fx.exec(&format!(
        "INSERT INTO ledger_pruned (seq, run_id) VALUES ({N}, 'run-2')"
    ));
    assert!(fx.verify().valid, "{:?}", fx.verify());
    fx.exec(&format!("DELETE FROM audit_index WHERE seq = {N}"));
    assert_eq!(
        reason(&fx),
        BreakReason::IndexRow {
            seq: N as u64,
            missing: true
        }
    );
});

// ---- the audit-log combinations (migration 0027): counts kept by the sequencer, each
// index row naming its combination; recounted by verification ----

/// Every combination as (key fields, count), and the same recounted from the rows.
fn combos_and_recount(fx: &util::Fx) -> (String, String) {
    let stored = fx.query_text(
        "SELECT coalesce(string_agg(k, ';' ORDER BY k), '') FROM (SELECT coalesce(organization_id, '-') || '/' || action || '/' || coalesce(resource_type, '-') || '/' || category || '/' || result || '=' || count AS k FROM audit_combo) x",
    );
    let counted = fx.query_text(
        "SELECT coalesce(string_agg(k, ';' ORDER BY k), '') FROM (SELECT coalesce(organization_id, '-') || '/' || action || '/' || coalesce(resource_type, '-') || '/' || category || '/' || result || '=' || count(*) AS k FROM audit_index GROUP BY organization_id, action, resource_type, category, result) x",
    );
    (stored, counted)
}

/// Every actor's count per combination, and the same recounted from the rows.
fn actor_combos_and_recount(fx: &util::Fx) -> (String, String) {
    let stored = fx.query_text(
        "SELECT coalesce(string_agg(k, ';' ORDER BY k), '') FROM (SELECT a.actor_id || '/' || c.key || '=' || a.count AS k FROM audit_actor_combo a JOIN audit_combo c ON c.id = a.combo) x",
    );
    let counted = fx.query_text(
        "SELECT coalesce(string_agg(k, ';' ORDER BY k), '') FROM (SELECT i.actor_id || '/' || c.key || '=' || count(*) AS k FROM audit_index i JOIN audit_combo c ON c.id = i.combo WHERE i.actor_id IS NOT NULL GROUP BY i.actor_id, c.key) x",
    );
    (stored, counted)
}

on_both!(combinations_are_counted_by_the_sequencer, |fx| {
    setup(&fx);
    let (stored, counted) = combos_and_recount(&fx);
    assert!(stored.split(';').count() > 3, "{stored}");
    assert_eq!(stored, counted);
    // A second append to an existing combination adds to its count (one row each).
    let before = fx.query_text("SELECT CAST(count(*) AS TEXT) FROM audit_combo");
    for batch in util::events(8, 50).chunks(97) {
        fx.ledger.append(batch.to_vec()).unwrap();
    }
    assert_eq!(
        fx.query_text("SELECT CAST(count(*) AS TEXT) FROM audit_combo"),
        before
    );
    let (stored, counted) = combos_and_recount(&fx);
    assert_eq!(stored, counted);
    // Every row names the combination of its own fields.
    assert_eq!(
        fx.query_text("SELECT CAST(count(*) AS TEXT) FROM audit_index i JOIN audit_combo c ON c.id = i.combo WHERE c.action = i.action AND c.result = i.result"),
        (N + 50).to_string()
    );
    // Each actor's counts per combination too (migration 0028), across both appends.
    let (stored, counted) = actor_combos_and_recount(&fx);
    assert!(stored.split(';').count() > 3, "{stored}");
    assert_eq!(stored, counted);
    assert!(fx.verify().valid);
});

on_both!(tamper_actor_combination_count, |fx| {
    setup(&fx);
    // Lowering an actor's count would make the query answer "no events" for that actor
    // with those filters.
    let (actor, combo) = (
        fx.query_text("SELECT min(actor_id) FROM audit_actor_combo"),
        fx.query_text("SELECT CAST(min(combo) AS TEXT) FROM audit_actor_combo WHERE actor_id = (SELECT min(actor_id) FROM audit_actor_combo)"),
    );
    let first = fx.query_text(&format!(
        "SELECT CAST(min(seq) AS TEXT) FROM audit_index WHERE actor_id = '{actor}' AND combo = {combo}"
    ));
    fx.exec(&format!(
        "UPDATE audit_actor_combo SET count = count + 1 WHERE actor_id = '{actor}' AND combo = {combo}"
    ));
    let r = fx.verify();
    assert_eq!(r.broken_at, Some(first.parse().unwrap()), "{r:?}");
    match r.break_reason {
        Some(BreakReason::ActorComboCount {
            actor: a,
            combo: c,
            stored,
            counted,
        }) => {
            assert_eq!((a, c.to_string()), (actor.clone(), combo.clone()));
            assert_eq!(stored, counted + 1);
        }
        other => panic!("{other:?}"),
    }
    // Removed altogether.
    fx.exec(&format!(
        "DELETE FROM audit_actor_combo WHERE actor_id = '{actor}' AND combo = {combo}"
    ));
    assert!(matches!(
        reason(&fx),
        BreakReason::ActorComboCount { stored: 0, .. }
    ));
});

on_both!(tamper_combination_count, |fx| {
    setup(&fx);
    // Lowering a count would make the query answer "no events" for a filter pair.
    let id = fx.query_text("SELECT CAST(min(id) AS TEXT) FROM audit_combo");
    let first = fx.query_text(&format!(
        "SELECT CAST(min(seq) AS TEXT) FROM audit_index WHERE combo = {id}"
    ));
    fx.exec(&format!("UPDATE audit_combo SET count = 0 WHERE id = {id}"));
    let r = fx.verify();
    assert_eq!(r.broken_at, Some(first.parse().unwrap()), "{r:?}");
    assert!(
        matches!(
            r.break_reason,
            Some(BreakReason::ComboCount { stored: 0, .. })
        ),
        "{r:?}"
    );
    // Removing the combination altogether: its rows name nothing.
    fx.exec(&format!("DELETE FROM audit_combo WHERE id = {id}"));
    assert_eq!(
        reason(&fx),
        BreakReason::IndexCombo {
            seq: first.parse().unwrap()
        }
    );
});

on_both!(tamper_index_row_combination, |fx| {
    setup(&fx);
    // Moving a row to another combination hides it from that pair's queries.
    let other = fx.query_text(
        "SELECT CAST(min(c.id) AS TEXT) FROM audit_combo c, audit_index i WHERE i.seq = 77 AND c.id <> i.combo",
    );
    fx.exec(&format!(
        "UPDATE audit_index SET combo = {other} WHERE seq = 77"
    ));
    assert_eq!(reason(&fx), BreakReason::IndexCombo { seq: 77 });
});

on_both!(combinations_backfilled_for_an_existing_ledger, |fx| {
    setup(&fx);
    let (before, _) = combos_and_recount(&fx);
    let (actors_before, _) = actor_combos_and_recount(&fx);
    // A ledger from before migration 0027: drop what it made and forget that it ran,
    // then reopen (which migrates).
    fx.exec("DROP INDEX audit_index_combo");
    fx.exec("DROP INDEX IF EXISTS audit_index_actor_cover");
    fx.exec("DROP INDEX audit_index_actor_org");
    fx.exec("DROP TABLE audit_combo");
    fx.exec("DROP TABLE audit_actor_combo");
    fx.exec("DROP INDEX IF EXISTS audit_index_actor_combo");
    fx.exec("DROP INDEX IF EXISTS audit_daily_seqs");
    fx.exec("ALTER TABLE audit_index DROP COLUMN combo");
    fx.exec("DELETE FROM schema_migrations WHERE version IN (27, 28)");
    let ledger = fx.reopen();
    let r = ledger.verify(&VerifyOptions::default()).unwrap();
    assert!(r.valid, "{r:?}");
    let (after, counted) = combos_and_recount(&fx);
    assert_eq!(after, before);
    assert_eq!(after, counted);
    // The actors' counts are backfilled too (migration 0028), keyed by the new ids.
    let (actors_after, actors_counted) = actor_combos_and_recount(&fx);
    assert_eq!(actors_after, actors_before);
    assert_eq!(actors_after, actors_counted);
    // Each backfilled row names its own combination (not merely some combination).
    assert_eq!(
        fx.query_text("SELECT CAST(count(*) AS TEXT) FROM audit_index i JOIN audit_combo c ON c.id = i.combo WHERE c.action = i.action AND c.category = i.category AND c.result = i.result AND (c.organization_id = i.organization_id OR (c.organization_id IS NULL AND i.organization_id IS NULL))"),
        N.to_string()
    );
    // Appends after the migration find the backfilled combinations (same key).
    let combos = fx.query_text("SELECT CAST(count(*) AS TEXT) FROM audit_combo");
    for batch in util::events(9, 200).chunks(97) {
        ledger.append(batch.to_vec()).unwrap();
    }
    assert_eq!(
        fx.query_text("SELECT CAST(count(*) AS TEXT) FROM audit_combo"),
        combos
    );
    assert!(ledger.verify(&VerifyOptions::default()).unwrap().valid);
});
