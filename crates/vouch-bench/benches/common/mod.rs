//! Shared by the micro-benchmarks: each vouch function is timed next to a baseline doing
//! the same bytes' plain work, and the ratio is printed after criterion's own report.

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Total time and iterations per benchmark id, as measured (warm-up included).
static TIMES: Mutex<BTreeMap<String, (Duration, u64)>> = Mutex::new(BTreeMap::new());

/// Criterion with shorter warm-up and measurement than its defaults (the command line
/// still overrides them).
pub fn criterion() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args()
}

/// Time `f` as `group/id`, recording its mean for [`ratios`].
pub fn bench<O>(
    g: &mut BenchmarkGroup<'_, WallTime>,
    group: &str,
    id: &str,
    mut f: impl FnMut() -> O,
) {
    let key = format!("{group}/{id}");
    g.bench_function(id, |b| {
        b.iter_custom(|iters| {
            let t = Instant::now();
            for _ in 0..iters {
                black_box(f());
            }
            let d = t.elapsed();
            let mut times = TIMES.lock().expect("not poisoned");
            let e = times.entry(key.clone()).or_default();
            e.0 += d;
            e.1 += iters;
            d
        })
    });
}

fn mean_ns(key: &str) -> Option<f64> {
    let times = TIMES.lock().expect("not poisoned");
    times
        .get(key)
        .filter(|(_, n)| *n > 0)
        .map(|(d, n)| d.as_nanos() as f64 / *n as f64)
}

/// Print, for each `(group, vouch id, baseline id)`, both means and vouch / baseline.
pub fn ratios(pairs: &[(&str, &str, &str)]) {
    println!();
    println!(
        "{:<34} {:>14} {:>14} {:>8}",
        "vouch / baseline", "vouch", "baseline", "ratio"
    );
    for (group, vouch, base) in pairs {
        let (Some(v), Some(b)) = (
            mean_ns(&format!("{group}/{vouch}")),
            mean_ns(&format!("{group}/{base}")),
        ) else {
            continue;
        };
        println!(
            "{:<34} {:>14} {:>14} {:>7.2}×",
            format!("{group}: {vouch} / {base}"),
            human(v),
            human(b),
            v / b
        );
    }
}

fn human(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
    }
}

/// Typical events, as the demo and the ledger benchmark generate them.
pub fn events(n: usize) -> Vec<vouch_core::event::Event> {
    let mut g = vouch_engine::demo::Generator::new(11, 420);
    g.span(
        vouch_engine::demo::day(2026, 9, 1),
        vouch_engine::demo::day(2026, 10, 1),
        n,
    )
}
