//! The sequencer: one thread that owns seq assignment. Concurrent appends queue here
//! and are gathered into one transaction (group commit); each caller is answered only
//! after that transaction commits. The ledger head row is locked inside every
//! transaction, so other processes appending to the same database serialise too; the
//! cached tree state is reloaded whenever the head moved under us.

use super::{Appended, Inner, LedgerError, LedgerOptions};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use vouch_core::event::Sealed;
use vouch_core::merkle::{leaf_hash, Frontier, Node, TILE_HEIGHT};
use vouch_core::Hash;
use vouch_store::{EntryRow, Head, StoreError};

/// FxHash: ids are UUIDs we validated, so a fast non-keyed hash is fine here.
#[derive(Default, Clone, Copy)]
struct Fx(u64);

impl std::hash::Hasher for Fx {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(b))
                .wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

type FxMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<Fx>>;

pub struct Request {
    pub events: Vec<Sealed>,
    pub reply: tokio::sync::oneshot::Sender<Result<Appended, LedgerError>>,
}

#[derive(Clone)]
struct State {
    frontier: Frontier,
    chain: Hash,
}

impl State {
    fn from_head(head: &Head) -> Result<State, StoreError> {
        let frontier = Frontier::from_bytes(head.size, &head.frontier).ok_or_else(|| {
            StoreError::Corrupt("ledger head frontier does not match its size".into())
        })?;
        Ok(State {
            frontier,
            chain: head.chain,
        })
    }
}

/// How long a commit waits for more requests while writers are concurrent.
const LINGER: Duration = Duration::from_micros(400);

pub fn start(inner: Arc<Inner>, options: LedgerOptions) -> Sender<Request> {
    let (tx, rx) = crossbeam_channel::unbounded();
    std::thread::Builder::new()
        .name("vouch-sequencer".into())
        .spawn(move || run(inner, options, rx))
        .expect("spawn sequencer thread");
    tx
}

