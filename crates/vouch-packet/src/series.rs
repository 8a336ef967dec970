//! Packet series and late arrivals.
//!
//! Packets form one chain per *series* (`month`, `quarter`, `year`, `day`, `ad hoc`):
//! a packet's consistency proof starts at the nearest earlier packet of its own series
//! (the largest checkpoint not above its own, among packets whose period ends no later),
//! so an ad-hoc range never becomes the monthly chain's "previous packet", and a month
//! generated after a later one (a backfill) proves consistency with the month before it.
//!
//! An event whose timestamp falls in a period that already has a packet is still
//! appended (the ledger is append-only) but is a *late arrival* for that period: its
//! seq is at or past the packet's checkpoint size. Late arrivals are counted per closed
//! period (`late_arrivals`), listed in the next packet's ledger section, exported as
//! `vouch_ledger_late_events_total` and shown by `vouch packet --reproduce`.

use crate::Error;
use serde::Serialize;
use serde_json::{json, Value};
use vouch_core::period::Period;
use vouch_store::Store;

/// The series of a period label.
pub fn series_of(label: &str) -> &'static str {
    let b = label.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    match b.len() {
        4 if digits(0..4) => "year",
        7 if digits(0..4) && b[4] == b'-' && digits(5..7) => "month",
        7 if digits(0..4) && &b[4..6] == b"-Q" && digits(6..7) => "quarter",
        10 if digits(0..4) && b[4] == b'-' && digits(5..7) && b[7] == b'-' && digits(8..10) => {
            "day"
        }
        _ => "ad hoc",
    }
}

/// A packet as recorded in the `packets` table.
#[derive(Debug, Clone, Serialize)]
pub struct Recorded {
    /// Row id (order of recording).
    pub id: i64,
    /// The period's label.
    pub label: String,
    /// Start of the period (RFC 3339, UTC).
    pub start: String,
    /// End of the period, exclusive.
    pub end: String,
    /// When the packet was generated.
    pub generated_at: String,
    /// Tree size of the packet's checkpoint.
    pub checkpoint_size: u64,
    /// Hex SHA-256 of the packet's JSON.
    pub json_sha256: String,
}

/// Every recorded packet, oldest record first.
pub fn recorded(store: &Store) -> Result<Vec<Recorded>, Error> {
    let rows = store.query(
        "SELECT id, period_label, period_start, period_end, generated_at, checkpoint_size, json_sha256 FROM packets ORDER BY id",
        &[],
    )?;
    Ok(rows
        .iter()
        .map(|r| Recorded {
            id: r.int(0),
            label: r.text(1),
            start: r.text(2),
            end: r.text(3),
            generated_at: r.text(4),
            checkpoint_size: r.int(5).max(0) as u64,
            json_sha256: r.text(6),
        })
        .collect())
}

/// The nearest earlier packet of `period`'s series for a tree of `size`: the largest
/// checkpoint not above `size` among packets of the same series whose period ends no
/// later than this one's (never a packet of exactly this period).
pub fn previous<'a>(all: &'a [Recorded], period: &Period, size: u64) -> Option<&'a Recorded> {
    let fmt = vouch_core::event::format_timestamp;
    let (start, end) = (fmt(&period.start), fmt(&period.end));
    let series = series_of(&period.label);
    all.iter()
        .filter(|p| series_of(&p.label) == series)
        .filter(|p| !(p.start == start && p.end == end))
        // An empty tree anchors nothing (and has no consistency proof).
        .filter(|p| p.end <= end && p.checkpoint_size <= size && p.checkpoint_size > 0)
        .max_by(|a, b| (a.checkpoint_size, &a.end, a.id).cmp(&(b.checkpoint_size, &b.end, b.id)))
}

/// A packet of the same series for a later period whose tree is not smaller: when one
/// exists, the packet being made is a backfill and proves that tree extends its own.
pub fn following<'a>(all: &'a [Recorded], period: &Period, size: u64) -> Option<&'a Recorded> {
    let end = vouch_core::event::format_timestamp(&period.end);
    let series = series_of(&period.label);
    all.iter()
        .filter(|p| series_of(&p.label) == series)
        .filter(|p| p.start >= end && p.checkpoint_size >= size)
        .min_by(|a, b| {
            (a.checkpoint_size, &a.start, std::cmp::Reverse(a.id)).cmp(&(
                b.checkpoint_size,
                &b.start,
                std::cmp::Reverse(b.id),
            ))
        })
}

/// A period that has a packet: late arrivals are judged against its checkpoint.
#[derive(Debug, Clone)]
pub struct Closed {
    /// The period's label.
    pub label: String,
    /// Start of the period (RFC 3339, UTC).
    pub start: String,
    /// End of the period, exclusive.
    pub end: String,
    /// Tree size of the period's packet checkpoint.
    pub size: u64,
}

