//! Witnesses (issue 18) as users run them: two `vouch witness serve` processes on
//! loopback, `vouch witness submit` storing their cosignatures (SQLite and PostgreSQL),
//! k-of-n verification of checkpoints and packets, a forked log (same log key, another
//! history) and a rollback refused by a witness that cosigned the first; and RFC 3161
//! timestamps from a local TSA made with `openssl ts -reply`.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};

use serde_json::Value;
use vouch_test_support::{on_both, Kind};

use crate::util::{ext, ok, vouch as bin, PgSchema};
use vouch_test_support::tsa::{make_tsa, serve as start_tsa};

/// A data directory on SQLite or on its own PostgreSQL schema.
pub(crate) struct Data {
    pub(crate) dir: PathBuf,
    pg: Option<PgSchema>,
}

impl Data {
    pub(crate) fn new(dir: PathBuf, kind: Kind) -> Data {
        let pg = match kind {
            Kind::Sqlite => None,
            Kind::Postgres => Some(PgSchema::new(
                &crate::util::pg_url().expect("a PostgreSQL URL"),
                "vouch_witness",
            )),
        };
        Data { dir, pg }
    }

    pub(crate) fn run_in(&self, args: &[&str], input: &str) -> Output {
        let mut v = bin().data_dir(&self.dir).args(args).stdin(input);
        if let Some(pg) = &self.pg {
            v = v
                .env("VOUCH_DATABASE_URL", &pg.url)
                .env("VOUCH_DATABASE_SCHEMA", &pg.name);
        }
        v.output()
    }

    pub(crate) fn run(&self, args: &[&str]) -> Output {
        self.run_in(args, "")
    }

    pub(crate) fn ok(&self, args: &[&str]) -> String {
        ok(&self.run(args))
    }

    /// Append `n` events of September 2026 whose action starts with `tag`.
    fn append(&self, tag: &str, n: usize) {
        let mut lines = String::new();
        for i in 0..n {
            lines.push_str(&format!(
                "{{\"timestamp\":\"2026-09-{:02}T10:{:02}:00Z\",\"actor\":{{\"id\":\"u{i}\"}},\"action\":\"{tag}.{i}\",\"category\":\"system\",\"result\":\"success\"}}\n",
                1 + i % 28,
                i % 60
            ));
        }
        ok(&self.run_in(&["ledger", "append", "-"], &lines));
    }

    pub(crate) fn log_vkey(&self) -> String {
        let keys: Value = serde_json::from_str(&self.ok(&["--json", "keys", "show"])).unwrap();
        keys["log_verifier_key"].as_str().unwrap().to_string()
    }

    pub(crate) fn add_witnesses(&self, ws: &[&WitnessProc]) {
        let mut toml = std::fs::read_to_string(self.dir.join("vouch.toml")).unwrap();
        for w in ws {
            toml.push_str(&format!(
                "\n[[witness]]\nname = \"{}\"\nurl = \"{}\"\nvkey = \"{}\"\n",
                w.name, w.url, w.vkey
            ));
        }
        std::fs::write(self.dir.join("vouch.toml"), toml).unwrap();
    }
}

/// `vouch witness serve` as a child process; killed when dropped.
pub(crate) struct WitnessProc {
    name: String,
    url: String,
    pub(crate) vkey: String,
    child: Child,
}

impl Drop for WitnessProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn start_witness(dir: &Path, name: &str, log_vkey: &str) -> WitnessProc {
    start_witness_logging(dir, name, log_vkey, None)
}

/// [`start_witness`], its log (`VOUCH_LOG=info`) written to `log` when given.
fn start_witness_logging(
    dir: &Path,
    name: &str,
    log_vkey: &str,
    log: Option<&Path>,
) -> WitnessProc {
    let key = dir.join(format!("{}.key", name.replace('/', "_")));
    let vkey = ok(&bin()
        .args([
            "witness",
            "keygen",
            "--name",
            name,
            "--out",
            key.to_str().unwrap(),
        ])
        .output())
    .trim()
    .to_string();
    let state = dir.join(format!("{}.state.json", name.replace('/', "_")));
    let (env, stderr) = match log {
        Some(p) => ("info", Stdio::from(std::fs::File::create(p).unwrap())),
        None => ("warn", Stdio::inherit()),
    };
    let mut child = bin()
        .env("VOUCH_LOG", env)
        .args([
            "witness",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--key",
            key.to_str().unwrap(),
            "--log",
            log_vkey,
            "--state",
            state.to_str().unwrap(),
        ])
        .into_command()
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .rsplit(' ')
        .next()
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    assert!(line.contains(&vkey), "{line}");
    WitnessProc {
        name: name.to_string(),
        url: format!("http://{addr}"),
        vkey,
        child,
    }
}

