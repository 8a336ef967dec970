//! Integration tests of vouch-incidents, each on SQLite and PostgreSQL (`on_both!`):
//! seed 003's incident, the lifecycle and its conflicts, the timeline's time rules, the
//! response SLA (severity changes, late responses, the sweep, findings), automatic
//! incidents over ledger events and check results (one open per rule and key, also
//! under concurrency), history and the period report. Time is passed in explicitly
//! (`now`), so the SLA is tested without waiting.

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use vouch_config::Config;
use vouch_incidents::{self as inc, IncidentError, NewIncident, Update};
use vouch_ledger::{Keys, Ledger};
use vouch_store::Store;
use vouch_test_support::{pg_url, Kind, PgSchema};

struct Fx {
    _dir: tempfile::TempDir,
    config: Config,
    store: Store,
    ledger: Ledger,
    // Dropped last, after the ledger's connections.
    _schema: Option<PgSchema>,
}

const RULES: &str = r#"
[[incidents.rule]]
id = "login-burst"
on = "events"
action = "login"
result = "failure"
more_than = 5
within = "10m"
per = "ip"
severity = "high"

[[incidents.rule]]
id = "security-failure"
on = "events"
category = "security"
result = "failure"
severity = "medium"

[[incidents.rule]]
id = "failing-checks"
on = "checks"
severity = "high"
"#;

impl Fx {
    fn new(kind: Kind) -> Option<Fx> {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "{}\n{RULES}",
            vouch_config::template("Test Org", "test.example/vouch/audit")
        );
        std::fs::write(dir.path().join("vouch.toml"), text).unwrap();
        let mut config = Config::load(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let mut schema = None;
        if kind == Kind::Postgres {
            let url = pg_url()?;
            let s = PgSchema::new(&url, "vouch_incidents");
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
            _dir: dir,
            config,
            store,
            ledger,
            _schema: schema,
        })
    }

    fn seed_003(&self, now: DateTime<Utc>) -> inc::Incident {
        inc::open(
            &self.store,
            &self.ledger,
            &self.config,
            &seed(),
            "user:ops",
            now,
        )
        .unwrap()
    }

    fn update(
        &self,
        id: &str,
        u: Update,
        now: DateTime<Utc>,
    ) -> Result<inc::Incident, IncidentError> {
        inc::update(
            &self.store,
            &self.ledger,
            &self.config,
            id,
            &u,
            "user:ops",
            now,
        )
    }

    /// The ledger's incident events (actions), in order.
    fn incident_actions(&self) -> Vec<String> {
        self.store
            .query("SELECT leaf FROM ledger_entries ORDER BY seq", &[])
            .unwrap()
            .iter()
            .filter_map(|r| serde_json::from_str::<Value>(&r.text(0)).ok())
            .filter_map(|v| v["action"].as_str().map(str::to_string))
            .filter(|a| a.starts_with("incident."))
            .collect()
    }

    /// Append events (JSON) to the ledger and run the event rules on them at `now`.
    fn ingest(&self, events: Vec<Value>, now: DateTime<Utc>) -> Vec<inc::Incident> {
        let events: Vec<_> = events
            .into_iter()
            .map(|v| vouch_core::event::Event::from_value(v).unwrap())
            .collect();
        let fields: Vec<_> = events.iter().map(|e| e.fields().clone()).collect();
        self.ledger.append(events).unwrap();
        inc::auto::on_events(&self.store, &self.ledger, &self.config, &fields, now).unwrap()
    }
}

macro_rules! on_both {
    ($name:ident, |$fx:ident| $body:block) => {
        vouch_test_support::on_both!($name, |$fx: Fx = Fx::new| $body);
    };
}

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// Seed 003's incident body, field for field.
fn seed() -> NewIncident {
    NewIncident {
        title: "Suspicious login activity detected".into(),
        severity: "medium".into(),
        description: Some("Multiple failed login attempts from unusual location".into()),
        affected_systems: vec!["authentication".into()],
        detected_at: Some("2025-01-21T10:00:00Z".into()),
        detected_by: Some("automated_monitoring".into()),
    }
}

fn field_of(e: IncidentError) -> String {
    match e {
        IncidentError::Invalid { field, .. } => field,
        other => panic!("expected a bad value, got {other}"),
    }
}

