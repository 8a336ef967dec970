//! Periods: half-open UTC intervals `[start, end)` named the way compliance people
//! name them: `2026-10`, `2026-Q3`, `2026`, `2026-10-05`, `last-month`, or `START..END`.

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use std::fmt;

/// A half-open UTC interval `[start, end)` with the label it was written as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    /// First instant in the period.
    pub start: DateTime<Utc>,
    /// First instant after the period.
    pub end: DateTime<Utc>,
    /// How the period is written: `2026-10`, `2026-Q3`, or `START..END`.
    pub label: String,
}

/// A period expression that could not be parsed, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeriodError(pub String);

impl fmt::Display for PeriodError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PeriodError {}

const FORMS: &str = "expected 2026-10, 2026-Q3, 2026, 2026-10-05, last-month, or START..END (RFC 3339 or dates; END exclusive)";

fn day(y: i32, m: u32, d: u32) -> Option<DateTime<Utc>> {
    NaiveDate::from_ymd_opt(y, m, d)
        .map(|d| Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight")))
}

fn month_start(y: i32, m: u32) -> Option<DateTime<Utc>> {
    day(y, m, 1)
}

fn next_month(y: i32, m: u32) -> (i32, u32) {
    if m == 12 {
        (y + 1, 1)
    } else {
        (y, m + 1)
    }
}

impl Period {
    /// The calendar month containing `t`.
    pub fn month_of(t: DateTime<Utc>) -> Period {
        let (y, m) = (t.year(), t.month());
        let (ny, nm) = next_month(y, m);
        Period {
            start: month_start(y, m).expect("valid"),
            end: month_start(ny, nm).expect("valid"),
            label: format!("{y:04}-{m:02}"),
        }
    }

    /// The calendar month before the one containing `now`.
    pub fn last_month(now: DateTime<Utc>) -> Period {
        let (y, m) = if now.month() == 1 {
            (now.year() - 1, 12)
        } else {
            (now.year(), now.month() - 1)
        };
        Period::month_of(month_start(y, m).expect("valid"))
    }

    /// Parse a period expression; `now` resolves relative forms.
    pub fn parse(text: &str, now: DateTime<Utc>) -> Result<Period, PeriodError> {
        let t = text.trim();
        let bad = || PeriodError(format!("invalid period `{t}`: {FORMS}"));
        if t == "last-month" {
            return Ok(Period::last_month(now));
        }
        if t == "this-month" {
            return Ok(Period::month_of(now));
        }
        if let Some((a, b)) = t.split_once("..") {
            let start = parse_instant(a).ok_or_else(|| PeriodError(format!("invalid period start `{a}`: expected an RFC 3339 date-time or a date (YYYY-MM-DD)")))?;
            let end = parse_instant(b).ok_or_else(|| PeriodError(format!("invalid period end `{b}`: expected an RFC 3339 date-time or a date (YYYY-MM-DD)")))?;
            return Period::range(start, end);
        }
        let parts: Vec<&str> = t.split('-').collect();
        let num = |s: &str, len: usize| -> Option<u32> {
            (s.len() == len && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse().ok())
                .flatten()
        };
        match parts.as_slice() {
            [y] => {
                let y = num(y, 4).ok_or_else(bad)? as i32;
                Ok(Period {
                    start: month_start(y, 1).ok_or_else(bad)?,
                    end: month_start(y + 1, 1).ok_or_else(bad)?,
                    label: format!("{y:04}"),
                })
            }
            [y, q] if q.starts_with('Q') || q.starts_with('q') => {
                let y = num(y, 4).ok_or_else(bad)? as i32;
                let q = num(&q[1..], 1)
                    .filter(|q| (1..=4).contains(q))
                    .ok_or_else(bad)?;
                let m = (q - 1) * 3 + 1;
                let end = if q == 4 {
                    month_start(y + 1, 1)
                } else {
                    month_start(y, m + 3)
                };
                Ok(Period {
                    start: month_start(y, m).ok_or_else(bad)?,
                    end: end.ok_or_else(bad)?,
                    label: format!("{y:04}-Q{q}"),
                })
            }
            [y, m] => {
                let y = num(y, 4).ok_or_else(bad)? as i32;
                let m = num(m, 2).filter(|m| (1..=12).contains(m)).ok_or_else(bad)?;
                Ok(Period::month_of(month_start(y, m).ok_or_else(bad)?))
            }
            [_, _, _] => {
                let start = parse_instant(t).ok_or_else(bad)?;
                Ok(Period {
                    start,
                    end: start + chrono::Duration::days(1),
                    label: t.to_string(),
                })
            }
            _ => Err(bad()),
        }
    }

    /// An explicit range; the end must be after the start.
    pub fn range(start: DateTime<Utc>, end: DateTime<Utc>) -> Result<Period, PeriodError> {
        if end <= start {
            return Err(PeriodError(format!(
                "period end {} is not after its start {}",
                crate::event::format_timestamp(&end),
                crate::event::format_timestamp(&start)
            )));
        }
        let label = format!(
            "{}..{}",
            crate::event::format_timestamp(&start),
            crate::event::format_timestamp(&end)
        );
        Ok(Period { start, end, label })
    }

    /// Whether `t` lies in `[start, end)`.
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.start <= t && t < self.end
    }
}

/// An RFC 3339 date-time or a bare date (midnight UTC).
pub fn parse_instant(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(dt.with_timezone(&Utc));
    }
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    Some(Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 15, 12, 0, 0).unwrap()
    }

    #[test]
    fn forms() {
        let p = Period::parse("2026-10", now()).unwrap();
        assert_eq!(
            (p.start.to_rfc3339(), p.end.to_rfc3339()),
            (
                "2026-10-01T00:00:00+00:00".into(),
                "2026-11-01T00:00:00+00:00".into()
            )
        );
        let q = Period::parse("2026-Q4", now()).unwrap();
        assert_eq!(q.end, Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap());
        let lm = Period::parse("last-month", now()).unwrap();
        assert_eq!(lm.label, "2025-12");
        let y = Period::parse("2025", now()).unwrap();
        assert_eq!(y.end, Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap());
        let r = Period::parse("2025-01-01T00:00:00.000Z..2025-01-31T23:59:59.999Z", now()).unwrap();
        assert!(r.contains(Utc.with_ymd_and_hms(2025, 1, 31, 23, 0, 0).unwrap()));
        assert_eq!(
            Period::parse("2026-10-05", now()).unwrap().end,
            Utc.with_ymd_and_hms(2026, 10, 6, 0, 0, 0).unwrap()
        );
    }

    #[test]
    fn errors() {
        for bad in [
            "2026-13",
            "26-10",
            "2026-Q5",
            "soon",
            "2026-10-01..2026-09-01",
            "x..2026-01-01",
            "",
        ] {
            assert!(Period::parse(bad, now()).is_err(), "{bad}");
        }
        assert!(Period::parse("2026-10-01..2026-09-01", now())
            .unwrap_err()
            .0
            .contains("not after"));
    }
}
