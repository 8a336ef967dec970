//! Canonical JSON (vouch_core::canonical, RFC 8785) of a typical event against
//! `serde_json::to_vec` of the same value.

mod common;

use common::{bench, events, ratios};
use serde_json::Value;

fn main() {
    let mut c = common::criterion();
    let event = events(1).remove(0);
    let value = Value::Object(event.fields().clone());
    assert_eq!(vouch_core::canonical::to_vec(&value), event.canonical());
    {
        let mut g = c.benchmark_group("canonical_event");
        bench(&mut g, "canonical_event", "vouch", || {
            vouch_core::canonical::to_vec(&value)
        });
        bench(&mut g, "canonical_event", "serde_json", || {
            serde_json::to_vec(&value).expect("serialisable")
        });
        g.finish();
    }
    c.final_summary();
    ratios(&[("canonical_event", "vouch", "serde_json")]);
}
