//! The auditor kit (issue 18, "a year, offline"): a year of monthly packets made with
//! two real witnesses on loopback and a local openssl TSA, `vouch auditor-kit`, and the
//! kit's own `verify.sh` (bash + openssl + Python, no vouch) — one OK line per month;
//! then, on copies of the kit, an altered packet, a month's checkpoint and proof taken
//! from a forked log signed with the same log key (on SQLite a copy of the data
//! directory after April that then diverges; on PostgreSQL another history from the
//! start) and a removed cosignature each fail, naming the month; a period without
//! packets says MISSING and NOT YET. SQLite and PostgreSQL.

use std::io::Write;
use std::path::Path;
use std::process::Command;

use vouch_test_support::{ext, on_both, Kind};

use crate::witness::{start_witness, Data};
use vouch_test_support::tsa::{make_tsa, serve as start_tsa};

/// `bash KIT/verify.sh ARGS`: (exit success, stdout).
fn verify(kit: &Path, args: &[&str]) -> (bool, String) {
    let o = Command::new("bash")
        .arg(kit.join("verify.sh"))
        .args(args)
        .output()
        .expect("bash runs");
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(
        err.trim().is_empty(),
        "verify.sh wrote to stderr: {err}\n{out}"
    );
    (o.status.success(), out)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
            // Archives in WORM storage are read-only (0444); the copies are edited. Only
            // the owner's write bit is added: private keys must stay 0600.
            use std::os::unix::fs::PermissionsExt;
            let to_file = to.join(e.file_name());
            let mut perm = std::fs::metadata(&to_file).unwrap().permissions();
            perm.set_mode(perm.mode() | 0o200);
            std::fs::set_permissions(&to_file, perm).unwrap();
        }
    }
}

/// Every file under `dir`, relative, `/`-separated, sorted.
fn files_under(root: &Path, dir: &Path, out: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files_under(root, &p, out);
        } else {
            out.push(
                p.strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/"),
            );
        }
    }
    out.sort();
}

/// `FILE.sig` as the kit holds it (base64 of the DER ECDSA signature), made with the
/// private key `key` by openssl.
fn sign_file(key: &Path, file: &Path) {
    let der = file.with_extension("der-sig-tmp");
    let o = Command::new("openssl")
        .args(["dgst", "-sha256", "-sign"])
        .arg(key)
        .arg("-out")
        .arg(&der)
        .arg(file)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = Command::new("openssl")
        .args(["base64", "-A", "-in"])
        .arg(&der)
        .output()
        .unwrap();
    assert!(o.status.success());
    std::fs::remove_file(&der).unwrap();
    std::fs::write(format!("{}.sig", file.display()), o.stdout).unwrap();
}

/// After tampering: manifest.json rewritten over the kit's files as they now are and
/// signed with `key`, so the check under test (not the manifest) is what fails.
fn reseal(kit: &Path, key: &Path) {
    use sha2::Digest;
    let mut files = Vec::new();
    files_under(kit, kit, &mut files);
    let listed: Vec<serde_json::Value> = files
        .iter()
        .filter(|f| *f != "manifest.json" && *f != "manifest.json.sig")
        .map(|f| {
            let b = std::fs::read(kit.join(f)).unwrap();
            serde_json::json!({"path": f, "sha256": hex::encode(sha2::Sha256::digest(&b)), "bytes": b.len()})
        })
        .collect();
    let m = serde_json::to_string_pretty(
        &serde_json::json!({"format": "vouch-auditor-kit/v1", "files": listed}),
    )
    .unwrap()
        + "\n";
    std::fs::write(kit.join("manifest.json"), m).unwrap();
    sign_file(key, &kit.join("manifest.json"));
}

