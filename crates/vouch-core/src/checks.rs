//! The built-in check kinds, as pure functions of evidence rows and a reference time.
//! A check turns rows into pass or fail plus the rows that failed; anything it cannot
//! decide (a missing timestamp, a bad value) is an error naming the row and field.
//!
//! The reference time is min(period end, now): a check on a period that has not ended
//! judges up to now for every kind (a month that has not come yet is not "a month
//! without a run", and the gap to the end of an unfinished period is not a gap). A
//! check that has nothing to judge (no whole day/week/month before the reference time)
//! is `NoEvidence`, never `Pass`.

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

/// A condition on one field of a row.
#[derive(Debug, Clone)]
pub enum Test {
    /// The field equals the value (loosely: `"1.5"` = `1.5`, `true` = `1`).
    Equals(Value),
    /// The field loosely equals one of the values.
    In(Vec<Value>),
    /// The field's text (a non-string value's JSON) matches the regex; null never matches.
    Matches(regex::Regex),
    /// The field's time is before `reference - d`.
    OlderThan(Duration),
    /// The field's time is at or after `reference - d`.
    NewerThan(Duration),
    /// The field is null or missing.
    IsNull,
    /// The field is present and not null.
    NotNull,
}

/// A test applied to one (dotted) field of a row.
#[derive(Debug, Clone)]
pub struct Predicate {
    /// Dotted path of the field (`user.email`).
    pub field: String,
    /// What the field's value must satisfy.
    pub test: Test,
}

/// The calendar unit of an `EveryPeriod` check (UTC; weeks start on Monday).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A UTC calendar day.
    Day,
    /// A week.
    Week,
    /// A calendar month.
    Month,
}

/// A declared window: a change window, or a maintenance window that excuses a gap.
#[derive(Debug, Clone)]
pub struct Window {
    /// The window's identifier, which rows may name.
    pub id: String,
    /// Start of the window (inclusive).
    pub start: DateTime<Utc>,
    /// End of the window (exclusive).
    pub end: DateTime<Utc>,
}

/// A built-in check kind with its parameters.
#[derive(Debug, Clone)]
pub enum Check {
    /// There are no rows.
    Empty,
    /// There is at least one row.
    NonEmpty,
    /// The number of rows lies within `[min, max]` (either bound optional).
    Count {
        /// Fewest rows allowed.
        min: Option<u64>,
        /// Most rows allowed.
        max: Option<u64>,
    },
    /// Every row satisfies the predicate.
    All(Predicate),
    /// No row satisfies the predicate.
    None(Predicate),
    /// At least `at_least` rows (of those satisfying every `filter` predicate) in every
    /// whole day/week/month of `[start, min(end, reference))`.
    EveryPeriod {
        /// Field holding each row's time.
        timestamp: String,
        /// The calendar unit every one of which must have rows.
        every: Unit,
        /// Rows needed in each unit.
        at_least: u64,
        /// Predicates a row must satisfy to count.
        filter: Vec<Predicate>,
        /// Start of the range judged.
        start: DateTime<Utc>,
        /// End of the range judged (capped at the reference time).
        end: DateTime<Utc>,
    },
    /// No gap longer than `max_gap` between consecutive timestamps across `[start, end)`,
    /// unless a maintenance window covers it.
    MaxGap {
        /// Field holding each row's time.
        timestamp: String,
        /// Longest allowed gap between consecutive times.
        max_gap: Duration,
        /// Windows that excuse a gap they cover.
        maintenance: Vec<Window>,
        /// Start of the range judged.
        start: DateTime<Utc>,
        /// End of the range judged.
        end: DateTime<Utc>,
    },
    /// Each row's timestamp lies inside a declared window; with `window_id`, the row names
    /// that window.
    InWindows {
        /// Field holding each row's time.
        timestamp: String,
        /// Field in which a row names its window, if rows must name it.
        window_id: Option<String>,
        /// The declared windows.
        windows: Vec<Window>,
    },
    /// The newest timestamp is within `within` of the reference time.
    Fresh {
        /// Field holding each row's time.
        timestamp: String,
        /// Greatest allowed age of the newest time.
        within: Duration,
    },
    /// Every left row has a right row with the same key whose time is within `within`
    /// after the left row's time.
    Compare {
        /// Field matching left rows to right rows.
        key: String,
        /// Field holding a left row's time.
        left_time: String,
        /// Field holding a right row's time.
        right_time: String,
        /// Longest allowed delay from a left time to its right time.
        within: Duration,
    },
}

