//! `vouch serve` as a process: PostgreSQL as its store, and a kill -9 in the middle of
//! concurrent HTTP ingest loses no acknowledged event.

use serde_json::{json, Value};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};

use crate::util::{pg_url, vouch as bin, PgSchema as Pg};

fn cmd(dir: &Path, pg: &Pg) -> Command {
    bin()
        .data_dir(dir)
        .env("VOUCH_DATABASE_URL", &pg.url)
        .env("VOUCH_DATABASE_SCHEMA", &pg.name)
        .env("VOUCH_SCHEDULER", "off")
        .into_command()
}

fn ok(o: Output) -> String {
    crate::util::ok(&o)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(30)))
        .build()
        .into()
}

/// Start `vouch serve` and wait until it answers /healthz.
#[allow(clippy::zombie_processes)] // the caller kills and waits
fn serve(dir: &Path, pg: &Pg) -> (Child, String) {
    let port = free_port();
    let log = std::fs::File::create(dir.join(format!("serve-{port}.log"))).unwrap();
    let child = cmd(dir, pg)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    for _ in 0..200 {
        if let Ok(r) = agent().get(format!("{base}/healthz")).call() {
            if r.status() == 200 {
                return (child, base);
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!(
        "vouch serve did not come up: {}",
        std::fs::read_to_string(dir.join(format!("serve-{port}.log"))).unwrap_or_default()
    );
}

fn event_id(client: usize, n: usize) -> String {
    format!("01900000-{client:04x}-7000-8000-{n:012x}")
}

fn post(base: &str, token: &str, body: &str) -> Result<(u16, Value), String> {
    let mut r = agent()
        .post(format!("{base}/api/compliance/audit-logs"))
        .header("Authorization", &format!("Bearer {token}"))
        .header("Content-Type", "application/json")
        .send(body)
        .map_err(|e| e.to_string())?;
    let status = r.status().as_u16();
    let text = r.body_mut().read_to_string().map_err(|e| e.to_string())?;
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

#[test]
fn ext_postgres_serve_kill_9_mid_ingest_loses_no_acknowledged_event() {
    let Some(url) = pg_url() else {
        eprintln!("skipping: VOUCH_TEST_DATABASE_URL not set");
        return;
    };
    let pg = Pg::new(&url, "vouch_kill");
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("data");
    ok(cmd(&d, &pg)
        .args(["init", "--origin", "kill.example/vouch/audit"])
        .output()
        .unwrap());
    let ingest = ok(cmd(&d, &pg)
        .args(["tokens", "create", "--role", "ingest", "--name", "ingest"])
        .output()
        .unwrap())
    .trim()
    .to_string();
    let lead = ok(cmd(&d, &pg)
        .args(["tokens", "create", "--role", "team-lead", "--name", "lead"])
        .output()
        .unwrap())
    .trim()
    .to_string();

    let (mut server, base) = serve(&d, &pg);
    // Acknowledged batches: (body, seqs the server answered).
    type Acked = Arc<Mutex<Vec<(String, Vec<u64>)>>>;
    let acked: Acked = Arc::default();
    let clients: Vec<_> = (0..6)
        .map(|c| {
            let (base, token, acked) = (base.clone(), ingest.clone(), acked.clone());
            std::thread::spawn(move || {
                for b in 0.. {
                    let batch: Vec<Value> = (0..25)
                        .map(|i| {
                            let n = b * 25 + i;
                            json!({"id": event_id(c, n), "organization_id": "org-1",
                                "actor": {"id": format!("client-{c}")}, "action": "record.write",
                                "category": "data_modification", "resource": {"type": "record", "id": format!("r{n}")},
                                "result": "success", "timestamp": "2026-10-05T10:00:00Z",
                                "details": {"description": format!("client {c} event {n}")}})
                        })
                        .collect();
                    let body = json!(batch).to_string();
                    match post(&base, &token, &body) {
                        Ok((201, v)) => {
                            let seqs = v["seqs"]
                                .as_array()
                                .unwrap()
                                .iter()
                                .map(|s| s.as_u64().unwrap())
                                .collect();
                            acked.lock().unwrap().push((body, seqs));
                        }
                        // The server is gone (killed): stop.
                        Ok(_) | Err(_) => return b,
                    }
                }
                unreachable!()
            })
        })
        .collect();
    // Let the clients get going, then kill -9 while they are mid-request.
    let start = std::time::Instant::now();
    while acked.lock().unwrap().len() < 40 && start.elapsed().as_secs() < 60 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    server.kill().unwrap(); // SIGKILL
    server.wait().unwrap();
    for c in clients {
        c.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= 40,
        "too few acknowledged batches before the kill: {}",
        acked.len()
    );

    // Restart on the same database: every acknowledged id is there, at its seq.
    let (mut server, base) = serve(&d, &pg);
    let mut r = agent()
        .get(format!("{base}/api/compliance/audit-logs/export"))
        .header("Authorization", &format!("Bearer {lead}"))
        .call()
        .unwrap();
    assert_eq!(r.status(), 200);
    let text = r.body_mut().read_to_string().unwrap();
    let stored: std::collections::HashMap<String, u64> = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .map(|v| {
            (
                v["id"].as_str().unwrap().to_string(),
                v["seq"].as_u64().unwrap(),
            )
        })
        .collect();
    let mut missing = Vec::new();
    for (body, seqs) in &acked {
        let batch: Vec<Value> = serde_json::from_str(body).unwrap();
        for (e, seq) in batch.iter().zip(seqs) {
            let id = e["id"].as_str().unwrap();
            if stored.get(id) != Some(seq) {
                missing.push(format!("{id} (seq {seq}) → {:?}", stored.get(id)));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "{} acknowledged events lost or moved: {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );

    // The ledger verifies.
    let v: Value = serde_json::from_str(&ok(cmd(&d, &pg)
        .args(["--json", "ledger", "verify"])
        .output()
        .unwrap()))
    .unwrap();
    assert_eq!(v["valid"], json!(true), "{v}");
    let size_before = v["checked"].as_u64().unwrap();

    // Re-posting what was acknowledged is idempotent: the same seqs, nothing new.
    for (body, seqs) in acked.iter().step_by(3) {
        let (status, v) = post(&base, &ingest, body).unwrap();
        assert_eq!(status, 201, "{v}");
        assert_eq!(v["new"], json!(0), "{v}");
        let again: Vec<u64> = v["seqs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_u64().unwrap())
            .collect();
        assert_eq!(&again, seqs);
    }
    server.kill().unwrap();
    server.wait().unwrap();
    let v: Value = serde_json::from_str(&ok(cmd(&d, &pg)
        .args(["--json", "ledger", "verify"])
        .output()
        .unwrap()))
    .unwrap();
    assert_eq!(v["valid"], json!(true), "{v}");
    // Only vouch's own audit of the export may have arrived since.
    assert!(v["checked"].as_u64().unwrap() <= size_before + 1, "{v}");
}