/// The closed periods as they stood before the packet recorded as `before_id` (all
/// records when `None`): the latest packet of each period, other than `exclude`.
pub fn closed(all: &[Recorded], before_id: Option<i64>, exclude: &str) -> Vec<Closed> {
    let mut latest: std::collections::BTreeMap<&str, &Recorded> = Default::default();
    for p in all
        .iter()
        .filter(|p| before_id.is_none_or(|b| p.id < b) && p.label != exclude)
    {
        latest.insert(&p.label, p); // ordered by id: the last one wins
    }
    latest
        .values()
        .map(|p| Closed {
            label: p.label.clone(),
            start: p.start.clone(),
            end: p.end.clone(),
            size: p.checkpoint_size,
        })
        .collect()
}

/// Late arrivals for one period.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Late {
    /// The period's label.
    pub period: String,
    /// Number of late entries.
    pub count: u64,
    /// The first late entry's sequence number.
    pub first_seq: u64,
    /// The last late entry's sequence number.
    pub last_seq: u64,
    /// The checkpoint size of the period's packet: entries at or past it are late.
    pub packet_checkpoint_size: u64,
}

impl Late {
    /// One sentence saying how many events arrived late, and which.
    pub fn sentence(&self) -> String {
        format!(
            "{} event{} for {} arrived after its packet, seqs {}..{}",
            self.count,
            if self.count == 1 { "" } else { "s" },
            self.period,
            self.first_seq,
            self.last_seq
        )
    }

    /// The JSON form written in packets, with the sentence as `note`.
    pub fn to_json(&self) -> Value {
        json!({
            "period": self.period, "count": self.count, "first_seq": self.first_seq,
            "last_seq": self.last_seq, "packet_checkpoint_size": self.packet_checkpoint_size,
            "note": self.sentence(),
        })
    }
}

/// Entries timestamped in `[start, end)` with seq at or past `size`, in the whole ledger.
pub fn late_for(
    store: &Store,
    label: &str,
    start: &str,
    end: &str,
    size: u64,
) -> Result<Option<Late>, Error> {
    let rows = store.query(
        "SELECT count(*), min(seq), max(seq) FROM ledger_entries WHERE ts >= $1 AND ts < $2 AND seq >= $3",
        &[start.into(), end.into(), (size as i64).into()],
    )?;
    let Some(r) = rows.first() else {
        return Ok(None);
    };
    let count = r.int(0).max(0) as u64;
    if count == 0 {
        return Ok(None);
    }
    Ok(Some(Late {
        period: label.to_string(),
        count,
        first_seq: r.int(1).max(0) as u64,
        last_seq: r.int(2).max(0) as u64,
        packet_checkpoint_size: size,
    }))
}

/// Late arrivals of every closed period (the latest packet of each), as of now.
pub fn late_arrivals(store: &Store) -> Result<Vec<Late>, Error> {
    let all = recorded(store)?;
    let mut out = Vec::new();
    for c in closed(&all, None, "") {
        if let Some(l) = late_for(store, &c.label, &c.start, &c.end, c.size)? {
            out.push(l);
        }
    }
    Ok(out)
}

/// Counts late arrivals during a packet's verification pass: entries in
/// `[from, size)` that fall in a closed period at or past its packet's checkpoint.
pub struct LateCounter {
    from: u64,
    closed: Vec<Closed>,
    found: Vec<Option<(u64, u64, u64)>>,
}

impl LateCounter {
    /// A counter of entries from `from` on against the closed periods.
    pub fn new(from: u64, closed: Vec<Closed>) -> Self {
        let found = vec![None; closed.len()];
        LateCounter {
            from,
            closed,
            found,
        }
    }

    /// Count entry `seq` (timestamp text `ts`) if it is late for a closed period.
    pub fn observe(&mut self, seq: u64, ts: &[u8]) {
        if seq < self.from {
            return;
        }
        for (c, f) in self.closed.iter().zip(self.found.iter_mut()) {
            if seq >= c.size && ts >= c.start.as_bytes() && ts < c.end.as_bytes() {
                let e = f.get_or_insert((0, seq, seq));
                e.0 += 1;
                e.2 = seq;
            }
        }
    }

    /// The late arrivals found, in period order.
    pub fn finish(self) -> Vec<Late> {
        let mut out: Vec<(String, Late)> = self
            .closed
            .into_iter()
            .zip(self.found)
            .filter_map(|(c, f)| {
                f.map(|(count, first_seq, last_seq)| {
                    (
                        c.start.clone(),
                        Late {
                            period: c.label,
                            count,
                            first_seq,
                            last_seq,
                            packet_checkpoint_size: c.size,
                        },
                    )
                })
            })
            .collect();
        out.sort_by(|a, b| (&a.0, &a.1.period).cmp(&(&b.0, &b.1.period)));
        out.into_iter().map(|(_, l)| l).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_of_labels() {
        assert_eq!(series_of("2026-10"), "month");
        assert_eq!(series_of("2026-Q4"), "quarter");
        assert_eq!(series_of("2026"), "year");
        assert_eq!(series_of("2026-10-05"), "day");
        assert_eq!(
            series_of("2026-10-01T00:00:00.000000Z..2026-11-01T00:00:00.000000Z"),
            "ad hoc"
        );
    }
}
