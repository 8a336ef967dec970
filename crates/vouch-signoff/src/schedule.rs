//! The attestation schedule (seed 002 §2): for each attested period, the target (first
//! day of the next period at `target_time` UTC), the opening (00:00 UTC
//! `open_days_before` days before the target date) and the hard close (24:00 UTC of the
//! day `close_days_after` days after it). With the business-day rule an opening on a
//! weekend moves back to the Friday, a hard close on a weekend on to the Monday.
//! Pure functions of the settings: no I/O.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use serde::{Deserialize, Serialize};
use vouch_config::AttestationSettings;
use vouch_core::event::format_timestamp as ts;
use vouch_core::period::Period;

/// One attestation window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// The attested period (`2026-Q3`, or `2026-09` with monthly attestations).
    pub period: Period,
    /// The target: the first day after the period at `target_time`.
    pub target_at: DateTime<Utc>,
    /// When the window opens (signing is possible from then).
    pub opens_at: DateTime<Utc>,
    /// The hard close: signing at or after it is late.
    pub closes_at: DateTime<Utc>,
}

/// A window as JSON-friendly text (RFC 3339 instants).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowTimes {
    /// When the window opens.
    pub opens_at: String,
    /// The target date and time.
    pub target_at: String,
    /// The hard close.
    pub closes_at: String,
}

impl Window {
    /// The window's instants as text.
    pub fn times(&self) -> WindowTimes {
        WindowTimes {
            opens_at: ts(&self.opens_at),
            target_at: ts(&self.target_at),
            closes_at: ts(&self.closes_at),
        }
    }
}

fn midnight(d: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&d.and_time(NaiveTime::MIN))
}

fn quarter_of(t: DateTime<Utc>) -> (i32, u32) {
    (t.year(), (t.month() - 1) / 3 + 1)
}

/// The attested period containing `t` (its quarter, or month with `cadence = monthly`).
pub fn period_containing(s: &AttestationSettings, t: DateTime<Utc>) -> Period {
    if s.cadence == "monthly" {
        return Period::month_of(t);
    }
    let (y, q) = quarter_of(t);
    Period::parse(&format!("{y}-Q{q}"), t).unwrap_or_else(|_| Period::month_of(t))
}

/// The window of an attested period.
pub fn window(s: &AttestationSettings, period: &Period) -> Window {
    let time = NaiveTime::parse_from_str(&s.target_time, "%H:%M").unwrap_or(NaiveTime::MIN);
    let target_day = period.end.date_naive();
    let target_at = Utc.from_utc_datetime(&target_day.and_time(time));
    let mut open_day = target_day - Duration::days(i64::from(s.open_days_before));
    let mut close_day = target_day + Duration::days(i64::from(s.close_days_after));
    if s.business_days {
        while matches!(open_day.weekday(), Weekday::Sat | Weekday::Sun) {
            open_day -= Duration::days(1);
        }
        while matches!(close_day.weekday(), Weekday::Sat | Weekday::Sun) {
            close_day += Duration::days(1);
        }
    }
    Window {
        period: period.clone(),
        target_at,
        opens_at: midnight(open_day),
        closes_at: midnight(close_day + Duration::days(1)),
    }
}

/// The period after `p` in the cadence.
fn next(s: &AttestationSettings, p: &Period) -> Period {
    period_containing(s, p.end)
}

