//! Evidence packets on both databases: determinism, reproduction, consistency between
//! consecutive packets, offline verification, and refusal of bad requests.

mod common;

use chrono::{TimeZone, Utc};
use serde_json::Value;
use vouch_core::period::Period;
use vouch_engine::packet::{self, verify, Format, Request, JSON_FILE};

fn at() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 5, 12, 0, 0).unwrap()
}

fn month(label: &str) -> Period {
    Period::parse(label, at()).unwrap()
}

fn make(fx: &common::Fx, period: &str, out: &std::path::Path) -> packet::Written {
    packet::generate(
        &fx.config,
        &fx.keys,
        &fx.ledger,
        &Request {
            period: month(period),
            generated_at: Some(at()),
            format: Format::Json,
            out: out.to_path_buf(),
            force: false,
        },
    )
    .unwrap()
}

on_both!(deterministic_and_reproducible, |fx| {
    fx.append_n(400); // September 2026
    let t = tempfile::tempdir().unwrap();
    let a = make(&fx, "2026-09", &t.path().join("a"));
    assert_eq!(a.events, 400);
    assert_eq!(a.overall_status, "pass");
    // The same data and generation time: the same bytes, wherever written.
    let _b = packet::generate(
        &fx.config,
        &fx.keys,
        &fx.ledger,
        &Request {
            period: month("2026-09"),
            generated_at: Some(at()),
            format: Format::Json,
            out: t.path().join("b"),
            force: false,
        },
    )
    .unwrap();
    let bytes = |d: &str| std::fs::read(t.path().join(d).join(JSON_FILE)).unwrap();
    assert_eq!(bytes("a"), bytes("b"));
    assert_eq!(
        std::fs::read(t.path().join("a/SOC2_Evidence.json.sig")).unwrap(),
        std::fs::read(t.path().join("b/SOC2_Evidence.json.sig")).unwrap()
    );
    let r = packet::reproduce(&fx.config, &fx.ledger, &t.path().join("a").join(JSON_FILE)).unwrap();
    assert!(r[0].identical, "{r:?}");
    // A late event stamped inside the period changes what the store says about it.
    fx.ledger.append(vec![common::event(serde_json::json!({"timestamp": "2026-09-15T00:00:00Z", "action": "late", "category": "system", "result": "success"}))]).unwrap();
    let r = packet::reproduce(&fx.config, &fx.ledger, &t.path().join("a").join(JSON_FILE)).unwrap();
    assert!(!r[0].identical);
    let diff = r[0].difference.clone().unwrap();
    assert!(
        diff.starts_with("$.") && diff.contains("stored") && diff.contains("regenerated"),
        "{diff}"
    );
});

on_both!(consecutive_packets_prove_consistency, |fx| {
    let mut gen = vouch_engine::demo::Generator::new(3, 10);
    for (s, e) in [((2026, 8, 1), (2026, 9, 1)), ((2026, 9, 1), (2026, 10, 1))] {
        let evs = gen.span(
            vouch_engine::demo::day(s.0, s.1, s.2),
            vouch_engine::demo::day(e.0, e.1, e.2),
            300,
        );
        fx.ledger.append(evs).unwrap();
    }
    let t = tempfile::tempdir().unwrap();
    let aug = make(&fx, "2026-08", &t.path().join("aug"));
    let sep = make(&fx, "2026-09", &t.path().join("sep"));
    assert_eq!((aug.checkpoint_size, sep.checkpoint_size), (300, 600));
    let v: Value =
        serde_json::from_slice(&std::fs::read(t.path().join("sep").join(JSON_FILE)).unwrap())
            .unwrap();
    assert_eq!(v["ledger"]["previous"]["checkpoint"]["size"], 300);
    assert_eq!(v["ledger"]["previous"]["period"], "2026-08");
    let steps = verify::verify(
        &[t.path().join("aug"), t.path().join("sep")],
        &verify::Options {
            known_keys: vec![fx.keys.signing_public_pem()],
            ..Default::default()
        },
    );
    assert!(steps.iter().all(|s| s.ok), "{steps:#?}");
    assert!(steps
        .iter()
        .any(|s| s.check.contains("consistency with the previous packet")));
    assert!(steps
        .iter()
        .any(|s| s.check == "packet 2026-09 follows packet 2026-08" && s.ok));

    // A changed export file, and a changed packet byte, are both named.
    let export = t.path().join("sep/audit-log-2026-09.ndjson");
    let mut text = std::fs::read_to_string(&export).unwrap();
    text = text.replacen("\"result\":\"success\"", "\"result\":\"failure\"", 1);
    std::fs::write(&export, text).unwrap();
    let steps = verify::verify(&[t.path().join("sep")], &verify::Options::default());
    let bad: Vec<_> = steps.iter().filter(|s| !s.ok).collect();
    assert_eq!(bad.len(), 1, "{steps:#?}");
    assert!(bad[0].check.ends_with("audit-log-2026-09.ndjson: sha256"));
    let json = t.path().join("sep").join(JSON_FILE);
    let mut bytes = std::fs::read(&json).unwrap();
    let i = bytes.iter().position(|&b| b == b'A').unwrap();
    bytes[i] = b'B';
    std::fs::write(&json, bytes).unwrap();
    let steps = verify::verify(&[t.path().join("sep")], &verify::Options::default());
    assert!(
        steps
            .iter()
            .any(|s| !s.ok && s.check.ends_with("SOC2_Evidence.json: signature")),
        "{steps:#?}"
    );
});

on_both!(a_broken_ledger_makes_a_failing_packet, |fx| {
    fx.append_n(200);
    fx.exec("UPDATE ledger_entries SET leaf = replace(leaf, 'success', 'failure') WHERE seq = 50");
    let t = tempfile::tempdir().unwrap();
    let w = make(&fx, "2026-09", &t.path().join("p"));
    assert_eq!(w.overall_status, "fail");
    let steps = verify::verify(&[t.path().join("p")], &verify::Options::default());
    let bad = steps.iter().find(|s| !s.ok).unwrap();
    assert!(bad.detail.contains("broken ledger at entry 50"), "{bad:?}");
});

on_both!(bad_requests_write_nothing, |fx| {
    fx.append_n(50);
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("p");
    let req = |period: Period, force: bool| Request {
        period,
        generated_at: Some(at()),
        format: Format::Json,
        out: out.clone(),
        force,
    };
    let e = packet::generate(
        &fx.config,
        &fx.keys,
        &fx.ledger,
        &req(month("2026-12"), false),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("starts in the future"), "{e}");
    let e = packet::generate(
        &fx.config,
        &fx.keys,
        &fx.ledger,
        &req(month("2026-11"), false),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("has not ended yet"), "{e}");
    assert!(
        !out.exists(),
        "nothing may be written for a refused request"
    );
    packet::generate(
        &fx.config,
        &fx.keys,
        &fx.ledger,
        &req(month("2026-09"), false),
    )
    .unwrap();
    let before = std::fs::read(out.join(JSON_FILE)).unwrap();
    let e = packet::generate(
        &fx.config,
        &fx.keys,
        &fx.ledger,
        &req(month("2026-08"), false),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("already holds a packet") && e.contains("--force"),
        "{e}"
    );
    assert_eq!(std::fs::read(out.join(JSON_FILE)).unwrap(), before);
    packet::generate(
        &fx.config,
        &fx.keys,
        &fx.ledger,
        &req(month("2026-08"), true),
    )
    .unwrap();
    assert_ne!(std::fs::read(out.join(JSON_FILE)).unwrap(), before);
    let leftovers: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".vouch-packet"))
        .collect();
    assert!(leftovers.is_empty());
});