/// The result of a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The evidence satisfies the check.
    Pass,
    /// The evidence violates the check; `failing` says where.
    Fail,
    /// Nothing to judge: the range the check covers holds no whole day/week/month, or
    /// has not started by the reference time.
    NoEvidence,
}

/// What a check concluded, with a message and the failing rows.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Pass, fail, or nothing to judge.
    pub verdict: Verdict,
    /// One sentence for people.
    pub message: String,
    /// The failing rows (or synthetic rows describing a gap or a missing period).
    pub failing: Vec<Value>,
}

fn outcome(failing: Vec<Value>, pass: String, fail: impl FnOnce(usize) -> String) -> Outcome {
    if failing.is_empty() {
        Outcome {
            verdict: Verdict::Pass,
            message: pass,
            failing,
        }
    } else {
        Outcome {
            verdict: Verdict::Fail,
            message: fail(failing.len()),
            failing,
        }
    }
}

/// A dotted field of a row.
pub fn field<'a>(row: &'a Value, name: &str) -> Option<&'a Value> {
    let mut cur = row;
    for part in name.split('.') {
        cur = cur.get(part)?;
    }
    Some(cur)
}

/// A timestamp as databases and APIs write it: RFC 3339, `YYYY-MM-DD HH:MM:SS[.f][+zz]`,
/// or a date. Times without an offset are UTC. Numbers are Unix seconds.
pub fn parse_time(v: &Value) -> Option<DateTime<Utc>> {
    use chrono::{NaiveDate, NaiveDateTime, TimeZone};
    if let Some(n) = v.as_i64() {
        return Utc.timestamp_opt(n, 0).single();
    }
    let s = v.as_str()?.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for f in ["%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M:%S%.f%#z"] {
        if let Ok(t) = DateTime::parse_from_str(s, f) {
            return Some(t.with_timezone(&Utc));
        }
    }
    for f in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Some(Utc.from_utc_datetime(&t));
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| Utc.from_utc_datetime(&t))
}

/// `30m`, `24h`, `90d`, `2w`, `7y` (365 days), or combinations such as `1d12h`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("`{s}` is not a duration (e.g. 30m, 24h, 90d, 2w, 7y)");
    let mut total = Duration::zero();
    let mut num = String::new();
    for c in s.trim().chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: i64 = num.parse().map_err(|_| bad())?;
        num.clear();
        total += match c {
            's' => Duration::seconds(n),
            'm' => Duration::minutes(n),
            'h' => Duration::hours(n),
            'd' => Duration::days(n),
            'w' => Duration::weeks(n),
            'y' => Duration::days(365 * n),
            _ => return Err(bad()),
        };
    }
    if !num.is_empty() || total <= Duration::zero() {
        return Err(bad());
    }
    Ok(total)
}

fn time_of(row: &Value, i: usize, name: &str) -> Result<DateTime<Utc>, String> {
    let v = field(row, name).ok_or_else(|| format!("row {i} has no field `{name}`"))?;
    parse_time(v).ok_or_else(|| format!("row {i}: `{name}` = {v} is not a timestamp"))
}

