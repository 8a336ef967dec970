//! Incidents through the orchestration layer, with the injectable clock: the SLA watch
//! on the scheduler's tick records a breach once (and its finding), and the packet of
//! the period lists the period's incidents with their SLA performance (JSON valid
//! against the schema, the PDF renders its incidents page).

use crate::common;

use chrono::{DateTime, Duration, Utc};
use vouch_core::period::Period;
use vouch_engine::incidents::{self as inc, NewIncident, Update};
use vouch_engine::jobs::{Clock, ManualClock, Runner};
use vouch_engine::packet::{self, Format, Request, JSON_FILE};

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn incident(severity: &str, detected: &str) -> NewIncident {
    NewIncident {
        title: format!("{severity} incident"),
        severity: severity.into(),
        description: None,
        affected_systems: vec!["api".into()],
        detected_at: Some(detected.into()),
        detected_by: Some("on-call".into()),
    }
}

on_both!(the_tick_records_a_breach_once, |fx| {
    let clock = ManualClock::at(t("2026-10-07T10:00:00Z"));
    let i = inc::open(
        &fx.store,
        &fx.ledger,
        &fx.config,
        &incident("critical", "2026-10-07T09:50:00Z"),
        "user:ops",
        clock.now(),
    )
    .unwrap();
    assert_eq!(i.response_deadline, "2026-10-07T10:05:00.000000Z");
    let runner = Runner {
        config: &fx.config,
        store: fx.store.clone(),
        keys: &fx.keys,
        ledger: &fx.ledger,
        clock: &clock,
        worker: "test".into(),
        max_attempts: 1,
        backoff: Duration::minutes(1),
        // No scheduled job is due in this test: only the SLA watch works.
        not_before: Some(t("2030-01-01T00:00:00Z")),
    };
    clock.set(t("2026-10-07T10:04:59Z"));
    runner.tick().unwrap();
    assert!(inc::get(&fx.store, &i.id)
        .unwrap()
        .sla
        .breached_at
        .is_none());
    clock.set(t("2026-10-07T10:05:30Z"));
    runner.tick().unwrap();
    let b = inc::get(&fx.store, &i.id).unwrap();
    assert_eq!(
        b.sla.breached_at.as_deref(),
        Some("2026-10-07T10:05:00.000000Z")
    );
    clock.set(t("2026-10-07T10:06:00Z"));
    runner.tick().unwrap();
    let open = vouch_engine::checks::findings::list(&fx.store, Some("open")).unwrap();
    assert_eq!(open.len(), 1, "one finding, however many ticks");
    assert_eq!(open[0]["incident_id"], serde_json::json!(i.id));
    assert_eq!(inc::counts(&fx.store).unwrap().1, 1);
});

on_both!(
    packets_list_the_periods_incidents_with_sla_performance,
    |fx| {
        fx.append_n(50); // September 2026
        let now = t("2026-09-20T12:00:00Z");
        let met = inc::open(
            &fx.store,
            &fx.ledger,
            &fx.config,
            &incident("high", "2026-09-20T11:30:00Z"),
            "user:ops",
            now,
        )
        .unwrap();
        inc::update(
            &fx.store,
            &fx.ledger,
            &fx.config,
            &met.id,
            &Update {
                state: Some("triaged".into()),
                assignee: Some("grace".into()),
                ..Default::default()
            },
            "user:ops",
            now,
        )
        .unwrap();
        inc::open(
            &fx.store,
            &fx.ledger,
            &fx.config,
            &incident("low", "2026-09-01T00:00:00Z"),
            "user:ops",
            now,
        )
        .unwrap();
        // Detected in October: not September's.
        inc::open(
            &fx.store,
            &fx.ledger,
            &fx.config,
            &incident("medium", "2026-10-01T00:00:00Z"),
            "user:ops",
            t("2026-10-01T00:10:00Z"),
        )
        .unwrap();
        let out = tempfile::tempdir().unwrap();
        let generated = t("2026-10-05T00:00:00Z");
        let w = packet::generate(
            &fx.config,
            &fx.keys,
            &fx.ledger,
            &Request {
                period: Period::parse("2026-09", generated).unwrap(),
                generated_at: Some(generated),
                format: Format::Both,
                out: out.path().join("p"),
                force: false,
            },
        )
        .unwrap();
        let path = w.dir.join(JSON_FILE);
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let incidents = v["incidents"].as_array().unwrap();
        assert_eq!(incidents.len(), 2, "{incidents:?}");
        let high = incidents.iter().find(|i| i["severity"] == "high").unwrap();
        assert_eq!(high["breached"], false);
        assert_eq!(high["response_secs"], 30 * 60);
        assert_eq!(high["assignee"], "grace");
        // The low one: detected 1 September, 24 hours, no response: breached as of generation.
        let low = incidents.iter().find(|i| i["severity"] == "low").unwrap();
        assert_eq!(low["breached"], true);
        let sla = v["summary"]["incident_sla"].as_array().unwrap();
        let row = |s: &str| sla.iter().find(|r| r["severity"] == s).unwrap().clone();
        assert_eq!(
            (row("high")["met"].clone(), row("high")["total"].clone()),
            (1.into(), 1.into())
        );
        assert_eq!(row("low")["breached"], 1);
        assert_eq!(row("medium")["total"], 0);
        common::schema_check(&path);
        assert!(w.dir.join("SOC2_Evidence.pdf").metadata().unwrap().len() > 1000);
        // The same packet again: the same bytes (incidents are read as of generation).
        let again = packet::generate(
            &fx.config,
            &fx.keys,
            &fx.ledger,
            &Request {
                period: Period::parse("2026-09", generated).unwrap(),
                generated_at: Some(generated),
                format: Format::Json,
                out: out.path().join("q"),
                force: false,
            },
        )
        .unwrap();
        assert_eq!(
            std::fs::read(&path).unwrap(),
            std::fs::read(again.dir.join(JSON_FILE)).unwrap()
        );
    }
);