fn fails(o: &Output) -> String {
    assert!(
        !o.status.success(),
        "expected failure: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn post(url: &str, body: &str) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut r = agent.post(url).send(body).unwrap();
    let status = r.status().as_u16();
    (status, r.body_mut().read_to_string().unwrap())
}

on_both!(witnesses_cosign_and_refuse_forks, |kind| {
    let t = tempfile::tempdir().unwrap();
    let a = Data::new(t.path().join("a"), kind);
    a.ok(&[
        "init",
        "--org",
        "Acme",
        "--origin",
        "acme.example/vouch/audit",
    ]);
    a.append("first", 40);
    let log = a.log_vkey();
    let w1 = start_witness(t.path(), "w1.example/witness", &log);
    let w2 = start_witness(t.path(), "w2.example/witness", &log);
    a.add_witnesses(&[&w1, &w2]);
    let both = t.path().join("both.txt");
    std::fs::write(
        &both,
        format!(
            "# the auditor's trusted witnesses\n{}\n{}\n",
            w1.vkey, w2.vkey
        ),
    )
    .unwrap();

    // First submission (old size 0), then a second one that needs a consistency proof.
    let r: Value = serde_json::from_str(&a.ok(&["--json", "witness", "submit"])).unwrap();
    let first_size = r["size"].as_u64().unwrap();
    assert!(
        r["witnesses"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["cosigned"] == true),
        "{r}"
    );
    let cp1 = t.path().join("cp1.txt");
    a.ok(&["witness", "checkpoint", "--out", cp1.to_str().unwrap()]);
    a.append("second", 25);
    let r: Value = serde_json::from_str(&a.ok(&["--json", "witness", "submit"])).unwrap();
    let second_size = r["size"].as_u64().unwrap();
    assert!(second_size > first_size);
    assert!(
        r["witnesses"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["cosigned"] == true),
        "{r}"
    );
    // A packet generated in the same second as the cosignature carries it: the packet
    // records whole seconds, the cosignature microseconds.
    let same_second = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let pk0 = t.path().join("packet-same-second");
    a.ok(&[
        "packet",
        "--period",
        "2026-09",
        "--format",
        "json",
        "--generated-at",
        &same_second,
        "--out",
        pk0.to_str().unwrap(),
    ]);
    let v: Value =
        serde_json::from_slice(&std::fs::read(pk0.join("SOC2_Evidence.json")).unwrap()).unwrap();
    assert_eq!(
        v["ledger"]["witnessed"]["size"].as_u64(),
        Some(second_size),
        "generated at {same_second}: {}",
        v["ledger"]
    );
    let cp2 = t.path().join("cp2.txt");
    a.ok(&["witness", "checkpoint", "--out", cp2.to_str().unwrap()]);
    let note = std::fs::read_to_string(&cp2).unwrap();
    assert_eq!(
        note.matches("\n\u{2014} ").count(),
        3,
        "log signature + 2 cosignatures:\n{note}"
    );

    // k of n on the checkpoint file: 2 of 2 passes.
    let out = a.ok(&[
        "witness",
        "verify",
        cp2.to_str().unwrap(),
        "--log-key",
        &log,
        "--witnesses",
        both.to_str().unwrap(),
        "--min-cosignatures",
        "2",
    ]);
    assert!(out.contains("2 of 2"), "{out}");
    // Packets carry the cosigned checkpoint; `vouch verify` requires k of n.
    let pk = t.path().join("packet");
    a.ok(&[
        "packet",
        "--period",
        "2026-09",
        "--format",
        "json",
        "--out",
        pk.to_str().unwrap(),
    ]);
    let v: Value =
        serde_json::from_slice(&std::fs::read(pk.join("SOC2_Evidence.json")).unwrap()).unwrap();
    assert_eq!(
        v["ledger"]["witnessed"]["size"].as_u64(),
        Some(second_size),
        "{}",
        v["ledger"]["witnessed"]
    );
    let out = a.ok(&[
        "verify",
        pk.to_str().unwrap(),
        "--witnesses",
        both.to_str().unwrap(),
        "--min-cosignatures",
        "2",
    ]);
    assert!(out.contains("witness cosignatures (2 of 2)"), "{out}");
    // With a witness that never cosigned in the trusted set, 2 of {w1, w3} fails naming w3.
    let w3 = start_witness(t.path(), "w3.example/witness", &log);
    let w1w3 = t.path().join("w1w3.txt");
    std::fs::write(&w1w3, format!("{}\n{}\n", w1.vkey, w3.vkey)).unwrap();
    let e = fails(&a.run(&[
        "verify",
        pk.to_str().unwrap(),
        "--witnesses",
        w1w3.to_str().unwrap(),
        "--min-cosignatures",
        "2",
    ]));
    assert!(e.contains("missing: w3.example/witness"), "{e}");
    a.ok(&[
        "verify",
        pk.to_str().unwrap(),
        "--witnesses",
        w1w3.to_str().unwrap(),
        "--min-cosignatures",
        "1",
    ]);
    drop(w3);

    // Only w1 cosigns the next checkpoint (w2 is down): 1 of 2 fails naming w2.
    drop(w2);
    a.append("third", 5);
    let e = fails(&a.run(&["witness", "submit"]));
    assert!(e.contains("w2.example/witness"), "{e}");
    let cp3 = t.path().join("cp3.txt");
    a.ok(&["witness", "checkpoint", "--out", cp3.to_str().unwrap()]);
    let e = fails(&a.run(&[
        "witness",
        "verify",
        cp3.to_str().unwrap(),
        "--log-key",
        &log,
        "--witnesses",
        both.to_str().unwrap(),
        "--min-cosignatures",
        "2",
    ]));
    assert!(
        e.contains("1 of the required 2") && e.contains("missing: w2.example/witness"),
        "{e}"
    );
    a.ok(&[
        "witness",
        "verify",
        cp3.to_str().unwrap(),
        "--log-key",
        &log,
        "--witnesses",
        both.to_str().unwrap(),
        "--min-cosignatures",
        "1",
    ]);
    // A cosignature line altered in the file: refused.
    let forged = std::fs::read_to_string(&cp2).unwrap().replace(
        &format!("\n{}\n", second_size),
        &format!("\n{}\n", second_size + 1),
    );
    std::fs::write(t.path().join("forged.txt"), forged).unwrap();
    fails(&a.run(&[
        "witness",
        "verify",
        t.path().join("forged.txt").to_str().unwrap(),
        "--log-key",
        &log,
        "--witnesses",
        both.to_str().unwrap(),
    ]));

    // A fork: another data directory with the same log key and a different history.
    let b = Data::new(t.path().join("b"), kind);
    std::fs::create_dir_all(b.dir.join("keys")).unwrap();
    std::fs::copy(a.dir.join("keys/log.key"), b.dir.join("keys/log.key")).unwrap();
    b.ok(&[
        "init",
        "--org",
        "Acme",
        "--origin",
        "acme.example/vouch/audit",
    ]);
    assert_eq!(b.log_vkey(), log);
    b.append("forked", 150);
    b.add_witnesses(&[&w1]);
    let e = fails(&b.run(&["witness", "submit"]));
    assert!(e.contains("422") && e.contains("fork"), "{e}");
    // The witness still vouches for A's tree, not B's.
    let origin_hash = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(b"acme.example/vouch/audit"))
    };
    let mut seen = String::new();
    ureq::get(&format!("{}/{origin_hash}/checkpoint", w1.url))
        .call()
        .unwrap()
        .body_mut()
        .as_reader()
        .read_to_string(&mut seen)
        .unwrap();
    let a_cp3 = std::fs::read_to_string(&cp3).unwrap();
    assert_eq!(
        seen.lines().take(3).collect::<Vec<_>>(),
        a_cp3.lines().take(3).collect::<Vec<_>>()
    );

    // A rollback: A's older checkpoint, sent with the witness's own size as old size.
    let size3: u64 = a_cp3.lines().nth(1).unwrap().parse().unwrap();
    let (status, body) = post(
        &format!("{}/add-checkpoint", w1.url),
        &format!("old {size3}\n\n{}", std::fs::read_to_string(&cp1).unwrap()),
    );
    assert_eq!(status, 400, "{body}");
    // And as a fresh submission (old 0): 409 with the witness's size.
    let (status, body) = post(
        &format!("{}/add-checkpoint", w1.url),
        &format!("old 0\n\n{}", std::fs::read_to_string(&cp1).unwrap()),
    );
    assert_eq!((status, body), (409, format!("{size3}\n")));
    // A's own next submission still works after all that.
    a.append("fourth", 3);
    let e = a.run(&["witness", "submit"]);
    let text = String::from_utf8_lossy(&e.stdout).to_string();
    assert!(text.contains("ok   w1.example/witness"), "{text}");
});