fn login_failure(ip: &str, at: &str, k: usize) -> Value {
    json!({"action": "user.login", "category": "authentication", "result": "failure",
        "actor": {"id": format!("usr_{k}"), "ip": ip}, "timestamp": at})
}

on_both!(seed_003_incident_gets_its_deadline_from_detection, |fx| {
    let now = t("2025-01-21T10:05:00Z");
    let i = fx.seed_003(now);
    assert_eq!(i.status, "detected");
    assert_eq!(i.detected_at, "2025-01-21T10:00:00.000000Z");
    // Medium: 4 hours from detected_at, not from when it was logged.
    assert_eq!(i.response_deadline, "2025-01-21T14:00:00.000000Z");
    assert_eq!(i.sla.response_time_secs, 4 * 3600);
    assert_eq!(i.affected_systems, vec!["authentication"]);
    assert_eq!(i.detected_by, "automated_monitoring");
    assert_eq!(i.timeline.len(), 1);
    assert_eq!(i.timeline[0].kind, "detected");
    assert_eq!(inc::get(&fx.store, &i.id[..8]).unwrap(), i);
    assert_eq!(fx.incident_actions(), vec!["incident.opened"]);
    // Each default response time.
    for (sev, mins) in [("critical", 15), ("high", 60), ("low", 24 * 60)] {
        let n = NewIncident {
            severity: sev.into(),
            ..seed()
        };
        let i = inc::open(&fx.store, &fx.ledger, &fx.config, &n, "user:ops", now).unwrap();
        assert_eq!(
            i.response_deadline,
            vouch_core::event::format_timestamp(
                &(t("2025-01-21T10:00:00Z") + Duration::minutes(mins))
            )
        );
    }
    // Bad values name their field; nothing is written.
    let bad = |n: NewIncident| {
        field_of(inc::open(&fx.store, &fx.ledger, &fx.config, &n, "user:ops", now).unwrap_err())
    };
    assert_eq!(
        bad(NewIncident {
            severity: "urgent".into(),
            ..seed()
        }),
        "severity"
    );
    assert_eq!(
        bad(NewIncident {
            title: " ".into(),
            ..seed()
        }),
        "title"
    );
    assert_eq!(
        bad(NewIncident {
            detected_at: Some("yesterday".into()),
            ..seed()
        }),
        "detected_at"
    );
    assert_eq!(
        bad(NewIncident {
            detected_at: Some("2025-01-21T11:00:00Z".into()),
            ..seed()
        }),
        "detected_at"
    );
    assert_eq!(
        bad(NewIncident {
            affected_systems: vec!["".into()],
            ..seed()
        }),
        "affected_systems[0]"
    );
    assert_eq!(
        inc::list(&fx.store, &inc::Filter::default(), now)
            .unwrap()
            .len(),
        4
    );
});