/// Timestamps of the rows that have one: a null or missing value means "nothing
/// happened" (an empty day in a daily count), not an error; anything else that is not a
/// time is an error naming the row.
fn times(rows: &[Value], name: &str) -> Result<Vec<DateTime<Utc>>, String> {
    let mut out = Vec::with_capacity(rows.len());
    for (i, r) in rows.iter().enumerate() {
        match field(r, name) {
            None | Some(Value::Null) => continue,
            Some(_) => out.push(time_of(r, i, name)?),
        }
    }
    Ok(out)
}

fn loose_eq(a: &Value, b: &Value) -> bool {
    // Databases hand numbers back as strings (DECIMAL) and booleans as 0/1.
    match (a, b) {
        (Value::String(s), Value::Number(n)) | (Value::Number(n), Value::String(s)) => {
            s.parse::<f64>().ok() == n.as_f64()
        }
        (Value::Bool(x), Value::Number(n)) | (Value::Number(n), Value::Bool(x)) => {
            n.as_i64() == Some(i64::from(*x))
        }
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

impl Predicate {
    /// Whether the `i`-th row satisfies the predicate; time tests compare against `reference`.
    /// Errors when a time test's field is missing or not a timestamp.
    pub fn holds(&self, row: &Value, i: usize, reference: DateTime<Utc>) -> Result<bool, String> {
        let v = field(row, &self.field).unwrap_or(&Value::Null);
        Ok(match &self.test {
            Test::Equals(x) => loose_eq(v, x),
            Test::In(xs) => xs.iter().any(|x| loose_eq(v, x)),
            Test::Matches(re) => match v {
                Value::String(s) => re.is_match(s),
                Value::Null => false,
                other => re.is_match(&other.to_string()),
            },
            Test::OlderThan(d) => time_of(row, i, &self.field)? < reference - *d,
            Test::NewerThan(d) => time_of(row, i, &self.field)? >= reference - *d,
            Test::IsNull => v.is_null(),
            Test::NotNull => !v.is_null(),
        })
    }

    /// The predicate as text for messages (`status = "done"`).
    pub fn describe(&self) -> String {
        let f = &self.field;
        match &self.test {
            Test::Equals(x) => format!("{f} = {x}"),
            Test::In(xs) => format!("{f} in {}", Value::Array(xs.clone())),
            Test::Matches(re) => format!("{f} matches /{}/", re.as_str()),
            Test::OlderThan(d) => format!("{f} older than {} days", d.num_days()),
            Test::NewerThan(d) => format!("{f} newer than {} days", d.num_days()),
            Test::IsNull => format!("{f} is null"),
            Test::NotNull => format!("{f} is not null"),
        }
    }
}

/// The start of the day/week (Monday)/month holding `t`, and the next one.
fn bucket(t: DateTime<Utc>, unit: Unit) -> (DateTime<Utc>, DateTime<Utc>) {
    use chrono::{Datelike, TimeZone};
    let day = Utc.from_utc_datetime(&t.date_naive().and_hms_opt(0, 0, 0).unwrap_or_default());
    match unit {
        Unit::Day => (day, day + Duration::days(1)),
        Unit::Week => {
            let start = day - Duration::days(i64::from(t.weekday().num_days_from_monday()));
            (start, start + Duration::weeks(1))
        }
        Unit::Month => {
            let start = Utc
                .with_ymd_and_hms(t.year(), t.month(), 1, 0, 0, 0)
                .single()
                .unwrap_or(day);
            let (y, m) = if t.month() == 12 {
                (t.year() + 1, 1)
            } else {
                (t.year(), t.month() + 1)
            };
            (
                start,
                Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0)
                    .single()
                    .unwrap_or(day),
            )
        }
    }
}

fn fmt(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Evaluate a check over rows (`right` is the second evidence of a `compare`).
pub fn evaluate(
    check: &Check,
    rows: &[Value],
    right: &[Value],
    reference: DateTime<Utc>,
) -> Result<Outcome, String> {
    let n = rows.len();
    Ok(match check {
        Check::Empty => outcome(
            rows.to_vec(),
            "0 rows judged: none, as expected".into(),
            |k| format!("{k} row(s) judged where none are expected"),
        ),
        Check::NonEmpty => {
            if n > 0 {
                outcome(vec![], format!("{n} row(s)"), |_| String::new())
            } else {
                Outcome {
                    verdict: Verdict::Fail,
                    message: "no rows where at least one is expected".into(),
                    failing: vec![],
                }
            }
        }
        Check::Count { min, max } => {
            let low = min.is_some_and(|m| (n as u64) < m);
            let high = max.is_some_and(|m| (n as u64) > m);
            let bounds = format!(
                "{}..{}",
                min.map_or("".into(), |m| m.to_string()),
                max.map_or("".into(), |m| m.to_string())
            );
            if low || high {
                Outcome {
                    verdict: Verdict::Fail,
                    message: format!("{n} row(s), outside {bounds}"),
                    failing: vec![],
                }
            } else {
                outcome(vec![], format!("{n} row(s), inside {bounds}"), |_| {
                    String::new()
                })
            }
        }
        Check::All(_) if n == 0 => Outcome {
            // "Every row has X" over no rows checked nothing: a wrong region, account or
            // name must not read as compliant.
            verdict: Verdict::NoEvidence,
            message: "0 rows judged: nothing to check that every row has it".into(),
            failing: vec![],
        },
        Check::All(p) => {
            let mut failing = Vec::new();
            for (i, r) in rows.iter().enumerate() {
                if !p.holds(r, i, reference)? {
                    failing.push(r.clone());
                }
            }
            outcome(
                failing,
                format!("all {n} row(s) judged have {}", p.describe()),
                |k| format!("{k} of {n} row(s) do not have {}", p.describe()),
            )
        }
        Check::None(p) => {
            let mut failing = Vec::new();
            for (i, r) in rows.iter().enumerate() {
                if p.holds(r, i, reference)? {
                    failing.push(r.clone());
                }
            }
            outcome(
                failing,
                format!("0 of {n} row(s) judged have {}", p.describe()),
                |k| format!("{k} of {n} row(s) judged have {}", p.describe()),
            )
        }
        Check::EveryPeriod {
            timestamp,
            every,
            at_least,
            filter,
            start,
            end,
        } => {
            let until = (*end).min(reference);
            let mut kept = Vec::with_capacity(rows.len());
            'rows: for (i, r) in rows.iter().enumerate() {
                for p in filter {
                    if !p.holds(r, i, reference)? {
                        continue 'rows;
                    }
                }
                kept.push(r.clone());
            }
            let times = times(&kept, timestamp)?;
            let unit = format!("{every:?}").to_lowercase();
            let mut failing = Vec::new();
            let mut judged = 0;
            let mut notes = Vec::new();
            if !filter.is_empty() {
                let w: Vec<String> = filter.iter().map(Predicate::describe).collect();
                notes.push(format!(
                    "counting {} of {n} row(s), those where {}",
                    kept.len(),
                    w.join(" and ")
                ));
            }
            // Whole buckets only: a period that does not start on the 1st judges the
            // months that lie wholly inside it, never a partial first or last month.
            let (s0, e0) = bucket(*start, *every);
            let mut b = if s0 < *start { e0 } else { s0 };
            while b < until {
                let (s, e) = bucket(b, *every);
                if e > *end {
                    break;
                }
                let count = times.iter().filter(|t| **t >= s && **t < e).count() as u64;
                if e > reference {
                    // Still open at the reference time: it counts once it has enough,
                    // and it cannot have failed yet.
                    if count >= *at_least {
                        judged += 1;
                    } else {
                        notes.push(format!(
                            "the {unit} from {} is still open ({count} so far)",
                            fmt(&s)
                        ));
                    }
                } else {
                    judged += 1;
                    if count < *at_least {
                        failing.push(serde_json::json!({"from": fmt(&s), "to": fmt(&e), "count": count, "expected_at_least": at_least}));
                    }
                }
                b = e;
            }
            let notes = if notes.is_empty() {
                String::new()
            } else {
                format!(" ({})", notes.join("; "))
            };
            if judged == 0 {
                return Ok(Outcome {
                    verdict: Verdict::NoEvidence,
                    message: format!(
                        "no whole {unit} between {} and {} to judge{notes}",
                        fmt(start),
                        fmt(&until.max(*start))
                    ),
                    failing: vec![],
                });
            }
            outcome(
                failing,
                format!(
                    "at least {at_least} per {unit} in all {judged} whole {unit}(s) judged{notes}"
                ),
                |k| {
                    format!(
                        "{k} of {judged} whole {unit}(s) judged have fewer than {at_least}{notes}"
                    )
                },
            )
        }
        Check::MaxGap {
            timestamp,
            max_gap,
            maintenance,
            start,
            end,
        } => {
            let until = (*end).min(reference);
            if until <= *start {
                return Ok(Outcome {
                    verdict: Verdict::NoEvidence,
                    message: format!(
                        "nothing to judge: the window starts at {}, after the reference time {}",
                        fmt(start),
                        fmt(&until)
                    ),
                    failing: vec![],
                });
            }
            let mut times = times(rows, timestamp)?;
            times.retain(|t| t >= start && *t < until);
            times.sort();
            let mut points = vec![*start];
            points.extend(times);
            points.push(until);
            let mut failing = Vec::new();
            for w in points.windows(2) {
                let (a, b) = (w[0], w[1]);
                if b - a > *max_gap {
                    let covered = maintenance
                        .iter()
                        .find(|m| m.start <= a + *max_gap && m.end >= b - *max_gap);
                    if covered.is_none() {
                        failing.push(serde_json::json!({"gap_from": fmt(&a), "gap_to": fmt(&b), "hours": (b - a).num_minutes() as f64 / 60.0}));
                    }
                }
            }
            let range = format!("from {} to {}", fmt(start), fmt(&until));
            outcome(
                failing,
                format!("no unexplained gap over {} h {range}", max_gap.num_hours()),
                |k| {
                    format!(
                        "{k} unexplained gap(s) over {} h {range}",
                        max_gap.num_hours()
                    )
                },
            )
        }
        Check::InWindows {
            timestamp,
            window_id,
            windows,
        } => {
            let mut failing = Vec::new();
            for (i, r) in rows.iter().enumerate() {
                let t = time_of(r, i, timestamp)?;
                let ok = match window_id {
                    Some(f) => {
                        let id = field(r, f).and_then(|v| match v {
                            Value::String(s) => Some(s.clone()),
                            Value::Number(n) => Some(n.to_string()),
                            _ => None,
                        });
                        id.is_some_and(|id| {
                            windows
                                .iter()
                                .any(|w| w.id == id && t >= w.start && t < w.end)
                        })
                    }
                    None => windows.iter().any(|w| t >= w.start && t < w.end),
                };
                if !ok {
                    failing.push(r.clone());
                }
            }
            outcome(
                failing,
                format!("all {n} row(s) inside a declared window"),
                |k| {
                    format!(
                        "{k} of {n} row(s) outside a declared window or without a known window id"
                    )
                },
            )
        }
        Check::Fresh { timestamp, within } => {
            let newest = times(rows, timestamp)?.into_iter().max();
            match newest {
                Some(t) if t >= reference - *within => outcome(
                    vec![],
                    format!(
                        "newest {timestamp} {} is within {} days",
                        fmt(&t),
                        within.num_days()
                    ),
                    |_| String::new(),
                ),
                Some(t) => Outcome {
                    verdict: Verdict::Fail,
                    message: format!(
                        "newest {timestamp} {} is older than {} days",
                        fmt(&t),
                        within.num_days()
                    ),
                    failing: vec![serde_json::json!({"newest": fmt(&t)})],
                },
                None => Outcome {
                    verdict: Verdict::Fail,
                    message: "no rows: nothing is fresh".into(),
                    failing: vec![],
                },
            }
        }
        Check::Compare {
            key,
            left_time,
            right_time,
            within,
        } => {
            let mut failing = Vec::new();
            let mut pending = 0;
            for (i, l) in rows.iter().enumerate() {
                let k =
                    field(l, key).ok_or_else(|| format!("left row {i} has no field `{key}`"))?;
                let lt = time_of(l, i, left_time)?;
                let mut matched = false;
                for (j, r) in right.iter().enumerate() {
                    if field(r, key).is_some_and(|rk| loose_eq(rk, k)) {
                        let rt = time_of(r, j, right_time)?;
                        // Removed before the trigger counts too: the access was already gone.
                        if rt - lt <= *within {
                            matched = true;
                            break;
                        }
                    }
                }
                if !matched {
                    if lt + *within > reference {
                        // Its deadline has not passed at the reference time.
                        pending += 1;
                    } else {
                        failing.push(l.clone());
                    }
                }
            }
            let due = n - pending;
            let pending = if pending > 0 {
                format!(" ({pending} not yet due at {})", fmt(&reference))
            } else {
                String::new()
            };
            outcome(
                failing,
                format!(
                    "all {due} row(s) due matched within {} h{pending}",
                    within.num_hours()
                ),
                |k| {
                    format!(
                        "{k} of {due} row(s) due have no match within {} h{pending}",
                        within.num_hours()
                    )
                },
            )
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn t(s: &str) -> DateTime<Utc> {
        parse_time(&json!(s)).unwrap()
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("24h").unwrap(), Duration::hours(24));
        assert_eq!(parse_duration("1d12h").unwrap(), Duration::hours(36));
        assert_eq!(parse_duration("7y").unwrap(), Duration::days(2555));
        for bad in ["", "5", "h", "3x", "0d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn empty_count_all_none() {
        let rows = vec![
            json!({"s": "complete", "n": "0"}),
            json!({"s": "failed", "n": 3}),
        ];
        let now = t("2026-10-31");
        assert_eq!(
            evaluate(&Check::Empty, &rows, &[], now)
                .unwrap()
                .failing
                .len(),
            2
        );
        assert_eq!(
            evaluate(&Check::Empty, &[], &[], now).unwrap().verdict,
            Verdict::Pass
        );
        assert_eq!(
            evaluate(&Check::NonEmpty, &[], &[], now).unwrap().verdict,
            Verdict::Fail
        );
        assert_eq!(
            evaluate(
                &Check::Count {
                    min: Some(1),
                    max: Some(2)
                },
                &rows,
                &[],
                now
            )
            .unwrap()
            .verdict,
            Verdict::Pass
        );
        assert_eq!(
            evaluate(
                &Check::Count {
                    min: Some(3),
                    max: None
                },
                &rows,
                &[],
                now
            )
            .unwrap()
            .verdict,
            Verdict::Fail
        );
        let failed = Predicate {
            field: "s".into(),
            test: Test::Equals(json!("failed")),
        };
        let o = evaluate(&Check::None(failed), &rows, &[], now).unwrap();
        assert_eq!(
            (o.verdict, o.failing.clone()),
            (Verdict::Fail, vec![rows[1].clone()])
        );
        let zero = Predicate {
            field: "n".into(),
            test: Test::Equals(json!(0)),
        };
        assert_eq!(
            evaluate(&Check::All(zero.clone()), &rows, &[], now)
                .unwrap()
                .failing,
            vec![rows[1].clone()]
        );
        let o = evaluate(&Check::All(zero.clone()), &[], &[], now).unwrap();
        assert_eq!(o.verdict, Verdict::NoEvidence, "{}", o.message);
        assert!(o.message.starts_with("0 rows judged"), "{}", o.message);
        let newer = Predicate {
            field: "at".into(),
            test: Test::NewerThan(Duration::days(2555)),
        };
        assert!(evaluate(&Check::All(newer), &rows, &[], now)
            .unwrap_err()
            .contains("row 0 has no field `at`"));
    }

    #[test]
    fn every_period_gap_windows_fresh_compare() {
        let (start, end) = (t("2026-08-01"), t("2026-11-01"));
        let runs = vec![
            json!({"at": "2026-08-03"}),
            json!({"at": "2026-10-03 01:00:00+00"}),
        ];
        let c = Check::EveryPeriod {
            timestamp: "at".into(),
            every: Unit::Month,
            at_least: 1,
            filter: vec![],
            start,
            end,
        };
        let o = evaluate(&c, &runs, &[], end).unwrap();
        assert_eq!(
            o.failing,
            vec![
                json!({"from": "2026-09-01T00:00:00Z", "to": "2026-10-01T00:00:00Z", "count": 0, "expected_at_least": 1})
            ]
        );

        let days: Vec<Value> = [
            "2026-10-01T10:00:00Z",
            "2026-10-02T09:00:00Z",
            "2026-10-05T09:00:00Z",
        ]
        .iter()
        .map(|d| json!({"day": d}))
        .collect();
        let (s, e) = (t("2026-10-01"), t("2026-10-06"));
        let gap = |m: Vec<Window>| Check::MaxGap {
            timestamp: "day".into(),
            max_gap: Duration::hours(24),
            maintenance: m,
            start: s,
            end: e,
        };
        let mut with_null = days.clone();
        with_null.push(json!({"day": null}));
        assert_eq!(
            evaluate(&gap(vec![]), &with_null, &[], e)
                .unwrap()
                .failing
                .len(),
            1,
            "a null day is no event, not an error"
        );
        let o = evaluate(&gap(vec![]), &days, &[], e).unwrap();
        assert_eq!(o.failing.len(), 1, "{:?}", o.failing);
        assert_eq!(o.failing[0]["gap_from"], "2026-10-02T09:00:00Z");
        let mw = Window {
            id: "MW-1".into(),
            start: t("2026-10-03"),
            end: t("2026-10-05"),
        };
        assert_eq!(
            evaluate(&gap(vec![mw]), &days, &[], e).unwrap().verdict,
            Verdict::Pass
        );

        let windows = vec![Window {
            id: "CW-7".into(),
            start: t("2026-10-10"),
            end: t("2026-10-11"),
        }];
        let grants = vec![
            json!({"at": "2026-10-10T05:00:00Z", "cw": "CW-7"}),
            json!({"at": "2026-10-10T06:00:00Z", "cw": null}),
            json!({"at": "2026-10-12T06:00:00Z", "cw": "CW-7"}),
        ];
        let c = Check::InWindows {
            timestamp: "at".into(),
            window_id: Some("cw".into()),
            windows,
        };
        assert_eq!(
            evaluate(&c, &grants, &[], e).unwrap().failing,
            grants[1..].to_vec()
        );

        let c = Check::Fresh {
            timestamp: "at".into(),
            within: Duration::days(90),
        };
        assert_eq!(
            evaluate(&c, &runs, &[], end).unwrap().verdict,
            Verdict::Pass
        );
        assert_eq!(
            evaluate(&c, &runs, &[], t("2027-03-01")).unwrap().verdict,
            Verdict::Fail
        );

        let left = vec![
            json!({"email": "a@x", "at": "2026-10-01T00:00:00Z"}),
            json!({"email": "b@x", "at": "2026-10-01T00:00:00Z"}),
        ];
        let right = vec![
            json!({"email": "a@x", "at": "2026-10-01T20:00:00Z"}),
            json!({"email": "b@x", "at": "2026-10-03T00:00:00Z"}),
        ];
        let c = Check::Compare {
            key: "email".into(),
            left_time: "at".into(),
            right_time: "at".into(),
            within: Duration::hours(24),
        };
        assert_eq!(
            evaluate(&c, &left, &right, end).unwrap().failing,
            vec![left[1].clone()]
        );
    }

    #[test]
    fn reference_time_where_and_whole_buckets() {
        let runs = vec![
            json!({"at": "2026-10-02", "s": "complete"}),
            json!({"at": "2026-11-02", "s": "running"}),
        ];
        let monthly = |filter: Vec<Predicate>, start: &str, end: &str| Check::EveryPeriod {
            timestamp: "at".into(),
            every: Unit::Month,
            at_least: 1,
            filter,
            start: t(start),
            end: t(end),
        };
        let complete = || {
            vec![Predicate {
                field: "s".into(),
                test: Test::Equals(json!("complete")),
            }]
        };
        // Q4 seen on 15 November: October and the (already satisfied) November.
        let o = evaluate(
            &monthly(vec![], "2026-10-01", "2027-01-01"),
            &runs,
            &[],
            t("2026-11-15"),
        )
        .unwrap();
        assert_eq!(o.verdict, Verdict::Pass, "{}", o.message);
        assert_eq!(
            o.message,
            "at least 1 per month in all 2 whole month(s) judged"
        );
        // Counting only complete runs, November is open, not failed.
        let o = evaluate(
            &monthly(complete(), "2026-10-01", "2027-01-01"),
            &runs,
            &[],
            t("2026-11-15"),
        )
        .unwrap();
        assert_eq!(o.verdict, Verdict::Pass);
        assert!(
            o.message
                .contains("the month from 2026-11-01T00:00:00Z is still open (0 so far)"),
            "{}",
            o.message
        );
        // Once the quarter is over, November and December fail.
        let o = evaluate(
            &monthly(complete(), "2026-10-01", "2027-01-01"),
            &runs,
            &[],
            t("2027-01-05"),
        )
        .unwrap();
        assert_eq!(o.failing.len(), 2, "{:?}", o.failing);
        // A range not starting on the 1st judges whole months only; none: no evidence.
        let o = evaluate(
            &monthly(vec![], "2026-09-15", "2026-12-01"),
            &runs,
            &[],
            t("2026-12-05"),
        )
        .unwrap();
        assert_eq!(
            o.message,
            "at least 1 per month in all 2 whole month(s) judged"
        );
        let o = evaluate(
            &monthly(vec![], "2026-10-05", "2026-10-20"),
            &runs,
            &[],
            t("2026-12-05"),
        )
        .unwrap();
        assert_eq!(o.verdict, Verdict::NoEvidence);
        // max_gap up to the reference time; nothing before the window starts.
        let gap = Check::MaxGap {
            timestamp: "at".into(),
            max_gap: Duration::days(40),
            maintenance: vec![],
            start: t("2026-10-01"),
            end: t("2027-01-01"),
        };
        assert_eq!(
            evaluate(&gap, &runs, &[], t("2026-11-15")).unwrap().verdict,
            Verdict::Pass
        );
        assert_eq!(
            evaluate(&gap, &runs, &[], t("2027-01-01")).unwrap().verdict,
            Verdict::Fail
        );
        assert_eq!(
            evaluate(&gap, &runs, &[], t("2026-09-01")).unwrap().verdict,
            Verdict::NoEvidence
        );
        // compare: a left row whose deadline is after the reference time is not yet due.
        let left = vec![json!({"k": 1, "at": "2026-11-14T20:00:00Z"})];
        let c = Check::Compare {
            key: "k".into(),
            left_time: "at".into(),
            right_time: "at".into(),
            within: Duration::hours(24),
        };
        assert_eq!(
            evaluate(&c, &left, &[], t("2026-11-15")).unwrap().verdict,
            Verdict::Pass
        );
        assert_eq!(
            evaluate(&c, &left, &[], t("2026-11-16")).unwrap().verdict,
            Verdict::Fail
        );
    }
}
