//! Packets as a user makes and checks them: seed 000's exact openssl commands, the
//! JSON Schema (validated by Python's jsonschema), the PDF through poppler, `vouch
//! verify`, `--reproduce`, key rotation, and bad requests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::util::{ok, vouch as bin};

fn vouch(dir: &Path, args: &[&str]) -> Output {
    crate::util::run(dir, args)
}

fn sh(cwd: &Path, script: &str) -> Output {
    Command::new("bash")
        .arg("-c")
        .arg(script)
        .current_dir(cwd)
        .output()
        .unwrap()
}

/// A data dir with two months of events (September and October 2026).
fn setup(t: &Path) -> PathBuf {
    let d = t.join("data");
    ok(&vouch(
        &d,
        &[
            "init",
            "--org",
            "Acme Analytics",
            "--origin",
            "acme.example/vouch/audit",
        ],
    ));
    let mut lines = String::new();
    for i in 0..600 {
        let (m, day) = if i < 300 {
            (9, 1 + i % 30)
        } else {
            (10, 1 + i % 31)
        };
        let cat = ["authentication", "authorization", "data_access", "system"][i % 4];
        lines.push_str(&format!(
            "{{\"timestamp\":\"2026-{m:02}-{day:02}T{:02}:{:02}:00Z\",\"actor\":{{\"id\":\"u{}\"}},\"action\":\"act.{}\",\"category\":\"{cat}\",\"result\":\"success\"}}\n",
            i % 24, i % 60, i % 9, i % 5
        ));
    }
    // stdout is not looked at (the original discarded it), only the exit status.
    let o = bin()
        .data_dir(&d)
        .args(["ledger", "append", "-"])
        .stdin(lines)
        .output();
    assert!(o.status.success());
    d
}

fn schema() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schemas/soc2-packet-v2.schema.json")
}