on_both!(lifecycle_moves_in_order_and_refuses_the_rest, |fx| {
    let now = t("2025-01-21T10:05:00Z");
    let i = fx.seed_003(now);
    let state = |s: &str| Update {
        state: Some(s.into()),
        ..Default::default()
    };
    // Triage needs a responder.
    assert_eq!(
        field_of(fx.update(&i.id, state("triaged"), now).unwrap_err()),
        "assignee"
    );
    // Skipping steps is a conflict naming from and to.
    match fx.update(&i.id, state("contained"), now).unwrap_err() {
        IncidentError::Transition { from, to, .. } => {
            assert_eq!((from.as_str(), to.as_str()), ("detected", "contained"))
        }
        other => panic!("{other}"),
    }
    let i = fx
        .update(
            &i.id,
            Update {
                state: Some("triaged".into()),
                assignee: Some("grace".into()),
                ..Default::default()
            },
            t("2025-01-21T10:20:00Z"),
        )
        .unwrap();
    assert_eq!(i.status, "triaged");
    assert_eq!(
        i.sla.responded_at.as_deref(),
        Some("2025-01-21T10:20:00.000000Z")
    );
    assert_eq!(i.sla.response_secs, Some(20 * 60));
    assert!(!i.breached(t("2025-01-22T00:00:00Z")));
    let kinds: Vec<&str> = i.timeline.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["detected", "assignee", "state"]);
    for s in ["contained", "eradicated", "recovered"] {
        fx.update(&i.id, state(s), t("2025-01-21T11:00:00Z"))
            .unwrap();
    }
    // Closing needs the lessons-learned review.
    assert_eq!(
        field_of(
            fx.update(&i.id, state("closed"), t("2025-01-21T12:00:00Z"))
                .unwrap_err()
        ),
        "lessons_learned"
    );
    let closed = fx
        .update(
            &i.id,
            Update {
                state: Some("closed".into()),
                lessons_learned: Some("Rate-limit logins per address".into()),
                ..Default::default()
            },
            t("2025-01-21T12:00:00Z"),
        )
        .unwrap();
    assert_eq!(closed.status, "closed");
    assert_eq!(
        closed.ended_at.as_deref(),
        Some("2025-01-21T12:00:00.000000Z")
    );
    // Over is over.
    assert!(matches!(
        fx.update(&i.id, state("triaged"), t("2025-01-21T12:01:00Z")),
        Err(IncidentError::Transition { .. })
    ));
    // …but a note is still added, as a PATCH carrying only a note (the trial got 409
    // "cannot go from closed to closed"); a note with a change is still refused.
    let noted = fx
        .update(
            &i.id,
            Update {
                note: Some("post-incident review held".into()),
                ..Default::default()
            },
            t("2025-01-21T12:02:00Z"),
        )
        .unwrap();
    assert_eq!(noted.status, "closed");
    assert_eq!(
        noted.timeline.last().unwrap().text,
        "post-incident review held"
    );
    // Any other change names the field that cannot change (not "closed to closed").
    for (u, want) in [
        (
            Update {
                note: Some("x".into()),
                severity: Some("low".into()),
                ..Default::default()
            },
            "severity",
        ),
        (
            Update {
                assignee: Some("bob".into()),
                ..Default::default()
            },
            "assignee",
        ),
        (
            Update {
                state: Some("closed".into()),
                lessons_learned: Some("again".into()),
                ..Default::default()
            },
            "lessons_learned",
        ),
    ] {
        match fx.update(&i.id, u, t("2025-01-21T12:03:00Z")) {
            Err(e @ IncidentError::Ended { .. }) => {
                let IncidentError::Ended { field, status, .. } = &e else {
                    unreachable!()
                };
                assert_eq!((field.as_str(), status.as_str()), (want, "closed"));
                assert!(
                    e.to_string()
                        .contains(&format!("its {want} can no longer change")),
                    "{e}"
                );
                assert!(!e.to_string().contains("closed to closed"), "{e}");
            }
            other => panic!("{want}: {other:?}"),
        }
    }
    // Dismissal needs a reason.
    let d = fx.seed_003(now);
    assert_eq!(
        field_of(fx.update(&d.id, state("dismissed"), now).unwrap_err()),
        "reason"
    );
    let d = fx
        .update(
            &d.id,
            Update {
                state: Some("dismissed".into()),
                reason: Some("a pen test we scheduled".into()),
                ..Default::default()
            },
            now,
        )
        .unwrap();
    assert_eq!(
        d.dismissal_reason.as_deref(),
        Some("a pen test we scheduled")
    );
    // Every change is a ledger event.
    assert_eq!(
        fx.incident_actions(),
        [
            "incident.opened",
            "incident.triaged",
            "incident.updated",
            "incident.updated",
            "incident.updated",
            "incident.closed",
            "incident.noted",
            "incident.opened",
            "incident.dismissed"
        ]
    );
    // History: the incident as it stood before it was closed.
    let before = inc::as_of(&fx.store, "2025-01-21T11:59:59.000000Z").unwrap();
    let first = before.iter().find(|x| x.id == i.id).unwrap();
    assert_eq!(first.status, "recovered");
    assert_eq!(inc::get(&fx.store, &i.id).unwrap().status, "closed");
});