fn run(inner: Arc<Inner>, options: LedgerOptions, rx: Receiver<Request>) {
    let mut state: Option<State> = None;
    let mut last_checkpoint = Instant::now();
    let mut dirty = false;
    let mut last_group = 0usize;
    loop {
        let wait = if dirty {
            options
                .checkpoint_interval
                .saturating_sub(last_checkpoint.elapsed())
        } else {
            Duration::from_secs(3600)
        };
        let first = match rx.recv_timeout(wait) {
            Ok(r) => r,
            Err(RecvTimeoutError::Timeout) => {
                if dirty {
                    checkpoint(&inner, &mut last_checkpoint, &mut dirty);
                }
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let mut count = first.events.len();
        let mut group = vec![first];
        // Group commit: take what is queued; when the last commit showed concurrent
        // writers, linger briefly for more, since one commit costs about one fsync.
        let linger_until = (last_group > 1).then(|| Instant::now() + LINGER);
        while count < options.max_batch && !(linger_until.is_some() && group.len() >= last_group) {
            let next = match linger_until {
                Some(until) => rx.recv_deadline(until).ok(),
                None => rx.try_recv().ok(),
            };
            match next {
                Some(r) => {
                    count += r.events.len();
                    group.push(r);
                }
                None => break,
            }
        }
        last_group = group.len();
        if commit_group(&inner, &mut state, group) {
            dirty = true;
        }
        if dirty && last_checkpoint.elapsed() >= options.checkpoint_interval {
            checkpoint(&inner, &mut last_checkpoint, &mut dirty);
        }
    }
}

fn checkpoint(inner: &Inner, last: &mut Instant, dirty: &mut bool) {
    match super::checkpoint::make(inner) {
        Ok(_) => *dirty = false,
        Err(e) => tracing::error!("automatic checkpoint failed: {e}"),
    }
    *last = Instant::now();
}

/// Where an event of a request ends up.
enum Slot {
    /// Already in the ledger at this seq.
    Existing(u64),
    /// The n-th new event of this commit.
    New(usize),
}

/// Commit one group; answers every request. Returns whether anything new was written.
fn commit_group(inner: &Inner, state: &mut Option<State>, group: Vec<Request>) -> bool {
    // Most events are new: try without looking ids up; the unique index on ids catches
    // a re-sent event, and then the group is redone with lookups.
    match try_commit(inner, state, &group, false) {
        Err(StoreError::DuplicateId) => {}
        other => return answer(state, group, other),
    }
    let second = try_commit(inner, state, &group, true);
    answer(state, group, second)
}

type Outcomes = Vec<Result<Vec<Slot>, LedgerError>>;

struct Committed {
    outcomes: Outcomes,
    state: State,
    base: u64,
    new_count: usize,
}

fn try_commit(
    inner: &Inner,
    state: &Option<State>,
    group: &[Request],
    lookup: bool,
) -> Result<Committed, StoreError> {
    let mut outcomes: Vec<Option<Result<Vec<Slot>, LedgerError>>> =
        (0..group.len()).map(|_| None).collect();
    let mut new_state: Option<State> = None;
    let mut new_count = 0usize;
    let mut base = 0u64;

    let t0 = Instant::now();
    let mut marks = [Duration::ZERO; 3];
    let result = inner.store.ledger_write(&mut |tx| {
        let head = tx.head()?;
        let mut st = match state.as_ref() {
            Some(s) if s.frontier.size() == head.size && s.chain == head.chain => s.clone(),
            _ => State::from_head(&head)?,
        };
        base = head.size;

        // Pass 1: resolve ids against the ledger and the rest of this group.
        let found: FxMap<String, (u64, String)> = if lookup {
            let ids: Vec<&str> = group
                .iter()
                .flat_map(|r| r.events.iter().map(|e| e.id.as_str()))
                .collect();
            tx.find_ids(&ids)?
                .into_iter()
                .map(|f| (f.id, (f.seq, f.leaf)))
                .collect()
        } else {
            FxMap::default()
        };
        let mut pending: FxMap<&str, usize> = FxMap::default();
        let mut fresh: Vec<&Sealed> = Vec::new();
        for (ri, req) in group.iter().enumerate() {
            let mut slots = Vec::with_capacity(req.events.len());
            let mut mine: FxMap<&str, usize> = FxMap::default();
            let mut mine_events: Vec<&Sealed> = Vec::new();
            let mut failed = None;
            for ev in &req.events {
                let id = ev.id.as_str();
                if let Some((seq, leaf)) = found.get(id) {
                    if ev.leaf(*seq) == leaf.as_bytes() {
                        slots.push(Slot::Existing(*seq));
                        continue;
                    }
                    failed = Some(LedgerError::Conflict {
                        id: id.to_string(),
                        seq: *seq,
                    });
                    break;
                }
                let earlier = pending
                    .get(id)
                    .map(|&n| fresh[n])
                    .or_else(|| mine.get(id).map(|&n| mine_events[n]));
                if let Some(other) = earlier {
                    if *other == *ev {
                        let n = pending
                            .get(id)
                            .copied()
                            .unwrap_or_else(|| fresh.len() + mine[id]);
                        slots.push(Slot::New(n));
                        continue;
                    }
                    failed = Some(LedgerError::Invalid(format!(
                        "event id {id} appears twice in this batch with different content"
                    )));
                    break;
                }
                mine.insert(id, mine_events.len());
                slots.push(Slot::New(fresh.len() + mine_events.len()));
                mine_events.push(ev);
            }
            match failed {
                Some(e) => outcomes[ri] = Some(Err(e)),
                None => {
                    for (id, n) in mine {
                        pending.insert(id, fresh.len() + n);
                    }
                    fresh.extend(mine_events);
                    outcomes[ri] = Some(Ok(slots));
                }
            }
        }

        marks[0] = t0.elapsed();
        // Pass 2: sequence, hash, chain and grow the tree.
        let mut rows = Vec::with_capacity(fresh.len());
        let mut nodes: Vec<Node> = Vec::new();
        for (n, ev) in fresh.iter().enumerate() {
            let seq = base + n as u64;
            let leaf = ev.leaf(seq);
            let lh = leaf_hash(&leaf);
            let chain = inner.chain.next(&st.chain, &lh, seq);
            st.chain = chain;
            st.frontier.push(lh, |node| {
                if node.level % TILE_HEIGHT == 0 {
                    nodes.push(node)
                }
            });
            // Validated events always have the index fields; a canonical form that does
            // not parse is a bug upstream, and nothing of this group is written.
            let index = crate::index::fields_of(&ev.canonical).ok_or_else(|| {
                StoreError::Corrupt(format!("event {} has no action/category/result", ev.id))
            })?;
            rows.push(EntryRow {
                seq,
                id: ev.id.clone(),
                ts: ev.ts.clone(),
                leaf,
                leaf_hash: lh,
                chain,
                index,
            });
        }
        marks[1] = t0.elapsed();
        if !rows.is_empty() {
            tx.insert_entries(&rows)?;
            marks[2] = t0.elapsed();
            tx.insert_nodes(&nodes)?;
            tx.put_head(&Head {
                size: st.frontier.size(),
                frontier: st.frontier.to_bytes(),
                chain: st.chain,
            })?;
        }
        new_count = rows.len();
        new_state = Some(st);
        Ok(())
    });

    result?;
    tracing::debug!(
        events = new_count,
        resolve_ms = marks[0].as_secs_f64() * 1e3,
        hash_ms = (marks[1] - marks[0]).as_secs_f64() * 1e3,
        insert_ms = (marks[2].saturating_sub(marks[1])).as_secs_f64() * 1e3,
        commit_ms = (t0.elapsed().saturating_sub(marks[2])).as_secs_f64() * 1e3,
        "ledger commit"
    );
    Ok(Committed {
        outcomes: outcomes
            .into_iter()
            .map(|o| o.expect("every request resolved"))
            .collect(),
        state: new_state.expect("set on success"),
        base,
        new_count,
    })
}

/// Answer every request of a group; returns whether anything new was written.
fn answer(
    state: &mut Option<State>,
    group: Vec<Request>,
    result: Result<Committed, StoreError>,
) -> bool {
    match result {
        Ok(c) => {
            *state = Some(c.state);
            let size = c.base + c.new_count as u64;
            for (req, outcome) in group.into_iter().zip(c.outcomes) {
                let answer = outcome.map(|slots| {
                    let mut new = std::collections::HashSet::new();
                    let seqs = slots
                        .into_iter()
                        .map(|s| match s {
                            Slot::Existing(seq) => seq,
                            Slot::New(n) => {
                                new.insert(n);
                                c.base + n as u64
                            }
                        })
                        .collect();
                    Appended {
                        seqs,
                        new: new.len(),
                        tree_size: size,
                    }
                });
                let _ = req.reply.send(answer);
            }
            c.new_count > 0
        }
        Err(e) => {
            *state = None;
            let msg = e.to_string();
            for req in group {
                let _ = req
                    .reply
                    .send(Err(LedgerError::Store(StoreError::Aborted(format!(
                        "append failed, nothing was written: {msg}"
                    )))));
            }
            false
        }
    }
}