#[test]
fn ext_seed_000_openssl_commands_verify_json_and_pdf() {
    let t = tempfile::tempdir().unwrap();
    let d = setup(t.path());
    let out = t.path().join("oct");
    ok(&vouch(
        &d,
        &[
            "packet",
            "--period",
            "2026-10",
            "--out",
            out.to_str().unwrap(),
        ],
    ));
    for f in [
        "SOC2_Evidence.json",
        "SOC2_Evidence.json.sig",
        "SOC2_Evidence.pdf",
        "SOC2_Evidence.pdf.sig",
        "audit-log-2026-10.ndjson",
        "auth-events-2026-10.ndjson",
    ] {
        assert!(out.join(f).exists(), "{f} missing");
    }
    let keys: serde_json::Value =
        serde_json::from_str(&ok(&vouch(&d, &["--json", "keys", "show"]))).unwrap();
    std::fs::write(
        out.join("public_key.pem"),
        keys["signing_public_key_pem"].as_str().unwrap(),
    )
    .unwrap();
    for f in ["SOC2_Evidence.json", "SOC2_Evidence.pdf"] {
        // Seed 000, section 5, as written.
        let o = sh(&out, &format!("cp {f}.sig evidence.sig && base64 -d evidence.sig > evidence.sig.bin && openssl dgst -sha256 -verify public_key.pem -signature evidence.sig.bin {f}"));
        assert_eq!(
            String::from_utf8_lossy(&o.stdout).trim(),
            "Verified OK",
            "{f}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        // One changed byte and openssl refuses.
        let mut bytes = std::fs::read(out.join(f)).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x01;
        std::fs::write(out.join("tampered"), &bytes).unwrap();
        let o = sh(
            &out,
            "openssl dgst -sha256 -verify public_key.pem -signature evidence.sig.bin tampered",
        );
        assert!(
            !o.status.success()
                && String::from_utf8_lossy(&o.stdout).contains("Verification failure"),
            "{f} tampered still verified"
        );
    }
}

#[test]
fn ext_packet_json_matches_its_schema_and_pdf_reads_right() {
    let t = tempfile::tempdir().unwrap();
    let d = setup(t.path());
    let out = t.path().join("oct");
    ok(&vouch(
        &d,
        &[
            "packet",
            "--period",
            "2026-10",
            "--out",
            out.to_str().unwrap(),
        ],
    ));
    let py = format!(
        "import json, jsonschema; jsonschema.Draft202012Validator.check_schema(json.load(open({s:?}))); jsonschema.validate(json.load(open({p:?})), json.load(open({s:?}))); print('valid')",
        s = schema().display().to_string(),
        p = out.join("SOC2_Evidence.json").display().to_string()
    );
    let o = Command::new("python3").args(["-c", &py]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // A packet missing a required part fails the schema (the test can fail).
    let mut v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("SOC2_Evidence.json")).unwrap()).unwrap();
    v.as_object_mut().unwrap().remove("ledger");
    std::fs::write(t.path().join("broken.json"), v.to_string()).unwrap();
    let py_bad = py.replace(
        &out.join("SOC2_Evidence.json").display().to_string(),
        &t.path().join("broken.json").display().to_string(),
    );
    assert!(!Command::new("python3")
        .args(["-c", &py_bad])
        .output()
        .unwrap()
        .status
        .success());

    let text = String::from_utf8(
        Command::new("pdftotext")
            .args([
                "-layout",
                out.join("SOC2_Evidence.pdf").to_str().unwrap(),
                "-",
            ])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    for want in [
        "SOC 2 Evidence Packet",
        "Acme Analytics",
        "2026-10",
        "Summary by criterion",
        "CC7.2",
        "CC8.1",
        "VOUCH-LEDGER-INTEGRITY",
        "Findings",
        "Evidence index",
        "Ledger checkpoint",
        "acme.example/vouch/audit",
        "How to verify this packet",
        "openssl dgst -sha256 -verify",
    ] {
        assert!(text.contains(want), "PDF text lacks {want:?}");
    }
    let pages = Command::new("pdftoppm")
        .args([
            "-r",
            "30",
            "-png",
            out.join("SOC2_Evidence.pdf").to_str().unwrap(),
            t.path().join("page").to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(pages.success());
    let rendered = std::fs::read_dir(t.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("page")
        })
        .count();
    let info = String::from_utf8(
        Command::new("pdfinfo")
            .arg(out.join("SOC2_Evidence.pdf"))
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let count: usize = info
        .lines()
        .find(|l| l.starts_with("Pages:"))
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert!(count >= 6, "{count} pages");
    assert_eq!(rendered, count, "every page renders");
}

#[test]
fn reproduce_verify_and_bad_requests() {
    let t = tempfile::tempdir().unwrap();
    let d = setup(t.path());
    let sep = t.path().join("sep");
    let oct = t.path().join("oct");
    ok(&vouch(
        &d,
        &[
            "packet",
            "--period",
            "2026-09",
            "--out",
            sep.to_str().unwrap(),
        ],
    ));
    ok(&vouch(
        &d,
        &[
            "packet",
            "--period",
            "2026-10",
            "--out",
            oct.to_str().unwrap(),
        ],
    ));
    let r = ok(&vouch(
        &d,
        &[
            "packet",
            "--reproduce",
            oct.join("SOC2_Evidence.json").to_str().unwrap(),
        ],
    ));
    assert_eq!(
        r.trim(),
        "SOC2_Evidence.json: identical\nSOC2_Evidence.pdf: identical"
    );
    let v = ok(&vouch(
        &d,
        &["verify", sep.to_str().unwrap(), oct.to_str().unwrap()],
    ));
    assert!(
        v.contains("consistency with the previous packet")
            && v.contains("packet 2026-10 follows packet 2026-09"),
        "{v}"
    );
    assert!(!v.contains("FAIL"), "{v}");

    // Bad requests: a clear error each, nothing written.
    let fresh = t.path().join("fresh");
    for (args, want) in [
        (
            vec!["packet", "--period", "2026-10-05..2026-10-01"],
            "not after",
        ),
        (
            vec!["packet", "--period", "2099-01"],
            "starts in the future",
        ),
        (
            vec!["packet", "--period", "2026-10", "--format", "docx"],
            "unknown format `docx`",
        ),
    ] {
        let mut a = args.clone();
        a.extend(["--out", fresh.to_str().unwrap()]);
        let o = vouch(&d, &a);
        assert!(!o.status.success());
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(e.contains(want), "{e}");
        assert!(!fresh.exists(), "nothing may be written");
    }
    let o = vouch(
        &d,
        &[
            "packet",
            "--period",
            "2026-10",
            "--out",
            oct.to_str().unwrap(),
        ],
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("already holds a packet"));
    ok(&vouch(
        &d,
        &[
            "packet",
            "--period",
            "2026-10",
            "--out",
            oct.to_str().unwrap(),
            "--force",
        ],
    ));

    // Rotation: the old packets keep verifying; new ones use the new key.
    let before: serde_json::Value =
        serde_json::from_str(&ok(&vouch(&d, &["--json", "keys", "show"]))).unwrap();
    let rot: serde_json::Value =
        serde_json::from_str(&ok(&vouch(&d, &["--json", "keys", "rotate"]))).unwrap();
    assert_eq!(rot["old_key_id"], before["signing_key_id"]);
    assert_ne!(rot["new_key_id"], rot["old_key_id"]);
    let v = ok(&vouch(&d, &["verify", sep.to_str().unwrap()]));
    assert!(
        v.contains(&format!(
            "known key {}",
            rot["old_key_id"].as_str().unwrap()
        )),
        "{v}"
    );
    let export = ok(&vouch(
        &d,
        &["ledger", "export", "--period", "2026-11-01..2100-01-01"],
    ));
    assert!(
        export.contains("signing_key.rotate") && export.contains("packet.generated"),
        "rotation and packets are ledger events"
    );
}

#[test]
fn signing_key_from_the_environment() {
    let t = tempfile::tempdir().unwrap();
    let d = setup(t.path());
    let pem = std::fs::read_to_string(d.join("keys/signing.pem")).unwrap();
    let other = t.path().join("other");
    ok(&vouch(&other, &["init"]));
    let other_pem = std::fs::read_to_string(other.join("keys/signing.pem")).unwrap();
    assert_ne!(pem, other_pem);
    for var in ["VOUCH_SIGNING_KEY", "SIGNING_PRIVATE_KEY"] {
        let o = bin()
            .data_dir(&d)
            .args(["--json", "keys", "show"])
            .env(var, &other_pem)
            .output();
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let shown = v["signing_public_key_pem"].as_str().unwrap();
        assert_eq!(
            shown,
            std::fs::read_to_string(other.join("keys/signing.pub.pem")).unwrap(),
            "{var}"
        );
    }
    let o = bin()
        .data_dir(&d)
        .args(["keys", "show"])
        .env("VOUCH_SIGNING_KEY", "not a key")
        .output();
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && e.contains("VOUCH_SIGNING_KEY") && !e.contains("not a key"),
        "{e}"
    );
}

fn append(d: &Path, ndjson: &str) -> Output {
    crate::util::run_stdin(d, &["ledger", "append", "-"], ndjson)
}

// Issue 12: timestamps from the future, leap seconds and far years are refused in one
// line; events for a period whose packet exists are appended but are late arrivals,
// shown by --reproduce (which still matches byte for byte) and by the monthly job.
#[test]
fn late_arrivals_and_timestamp_rules() {
    let t = tempfile::tempdir().unwrap();
    let d = setup(t.path());
    let future = (chrono::Utc::now() + chrono::Duration::minutes(10))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    for (ts, want) in [
        (future.as_str(), "is in the future"),
        ("2016-12-31T23:59:60Z", "leap second"),
        ("10000-01-01T00:00:00Z", "past 9999"),
    ] {
        let o = append(
            &d,
            &format!("{{\"timestamp\":\"{ts}\",\"action\":\"x\",\"category\":\"system\",\"result\":\"success\"}}\n"),
        );
        assert!(!o.status.success(), "{ts} was accepted");
        let e = String::from_utf8_lossy(&o.stderr);
        assert_eq!(e.trim().lines().count(), 1, "{e}");
        assert!(e.contains("field `timestamp`") && e.contains(want), "{e}");
    }
    // A tighter limit from vouch.toml.
    let cfg = d.join("vouch.toml");
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(
        &cfg,
        text.replace("max_clock_skew = \"5m\"", "max_clock_skew = \"30s\""),
    )
    .unwrap();
    let soon = (chrono::Utc::now() + chrono::Duration::minutes(2))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let o = append(
        &d,
        &format!("{{\"timestamp\":\"{soon}\",\"action\":\"x\",\"category\":\"system\",\"result\":\"success\"}}\n"),
    );
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("more than 30 s"));
    std::fs::write(
        &cfg,
        text.replace("max_clock_skew = \"5m\"", "max_clock_skew = \"soon\""),
    )
    .unwrap();
    let o = vouch(&d, &["ledger", "verify"]);
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && e.contains("key `ledger.max_clock_skew`"),
        "{e}"
    );
    std::fs::write(&cfg, &text).unwrap();

    // October's packet, then two October events: late arrivals.
    let oct = d.join("packets/2026-10");
    ok(&vouch(&d, &["packet", "--period", "2026-10"]));
    let o = append(
        &d,
        "{\"timestamp\":\"2026-10-30T10:00:00Z\",\"action\":\"late.1\",\"category\":\"system\",\"result\":\"success\"}\n{\"timestamp\":\"2026-10-31T10:00:00Z\",\"action\":\"late.2\",\"category\":\"system\",\"result\":\"success\"}\n",
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // seqs: 0..599 events, 600 packet.generated, 601 and 602 the late ones
    let r = ok(&vouch(
        &d,
        &[
            "packet",
            "--reproduce",
            oct.join("SOC2_Evidence.json").to_str().unwrap(),
        ],
    ));
    assert!(r.contains("SOC2_Evidence.json: identical"), "{r}");
    assert!(r.contains("SOC2_Evidence.pdf: identical"), "{r}");
    let late = "2 events for 2026-10 arrived after its packet, seqs 601..602";
    assert!(r.contains(&format!("late arrivals: {late}")), "{r}");
    // The monthly job finds the packet, does not rebuild it, and reports them.
    let out = ok(&vouch(
        &d,
        &[
            "jobs",
            "run",
            "generate-soc2-evidence",
            "--period",
            "2026-10",
        ],
    ));
    assert!(
        out.contains("existing, not rebuilt") && out.contains(late),
        "{out}"
    );
}

// Issue 12: a period with no events is `no_evidence` in the JSON and, distinctly, in the
// PDF; it verifies like any packet.
#[test]
fn ext_an_empty_period_says_no_evidence_in_json_and_pdf() {
    let t = tempfile::tempdir().unwrap();
    let d = setup(t.path()); // September and October only
    let out = t.path().join("aug");
    let line = ok(&vouch(
        &d,
        &[
            "packet",
            "--period",
            "2026-08",
            "--out",
            out.to_str().unwrap(),
        ],
    ));
    assert!(
        line.contains("overall status no_evidence — 0 events"),
        "{line}"
    );
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("SOC2_Evidence.json")).unwrap()).unwrap();
    assert_eq!(v["summary"]["overall_status"], "no_evidence");
    assert_eq!(v["controls"][0]["status"], "no_evidence");
    let text = String::from_utf8(
        Command::new("pdftotext")
            .args([
                "-layout",
                out.join("SOC2_Evidence.pdf").to_str().unwrap(),
                "-",
            ])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert!(text.contains("NO EVIDENCE"), "{text}");
    assert!(
        text.contains("with no evidence") && text.contains("not a pass"),
        "{text}"
    );
    assert!(!text.contains("PASS"), "{text}");
    let v = ok(&vouch(&d, &["verify", out.to_str().unwrap()]));
    assert!(!v.contains("FAIL"), "{v}");
}

