//! Failed authentications per client address. Each is evidence (a security event kept
//! seven years), but anyone who can reach the port can fail as often as they like, so:
//! the first failure from an address in a window is logged at once; the rest of that
//! window become one event carrying their count (and the usernames tried), written when
//! the window closes; beyond `failures_per_window` the address is answered 429 with
//! `Retry-After` without its credentials being checked. At most two ledger rows per
//! address per window.

use chrono::{DateTime, Utc};
use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Usernames listed in one aggregate event, at most.
pub const MAX_NAMES: usize = 20;

struct Window {
    opened: Instant,
    opened_at: DateTime<Utc>,
    last_at: DateTime<Utc>,
    /// Failures in the window (the first included).
    count: u64,
    /// Of those, refused by the rate limit.
    limited: u64,
    names: BTreeSet<String>,
    more_names: u64,
}

/// One aggregate to log: the failures after the first in a closed window.
#[derive(Debug, Clone)]
pub struct Aggregate {
    /// The client address.
    pub ip: String,
    /// Failures in the window (the first included).
    pub count: u64,
    /// Of those, refused by the rate limit.
    pub limited: u64,
    /// When the window opened.
    pub from: DateTime<Utc>,
    /// The last failure in the window.
    pub to: DateTime<Utc>,
    /// Usernames tried, at most [`MAX_NAMES`].
    pub names: Vec<String>,
    /// Further usernames tried beyond those listed.
    pub more_names: u64,
}

/// Failed authentications per client address, in fixed windows.
pub struct Limiter {
    window: Duration,
    limit: u64,
    map: Mutex<HashMap<String, Window>>,
    /// Aggregates of windows replaced before a drain saw them.
    pending: Mutex<Vec<Aggregate>>,
}

impl Limiter {
    /// A limiter allowing `limit` failures per address per `window`.
    pub fn new(window: Duration, limit: u64) -> Limiter {
        Limiter {
            window,
            limit,
            map: Mutex::default(),
            pending: Mutex::default(),
        }
    }

    /// The window length.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// Seconds until `ip` may try again, when it is over the limit.
    pub fn retry_after(&self, ip: &str) -> Option<u64> {
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let w = map.get(ip)?;
        let age = w.opened.elapsed();
        (age < self.window && w.count >= self.limit).then(|| (self.window - age).as_secs().max(1))
    }

    /// Count a failure; true when it is the first of its window (log it now).
    pub fn record(&self, ip: &str, username: Option<&str>, limited: bool) -> bool {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let now = Utc::now();
        let fresh = map
            .get(ip)
            .is_none_or(|w| w.opened.elapsed() >= self.window);
        if fresh {
            // A closed window not yet drained is drained by the next tick: keep both.
            if let Some(old) = map.remove(ip) {
                if old.count > 1 {
                    self.pending
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(aggregate(ip, old));
                }
            }
            map.insert(
                ip.to_string(),
                Window {
                    opened: Instant::now(),
                    opened_at: now,
                    last_at: now,
                    count: 1,
                    limited: u64::from(limited),
                    names: username.into_iter().map(str::to_string).collect(),
                    more_names: 0,
                },
            );
            return true;
        }
        let w = map.get_mut(ip).expect("present");
        w.count += 1;
        w.limited += u64::from(limited);
        w.last_at = now;
        if let Some(n) = username {
            if !w.names.contains(n) {
                if w.names.len() < MAX_NAMES {
                    w.names.insert(n.to_string());
                } else {
                    w.more_names += 1;
                }
            }
        }
        false
    }

    /// Aggregates of windows that have closed (all of them when `all`).
    pub fn drain(&self, all: bool) -> Vec<Aggregate> {
        let mut out = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()));
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let closed: Vec<String> = map
            .iter()
            .filter(|(_, w)| all || w.opened.elapsed() >= self.window)
            .map(|(k, _)| k.clone())
            .collect();
        for ip in closed {
            let w = map.remove(&ip).expect("present");
            if w.count > 1 {
                out.push(aggregate(&ip, w));
            }
        }
        out
    }
}

fn aggregate(ip: &str, w: Window) -> Aggregate {
    Aggregate {
        ip: ip.to_string(),
        count: w.count - 1,
        limited: w.limited,
        from: w.opened_at,
        to: w.last_at,
        names: w.names.into_iter().collect(),
        more_names: w.more_names,
    }
}
