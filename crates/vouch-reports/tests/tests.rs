//! vouch-reports' pure tests: request validation (every error names its field), the
//! default periods of seed 003's frequencies, labels and criteria resolution. Generation
//! against real databases is tested through the engine (`crates/vouch-engine/tests/
//! reports.rs`) and the HTTP API (`crates/vouch-server/tests/reports.rs`).

use chrono::{DateTime, Utc};
use serde_json::json;
use vouch_reports::{default_period, parse_request, resolve_criteria, Error};

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn field(body: serde_json::Value) -> String {
    match parse_request(&body, t("2026-11-29T06:00:00Z")) {
        Err(Error::Invalid { field, .. }) => field,
        other => panic!("{body}: {other:?}"),
    }
}

#[test]
fn seed_body_is_accepted_verbatim() {
    let body: serde_json::Value = serde_json::from_str(
        r#"{
  "report_type": "soc2",
  "period_start": "2025-01-01",
  "period_end": "2025-03-31",
  "criteria": ["security", "availability", "confidentiality"]
}"#,
    )
    .unwrap();
    let r = parse_request(&body, t("2026-11-29T06:00:00Z")).unwrap();
    assert_eq!(r.period.label, "2025-Q1");
    assert_eq!(r.period.start, "2025-01-01T00:00:00.000000Z");
    assert_eq!(r.period.end, "2025-04-01T00:00:00.000000Z");
    assert!(r.criteria.contains(&"CC6.1".to_string()));
    assert!(r.criteria.contains(&"A1.2".to_string()));
    assert!(r.criteria.contains(&"C1.1".to_string()));
    assert!(!r
        .criteria
        .iter()
        .any(|c| c.starts_with('P') || c.starts_with("PI")));
}

#[test]
fn bad_requests_name_the_field() {
    assert_eq!(field(json!({"report_type": "pentest"})), "report_type");
    assert_eq!(field(json!({})), "report_type");
    assert_eq!(
        field(
            json!({"report_type": "soc2", "period_start": "2025-03-31", "period_end": "2025-01-01"})
        ),
        "period_end"
    );
    assert_eq!(
        field(
            json!({"report_type": "soc2", "period_start": "2025-03-31", "period_end": "2025-03-30"})
        ),
        "period_end"
    );
    assert_eq!(
        field(json!({"report_type": "soc2", "period_end": "2025-03-31"})),
        "period_start"
    );
    assert_eq!(
        field(
            json!({"report_type": "soc2", "period_start": "2025-13-01", "period_end": "2025-12-31"})
        ),
        "period_start"
    );
    assert_eq!(
        field(json!({"report_type": "soc2", "criteria": ["CC99.1"]})),
        "criteria"
    );
    assert_eq!(
        field(json!({"report_type": "soc2", "criteria": [1]})),
        "criteria"
    );
    assert_eq!(field(json!({"report_type": "soc2", "extra": 1})), "extra");
    assert_eq!(
        field(
            json!({"report_type": "soc2", "period_start": "2027-01-01", "period_end": "2027-03-31"})
        ),
        "period_start"
    );
    // A one-day period (start = end as dates) is that whole day.
    let r = parse_request(&json!({"report_type": "incident", "period_start": "2025-03-31", "period_end": "2025-03-31"}), t("2026-11-29T06:00:00Z")).unwrap();
    assert_eq!(r.period.label, "2025-03-31..2025-03-31");
}

#[test]
fn default_periods_follow_seed_003_frequencies() {
    let now = t("2026-11-29T06:00:00Z"); // a Sunday
    assert_eq!(default_period("soc2", now).label, "2026-Q3");
    assert_eq!(default_period("access_review", now).label, "2026-10");
    assert_eq!(default_period("incident", now).label, "2026-10");
    assert_eq!(
        default_period("vulnerability", now).label,
        "2026-11-16..2026-11-22"
    );
    assert_eq!(
        default_period("soc2", t("2026-02-01T00:00:00Z")).label,
        "2025-Q4"
    );
}

#[test]
fn criteria_ids_and_categories_mix() {
    let c = resolve_criteria(&["CC6.1".into(), "Processing Integrity".into()]).unwrap();
    assert_eq!(c[0], "CC6.1");
    assert!(c.iter().skip(1).all(|x| x.starts_with("PI")));
    assert_eq!(
        resolve_criteria(&[]).unwrap().len(),
        vouch_core::tsc::CRITERIA.len()
    );
}