// Issue 12: with no organisation control configured, a verified ledger alone is not a
// pass: the packet's overall status is `no_evidence` and no criterion (CC8.1 change
// management, CC7.2) passes on the built-in ledger control alone; the ledger control
// itself still passes, and the packet verifies and reproduces.
#[test]
fn ext_the_ledger_control_alone_is_not_a_pass() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("data");
    ok(&vouch(&d, &["init", "--org", "Acme"]));
    let o = append(
        &d,
        "{\"timestamp\":\"2026-09-03T10:00:00Z\",\"actor\":{\"id\":\"alice\"},\"action\":\"login\",\"category\":\"authentication\",\"result\":\"success\"}\n\
         {\"timestamp\":\"2026-09-04T11:00:00Z\",\"actor\":{\"id\":\"bob\"},\"action\":\"login\",\"category\":\"authentication\",\"result\":\"success\"}\n",
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = t.path().join("sep");
    let line = ok(&vouch(
        &d,
        &[
            "packet",
            "--period",
            "2026-09",
            "--out",
            out.to_str().unwrap(),
        ],
    ));
    assert!(line.contains("overall status no_evidence"), "{line}");
    assert!(!line.contains("overall status pass"), "{line}");
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("SOC2_Evidence.json")).unwrap()).unwrap();
    assert_eq!(
        v["summary"]["overall_status"], "no_evidence",
        "{}",
        v["summary"]
    );
    assert_eq!(v["controls"][0]["id"], "VOUCH-LEDGER-INTEGRITY");
    assert_eq!(v["controls"][0]["status"], "pass");
    let criteria = v["summary"]["criteria"].as_array().unwrap();
    assert!(!criteria.is_empty());
    for c in criteria {
        assert_ne!(c["status"], "pass", "{c}");
    }
    let cc81 = criteria.iter().find(|c| c["id"] == "CC8.1");
    if let Some(c) = cc81 {
        assert_eq!(c["status"], "no_evidence", "{c}");
    }
    let py = format!(
        "import json,jsonschema;jsonschema.validate(json.load(open({:?})),json.load(open({:?})))",
        out.join("SOC2_Evidence.json").display().to_string(),
        schema().display().to_string()
    );
    let s = Command::new("python3").args(["-c", &py]).output().unwrap();
    assert!(s.status.success(), "{}", String::from_utf8_lossy(&s.stderr));
    let text = String::from_utf8(
        Command::new("pdftotext")
            .args([
                "-layout",
                out.join("SOC2_Evidence.pdf").to_str().unwrap(),
                "-",
            ])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains("no control of the organisation is configured")
            && flat.contains("not a pass"),
        "{text}"
    );
    let r = ok(&vouch(
        &d,
        &[
            "packet",
            "--reproduce",
            out.join("SOC2_Evidence.json").to_str().unwrap(),
        ],
    ));
    assert!(r.contains("SOC2_Evidence.json: identical"), "{r}");
    assert!(r.contains("SOC2_Evidence.pdf: identical"), "{r}");
    let v = ok(&vouch(&d, &["verify", out.to_str().unwrap()]));
    assert!(!v.contains("FAIL"), "{v}");
}

