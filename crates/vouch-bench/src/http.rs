//! `vouch-bench http`: batched ingest over loopback HTTP with several clients, and the
//! filtered query's latency, against the same batches appended in-process (the ledger's
//! own ceiling) measured in the same run. The server is a `vouch serve` child process.

use crate::child::Vouch;
use anyhow::{anyhow, bail, Context, Result};
use serde_json::json;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// Parameters of `vouch-bench http`.
#[derive(Debug, Clone)]
pub struct HttpBench {
    /// Events to ingest over HTTP.
    pub events: usize,
    /// Concurrent HTTP clients.
    pub clients: usize,
    /// Events per POST.
    pub batch: usize,
    /// Filtered queries to time.
    pub queries: usize,
    /// Scratch directory (data directory, keys).
    pub dir: PathBuf,
    /// The `vouch` binary that serves (default: next to this executable).
    pub vouch: Option<PathBuf>,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// `vouch tokens create --role ROLE --name NAME`: the token's secret.
fn token(vouch: &Vouch, data_dir: &Path, role: &str, name: &str) -> Result<String> {
    let out = vouch
        .command(data_dir)
        .args(["--json", "tokens", "create", "--role", role, "--name", name])
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("cannot run {}", vouch.path.display()))?;
    if !out.status.success() {
        bail!(
            "vouch tokens create failed: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("vouch tokens create printed no JSON")?;
    v["token"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow!("vouch tokens create printed no token"))
}

/// A `vouch serve` child, stopped (SIGTERM, then SIGKILL) when dropped.
pub(crate) struct Server {
    child: Child,
    /// `127.0.0.1:PORT`, as the server printed it.
    pub(crate) addr: String,
}

impl Server {
    fn start(vouch: &Vouch, data_dir: &Path) -> Result<Server> {
        Self::start_with_env(vouch, data_dir, &[])
    }

    /// `vouch serve` on a free loopback port, with these environment variables.
    pub(crate) fn start_with_env(
        vouch: &Vouch,
        data_dir: &Path,
        env: &[(&str, String)],
    ) -> Result<Server> {
        let mut child = vouch
            .command(data_dir)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot run {}", vouch.path.display()))?;
        let stderr = child.stderr.take().expect("piped");
        let (tx, rx) = std::sync::mpsc::channel();
        // Read the listening line, then keep draining (and passing on) the server's log.
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                match line.strip_prefix("vouch serve: listening on http://") {
                    Some(a) if tx.is_some() => {
                        let _ = tx.take().expect("some").send(a.trim().to_string());
                    }
                    _ => eprintln!("{line}"),
                }
            }
        });
        let mut server = Server {
            child,
            addr: String::new(),
        };
        server.addr = rx
            .recv_timeout(Duration::from_secs(60))
            .map_err(|_| anyhow!("vouch serve did not start listening"))?;
        Ok(server)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: signalling our own child, which has not been reaped yet.
        #[allow(unsafe_code)]
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `vouch-bench http`: runs the benchmark and returns its report.
pub fn http(a: &HttpBench, progress: &mut dyn FnMut(&str)) -> Result<serde_json::Value> {
    let vouch = Vouch::locate(a.vouch.as_deref())?;
    let events = {
        let mut g = vouch_engine::demo::Generator::new(11, 420);
        g.span(
            vouch_engine::demo::day(2026, 9, 1),
            vouch_engine::demo::day(2026, 10, 1),
            a.events,
        )
    };
    let bodies: Vec<String> = events
        .chunks(a.batch)
        .map(|c| {
            format!(
                "[{}]",
                c.iter()
                    .map(|e| String::from_utf8_lossy(e.canonical()).into_owned())
                    .collect::<Vec<_>>()
                    .join(",")
            )
        })
        .collect();
    let fresh = |name: &str| -> Result<vouch_engine::Config> {
        let d = a.dir.join(name);
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&a.dir)?;
        Ok(vouch_engine::init::init(&d, Some("Bench"), Some("bench.example/vouch/audit"))?.config)
    };
    // Baseline: the same batches through Ledger::append, no HTTP.
    progress(&format!(
        "baseline: {} events appended in-process",
        events.len()
    ));
    let base_cfg = fresh("http-baseline")?;
    let (_, _, ledger) = vouch_engine::open(&base_cfg)?;
    let t = Instant::now();
    for c in events.chunks(a.batch) {
        ledger.append(c.to_vec())?;
    }
    let base_secs = t.elapsed().as_secs_f64();
    drop(ledger);

    let cfg = fresh("http")?;
    let ingest = token(&vouch, &cfg.data_dir, "ingest", "bench-ingest")?;
    let reader = token(&vouch, &cfg.data_dir, "auditor", "bench-reader")?;
    let server = Server::start(&vouch, &cfg.data_dir)?;
    let addr = server.addr.clone();
    progress(&format!(
        "ingest over HTTP: {} clients, {} events per request",
        a.clients, a.batch
    ));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let t = Instant::now();
    std::thread::scope(|s| -> Result<()> {
        let mut handles = Vec::new();
        for _ in 0..a.clients {
            handles.push(s.spawn(|| -> Result<()> {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .build()
                    .into();
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let Some(body) = bodies.get(i) else {
                        return Ok(());
                    };
                    let r = agent
                        .post(format!("http://{addr}/api/compliance/audit-logs"))
                        .header("Authorization", format!("Bearer {ingest}"))
                        .header("Content-Type", "application/json")
                        .send(body.as_str())?;
                    if r.status().as_u16() != 201 {
                        bail!("ingest returned {}", r.status());
                    }
                }
            }));
        }
        for h in handles {
            h.join().map_err(|_| anyhow!("client panicked"))??;
        }
        Ok(())
    })?;
    let http_secs = t.elapsed().as_secs_f64();

    progress(&format!("{} filtered queries", a.queries));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut lat = Vec::new();
    for i in 0..a.queries {
        let url = format!(
            "http://{addr}/api/compliance/audit-logs?actor_id=usr_{:04}&start_date=2026-09-{:02}&end_date=2026-09-{:02}&per_page=100",
            (i * 37) % 420,
            1 + i % 20,
            8 + i % 20
        );
        let t = Instant::now();
        let mut r = agent
            .get(&url)
            .header("Authorization", format!("Bearer {reader}"))
            .call()?;
        let _ = r.body_mut().read_to_vec()?;
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
        if r.status().as_u16() != 200 {
            bail!("query returned {}", r.status());
        }
    }
    drop(server);
    lat.sort_by(|a, b| a.total_cmp(b));
    let n = events.len() as f64;
    Ok(json!({
        "benchmark": "http",
        "vouch_version": vouch_engine::VERSION,
        "date": crate::now(),
        "events": events.len(), "clients": a.clients, "batch": a.batch,
        "http_ingest": {"seconds": (http_secs * 100.0).round() / 100.0, "events_per_sec": (n / http_secs).round()},
        "baseline_in_process_append": {"seconds": (base_secs * 100.0).round() / 100.0, "events_per_sec": (n / base_secs).round()},
        "http_vs_in_process": ((base_secs / http_secs) * 100.0).round() / 100.0,
        "query": {"ledger_events": events.len(), "requests": a.queries, "p50_ms": (percentile(&lat, 0.5) * 100.0).round() / 100.0, "p99_ms": (percentile(&lat, 0.99) * 100.0).round() / 100.0},
        "goals": {"ingest_events_per_sec": 100000, "query_p99_ms_at_10m": 20},
    }))
}