// A refused checkpoint is logged as a short description (origin, sizes, bytes, reason),
// never as the submitted note: a request may be up to the body limit (64 KiB) and
// crafted (a huge origin or signature line, terminal escapes), and a forked note is
// the log's, not the operator's to copy into logs. The witness runs as users run it;
// its log is read from its stderr.
#[test]
fn witness_logs_refusals_without_the_submitted_note() {
    let t = tempfile::tempdir().unwrap();
    let a = Data::new(t.path().join("a"), Kind::Sqlite);
    a.ok(&[
        "init",
        "--org",
        "Acme",
        "--origin",
        "acme.example/vouch/audit",
    ]);
    a.append("first", 12);
    let log = a.log_vkey();
    let log_file = t.path().join("witness.log");
    let w = start_witness_logging(t.path(), "w1.example/witness", &log, Some(&log_file));
    a.add_witnesses(&[&w]);
    a.ok(&["witness", "submit"]);
    let url = format!("{}/add-checkpoint", w.url);

    // An unknown origin 60 000 characters long, with an escape sequence in it.
    let huge = format!("evil\u{1b}[2J{}", "x".repeat(60_000));
    let (status, body) = post(
        &url,
        &format!(
            "old 0\n\n{huge}\n1\n{}\n\n\u{2014} evil AAAA\n",
            "A".repeat(44)
        ),
    );
    assert_eq!(status, 404, "{body}");
    // A bad signature line as long as the limit allows, under the trusted origin.
    let (status, _) = post(
        &url,
        &format!(
            "old 0\n\nacme.example/vouch/audit\n1\n{}\n\n\u{2014} {}\n",
            "A".repeat(44),
            "y".repeat(60_000)
        ),
    );
    assert!((400..500).contains(&status), "{status}");
    // A fork: the same log key, another history, submitted to the witness.
    let b = Data::new(t.path().join("b"), Kind::Sqlite);
    std::fs::create_dir_all(b.dir.join("keys")).unwrap();
    std::fs::copy(a.dir.join("keys/log.key"), b.dir.join("keys/log.key")).unwrap();
    b.ok(&[
        "init",
        "--org",
        "Acme",
        "--origin",
        "acme.example/vouch/audit",
    ]);
    b.append("forked", 30);
    b.add_witnesses(&[&w]);
    let e = fails(&b.run(&["witness", "submit"]));
    assert!(e.contains("422") && e.contains("fork"), "{e}");
    // The note B sent: its latest checkpoint, signed by the (shared) log key.
    let note = b.ok(&["ledger", "checkpoint"]);
    let signature = note
        .lines()
        .find(|l| l.starts_with('\u{2014}'))
        .unwrap()
        .to_string();

    // The log is read after the refusals (the witness writes each line as it happens).
    let mut text = String::new();
    for _ in 0..50 {
        text = std::fs::read_to_string(&log_file).unwrap();
        if text.matches("refused").count() >= 3 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let refusals: Vec<&str> = text.lines().filter(|l| l.contains("refused")).collect();
    assert!(refusals.len() >= 3, "{text}");
    for line in text.lines() {
        assert!(line.len() < 1024, "a log line of {} bytes", line.len());
        assert!(
            !line.contains(&"x".repeat(400)),
            "the origin is in the log whole: {line}"
        );
        assert!(
            !line.contains(&"y".repeat(400)),
            "the signature line is in the log whole: {line}"
        );
        assert!(
            !line.contains('\u{1b}'),
            "a raw escape in the log: {line:?}"
        );
        assert!(
            !line.contains(&signature),
            "the forked note is in the log: {line}"
        );
    }
    // Each refusal still says what and whose: status, origin (shortened), size, reason.
    let unknown = refusals
        .iter()
        .find(|l| l.contains("404"))
        .expect("the 404");
    assert!(unknown.contains("evil"), "{unknown}");
    assert!(unknown.contains("bytes"), "{unknown}");
    let fork = refusals
        .iter()
        .find(|l| l.contains("fork"))
        .unwrap_or_else(|| panic!("no fork refusal in {text}"));
    assert!(fork.contains("acme.example/vouch/audit"), "{fork}");
    assert!(fork.contains("422"), "{fork}");
}

#[test]
fn ext_rfc3161_timestamps_from_a_local_tsa() {
    if !ext::require(ext::have(&["openssl"]), "openssl") {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let tsa_dir = t.path().join("tsa");
    std::fs::create_dir_all(&tsa_dir).unwrap();
    make_tsa(&tsa_dir);
    let (url, tsa) = start_tsa(&tsa_dir);
    let a = Data::new(t.path().join("a"), Kind::Sqlite);
    a.ok(&[
        "init",
        "--org",
        "Acme",
        "--origin",
        "acme.example/vouch/audit",
    ]);
    a.append("e", 30);
    let pk = t.path().join("packet");
    a.ok(&[
        "packet",
        "--period",
        "2026-09",
        "--format",
        "json",
        "--out",
        pk.to_str().unwrap(),
    ]);
    let json = pk.join("SOC2_Evidence.json");
    let out = a.ok(&["timestamp", "--url", &url, json.to_str().unwrap()]);
    assert!(out.contains("SOC2_Evidence.json.tsr"), "{out}");
    let ca = tsa_dir.join("ca.crt");
    // The auditor's own command.
    vouch_test_support::tls::run(
        std::process::Command::new("openssl")
            .args(["ts", "-verify", "-data"])
            .arg(&json)
            .arg("-in")
            .arg(pk.join("SOC2_Evidence.json.tsr"))
            .arg("-CAfile")
            .arg(&ca),
    );
    let out = a.ok(&[
        "verify",
        pk.to_str().unwrap(),
        "--tsa-ca",
        ca.to_str().unwrap(),
    ]);
    assert!(
        out.contains("RFC 3161 timestamp — openssl ts -verify: OK"),
        "{out}"
    );
    // Through [timestamp] in vouch.toml: a checkpoint file.
    let mut toml = std::fs::read_to_string(a.dir.join("vouch.toml")).unwrap();
    toml.push_str(&format!("\n[timestamp]\nurl = \"{url}\"\n"));
    std::fs::write(a.dir.join("vouch.toml"), toml).unwrap();
    let other = t.path().join("note.txt");
    std::fs::write(&other, "a checkpoint\n").unwrap();
    a.ok(&["timestamp", other.to_str().unwrap()]);
    // A tampered artifact fails, naming the timestamp step.
    let mut bytes = std::fs::read(&json).unwrap();
    let n = bytes.len();
    bytes[n - 2] ^= 1;
    std::fs::write(&json, bytes).unwrap();
    let o = a.run(&[
        "--json",
        "verify",
        pk.to_str().unwrap(),
        "--tsa-ca",
        ca.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    let step = r["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["check"].as_str().unwrap().contains("RFC 3161"))
        .unwrap()
        .clone();
    assert_eq!(step["ok"], false, "{step}");
    // A missing token fails too (never a pass where nothing was checked).
    std::fs::remove_file(pk.join("SOC2_Evidence.json.tsr")).unwrap();
    let e = fails(&a.run(&[
        "verify",
        pk.to_str().unwrap(),
        "--tsa-ca",
        ca.to_str().unwrap(),
    ]));
    assert!(e.contains("no timestamp token"), "{e}");
    let _ = std::net::TcpStream::connect(url.trim_start_matches("http://").trim_end_matches('/'))
        .and_then(|mut s| s.write_all(b"QUIT\r\n"));
    tsa.join().unwrap();
}

// Issue 18: with `[timestamp] url` set, signing an attestation timestamps its signed
// canonical JSON (`attestation.json.tsr`, which the auditor's `openssl ts -verify`
// accepts); a tampered document fails `vouch verify`, naming the file. With the
// authority down the document is signed anyway, the failure is recorded, `vouch verify`
// reports the token missing, and `vouch timestamp --pending` fixes it — and timestamps
// the latest checkpoint, which `vouch witness checkpoint --signed-only` hands out with
// its token; the `witness` job timestamps checkpoints without any witness.
on_both!(attestations_and_checkpoints_timestamped, |kind| {
    if !ext::require(ext::have(&["openssl"]), "openssl") {
        return;
    }
    use vouch_test_support::tsa::{openssl_verify, LocalTsa};
    let t = tempfile::tempdir().unwrap();
    let tsa_dir = t.path().join("tsa");
    std::fs::create_dir_all(&tsa_dir).unwrap();
    let tsa = LocalTsa::start(&tsa_dir);
    let ca = tsa.ca.to_str().unwrap().to_string();
    let month = chrono::Utc::now().format("%Y-%m").to_string();
    let sha = |b: &[u8]| {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(b))
    };
    let setup = |name: &str, url: &str| -> Data {
        let d = Data::new(t.path().join(name), kind);
        d.ok(&[
            "init",
            "--org",
            "Acme",
            "--origin",
            "acme.example/vouch/audit",
        ]);
        let toml = d.dir.join("vouch.toml");
        let text = std::fs::read_to_string(&toml)
            .unwrap()
            .replacen("\ncadence = \"quarterly\"", "\ncadence = \"monthly\"", 1)
            .replacen("\nopen_days_before = 5", "\nopen_days_before = 40", 1)
            + &format!("\n[timestamp]\nurl = \"{url}\"\n");
        std::fs::write(&toml, text).unwrap();
        d
    };
    let sign = |d: &Data| -> (String, PathBuf) {
        let opened: Value =
            serde_json::from_str(&d.ok(&["--json", "attest", "open", "--period", &month])).unwrap();
        let id = opened["id"].as_str().unwrap().to_string();
        d.ok(&["attest", "sign", &id, "--qualified", "--signer", "alice"]);
        let dir = d
            .dir
            .join("attestations")
            .join(format!("{month}-attestation"));
        (id, dir)
    };
    let show = |d: &Data, id: &str| -> Value {
        serde_json::from_str(&d.ok(&["--json", "attest", "show", id])).unwrap()
    };

    // The authority up: the token is beside the document from the signature on.
    let a = setup("a", &tsa.url);
    let (id, dir) = sign(&a);
    let json = dir.join("attestation.json");
    let (verified, text) = openssl_verify(&json, &tsa.ca);
    assert!(verified, "openssl ts -verify: {text}");
    let tsr = std::fs::read(dir.join("attestation.json.tsr")).unwrap();
    let shown = show(&a, &id);
    assert_eq!(
        shown["signed_document"]["timestamp"]["token_sha256"],
        sha(&tsr).as_str(),
        "{shown}"
    );
    let out = a.ok(&["verify", dir.to_str().unwrap(), "--tsa-ca", &ca]);
    assert!(
        out.contains("attestation.json: RFC 3161 timestamp — openssl ts -verify: OK"),
        "{out}"
    );
    // Tampered: the token no longer matches, and `vouch verify` names the file.
    let text = std::fs::read_to_string(&json).unwrap();
    std::fs::write(&json, text.replace("\"qualified\"", "\"unqualified\"")).unwrap();
    assert!(!openssl_verify(&json, &tsa.ca).0);
    let o = a.run(&["--json", "verify", dir.to_str().unwrap(), "--tsa-ca", &ca]);
    assert!(!o.status.success());
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    let step = r["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["check"].as_str().unwrap().contains("RFC 3161"))
        .unwrap()
        .clone();
    assert_eq!(step["ok"], false, "{step}");
    assert!(
        step["check"].as_str().unwrap().contains("attestation.json"),
        "{step}"
    );

    // The authority down (a port nothing listens on): signed anyway, failure recorded.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/", l.local_addr().unwrap())
    };
    let b = setup("b", &dead);
    let (id, dir) = sign(&b);
    let json = dir.join("attestation.json");
    assert!(!dir.join("attestation.json.tsr").exists());
    let shown = show(&b, &id);
    assert_eq!(shown["attestation"]["status"], "signed");
    assert!(
        shown["signed_document"]["timestamp"]["error"]
            .as_str()
            .is_some_and(|e| !e.is_empty()),
        "{shown}"
    );
    assert!(shown["signed_document"]["timestamp"]["token"].is_null());
    // Missing, not OK.
    let e = fails(&b.run(&["verify", dir.to_str().unwrap(), "--tsa-ca", &ca]));
    assert!(
        e.contains("attestation.json") && e.contains("missing"),
        "{e}"
    );
    // Still down: `vouch timestamp --pending` says so and changes nothing.
    let e = fails(&b.run(&["timestamp", "--pending"]));
    assert!(e.contains("attestation"), "{e}");
    assert!(!dir.join("attestation.json.tsr").exists());
    // The authority back: `vouch timestamp --pending` stores and writes the token.
    let toml = b.dir.join("vouch.toml");
    let text = std::fs::read_to_string(&toml)
        .unwrap()
        .replace(&dead, &tsa.url);
    std::fs::write(&toml, text).unwrap();
    let pdf_sig = std::fs::read(dir.join("attestation.pdf.sig")).unwrap();
    let out = b.ok(&["timestamp", "--pending"]);
    assert!(out.contains("attestation.json.tsr"), "{out}");
    // Only the token is added: the files written at signing are left as they were.
    assert_eq!(
        std::fs::read(dir.join("attestation.pdf.sig")).unwrap(),
        pdf_sig
    );
    let (verified, text) = openssl_verify(&json, &tsa.ca);
    assert!(verified, "openssl ts -verify: {text}");
    let out = b.ok(&["verify", dir.to_str().unwrap(), "--tsa-ca", &ca]);
    assert!(out.contains("openssl ts -verify: OK"), "{out}");
    let tsr = std::fs::read(dir.join("attestation.json.tsr")).unwrap();
    assert_eq!(
        show(&b, &id)["signed_document"]["timestamp"]["token_sha256"],
        sha(&tsr).as_str()
    );
    // Nothing left pending: the document is not timestamped twice.
    let out = b.ok(&["timestamp", "--pending"]);
    assert!(!out.contains("attestation.json.tsr"), "{out}");

    // The checkpoint `--pending` timestamped, with its token, for the auditor.
    let cp = t.path().join("cp.txt");
    b.ok(&[
        "witness",
        "checkpoint",
        "--signed-only",
        "--out",
        cp.to_str().unwrap(),
    ]);
    let (verified, text) = openssl_verify(&cp, &tsa.ca);
    assert!(verified, "openssl ts -verify: {text}");
    let size = |f: &Path| -> u64 {
        std::fs::read_to_string(f)
            .unwrap()
            .lines()
            .nth(1)
            .unwrap()
            .parse()
            .unwrap()
    };
    // The witness job timestamps the latest checkpoint without any [[witness]].
    b.append("more", 3);
    b.ok(&["jobs", "run", "witness"]);
    let cp2 = t.path().join("cp2.txt");
    b.ok(&[
        "witness",
        "checkpoint",
        "--signed-only",
        "--out",
        cp2.to_str().unwrap(),
    ]);
    assert!(
        size(&cp2) > size(&cp),
        "the job timestamped a newer checkpoint"
    );
    let (verified, text) = openssl_verify(&cp2, &tsa.ca);
    assert!(verified, "openssl ts -verify: {text}");
});