on_both!(
    timeline_entries_are_neither_future_nor_before_detection,
    |fx| {
        let now = t("2025-01-21T10:30:00Z");
        let i = fx.seed_003(now);
        let note = |text: &str, at: Option<&str>| {
            inc::note(
                &fx.store, &fx.ledger, &fx.config, &i.id, text, at, "user:ops", now,
            )
        };
        assert_eq!(
            field_of(note("too early", Some("2025-01-21T09:59:59Z")).unwrap_err()),
            "at"
        );
        assert_eq!(
            field_of(note("too late", Some("2025-01-21T10:30:01Z")).unwrap_err()),
            "at"
        );
        assert_eq!(field_of(note("", None).unwrap_err()), "text");
        let n = note(
            "Blocked the address at the WAF",
            Some("2025-01-21T10:10:00Z"),
        )
        .unwrap();
        let e = n.timeline.last().unwrap();
        assert_eq!(e.at, "2025-01-21T10:10:00.000000Z");
        assert_eq!(e.recorded_at, "2025-01-21T10:30:00.000000Z");
        assert_eq!(e.by, "user:ops");
        assert_eq!(n.version, 2);
        assert_eq!(fx.incident_actions(), ["incident.opened", "incident.noted"]);
    }
);

on_both!(
    severity_change_restarts_the_clock_and_a_breach_opens_a_finding,
    |fx| {
        let i = fx.seed_003(t("2025-01-21T10:05:00Z"));
        // Escalated to critical at 10:30: due 15 minutes from the change.
        let i = fx
            .update(
                &i.id,
                Update {
                    severity: Some("critical".into()),
                    ..Default::default()
                },
                t("2025-01-21T10:30:00Z"),
            )
            .unwrap();
        assert_eq!(i.response_deadline, "2025-01-21T10:45:00.000000Z");
        assert_eq!(i.sla.severity, "critical");
        assert_eq!(i.timeline.last().unwrap().kind, "severity");
        assert_eq!(i.timeline.last().unwrap().from.as_deref(), Some("medium"));
        assert!(
            inc::sweep(&fx.store, &fx.ledger, &fx.config, t("2025-01-21T10:44:59Z"))
                .unwrap()
                .is_empty()
        );
        assert_eq!(inc::counts(&fx.store).unwrap().1, 0);
        let breached =
            inc::sweep(&fx.store, &fx.ledger, &fx.config, t("2025-01-21T10:46:00Z")).unwrap();
        assert_eq!(breached.len(), 1);
        let b = &breached[0];
        assert_eq!(
            b.sla.breached_at.as_deref(),
            Some("2025-01-21T10:45:00.000000Z")
        );
        assert_eq!(b.timeline.last().unwrap().kind, "sla_breached");
        // The finding against the incident-response control.
        let findings = vouch_checks::findings::list(&fx.store, Some("open")).unwrap();
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0]["source"], "incident");
        assert_eq!(findings[0]["incident_id"], json!(i.id));
        assert_eq!(findings[0]["controls"], json!(["CC7.4"]));
        assert_eq!(findings[0]["id"], json!(b.sla.finding_id));
        // Idempotent: the next sweep records nothing more.
        assert!(
            inc::sweep(&fx.store, &fx.ledger, &fx.config, t("2025-01-21T11:00:00Z"))
                .unwrap()
                .is_empty()
        );
        assert_eq!(inc::counts(&fx.store).unwrap().1, 1);
        // A downgrade after the breach does not move the deadline: the breach stands.
        let after = fx
            .update(
                &i.id,
                Update {
                    severity: Some("low".into()),
                    ..Default::default()
                },
                t("2025-01-21T11:05:00Z"),
            )
            .unwrap();
        assert_eq!(after.response_deadline, "2025-01-21T10:45:00.000000Z");
        assert!(after.breached(t("2025-01-21T11:05:00Z")));
        let (open, _) = inc::counts(&fx.store).unwrap();
        assert_eq!(open.iter().find(|(s, _)| s == "low").unwrap().1, 1);
        let breached_only = inc::list(
            &fx.store,
            &inc::Filter {
                breached: Some(true),
                ..Default::default()
            },
            t("2025-01-21T11:06:00Z"),
        )
        .unwrap();
        assert_eq!(breached_only.len(), 1);
    }
);