/// Every window that has opened by `now` and whose hard close is after `since`, oldest
/// first: the windows a scheduler that started at `since` is answerable for.
pub fn windows_between(
    s: &AttestationSettings,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Vec<Window> {
    // Start a little before `since`: a window closes up to ~2 months after its period.
    let mut p = period_containing(s, since - Duration::days(120));
    let mut out = Vec::new();
    for _ in 0..200 {
        let w = window(s, &p);
        if w.opens_at > now {
            break;
        }
        if w.closes_at > since {
            out.push(w);
        }
        p = next(s, &p);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    /// Seed 002's table: Q4 2025's window has target 2026-01-01 10:00, opens 2025-12-27,
    /// hard close 2026-01-06 (end of day); and so on for each quarter of 2026.
    #[test]
    fn seed_002_window_table() {
        let s = AttestationSettings::default();
        let rows = [
            (
                "2025-Q4",
                "2026-01-01T10:00:00Z",
                "2025-12-27T00:00:00Z",
                "2026-01-07T00:00:00Z",
            ),
            (
                "2026-Q1",
                "2026-04-01T10:00:00Z",
                "2026-03-27T00:00:00Z",
                "2026-04-07T00:00:00Z",
            ),
            (
                "2026-Q2",
                "2026-07-01T10:00:00Z",
                "2026-06-26T00:00:00Z",
                "2026-07-07T00:00:00Z",
            ),
            (
                "2026-Q3",
                "2026-10-01T10:00:00Z",
                "2026-09-26T00:00:00Z",
                "2026-10-07T00:00:00Z",
            ),
        ];
        for (label, target, open, close) in rows {
            let p = Period::parse(label, t("2027-01-01T00:00:00Z")).unwrap();
            let w = window(&s, &p);
            assert_eq!(
                (w.target_at, w.opens_at, w.closes_at),
                (t(target), t(open), t(close)),
                "{label}"
            );
        }
    }

    #[test]
    fn business_days_and_monthly() {
        let s = AttestationSettings {
            business_days: true,
            ..Default::default()
        };
        // 2025-12-27 is a Saturday: the window opens on Friday the 26th. 2026-01-06 is a
        // Tuesday: the close stays.
        let w = window(
            &s,
            &Period::parse("2025-Q4", t("2027-01-01T00:00:00Z")).unwrap(),
        );
        assert_eq!(w.opens_at, t("2025-12-26T00:00:00Z"));
        assert_eq!(w.closes_at, t("2026-01-07T00:00:00Z"));
        // 2026-Q3: hard close 2026-10-06 is a Tuesday, opening 2026-09-26 a Saturday.
        let w = window(
            &s,
            &Period::parse("2026-Q3", t("2027-01-01T00:00:00Z")).unwrap(),
        );
        assert_eq!(w.opens_at, t("2026-09-25T00:00:00Z"));
        let m = AttestationSettings {
            cadence: "monthly".into(),
            close_days_after: 2,
            ..Default::default()
        };
        let w = window(
            &m,
            &Period::parse("2026-10", t("2027-01-01T00:00:00Z")).unwrap(),
        );
        assert_eq!(w.opens_at, t("2026-10-27T00:00:00Z"));
        assert_eq!(w.target_at, t("2026-11-01T10:00:00Z"));
        assert_eq!(w.closes_at, t("2026-11-04T00:00:00Z"));
        let all = windows_between(&m, t("2026-09-01T00:00:00Z"), t("2026-11-15T00:00:00Z"));
        let labels: Vec<_> = all.iter().map(|w| w.period.label.as_str()).collect();
        assert_eq!(labels, ["2026-08", "2026-09", "2026-10"]);
    }

    #[test]
    fn windows_a_scheduler_is_answerable_for() {
        let s = AttestationSettings::default();
        // Installed 2026-11-01: Q3's window had closed; Q4's opens 2026-12-27.
        assert!(
            windows_between(&s, t("2026-11-01T00:00:00Z"), t("2026-12-26T23:00:00Z")).is_empty()
        );
        let w = windows_between(&s, t("2026-11-01T00:00:00Z"), t("2026-12-27T00:00:00Z"));
        assert_eq!(
            w.iter()
                .map(|w| w.period.label.as_str())
                .collect::<Vec<_>>(),
            ["2026-Q4"]
        );
        // Installed mid-window: the window is still answerable.
        let w = windows_between(&s, t("2026-09-30T00:00:00Z"), t("2026-10-01T00:00:00Z"));
        assert_eq!(
            w.iter()
                .map(|w| w.period.label.as_str())
                .collect::<Vec<_>>(),
            ["2026-Q3"]
        );
    }
}
