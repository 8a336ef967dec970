//! A five-field cron schedule (minute hour day-of-month month day-of-week, UTC): numbers,
//! `*`, lists, ranges and steps. vouch's jobs need only "the latest occurrence at or
//! before now", found by walking back minute by minute (a month is 44,640 steps).

use chrono::{DateTime, Datelike, Duration, Timelike, Utc};

/// A parsed five-field cron schedule.
#[derive(Debug, Clone)]
pub struct Cron {
    /// The expression as written.
    pub expr: String,
    fields: [Vec<bool>; 5],
}

const RANGES: [(u32, u32); 5] = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 6)];

impl Cron {
    /// Parse a five-field expression.
    pub fn parse(expr: &str) -> Result<Cron, String> {
        let parts: Vec<&str> = expr.split_whitespace().collect();
        if parts.len() != 5 {
            return Err(format!(
                "`{expr}`: a schedule has five fields (minute hour day month weekday)"
            ));
        }
        let mut fields: [Vec<bool>; 5] = Default::default();
        for (i, p) in parts.iter().enumerate() {
            let (lo, hi) = RANGES[i];
            let mut set = vec![false; hi as usize + 1];
            for item in p.split(',') {
                let (range, step) = match item.split_once('/') {
                    Some((r, s)) => (
                        r,
                        s.parse::<u32>()
                            .ok()
                            .filter(|s| *s > 0)
                            .ok_or_else(|| format!("`{expr}`: bad step in `{item}`"))?,
                    ),
                    None => (item, 1),
                };
                let (a, b) = if range == "*" {
                    (lo, hi)
                } else if let Some((a, b)) = range.split_once('-') {
                    (
                        a.parse()
                            .map_err(|_| format!("`{expr}`: bad number in `{item}`"))?,
                        b.parse()
                            .map_err(|_| format!("`{expr}`: bad number in `{item}`"))?,
                    )
                } else {
                    let v: u32 = range
                        .parse()
                        .map_err(|_| format!("`{expr}`: bad number in `{item}`"))?;
                    (v, if item.contains('/') { hi } else { v })
                };
                let b = if i == 4 && b == 7 { 6 } else { b };
                if a < lo || b > hi || a > b {
                    return Err(format!("`{expr}`: `{item}` is outside {lo}-{hi}"));
                }
                for v in (a..=b).step_by(step as usize) {
                    set[v as usize] = true;
                }
            }
            fields[i] = set;
        }
        Ok(Cron {
            expr: expr.to_string(),
            fields,
        })
    }

    /// Whether the schedule fires at the minute of `t` (UTC).
    pub fn matches(&self, t: DateTime<Utc>) -> bool {
        self.fields[0][t.minute() as usize]
            && self.fields[1][t.hour() as usize]
            && self.fields[2][t.day() as usize]
            && self.fields[3][t.month() as usize]
            && self.fields[4][t.weekday().num_days_from_sunday() as usize]
    }

    /// The latest minute at or before `t` that matches, looking back at most `within`.
    pub fn previous(&self, t: DateTime<Utc>, within: Duration) -> Option<DateTime<Utc>> {
        let mut m = t.with_second(0)?.with_nanosecond(0)?;
        let stop = t - within;
        while m >= stop {
            if self.matches(m) {
                return Some(m);
            }
            m -= Duration::minutes(1);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn monthly_and_nightly() {
        let c = Cron::parse("0 3 1 * *").unwrap();
        assert_eq!(
            c.previous(t("2026-11-01T03:00:30Z"), Duration::days(62)),
            Some(t("2026-11-01T03:00:00Z"))
        );
        assert_eq!(
            c.previous(t("2026-11-01T02:59:00Z"), Duration::days(62)),
            Some(t("2026-10-01T03:00:00Z"))
        );
        let n = Cron::parse("15 2 * * *").unwrap();
        assert_eq!(
            n.previous(t("2026-11-22T13:00:00Z"), Duration::days(2)),
            Some(t("2026-11-22T02:15:00Z"))
        );
        let q = Cron::parse("0 10 26 3,6,9,12 *").unwrap();
        assert_eq!(
            q.previous(t("2026-11-22T13:00:00Z"), Duration::days(100)),
            Some(t("2026-09-26T10:00:00Z"))
        );
        assert!(Cron::parse("0 3 1 *").is_err());
        assert!(Cron::parse("61 * * * *").is_err());
        assert!(Cron::parse("*/15 * * * 1-5")
            .unwrap()
            .matches(t("2026-11-23T10:45:00Z")));
    }
}