on_both!(a_late_response_is_a_breach_recorded_at_the_deadline, |fx| {
    let n = NewIncident {
        severity: "high".into(),
        ..seed()
    };
    let i = inc::open(
        &fx.store,
        &fx.ledger,
        &fx.config,
        &n,
        "user:ops",
        t("2025-01-21T10:01:00Z"),
    )
    .unwrap();
    // Before the deadline, reads say pending, not breached.
    assert!(!i.breached(t("2025-01-21T10:59:00Z")));
    assert!(i.breached(t("2025-01-21T11:00:01Z")));
    let late = fx
        .update(
            &i.id,
            Update {
                state: Some("triaged".into()),
                assignee: Some("grace".into()),
                ..Default::default()
            },
            t("2025-01-21T11:30:00Z"),
        )
        .unwrap();
    assert_eq!(
        late.sla.breached_at.as_deref(),
        Some("2025-01-21T11:00:00.000000Z")
    );
    assert_eq!(late.status, "triaged");
    assert!(late.sla.finding_id.is_some());
    // The breach entry was recorded before the late triage (when it happened).
    let kinds: Vec<&str> = late.timeline.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["detected", "sla_breached", "assignee", "state"]);
    let q = vouch_core::period::Period::parse("2025-01", t("2025-02-02T00:00:00Z")).unwrap();
    let r = inc::period_report(&fx.store, &fx.config, &q, Utc::now()).unwrap();
    let high = r.by_severity.iter().find(|s| s.severity == "high").unwrap();
    assert_eq!(
        (high.total, high.met, high.breached, high.open),
        (1, 0, 1, 1)
    );
    assert_eq!(high.mean_response_secs, Some(90 * 60));
    assert_eq!(high.met_ratio, Some(0.0));
    assert_eq!(r.incidents.len(), 1);
    assert_eq!(r.incidents[0]["breached"], true);
    let other = vouch_core::period::Period::parse("2025-02", t("2025-03-02T00:00:00Z")).unwrap();
    assert!(
        inc::period_report(&fx.store, &fx.config, &other, Utc::now())
            .unwrap()
            .incidents
            .is_empty()
    );
});

on_both!(a_login_burst_opens_one_incident_per_address, |fx| {
    let now = t("2026-09-10T12:10:00Z");
    let burst = |ip: &str, from: usize, n: usize| -> Vec<Value> {
        (from..from + n)
            .map(|k| login_failure(ip, &format!("2026-09-10T12:{:02}:00Z", k), k))
            .collect()
    };
    // Five failures: not more than five.
    assert!(fx.ingest(burst("198.51.100.7", 0, 5), now).is_empty());
    // Successes and other addresses do not count.
    let mut other = burst("198.51.100.8", 5, 3);
    other.push(
        json!({"action": "user.login", "category": "authentication", "result": "success",
        "actor": {"id": "usr_x", "ip": "198.51.100.7"}, "timestamp": "2026-09-10T12:05:30Z"}),
    );
    assert!(fx.ingest(other, now).is_empty());
    // The sixth, in another request, within ten minutes: the burst spans requests.
    let opened = fx.ingest(burst("198.51.100.7", 5, 1), now);
    assert_eq!(opened.len(), 1, "{opened:?}");
    let i = &opened[0];
    assert_eq!(i.source, "rule");
    assert_eq!(i.severity, "high");
    let trig = i.trigger.as_ref().unwrap();
    assert_eq!(
        (trig.rule.as_str(), trig.key.as_str(), trig.count),
        ("login-burst", "198.51.100.7", 6)
    );
    assert_eq!(i.detected_at, "2026-09-10T12:10:00.000000Z");
    assert_eq!(i.response_deadline, "2026-09-10T13:10:00.000000Z");
    // More failures while it is open: no second incident for that address.
    assert!(fx.ingest(burst("198.51.100.7", 6, 4), now).is_empty());
    // Outside the window, the earlier ones no longer count.
    assert!(fx
        .ingest(
            vec![login_failure("198.51.100.8", "2026-09-10T12:30:00Z", 30)],
            now
        )
        .is_empty());
    // Once it is over, a new burst opens a new one.
    fx.update(
        &i.id,
        Update {
            state: Some("dismissed".into()),
            reason: Some("our own load test".into()),
            ..Default::default()
        },
        now,
    )
    .unwrap();
    let again = fx.ingest(burst("198.51.100.7", 11, 1), now);
    assert_eq!(again.len(), 1);
    assert_ne!(again[0].id, i.id);
    // The `security` + `failure` rule: any such event (one open incident, no key).
    let sec = |k: usize| {
        json!({"action": "waf.block", "category": "security", "result": "failure",
        "actor": {"id": "waf"}, "timestamp": format!("2026-09-10T12:{:02}:30Z", k)})
    };
    let opened = fx.ingest(vec![sec(1), sec(2)], now);
    assert_eq!(opened.len(), 1);
    assert_eq!(opened[0].trigger.as_ref().unwrap().count, 2);
    assert!(fx.ingest(vec![sec(3)], now).is_empty());
    // Switched off: nothing opens.
    let mut off = fx.config.clone();
    off.settings.incidents.auto_create = false;
    let events = vec![vouch_core::event::Event::from_value(sec(4)).unwrap()];
    let fields: Vec<_> = events.iter().map(|e| e.fields().clone()).collect();
    fx.ledger.append(events).unwrap();
    fx.update(
        &opened[0].id,
        Update {
            state: Some("dismissed".into()),
            reason: Some("test".into()),
            ..Default::default()
        },
        now,
    )
    .unwrap();
    assert!(
        inc::auto::on_events(&fx.store, &fx.ledger, &off, &fields, now)
            .unwrap()
            .is_empty()
    );
});