/// A fresh ECDSA P-256 key pair (private, public PEM) in `dir`: someone else's key.
fn other_signing_key(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let (k, p) = (dir.join("x.key.pem"), dir.join("x.pub.pem"));
    let o = Command::new("openssl")
        .args([
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
        ])
        .arg(&k)
        .output()
        .unwrap();
    assert!(o.status.success());
    let o = Command::new("openssl")
        .args(["ec", "-pubout", "-in"])
        .arg(&k)
        .arg("-out")
        .arg(&p)
        .output()
        .unwrap();
    assert!(o.status.success());
    (k, p)
}

/// The line of `month` in verify.sh's output.
fn line<'a>(out: &'a str, month: &str) -> &'a str {
    out.lines()
        .find(|l| l.starts_with(&format!("{month} ")))
        .unwrap_or_else(|| panic!("no line for {month}:\n{out}"))
}

/// Append `n` events timestamped in `month` (2025-MM).
fn append_month(a: &Data, month: &str, n: usize) {
    let mut lines = String::new();
    for i in 0..n {
        lines.push_str(&format!(
            "{{\"timestamp\":\"{month}-{:02}T10:00:00Z\",\"actor\":{{\"id\":\"u{i}\"}},\"action\":\"kit.{i}\",\"category\":\"system\",\"result\":\"success\"}}\n",
            1 + i
        ));
    }
    let o = a.run_in(&["ledger", "append", "-"], &lines);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

on_both!(ext_auditor_kit_for_a_year, |kind| {
    if !ext::require(
        ext::have(&["openssl", "python3", "bash", "age-keygen"]),
        "openssl, python3, bash, age-keygen",
    ) {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let tsa_dir = t.path().join("tsa");
    std::fs::create_dir_all(&tsa_dir).unwrap();
    make_tsa(&tsa_dir);
    let (tsa_url, tsa) = start_tsa(&tsa_dir);
    let a = Data::new(t.path().join("a"), kind);
    a.ok(&[
        "init",
        "--org",
        "Acme",
        "--origin",
        "acme.example/vouch/audit",
    ]);
    let log = a.log_vkey();
    let w1 = start_witness(t.path(), "w1.example/witness", &log);
    let w2 = start_witness(t.path(), "w2.example/witness", &log);
    a.add_witnesses(&[&w1, &w2]);
    // Timestamps from the local TSA, and archives encrypted to an age key.
    let age_key = t.path().join("age.key");
    let o = Command::new("age-keygen")
        .arg("-o")
        .arg(&age_key)
        .output()
        .unwrap();
    assert!(o.status.success());
    let recipient = std::fs::read_to_string(&age_key)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("# public key: ").map(str::to_string))
        .unwrap();
    let cfg = a.dir.join("vouch.toml");
    let mut toml = std::fs::read_to_string(&cfg).unwrap();
    assert!(toml.contains("recipients = []"), "{toml}");
    toml = toml.replace(
        "recipients = []",
        &format!("recipients = [\"{recipient}\"]"),
    );
    toml.push_str(&format!(
        "\n[timestamp]\nurl = \"{tsa_url}\"\nca_file = \"{}\"\n",
        tsa_dir.join("ca.crt").display()
    ));
    std::fs::write(&cfg, toml).unwrap();

    // A year: events in each month, then that month's packet as the monthly job makes
    // it (witnesses cosign first; the packet's JSON gets an RFC 3161 token). JSON-only
    // packets keep the test fast; December runs the job itself (PDF, archive).
    for m in 1..=12 {
        let month = format!("2025-{m:02}");
        append_month(&a, &month, 3);
        if m == 12 {
            a.ok(&["jobs", "run", "generate-soc2-evidence", "--period", &month]);
        } else {
            a.ok(&["witness", "submit"]);
            a.ok(&["packet", "--period", &month, "--format", "json"]);
            let json = a.dir.join(format!("packets/{month}/SOC2_Evidence.json"));
            a.ok(&["timestamp", json.to_str().unwrap()]);
        }
        // On SQLite the whole data directory is the log: a copy after April is a
        // second ledger sharing the first four months, forked below.
        if m == 4 && kind == Kind::Sqlite {
            copy_dir(&a.dir, &t.path().join("b"));
        }
    }
    // A population of the year's first quarter and its sample, drawn as
    // docs/auditors.md describes (the auditor's nonce, committed first).
    let mut toml = std::fs::read_to_string(&cfg).unwrap();
    toml.push_str("\n[[population]]\nid = \"first-events\"\ncontrol = \"CC6.2\"\ntitle = \"First events\"\naction = \"kit.0\"\nfrequency = \"monthly\"\nrisk = \"low\"\n");
    std::fs::write(&cfg, toml).unwrap();
    let nonce = t.path().join("nonce.txt");
    let commitment = t.path().join("commitment.json");
    a.ok(&[
        "sample",
        "commit",
        "--population",
        "first-events",
        "--period",
        "2025-Q1",
        "--nonce-file",
        nonce.to_str().unwrap(),
        "--new",
        "--out",
        commitment.to_str().unwrap(),
    ]);
    let c: serde_json::Value = serde_json::from_str(&a.ok(&[
        "--json",
        "sample",
        "commit",
        "--commitment-file",
        commitment.to_str().unwrap(),
        "--by",
        "auditor",
    ]))
    .unwrap();
    let p: serde_json::Value = serde_json::from_str(&a.ok(&[
        "--json",
        "population",
        "take",
        "first-events",
        "--period",
        "2025-Q1",
        "--by",
        "officer",
    ]))
    .unwrap();
    assert_eq!(p["size"], 3, "{p}");
    let s: serde_json::Value = serde_json::from_str(&a.ok(&[
        "--json",
        "sample",
        "draw",
        "--commitment",
        c["id"].as_str().unwrap(),
        "--nonce-file",
        nonce.to_str().unwrap(),
        "--by",
        "auditor",
    ]))
    .unwrap();

    // The TSA CA file as some operators keep it: the certificate next to a private key.
    // The kit must carry the certificate only.
    let bundle = tsa_dir.join("ca-bundle.pem");
    let mut b = std::fs::read_to_string(tsa_dir.join("ca.crt")).unwrap();
    b.push_str(&std::fs::read_to_string(tsa_dir.join("tsa.key")).unwrap());
    assert!(b.contains("PRIVATE KEY"));
    std::fs::write(&bundle, b).unwrap();
    let toml = std::fs::read_to_string(&cfg).unwrap().replace(
        &format!("ca_file = \"{}\"", tsa_dir.join("ca.crt").display()),
        &format!("ca_file = \"{}\"", bundle.display()),
    );
    assert!(toml.contains("ca-bundle.pem"), "{toml}");
    std::fs::write(&cfg, toml).unwrap();

    let kit = t.path().join("kit");
    let out = a.ok(&[
        "auditor-kit",
        "--period",
        "2025",
        "--out",
        kit.to_str().unwrap(),
    ]);
    assert!(out.contains("2025-12 packet"), "{out}");
    assert!(kit
        .join("months/2025-12/packet/SOC2_Evidence.pdf")
        .is_file());
    // The month's exports the packet lists travel with it.
    let dec: serde_json::Value = serde_json::from_slice(
        &std::fs::read(kit.join("months/2025-12/packet/SOC2_Evidence.json")).unwrap(),
    )
    .unwrap();
    let exports: Vec<&str> = dec["exports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert!(!exports.is_empty(), "{dec}");
    for n in exports {
        assert!(kit.join("months/2025-12/packet").join(n).is_file(), "{n}");
    }
    assert!(
        std::fs::read_dir(kit.join("months/2025-12/archive"))
            .unwrap()
            .next()
            .is_some(),
        "December's archive is in the kit"
    );
    let (ok, out) = verify(&kit, &[]);
    assert!(ok, "{out}");
    for m in 1..=12 {
        let l = line(&out, &format!("2025-{m:02}"));
        assert!(
            l.contains(" OK (packet sig OK")
                && l.contains("tsr OK")
                && l.contains("2 of 2 cosignatures"),
            "{l}"
        );
    }
    assert!(line(&out, "2025-12").contains("pdf sig OK"), "{out}");
    assert!(line(&out, "2025-12").contains("archive"), "{out}");
    assert!(
        line(&out, "2025-12").contains("(the latest checkpoint)"),
        "{out}"
    );
    assert!(
        out.contains("SUMMARY: OK — 2025: 12 of 12 months verified"),
        "{out}"
    );
    let pl = line(&out, &format!("population {}", p["id"].as_str().unwrap()));
    assert!(pl.contains(" OK (3 items, root matches"), "{pl}");
    let sl = line(&out, &format!("sample {}", s["id"].as_str().unwrap()));
    assert!(sl.contains(" OK (") && sl.contains("of 3 items"), "{sl}");
    // The trust anchors it took from the kit are named; then one line a month, the
    // population's, the sample's, the kit's and the summary.
    assert!(
        out.lines().next().unwrap().starts_with(
            "WARNING: trusting keys shipped in the kit: keys/signing.pub.pem, keys/tsa-ca.pem, keys/log.vkey"
        ),
        "{out}"
    );
    assert_eq!(out.lines().count(), 17, "{out}");
    // No private key of any kind anywhere in the kit; the TSA CA is the certificate.
    let mut all = Vec::new();
    files_under(&kit, &kit, &mut all);
    for f in &all {
        let b = String::from_utf8_lossy(&std::fs::read(kit.join(f)).unwrap()).to_string();
        assert!(
            !b.contains("PRIVATE KEY") && !b.contains("AGE-SECRET-KEY-"),
            "{f} holds a private key"
        );
    }
    let ca = std::fs::read_to_string(kit.join("keys/tsa-ca.pem")).unwrap();
    assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"), "{ca}");
    // The auditor's own keys (the real ones) verify the same kit.
    let real_pub = t.path().join("real-signing.pub.pem");
    std::fs::copy(kit.join("keys/signing.pub.pem"), &real_pub).unwrap();
    let real_key = a.dir.join("keys/signing.pem");
    let (ok, out2) = verify(
        &kit,
        &[
            "--signing-key",
            real_pub.to_str().unwrap(),
            "--log-key",
            &log,
            "--tsa-ca",
            tsa_dir.join("ca.crt").to_str().unwrap(),
        ],
    );
    assert!(ok, "{out2}");
    assert!(
        out2.starts_with("WARNING: trusting keys shipped in the kit: keys/witnesses.txt,"),
        "{out2}"
    );

    // 0a. A module dropped next to the verifiers (imported instead of the standard
    // library's) must not run: verify.sh checks verifier/ against the signed manifest
    // before any Python starts.
    let k0 = t.path().join("k0");
    copy_dir(&kit, &k0);
    std::fs::write(
        k0.join("verifier/base64.py"),
        "print('SUMMARY: OK hijacked')\nimport sys\nsys.exit(0)\n",
    )
    .unwrap();
    let (ok, out) = verify(&k0, &[]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("verifier/ holds files that are not the kit's verifiers: verifier/base64.py")
            && !out.contains("hijacked"),
        "{out}"
    );
    // 0b. The whole kit re-signed with another key that replaces keys/signing.pub.pem:
    // only the auditor's own copy of the key catches it.
    let (x_key, x_pub) = other_signing_key(t.path());
    std::fs::copy(&x_pub, k0.join("keys/signing.pub.pem")).unwrap();
    std::fs::remove_file(k0.join("verifier/base64.py")).unwrap();
    reseal(&k0, &x_key);
    let (ok, out) = verify(&k0, &["--signing-key", real_pub.to_str().unwrap()]);
    assert!(!ok, "{out}");
    assert!(
        out.contains(
            "manifest.json.sig does not verify over manifest.json with the current signing key"
        ),
        "{out}"
    );
    // 0c. Another log key than the company's: every month fails; an empty value is an
    // error, never the kit's key.
    let c = Data::new(t.path().join("c"), Kind::Sqlite);
    c.ok(&[
        "init",
        "--org",
        "Acme",
        "--origin",
        "acme.example/vouch/audit",
    ]);
    let other_log = c.log_vkey();
    assert_ne!(other_log, log);
    let (ok, out) = verify(&kit, &["--log-key", &other_log]);
    assert!(!ok, "{out}");
    assert!(
        line(&out, "2025-01").starts_with("2025-01 FAIL:")
            && line(&out, "2025-01").contains("another log key"),
        "{out}"
    );
    let o = Command::new("bash")
        .arg(kit.join("verify.sh"))
        .args(["--log-key", ""])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("--log-key needs a non-empty value"),
        "{o:?}"
    );

    // 1. One byte of March's packet changed: March fails, naming the file; the others
    // still verify.
    let k1 = t.path().join("k1");
    copy_dir(&kit, &k1);
    let p = k1.join("months/2025-03/packet/SOC2_Evidence.json");
    let text = std::fs::read_to_string(&p).unwrap();
    assert!(text.contains("\"Acme\""));
    std::fs::write(&p, text.replacen("\"Acme\"", "\"Acmf\"", 1)).unwrap();
    // Re-signed with another key added to keys/ (not one kit.json lists), and the
    // manifest re-made with the real key: the packet signature is what fails.
    std::fs::copy(&x_pub, k1.join("keys/signing-x.pem")).unwrap();
    sign_file(&x_key, &p);
    reseal(&k1, &real_key);
    let (ok, out) = verify(&k1, &[]);
    assert!(!ok, "{out}");
    let l = line(&out, "2025-03");
    assert!(
        l.starts_with("2025-03 FAIL:")
            && l.contains("months/2025-03/packet/SOC2_Evidence.json.sig does not verify")
            && !l.contains("manifest.json"),
        "{l}"
    );
    assert!(line(&out, "2025-02").contains(" OK ("), "{out}");
    assert!(line(&out, "2025-04").contains(" OK ("), "{out}");
    assert!(
        out.contains("SUMMARY: FAIL") && out.contains("(2025-03)"),
        "{out}"
    );

    // 2. May's checkpoint and proof replaced by those of a forked log: another history
    // signed with the same log key, at the same tree sizes.
    let kit_meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(kit.join("kit.json")).unwrap()).unwrap();
    let size_of = |m: &str| {
        kit_meta["months"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["month"] == m)
            .unwrap()["checkpoint_size"]
            .as_u64()
            .unwrap()
    };
    let (may, june) = (size_of("2025-05"), size_of("2025-06"));
    // On PostgreSQL the fork is another history from the start, signed with the same
    // log key (a new SQLite data directory holding A's log key).
    let b = Data::new(t.path().join("b"), Kind::Sqlite);
    if kind == Kind::Postgres {
        std::fs::create_dir_all(b.dir.join("keys")).unwrap();
        std::fs::copy(a.dir.join("keys/log.key"), b.dir.join("keys/log.key")).unwrap();
        b.ok(&[
            "init",
            "--org",
            "Acme",
            "--origin",
            "acme.example/vouch/audit",
        ]);
    }
    assert_eq!(b.log_vkey(), log);
    let b_size: u64 =
        serde_json::from_str::<serde_json::Value>(&b.ok(&["--json", "ledger", "verify"])).unwrap()
            ["tree_size"]
            .as_u64()
            .unwrap();
    assert!(
        b_size < may,
        "the fork diverges before May's tree ({b_size} < {may})"
    );
    let mut forked = String::new();
    for i in 0..june {
        forked.push_str(&format!("{{\"timestamp\":\"2025-05-01T10:00:00Z\",\"action\":\"forked.{i}\",\"category\":\"system\",\"result\":\"success\"}}\n"));
    }
    let o = b.run_in(&["ledger", "append", "-"], &forked);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let proof = b.ok(&[
        "ledger",
        "consistency",
        "--from",
        &may.to_string(),
        "--to",
        &june.to_string(),
    ]);
    let pv: serde_json::Value = serde_json::from_str(&proof).unwrap();
    let k2 = t.path().join("k2");
    copy_dir(&kit, &k2);
    std::fs::write(
        k2.join("months/2025-05/checkpoint.txt"),
        pv["from_checkpoint"].as_str().unwrap(),
    )
    .unwrap();
    std::fs::write(k2.join("months/2025-05/consistency-to-next.json"), &proof).unwrap();
    reseal(&k2, &real_key);
    let (ok, out) = verify(&k2, &[]);
    assert!(!ok, "{out}");
    let l = line(&out, "2025-05");
    assert!(
        l.starts_with("2025-05 FAIL: months/2025-05/checkpoint.txt: tree")
            && l.contains("a different (forked) log")
            && !l.contains("manifest.json"),
        "{l}"
    );
    assert!(line(&out, "2025-04").contains(" OK ("), "{out}");
    // The forked proof alone (the checkpoint left as it was) fails May too.
    let k2b = t.path().join("k2b");
    copy_dir(&kit, &k2b);
    std::fs::write(k2b.join("months/2025-05/consistency-to-next.json"), &proof).unwrap();
    reseal(&k2b, &real_key);
    let (ok, out) = verify(&k2b, &[]);
    assert!(!ok, "{out}");
    let l = line(&out, "2025-05");
    assert!(
        l.starts_with("2025-05 FAIL: months/2025-05/consistency-to-next.json: starts at tree")
            && l.contains("a different (forked) log")
            && !l.contains("manifest.json"),
        "{l}"
    );

    // 3. One cosignature removed from July's cosigned checkpoint.
    let k3 = t.path().join("k3");
    copy_dir(&kit, &k3);
    let p = k3.join("months/2025-07/cosigned-checkpoint.txt");
    let note = std::fs::read_to_string(&p).unwrap();
    let kept: String = note
        .lines()
        .filter(|l| !l.starts_with("\u{2014} w2.example/witness "))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(kept, note, "the note had w2's cosignature:\n{note}");
    std::fs::write(&p, kept).unwrap();
    let (ok, out) = verify(&k3, &[]);
    assert!(!ok, "{out}");
    let l = line(&out, "2025-07");
    assert!(
        l.starts_with("2025-07 FAIL:")
            && l.contains("1 of the required 2 cosignatures")
            && l.contains("missing: w2.example/witness"),
        "{l}"
    );
    // With the auditor's own policy of 1 of 2 the cosignature check passes, but the
    // file still differs from the signed manifest.
    let (ok, out) = verify(&k3, &["--min-cosignatures", "1"]);
    assert!(!ok, "{out}");
    let l = line(&out, "2025-07");
    assert!(
        l.contains("SHA-256 differs from manifest.json") && !l.contains("required 2"),
        "{l}"
    );

    // 4. A period whose months have no packets, and months after the kit was made.
    let k4 = t.path().join("k4");
    a.ok(&[
        "auditor-kit",
        "--period",
        "2026-Q1",
        "--out",
        k4.to_str().unwrap(),
        "--made-at",
        "2026-03-15T00:00:00Z",
    ]);
    let (ok, out) = verify(&k4, &[]);
    assert!(!ok, "{out}");
    assert_eq!(
        line(&out, "2026-01"),
        "2026-01 MISSING: no packet generated"
    );
    assert!(
        line(&out, "2026-02").starts_with("2026-02 MISSING"),
        "{out}"
    );
    assert!(
        line(&out, "2026-03").starts_with("2026-03 NOT YET"),
        "{out}"
    );
    assert!(
        !out.lines()
            .any(|l| l.starts_with("2026-") && l.contains(" OK")),
        "{out}"
    );
    assert!(
        out.contains("SUMMARY: FAIL") && out.contains("2 missing (2026-01, 2026-02)"),
        "{out}"
    );

    let _ =
        std::net::TcpStream::connect(tsa_url.trim_start_matches("http://").trim_end_matches('/'))
            .and_then(|mut s| s.write_all(b"QUIT\r\n"));
    tsa.join().unwrap();
});