// Issue 12: on the CLI a timestamp from the future is measured against this machine's
// clock (not "this server's"), and names the setting that allows more.
#[test]
fn a_future_timestamp_speaks_of_this_machines_clock() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("data");
    ok(&vouch(&d, &["init", "--org", "Acme"]));
    let future = (chrono::Utc::now() + chrono::Duration::hours(2))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let o = append(
        &d,
        &format!("{{\"timestamp\":\"{future}\",\"action\":\"login\",\"category\":\"authentication\",\"result\":\"success\"}}\n"),
    );
    assert!(!o.status.success());
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(e.trim().lines().count(), 1, "{e}");
    assert!(
        e.contains("this machine's clock") && e.contains("ledger.max_clock_skew"),
        "{e}"
    );
    assert!(!e.contains("server"), "{e}");
}

// Issue 12: `vouch verify` of a path that does not exist is one line on stderr and a
// non-zero exit, nothing on stdout.
#[test]
fn verify_of_a_missing_path_is_one_line() {
    let t = tempfile::tempdir().unwrap();
    let missing = t.path().join("no-such-packet");
    let o = vouch(
        &t.path().join("data"),
        &["verify", missing.to_str().unwrap()],
    );
    assert!(!o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(
        out.trim().lines().count() + err.trim().lines().count(),
        1,
        "stdout: {out}\nstderr: {err}"
    );
    assert!(err.contains("no-such-packet"), "{err}");
}