on_both!(concurrent_rule_matches_open_one_incident, |fx| {
    let now = t("2026-09-10T12:10:00Z");
    let ev = json!({"action": "waf.block", "category": "security", "result": "failure",
        "actor": {"id": "waf"}, "timestamp": "2026-09-10T12:00:00Z"});
    let events = vec![vouch_core::event::Event::from_value(ev).unwrap()];
    let fields: Vec<_> = events.iter().map(|e| e.fields().clone()).collect();
    fx.ledger.append(events).unwrap();
    let opened: usize = std::thread::scope(|s| {
        let hs: Vec<_> = (0..8)
            .map(|_| {
                s.spawn(|| {
                    inc::auto::on_events(&fx.store, &fx.ledger, &fx.config, &fields, now)
                        .unwrap()
                        .len()
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(opened, 1);
    assert_eq!(
        inc::list(&fx.store, &inc::Filter::default(), now)
            .unwrap()
            .len(),
        1
    );
    assert_eq!(fx.incident_actions(), ["incident.opened"]);
});

on_both!(a_failing_high_severity_check_opens_an_incident, |fx| {
    let now = t("2026-10-02T00:00:00Z");
    let result = |id: &str, severity: &str, status: &str| vouch_checks::results::CheckResult {
        check_id: id.into(),
        controls: vec![],
        definition_sha256: String::new(),
        evaluated_at: "2026-10-02T00:00:00.000000Z".into(),
        evidence: vec![],
        failing: vec![],
        failing_count: 1,
        id: format!("res-{id}"),
        kind: "empty".into(),
        ledger_seq: None,
        message: "1 row".into(),
        period: vouch_checks::results::ResultPeriod {
            end: "2026-10-01T00:00:00.000000Z".into(),
            label: "2026-09".into(),
            start: "2026-09-01T00:00:00.000000Z".into(),
        },
        reference_time: String::new(),
        severity: severity.into(),
        status: status.into(),
        switched_off: false,
        title: format!("check {id}"),
        vouch_version: String::new(),
    };
    let results = vec![
        result("rbac.direct", "high", "fail"),
        result("backups.fresh", "medium", "fail"),
        result("mfa.on", "critical", "pass"),
    ];
    let opened =
        inc::auto::on_check_results(&fx.store, &fx.ledger, &fx.config, &results, now).unwrap();
    assert_eq!(opened.len(), 1);
    assert_eq!(opened[0].trigger.as_ref().unwrap().key, "rbac.direct");
    // The same failure again: still one open incident for that check.
    assert!(
        inc::auto::on_check_results(&fx.store, &fx.ledger, &fx.config, &results, now)
            .unwrap()
            .is_empty()
    );
});

/// Rename a table (both databases): a way to make one write fail for real.
fn rename(fx: &Fx, from: &str, to: &str) {
    fx.store
        .write(&mut |sql| {
            sql.execute(&format!("ALTER TABLE {from} RENAME TO {to}"), &[])?;
            Ok(())
        })
        .unwrap();
}

// A close the ledger refuses is undone whole: the incident is open again AND holds its
// rule key again, so the rule does not open a second incident for the same address.
on_both!(a_refused_close_gives_the_rule_key_back, |fx| {
    let now = t("2026-09-10T12:10:00Z");
    let burst = |from: usize, n: usize| -> Vec<Value> {
        (from..from + n)
            .map(|k| login_failure("198.51.100.7", &format!("2026-09-10T12:{:02}:00Z", k), k))
            .collect()
    };
    let opened = fx.ingest(burst(0, 6), now);
    assert_eq!(opened.len(), 1);
    let i = &opened[0];
    let key = |fx: &Fx| {
        fx.store
            .query(
                "SELECT open_key FROM incidents WHERE id = $1",
                &[i.id.clone().into()],
            )
            .unwrap()[0]
            .opt_text(0)
    };
    assert_eq!(key(&fx).as_deref(), Some("login-burst:198.51.100.7"));
    rename(&fx, "ledger_entries", "ledger_entries_off");
    let refused = fx.update(
        &i.id,
        Update {
            state: Some("dismissed".into()),
            reason: Some("load test".into()),
            ..Default::default()
        },
        now,
    );
    rename(&fx, "ledger_entries_off", "ledger_entries");
    assert!(refused.is_err(), "{refused:?}");
    assert_eq!(inc::get(&fx.store, &i.id).unwrap().status, i.status);
    assert_eq!(key(&fx).as_deref(), Some("login-burst:198.51.100.7"));
    assert!(
        fx.ingest(burst(6, 1), now).is_empty(),
        "still open: no second incident"
    );
});

// A breach saved whose finding could not be opened is not left pointing at nothing: the
// next sweep opens the finding under the id the incident names.
on_both!(
    a_breach_finding_that_failed_is_opened_by_the_next_sweep,
    |fx| {
        let i = fx.seed_003(t("2025-01-21T10:01:00Z"));
        let late = t("2025-01-28T12:00:00Z");
        rename(&fx, "findings", "findings_off");
        let r = inc::sweep(&fx.store, &fx.ledger, &fx.config, late);
        rename(&fx, "findings_off", "findings");
        assert!(r.is_err(), "{r:?}");
        let b = inc::get(&fx.store, &i.id).unwrap();
        let f = b.sla.finding_id.clone().expect("breach recorded");
        let exists = |fx: &Fx| {
            !fx.store
                .query("SELECT 1 FROM findings WHERE id = $1", &[f.clone().into()])
                .unwrap()
                .is_empty()
        };
        assert!(!exists(&fx));
        inc::sweep(&fx.store, &fx.ledger, &fx.config, late).unwrap();
        assert!(
            exists(&fx),
            "the next sweep opens the finding the incident names"
        );
        inc::sweep(&fx.store, &fx.ledger, &fx.config, late).unwrap();
        let n = fx
            .store
            .query(
                "SELECT COUNT(*) FROM finding_history WHERE finding_id = $1",
                &[f.clone().into()],
            )
            .unwrap()[0]
            .int(0);
        assert_eq!(n, 1, "opened once");
    }
);

// A medium incident (due in four hours) triaged as high after its deadline: the breach
// is medium's (its four hours ran out), so the per-severity SLA rows count it under
// medium, the severity whose response time applied (the trial found it under high,
// beside a 60-minute SLA it never had).
on_both!(
    sla_rows_count_an_incident_under_the_severity_its_deadline_followed,
    |fx| {
        let i = inc::open(
            &fx.store,
            &fx.ledger,
            &fx.config,
            &seed(),
            "user:ops",
            t("2025-01-21T10:01:00Z"),
        )
        .unwrap();
        assert_eq!(i.severity, "medium");
        fx.update(
            &i.id,
            Update {
                state: Some("triaged".into()),
                severity: Some("high".into()),
                assignee: Some("grace".into()),
                ..Default::default()
            },
            t("2025-01-21T15:00:00Z"),
        )
        .unwrap();
        let q = vouch_core::period::Period::parse("2025-01", t("2025-02-02T00:00:00Z")).unwrap();
        let r = inc::period_report(&fx.store, &fx.config, &q, Utc::now()).unwrap();
        let row = |s: &str| {
            r.by_severity
                .iter()
                .find(|x| x.severity == s)
                .unwrap()
                .clone()
        };
        assert_eq!((row("medium").total, row("medium").breached), (1, 1));
        assert_eq!((row("high").total, row("high").breached), (0, 0));
        assert_eq!(r.incidents[0]["severity"], "high");
        assert_eq!(r.incidents[0]["sla"]["severity"], "medium");
    }
);
