//! Attestations (issue 15) through the scheduler with a hand-moved clock, on SQLite and
//! PostgreSQL: a window opens with a draft pre-filled from check results and is signed
//! on time; a window closes unsigned (overdue, high finding) and is signed late and
//! qualified; a window missed entirely is recorded, never opened; signatures are checked
//! with the real `openssl`, `ssh-keygen -Y verify` and `gpg --verify`.

use crate::common;

use chrono::{DateTime, Duration, Utc};
use std::collections::BTreeMap;
use std::process::Command;
use vouch_core::period::Period;
use vouch_engine::jobs::{ManualClock, Runner};
use vouch_engine::signoff::attest::{Opinion, SignRequest, Signoffs, KIND_ATTESTATION};
use vouch_engine::signoff::signature::PersonalKey;
use vouch_engine::signoff::Error as SignoffError;

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

const CATALOG: &str = r#"
[[source]]
name = "app"
kind = "sqlite"
path = "app.db"

[[evidence]]
id = "direct-grants"
title = "Direct grants"
source = "app"
query = "SELECT email, granted_at FROM grants WHERE via_group = 0 ORDER BY email"

[[evidence]]
id = "archive-runs"
title = "Archiver runs"
source = "app"
query = "SELECT run_id, started_at, status FROM runs ORDER BY run_id"

[[check]]
id = "no-direct-grants"
title = "No direct grants"
kind = "empty"
evidence = "direct-grants"
severity = "high"

[[check]]
id = "archive-none-failed"
title = "No failed archiver run"
kind = "none"
evidence = "archive-runs"
field = "status"
equals = "failed"

[[control]]
id = "CC6.1-role"
title = "Compliance role assigned only to the auditors group"
criteria = ["CC6.1"]
checks = ["no-direct-grants"]

[[control]]
id = "A1.2-archiver"
title = "Archiver manifest complete"
criteria = ["A1.2"]
checks = ["archive-none-failed"]
"#;

/// The catalog, with or without a direct grant (which fails `no-direct-grants`).
fn setup(fx: &mut common::Fx, direct_grant: bool) {
    let db = fx.dir.path().join("app.db");
    let c = rusqlite::Connection::open(&db).unwrap();
    c.execute_batch(
        "CREATE TABLE grants (email TEXT, granted_at TEXT, via_group INTEGER);
         INSERT INTO grants VALUES ('eve@x', '2026-09-05 10:00:00', 1);
         CREATE TABLE runs (run_id TEXT, started_at TEXT, status TEXT);
         INSERT INTO runs VALUES ('r9', '2026-09-02 01:00:00', 'complete');",
    )
    .unwrap();
    if direct_grant {
        c.execute_batch("INSERT INTO grants VALUES ('dan@x', '2026-09-04 10:00:00', 0);")
            .unwrap();
    }
    drop(c);
    fx.with_catalog(CATALOG);
}

/// Collect and check one month at `at`.
fn collect_and_check_month(fx: &common::Fx, month: &str, at: DateTime<Utc>) {
    let m = Period::parse(month, at).unwrap();
    let items = fx.collector().collect(&[], &m, &mut |_| {}).unwrap();
    assert!(items.iter().all(|i| i.ok()));
    vouch_engine::checks::Checker::new(&fx.config, fx.store.clone(), &fx.ledger)
        .run(&m, &[], at)
        .unwrap();
}

/// Collect and check each month of Q3 at `at`.
fn collect_and_check(fx: &common::Fx, at: DateTime<Utc>) {
    for m in ["2026-07", "2026-08", "2026-09"] {
        collect_and_check_month(fx, m, at);
    }
}

fn runner<'a>(fx: &'a common::Fx, clock: &'a ManualClock, since: &str) -> Runner<'a> {
    Runner {
        config: &fx.config,
        store: fx.store.clone(),
        keys: &fx.keys,
        ledger: &fx.ledger,
        clock,
        worker: "t".into(),
        max_attempts: 3,
        backoff: Duration::minutes(5),
        not_before: Some(t(since)),
    }
}

fn signoffs(fx: &common::Fx) -> Signoffs<'_> {
    Signoffs {
        config: &fx.config,
        store: fx.store.clone(),
        ledger: &fx.ledger,
        keys: &fx.keys,
    }
}

fn request(opinion: Opinion, notes: &[(&str, &str)]) -> SignRequest {
    SignRequest {
        signer: "alice".into(),
        role: "compliance-officer".into(),
        via: "cli".into(),
        opinion,
        notes: notes
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
        personal: None,
    }
}

fn q3(fx: &common::Fx) -> vouch_engine::signoff::attest::Attestation {
    signoffs(fx)
        .find(KIND_ATTESTATION, "2026-Q3")
        .unwrap()
        .expect("a 2026-Q3 attestation")
}

/// `openssl dgst -sha256 -verify` on a file and its base64 `.sig`, as docs/attestations.md
/// tells an auditor to.
fn openssl_verifies(dir: &std::path::Path, file: &str) -> bool {
    let sig = std::fs::read_to_string(dir.join(format!("{file}.sig"))).unwrap();
    let der = vouch_core::unb64(sig.trim()).unwrap();
    std::fs::write(dir.join("sig.bin"), der).unwrap();
    let out = Command::new("openssl")
        .args([
            "dgst",
            "-sha256",
            "-verify",
            "public_key.pem",
            "-signature",
            "sig.bin",
            file,
        ])
        .current_dir(dir)
        .output()
        .unwrap();
    out.status.success() && String::from_utf8_lossy(&out.stdout).contains("Verified OK")
}

on_both!(window_opens_draft_from_checks_signed_on_time, |fx| {
    let mut fx = fx;
    setup(&mut fx, false);
    let clock = ManualClock::at(t("2026-09-25T23:00:00Z"));
    // The database "exists" from September 1: earlier windows are not its to report.
    let r = runner(&fx, &clock, "2026-09-01T00:00:00Z");
    r.tick().unwrap();
    assert!(
        signoffs(&fx)
            .find(KIND_ATTESTATION, "2026-Q3")
            .unwrap()
            .is_none(),
        "the window opens on 2026-09-26, not before"
    );
    clock.set(t("2026-09-26T00:00:30Z"));
    let done = r.tick().unwrap();
    let run = done.iter().find(|x| x.job == "attestation-draft").unwrap();
    assert_eq!(run.status, "succeeded", "{run}");
    assert_eq!(
        run.outputs.as_ref().unwrap()["opened"],
        serde_json::json!(["2026-Q3"])
    );
    let a = q3(&fx);
    assert_eq!(
        (
            a.status.as_str(),
            a.opens_at.as_str(),
            a.target_at.as_str(),
            a.closes_at.as_str()
        ),
        (
            "open",
            "2026-09-26T00:00:00.000000Z",
            "2026-10-01T10:00:00.000000Z",
            "2026-10-07T00:00:00.000000Z"
        )
    );
    // Nothing checked yet: no step may pass.
    assert_eq!(a.steps.len(), 2);
    assert!(
        a.steps.iter().all(|s| s.status == "no_evidence"),
        "{:?}",
        a.steps
    );
    assert!(!a.unqualified_allowed);
    // Only the quarter's last month is checked: July and August were not, so no step
    // passes (one checked month is not a checked quarter) and unqualified is refused.
    collect_and_check_month(&fx, "2026-09", t("2026-10-01T03:00:00Z"));
    let s = signoffs(&fx);
    let p = s.preview(&a.id, t("2026-10-02T09:00:00Z")).unwrap();
    assert!(
        p.steps.iter().all(|s| s.status == "no_evidence"),
        "{:?}",
        p.steps
    );
    let msgs = p.steps[0].checks[0].messages.join(" | ");
    assert!(
        msgs.contains("2026-07: no stored result") && msgs.contains("2026-08: no stored result"),
        "{msgs}"
    );
    assert!(!p.unqualified_allowed);
    let e = s
        .sign(
            &a.id,
            &request(Opinion::Unqualified, &[]),
            t("2026-10-02T09:00:00Z"),
        )
        .unwrap_err();
    assert!(e.to_string().contains("no_evidence"), "{e}");
    // Every month checked: the draft, re-read at signing, passes with the evidence and
    // results linked.
    collect_and_check(&fx, t("2026-10-01T03:00:00Z"));
    let p = s.preview(&a.id, t("2026-10-02T09:00:00Z")).unwrap();
    assert!(p.steps.iter().all(|s| s.status == "pass"), "{:?}", p.steps);
    let c = &p.steps[0].checks[0];
    assert_eq!(
        (c.check_id.as_str(), c.periods.clone()),
        (
            "no-direct-grants",
            vec![
                "2026-07".to_string(),
                "2026-08".to_string(),
                "2026-09".to_string()
            ]
        )
    );
    assert!(c.evidence[0]["sha256"]
        .as_str()
        .is_some_and(|h| h.len() == 64));
    assert!(c.evidence[0]["ledger_seq"].as_u64().is_some());
    assert!(c.results[0]["ledger_seq"].as_i64().is_some());
    assert!(p.unqualified_allowed, "{:?}", p.exceptions);
    // A note for a step that does not exist names the field; the wrong role is refused.
    let e = s
        .sign(
            &a.id,
            &request(Opinion::Unqualified, &[("9", "x")]),
            t("2026-10-02T09:00:00Z"),
        )
        .unwrap_err();
    assert!(
        matches!(e, SignoffError::Invalid(ref m) if m.starts_with("note: `9`")),
        "{e}"
    );
    let mut lead = request(Opinion::Unqualified, &[]);
    lead.role = "team-lead".into();
    let e = s.sign(&a.id, &lead, t("2026-10-02T09:00:00Z")).unwrap_err();
    assert!(matches!(e, SignoffError::Forbidden(_)), "{e}");
    let (signed, doc) = s
        .sign(
            &a.id,
            &request(
                Opinion::Unqualified,
                &[
                    ("1", "group provisioned empty (OQ-3)"),
                    ("A1.2-archiver", "r9 complete"),
                ],
            ),
            t("2026-10-02T09:00:00Z"),
        )
        .unwrap();
    assert_eq!(signed.status, "signed");
    assert!(!signed.late);
    let signing = signed.signed.clone().unwrap();
    assert_eq!(
        (signing.opinion.as_str(), signing.signer.name.as_str()),
        ("unqualified", "alice")
    );
    assert_eq!(
        signed.steps[0].note.as_deref(),
        Some("group provisioned empty (OQ-3)")
    );
    assert_eq!(signed.steps[1].note.as_deref(), Some("r9 complete"));
    doc.verify().unwrap();
    // Frozen: a second signature is a conflict, and the stored record is unchanged.
    let e = s
        .sign(
            &a.id,
            &request(Opinion::Qualified, &[]),
            t("2026-10-02T10:00:00Z"),
        )
        .unwrap_err();
    assert!(matches!(e, SignoffError::Conflict(_)), "{e}");
    assert_eq!(q3(&fx), signed);
    // Every step is in the ledger, the signature with the document's hash.
    let leaves = fx.all_leaves();
    for action in [
        "attestation.window_opened",
        "attestation.draft_created",
        "attestation.signed",
    ] {
        assert!(
            leaves.contains(&format!("\"action\":\"{action}\"")),
            "{action}"
        );
    }
    assert!(leaves.contains(&doc.sha256));
    // The files verify with openssl, and `vouch verify`'s checks; an edit is caught.
    if vouch_test_support::ext::have(&["openssl"]) {
        let dir = fx.dir.path().join("out");
        vouch_engine::packet::attestation::write(&dir, &fx.keys, &signed, &doc).unwrap();
        assert!(openssl_verifies(&dir, "attestation.json"));
        assert!(openssl_verifies(&dir, "attestation.pdf"));
        let md = std::fs::read_to_string(dir.join("attestation.md")).unwrap();
        assert!(md.contains("| 1 | CC6.1-role"), "{md}");
        assert!(md.contains("opinion **unqualified**"), "{md}");
        let steps =
            vouch_engine::packet::attestation::verify(&dir, None, &[fx.keys.signing_public_pem()]);
        assert!(steps.iter().all(|s| s.ok), "{steps:?}");
        let json = std::fs::read_to_string(dir.join("attestation.json")).unwrap();
        std::fs::write(
            dir.join("attestation.json"),
            json.replace("unqualified", "qualifiedX"),
        )
        .unwrap();
        assert!(!openssl_verifies(&dir, "attestation.json"));
        let steps = vouch_engine::packet::attestation::verify(&dir, None, &[]);
        assert!(steps.iter().any(|s| !s.ok), "{steps:?}");
    }
    // Metrics: signed.
    let m = vouch_engine::signoff::attest::metrics(&fx.store, t("2026-10-03T00:00:00Z")).unwrap();
    assert_eq!(m, vec![("2026-Q3".to_string(), true, None)]);
    // Packets: October's lists the attestation signed in it; the quarter's packet shows
    // its attestation's status as it stood when the packet was made. Both validate
    // against the packet schema.
    let packet = |label: &str, at: &str| -> serde_json::Value {
        let out = fx.dir.path().join(format!("packet-{label}"));
        vouch_engine::packet::generate(
            &fx.config,
            &fx.keys,
            &fx.ledger,
            &vouch_engine::packet::Request {
                period: Period::parse(label, t(at)).unwrap(),
                generated_at: Some(t(at)),
                // Both: the PDF's attestation section renders too.
                format: vouch_engine::packet::Format::Both,
                out: out.clone(),
                force: false,
            },
        )
        .unwrap();
        let file = out.join(vouch_engine::packet::JSON_FILE);
        common::schema_check(&file);
        serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap()
    };
    let sept = packet("2026-09", "2026-10-03T00:00:00Z");
    assert!(sept.get("attestations").is_none(), "nothing to say: no key");
    let oct = packet("2026-10", "2026-11-02T00:00:00Z");
    let listed = &oct["attestations"]["signed"][0];
    assert_eq!(listed["id"], signed.id.as_str());
    assert_eq!(listed["opinion"], "unqualified");
    assert_eq!(listed["document_sha256"], doc.sha256.as_str());
    assert!(oct["attestations"]["period"].is_null());
    assert!(fx
        .dir
        .path()
        .join("packet-2026-10")
        .join("SOC2_Evidence.pdf")
        .exists());
    let q3_before = packet("2026-Q3", "2026-10-01T12:00:00Z");
    assert_eq!(q3_before["attestations"]["period"]["status"], "open");
    assert!(q3_before["attestations"]["period"]["signer"].is_null());
});

on_both!(
    window_closes_unsigned_then_signed_late_and_qualified,
    |fx| {
        let mut fx = fx;
        setup(&mut fx, true);
        let clock = ManualClock::at(t("2026-09-26T00:00:30Z"));
        let r = runner(&fx, &clock, "2026-09-01T00:00:00Z");
        r.tick().unwrap();
        let a = q3(&fx);
        let m =
            vouch_engine::signoff::attest::metrics(&fx.store, t("2026-10-05T00:00:00Z")).unwrap();
        assert_eq!(m, vec![("2026-Q3".to_string(), false, Some(2 * 86400))]);
        collect_and_check(&fx, t("2026-10-01T03:00:00Z"));
        // The hard close passes unsigned: overdue, with a high finding, once.
        clock.set(t("2026-10-07T00:00:10Z"));
        let done = r.tick().unwrap();
        let run = done.iter().find(|x| x.job == "attestation-draft").unwrap();
        assert_eq!(
            run.outputs.as_ref().unwrap()["overdue"],
            serde_json::json!(["attestation:2026-Q3"]),
            "{run}"
        );
        let overdue = q3(&fx);
        assert_eq!((overdue.status.as_str(), overdue.late), ("overdue", true));
        let f =
            vouch_engine::checks::findings::get(&fx.store, &overdue.lateness_findings[0]).unwrap();
        assert_eq!(
            (f["severity"].as_str(), f["status"].as_str()),
            (Some("high"), Some("open"))
        );
        let again = signoffs(&fx)
            .sync(t("2026-10-08T00:00:10Z"), t("2026-09-01T00:00:00Z"))
            .unwrap();
        assert!(
            again.overdue.is_empty() && again.opened.is_empty(),
            "{again:?}"
        );
        assert_eq!(
            q3(&fx).lateness_findings.len(),
            1,
            "the close is reported once"
        );
        // A failing step: unqualified is refused, naming why; qualified is signed, late.
        let s = signoffs(&fx);
        let e = s
            .sign(
                &a.id,
                &request(Opinion::Unqualified, &[]),
                t("2026-10-09T12:00:00Z"),
            )
            .unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.starts_with("opinion: an unqualified 2026-Q3 attestation is not allowed"),
            "{msg}"
        );
        assert!(msg.contains("step 1 (CC6.1-role): fail"), "{msg}");
        let (signed, doc) = s
            .sign(
                &a.id,
                &request(
                    Opinion::Qualified,
                    &[("1", "dan@x direct grant: finding filed")],
                ),
                t("2026-10-09T12:00:00Z"),
            )
            .unwrap();
        doc.verify().unwrap();
        let signing = signed.signed.clone().unwrap();
        assert!(signing.late && signed.late);
        assert_eq!(signing.opinion, "qualified");
        assert_eq!(signed.steps[0].status, "fail");
        // dan@x fails in each of the quarter's three checked months.
        assert_eq!(signed.steps[0].checks[0].failing_count, 3);
        assert_eq!(signed.steps[0].checks[0].failing[0]["email"], "dan@x");
        // The check's own (high) finding is linked to the step and listed.
        assert!(signed.steps[0]
            .findings
            .iter()
            .any(|f| f.check_id.as_deref() == Some("no-direct-grants")));
        assert!(
            signed
                .exceptions
                .iter()
                .any(|e| e.starts_with("open high finding")),
            "{:?}",
            signed.exceptions
        );
        // Late signing opened its own finding.
        assert_eq!(signed.lateness_findings.len(), 2);
        let late =
            vouch_engine::checks::findings::get(&fx.store, &signed.lateness_findings[1]).unwrap();
        assert!(late["title"].as_str().unwrap().contains("signed late"));
        let leaves = fx.all_leaves();
        assert!(leaves.contains("\"action\":\"attestation.window_closed_unsigned\""));
        assert!(leaves.contains("\"late\":true"));
    }
);

on_both!(window_missed_entirely_is_recorded_never_opened, |fx| {
    let mut fx = fx;
    setup(&mut fx, false);
    // vouch ran until September 20, then was down until October 20: the whole Q3 window
    // (September 26 – October 6) passed.
    let clock = ManualClock::at(t("2026-09-20T00:00:30Z"));
    let r = runner(&fx, &clock, "2026-09-01T00:00:00Z");
    r.tick().unwrap();
    clock.set(t("2026-10-20T00:00:30Z"));
    let done = r.tick().unwrap();
    let run = done.iter().find(|x| x.job == "attestation-draft").unwrap();
    assert_eq!(
        run.outputs.as_ref().unwrap()["missed"],
        serde_json::json!(["2026-Q3"]),
        "{run}"
    );
    assert_eq!(
        run.outputs.as_ref().unwrap()["opened"],
        serde_json::json!([])
    );
    let a = q3(&fx);
    assert_eq!(
        (a.status.as_str(), a.late, a.steps.len()),
        ("missed", true, 0)
    );
    let f = vouch_engine::checks::findings::get(&fx.store, &a.lateness_findings[0]).unwrap();
    assert_eq!(f["severity"], "high");
    assert!(f["title"].as_str().unwrap().contains("window missed"));
    let leaves = fx.all_leaves();
    assert!(leaves.contains("\"action\":\"attestation.window_missed\""));
    assert!(
        !leaves.contains("\"action\":\"attestation.window_opened\""),
        "a closed window is never opened"
    );
    // Nor by hand.
    let e = signoffs(&fx)
        .open_period(
            &Period::parse("2026-Q3", t("2026-10-20T01:00:00Z")).unwrap(),
            t("2026-10-20T01:00:00Z"),
        )
        .unwrap_err();
    assert!(matches!(e, SignoffError::Conflict(_)), "{e}");
    // Still a 0 in the metrics; still signable, late, with its steps read then.
    let m = vouch_engine::signoff::attest::metrics(&fx.store, t("2026-10-20T01:00:00Z")).unwrap();
    assert_eq!(m[0].0, "2026-Q3");
    assert!(!m[0].1);
    collect_and_check(&fx, t("2026-10-20T02:00:00Z"));
    let (signed, _) = signoffs(&fx)
        .sign(
            &a.id,
            &request(Opinion::Qualified, &[]),
            t("2026-10-21T09:00:00Z"),
        )
        .unwrap();
    assert_eq!(signed.steps.len(), 2);
    assert!(signed.signed.unwrap().late);
    // A fresh database installed after a window closed does not report it.
    let other = Signoffs {
        config: &fx.config,
        store: fx.store.clone(),
        ledger: &fx.ledger,
        keys: &fx.keys,
    };
    let rep = other
        .sync(t("2026-11-01T00:00:00Z"), t("2026-10-30T00:00:00Z"))
        .unwrap();
    assert!(rep.missed.is_empty() && rep.opened.is_empty(), "{rep:?}");
});

on_both!(ext_signer_signatures_ssh_and_gpg, |fx| {
    let mut fx = fx;
    if !vouch_test_support::ext::have(&["openssl", "gpg"]) {
        return;
    }
    setup(&mut fx, false);
    let keys = fx.dir.path().join("signer");
    std::fs::create_dir_all(&keys).unwrap();
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "alice@example", "-f"])
        .arg(keys.join("id_ed25519"))
        .status();
    if !vouch_test_support::ext::require(st.is_ok_and(|s| s.success()), "ssh-keygen is missing") {
        return;
    }
    let gnupg = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        gnupg.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    // A throwaway keyring: this process's gpg calls (signing and verifying) use it.
    std::env::set_var("GNUPGHOME", gnupg.path());
    let st = Command::new("gpg")
        .args([
            "--batch",
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            "",
            "--quick-gen-key",
            "Alice <alice@example>",
            "ed25519",
            "sign",
            "never",
        ])
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    collect_and_check(&fx, t("2026-10-01T03:00:00Z"));
    let s = signoffs(&fx);
    s.sync(t("2026-09-26T00:00:00Z"), t("2026-09-01T00:00:00Z"))
        .unwrap();
    // An SSH-signed quarterly attestation, verified by ssh-keygen with allowed signers.
    let a = q3(&fx);
    let mut req = request(Opinion::Unqualified, &[]);
    req.personal = Some(PersonalKey::Ssh(keys.join("id_ed25519")));
    let (signed, doc) = s.sign(&a.id, &req, t("2026-10-01T12:00:00Z")).unwrap();
    let dir = fx.dir.path().join("ssh-out");
    vouch_engine::packet::attestation::write(&dir, &fx.keys, &signed, &doc).unwrap();
    let out = Command::new("sh")
        .arg("-c")
        .arg("ssh-keygen -Y verify -f allowed_signers -I alice -n vouch-attestation -s attestation.json.ssh.sig < attestation.json")
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout)
        .contains("Good \"vouch-attestation\" signature for alice"));
    assert!(openssl_verifies(&dir, "attestation.json"));
    let steps = vouch_engine::packet::attestation::verify(&dir, None, &[]);
    assert!(
        steps.iter().all(|s| s.ok) && steps.iter().any(|s| s.check.contains("SSH")),
        "{steps:?}"
    );
    // Another namespace or principal does not verify.
    let out = Command::new("sh")
        .arg("-c")
        .arg("ssh-keygen -Y verify -f allowed_signers -I mallory -n vouch-attestation -s attestation.json.ssh.sig < attestation.json")
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(!out.status.success());
    // A GPG-signed monthly one (monthly cadence for this part).
    fx.config.settings.attestations.cadence = "monthly".into();
    let s = signoffs(&fx);
    s.sync(t("2026-10-27T00:00:00Z"), t("2026-10-20T00:00:00Z"))
        .unwrap();
    let oct = s
        .find(KIND_ATTESTATION, "2026-10")
        .unwrap()
        .expect("October's window");
    let mut req = request(Opinion::Qualified, &[]);
    // Another signer: alice's personal key is pinned to her SSH key now.
    req.signer = "alice.pgp".into();
    req.personal = Some(PersonalKey::Gpg("alice@example".into()));
    let (signed, doc) = s.sign(&oct.id, &req, t("2026-11-02T12:00:00Z")).unwrap();
    let dir = fx.dir.path().join("gpg-out");
    vouch_engine::packet::attestation::write(&dir, &fx.keys, &signed, &doc).unwrap();
    let out = Command::new("gpg")
        .args([
            "--batch",
            "--verify",
            "attestation.json.asc",
            "attestation.json",
        ])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("Good signature from \"Alice <alice@example>\""));
    let steps = vouch_engine::packet::attestation::verify(&dir, None, &[]);
    assert!(
        steps.iter().all(|s| s.ok) && steps.iter().any(|s| s.check.contains("OpenPGP")),
        "{steps:?}"
    );
    // Issue 15 item 4: `vouch verify` requires the key recorded when signing
    // (gpg_fingerprint): a good signature by another key of the keyring is refused.
    let fpr = std::fs::read_to_string(dir.join("gpg_fingerprint")).unwrap();
    assert_eq!(fpr.trim().len(), 40, "{fpr}");
    let st = Command::new("gpg")
        .args([
            "--batch",
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            "",
            "--quick-gen-key",
            "Mallory <mallory@example>",
            "ed25519",
            "sign",
            "never",
        ])
        .output()
        .unwrap();
    assert!(st.status.success());
    let good = std::fs::read(dir.join("attestation.json.asc")).unwrap();
    let st = Command::new("gpg")
        .args([
            "--batch",
            "--yes",
            "--armor",
            "--local-user",
            "mallory@example",
            "--output",
            "attestation.json.asc",
            "--detach-sign",
            "attestation.json",
        ])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let steps = vouch_engine::packet::attestation::verify(&dir, None, &[]);
    let pgp = steps
        .iter()
        .find(|s| s.check.contains("OpenPGP"))
        .expect("an OpenPGP step");
    assert!(
        !pgp.ok && pgp.detail.contains("not the recorded key"),
        "{steps:?}"
    );
    // Without the recorded fingerprint vouch cannot tell whose key signed: refused.
    std::fs::write(dir.join("attestation.json.asc"), &good).unwrap();
    std::fs::remove_file(dir.join("gpg_fingerprint")).unwrap();
    let steps = vouch_engine::packet::attestation::verify(&dir, None, &[]);
    assert!(
        steps
            .iter()
            .any(|s| !s.ok && s.detail.contains("no recorded signer fingerprint")),
        "{steps:?}"
    );
    // The document edited after signing: gpg says so.
    let json = std::fs::read_to_string(dir.join("attestation.json")).unwrap();
    std::fs::write(
        dir.join("attestation.json"),
        json.replace("alice", "mallory"),
    )
    .unwrap();
    let out = Command::new("gpg")
        .args([
            "--batch",
            "--verify",
            "attestation.json.asc",
            "attestation.json",
        ])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(!out.status.success());
});

/// `ssh-keygen -lf FILE`'s `SHA256:…` fingerprint.
fn ssh_fingerprint(file: &std::path::Path) -> String {
    let out = Command::new("ssh-keygen")
        .arg("-lf")
        .arg(file)
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string()
}

// Issue 15 (review): a personal signature counts only by the signer's pinned key. The
// first one registers it (recorded in the `attestation.signed` event); a later one by
// another key is refused (conflict naming the pinned key's fingerprint) and records
// nothing; a key configured in `[attestations] signer_keys` replaces the pin (rotation).
on_both!(ext_signer_key_pinned_on_first_use_and_by_config, |fx| {
    let mut fx = fx;
    setup(&mut fx, false);
    let keys = fx.dir.path().join("signer");
    std::fs::create_dir_all(&keys).unwrap();
    for k in ["alice", "mallory"] {
        let st = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", k, "-f"])
            .arg(keys.join(k))
            .status();
        if !vouch_test_support::ext::require(st.is_ok_and(|s| s.success()), "ssh-keygen is missing")
        {
            return;
        }
    }
    let alice_fpr = ssh_fingerprint(&keys.join("alice.pub"));
    let mallory_fpr = ssh_fingerprint(&keys.join("mallory.pub"));
    collect_and_check(&fx, t("2026-10-01T03:00:00Z"));
    let s = signoffs(&fx);
    s.sync(t("2026-09-26T00:00:00Z"), t("2026-09-01T00:00:00Z"))
        .unwrap();
    let with = |k: &str| {
        let mut req = request(Opinion::Qualified, &[]);
        req.personal = Some(PersonalKey::Ssh(keys.join(k)));
        req
    };
    // First use: alice's key is registered.
    let a = q3(&fx);
    s.sign(&a.id, &with("alice"), t("2026-10-01T12:00:00Z"))
        .unwrap();
    let leaves = fx.all_leaves();
    assert!(
        leaves.contains(&format!(
            "\"signer_key\":{{\"fingerprint\":\"{alice_fpr}\",\"pinned_by\":\"registered\"}}"
        )),
        "{leaves}"
    );
    // Later, a fresh key presented as alice's: refused, nothing recorded.
    fx.config.settings.attestations.cadence = "monthly".into();
    let s = signoffs(&fx);
    s.sync(t("2026-10-27T00:00:00Z"), t("2026-10-20T00:00:00Z"))
        .unwrap();
    let oct = s
        .find(KIND_ATTESTATION, "2026-10")
        .unwrap()
        .expect("October's window");
    let signed_before = count_action(&fx, "attestation.signed");
    match s.sign(&oct.id, &with("mallory"), t("2026-11-02T12:00:00Z")) {
        Err(SignoffError::Conflict(m)) => {
            assert!(m.contains(&alice_fpr) && m.contains(&mallory_fpr), "{m}")
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(count_action(&fx, "attestation.signed"), signed_before);
    assert_eq!(s.get(&oct.id).unwrap().status, "open");
    // An admin pins alice to the new key in vouch.toml: her old key is refused now,
    // the new one signs.
    let mallory_pub = std::fs::read_to_string(keys.join("mallory.pub")).unwrap();
    fx.config
        .settings
        .attestations
        .signer_keys
        .insert("alice".into(), mallory_pub.trim().into());
    let s = signoffs(&fx);
    match s.sign(&oct.id, &with("alice"), t("2026-11-02T12:00:00Z")) {
        Err(SignoffError::Conflict(m)) => assert!(m.contains(&mallory_fpr), "{m}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    s.sign(&oct.id, &with("mallory"), t("2026-11-02T12:00:00Z"))
        .unwrap();
    assert!(fx.all_leaves().contains(&format!(
        "\"signer_key\":{{\"fingerprint\":\"{mallory_fpr}\",\"pinned_by\":\"config\"}}"
    )));
});

const EXPORTS_CATALOG: &str = r#"
[[source]]
name = "app"
kind = "sqlite"
path = "app.db"

[[evidence]]
id = "gateway-auth"
title = "Gateway auth events"
source = "app"
query = "SELECT id FROM t"

[[evidence]]
id = "velero-backups"
title = "Backups"
source = "app"
query = "SELECT id FROM t"

[[evidence]]
id = "merged-prs"
title = "Merged PRs"
source = "app"
query = "SELECT id FROM t"
"#;

// Seed 001: after the monthly collection, a sign-off request for the team lead with the
// success criteria judged (here: no DR drill, no packet, no archive: those fail), signed
// by the team lead only; late after 7 days.
on_both!(collection_signoff_criteria_and_team_lead_signature, |fx| {
    let mut fx = fx;
    let db = fx.dir.path().join("app.db");
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch("CREATE TABLE t (id INTEGER); INSERT INTO t VALUES (1);")
        .unwrap();
    fx.with_catalog(EXPORTS_CATALOG);
    let oct = Period::parse("2026-10", t("2026-11-02T00:00:00Z")).unwrap();
    let items = fx.collector().collect(&[], &oct, &mut |_| {}).unwrap();
    assert!(items.iter().all(|i| i.ok()));
    let clock = ManualClock::at(t("2026-11-03T03:00:00Z"));
    let r = runner(&fx, &clock, "2026-09-01T00:00:00Z");
    let a = r.collection_signoff(&oct).unwrap();
    assert_eq!(a.kind, "collection-signoff");
    assert_eq!(
        (a.signer_role.as_str(), a.closes_at.as_str()),
        ("team-lead", "2026-11-08T00:00:00.000000Z")
    );
    let st: Vec<(&str, &str)> = a
        .steps
        .iter()
        .map(|s| (s.control_id.as_str(), s.status.as_str()))
        .collect();
    assert_eq!(
        st,
        [
            ("completed-in-time", "pass"),
            ("exports-present", "fail"),
            ("hash-chain-verified", "pass"),
            ("encrypted-in-worm", "fail"),
            ("collection-logged", "fail"),
        ]
    );
    let exports = a.steps[1].detail.clone().unwrap();
    assert!(exports.starts_with("missing: audit, dr-drill"), "{exports}");
    assert!(
        exports.contains("auth: evidence gateway-auth item"),
        "{exports}"
    );
    // Requested once.
    assert_eq!(r.collection_signoff(&oct).unwrap().id, a.id);
    assert!(fx.all_leaves().contains("\"action\":\"signoff.requested\""));
    let s = signoffs(&fx);
    let officer = request(Opinion::Qualified, &[]);
    let e = s
        .sign(&a.id, &officer, t("2026-11-05T09:00:00Z"))
        .unwrap_err();
    assert!(matches!(e, SignoffError::Forbidden(_)), "{e}");
    let mut lead = request(Opinion::Unqualified, &[]);
    lead.role = "team-lead".into();
    lead.signer = "tom.lead".into();
    let e = s.sign(&a.id, &lead, t("2026-11-05T09:00:00Z")).unwrap_err();
    assert!(
        e.to_string().contains("step 2 (exports-present): fail"),
        "{e}"
    );
    lead.opinion = Opinion::Qualified;
    lead.notes.insert("dr-drill".into(), "x".into());
    let e = s.sign(&a.id, &lead, t("2026-11-05T09:00:00Z")).unwrap_err();
    assert!(e.to_string().starts_with("note: `dr-drill`"), "{e}");
    lead.notes.clear();
    lead.notes.insert(
        "exports-present".into(),
        "DR drill moved to 2026-11-12".into(),
    );
    let (signed, doc) = s.sign(&a.id, &lead, t("2026-11-05T09:00:00Z")).unwrap();
    doc.verify().unwrap();
    assert!(!signed.late);
    assert_eq!(
        signed.steps[1].note.as_deref(),
        Some("DR drill moved to 2026-11-12")
    );
    // A month collected late: the first criterion fails.
    let nov = Period::parse("2026-11", t("2026-12-20T00:00:00Z")).unwrap();
    clock.set(t("2026-12-09T00:00:00Z"));
    let late = r.collection_signoff(&nov).unwrap();
    assert_eq!(late.steps[0].status, "fail", "{:?}", late.steps[0]);
    assert!(late.steps[0]
        .detail
        .as_deref()
        .unwrap()
        .contains("due by 2026-12-08"));
});

// Seed 001's quarterly review: the three monthly packets' chain with consistency proofs
// between their checkpoints is verified by vouch; what nothing checked (backups, vault
// rotations without checks) is no_evidence, the PR sample not_tested: only a qualified
// sign-off. A quarter without its packets fails the chain step.
on_both!(quarterly_review_chain_consistency_and_honest_gaps, |fx| {
    let mut gen = vouch_engine::demo::Generator::new(7, 12);
    for (m, n) in [(7, 8), (8, 9), (9, 10)] {
        let events = gen.span(
            vouch_engine::demo::day(2026, m, 1),
            vouch_engine::demo::day(2026, n, 1),
            60,
        );
        fx.ledger.append(events).unwrap();
        fx.ledger.checkpoint().unwrap();
    }
    for (label, at) in [
        ("2026-07", "2026-08-02T00:00:00Z"),
        ("2026-08", "2026-09-02T00:00:00Z"),
        ("2026-09", "2026-10-02T00:00:00Z"),
    ] {
        let period = Period::parse(label, t(at)).unwrap();
        vouch_engine::packet::generate(
            &fx.config,
            &fx.keys,
            &fx.ledger,
            &vouch_engine::packet::Request {
                out: fx
                    .config
                    .data_dir
                    .join("packets")
                    .join(vouch_engine::packet::build::period_slug(&period)),
                period,
                generated_at: Some(t(at)),
                format: vouch_engine::packet::Format::Json,
                force: false,
            },
        )
        .unwrap();
    }
    let clock = ManualClock::at(t("2026-10-05T09:00:00Z"));
    let r = runner(&fx, &clock, "2026-06-01T00:00:00Z");
    let q3 = Period::parse("2026-Q3", t("2026-10-05T09:00:00Z")).unwrap();
    let a = r.quarterly_review(&q3).unwrap();
    assert_eq!(
        (a.kind.as_str(), a.signer_role.as_str()),
        ("quarterly-review", "team-lead")
    );
    let st: Vec<(&str, &str)> = a
        .steps
        .iter()
        .map(|s| (s.control_id.as_str(), s.status.as_str()))
        .collect();
    assert_eq!(
        st,
        [
            ("hash-chain-3-months", "pass"),
            ("backup-history", "no_evidence"),
            ("vault-rotations", "no_evidence"),
            // No PR evidence in this catalog: nothing to sample, never a pass.
            ("pr-sample", "no_evidence")
        ]
    );
    let chain = a.steps[0].detail.clone().unwrap();
    assert_eq!(chain.matches("consistency proof").count(), 2, "{chain}");
    assert!(!a.unqualified_allowed);
    let mut lead = request(
        Opinion::Qualified,
        &[(
            "pr-sample",
            "PRs 412, 418, 431 reviewed: two approvals each",
        )],
    );
    lead.role = "team-lead".into();
    let (signed, doc) = signoffs(&fx)
        .sign(&a.id, &lead, t("2026-10-06T09:00:00Z"))
        .unwrap();
    doc.verify().unwrap();
    assert_eq!(
        signed.steps[3].note.as_deref(),
        Some("PRs 412, 418, 431 reviewed: two approvals each")
    );
    // Q2 has no packets: the chain step fails, naming them.
    let q2 = Period::parse("2026-Q2", t("2026-10-05T09:00:00Z")).unwrap();
    let b = r.quarterly_review(&q2).unwrap();
    assert_eq!(b.steps[0].status, "fail");
    assert!(
        b.steps[0]
            .detail
            .as_deref()
            .unwrap()
            .contains("2026-04: no packet"),
        "{:?}",
        b.steps[0].detail
    );
});

/// How many ledger leaves record `action`.
fn count_action(fx: &common::Fx, action: &str) -> usize {
    fx.all_leaves()
        .matches(&format!("\"action\":\"{action}\""))
        .count()
}

/// How many findings have `text` in their title.
fn count_findings(fx: &common::Fx, text: &str) -> usize {
    vouch_engine::checks::findings::list(&fx.store, None)
        .unwrap()
        .iter()
        .filter(|f| f["title"].as_str().is_some_and(|t| t.contains(text)))
        .count()
}

// Several signers race the same late signature on one store: exactly one wins, the
// others get a conflict, and the ledger has exactly one `attestation.signed` event and
// one "signed late" finding (the guarded write comes before the ledger append).
on_both!(attest_concurrent_signatures_record_one_signed_event, |fx| {
    let mut fx = fx;
    setup(&mut fx, false);
    signoffs(&fx)
        .sync(t("2026-09-26T00:00:10Z"), t("2026-09-01T00:00:00Z"))
        .unwrap();
    let a = q3(&fx);
    let n = 6;
    let barrier = std::sync::Barrier::new(n);
    let results: Vec<Result<_, SignoffError>> = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..n)
            .map(|_| {
                sc.spawn(|| {
                    barrier.wait();
                    signoffs(&fx).sign(
                        &a.id,
                        &request(Opinion::Qualified, &[]),
                        t("2026-10-08T09:00:00Z"),
                    )
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let won: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(won.len(), 1, "exactly one signature wins");
    for r in &results {
        if let Err(e) = r {
            assert!(matches!(e, SignoffError::Conflict(_)), "{e}");
        }
    }
    assert_eq!(count_action(&fx, "attestation.signed"), 1);
    assert_eq!(count_findings(&fx, "signed late"), 1);
    let stored = q3(&fx);
    assert_eq!(&stored, &won[0].0);
    assert_eq!(stored.ledger_seq, won[0].0.ledger_seq);
    assert!(stored.ledger_seq.is_some());
    signoffs(&fx)
        .document(&a.id)
        .unwrap()
        .unwrap()
        .verify()
        .unwrap();
});

// Concurrent scheduler runs: a window is opened (and recorded) once, closed unsigned
// once (one high finding), and missed once.
on_both!(attest_concurrent_syncs_record_each_window_once, |fx| {
    let mut fx = fx;
    setup(&mut fx, false);
    let race = |now: &str, since: &str| {
        let n = 6;
        let barrier = std::sync::Barrier::new(n);
        std::thread::scope(|sc| {
            let hs: Vec<_> = (0..n)
                .map(|_| {
                    sc.spawn(|| {
                        barrier.wait();
                        signoffs(&fx).sync(t(now), t(since)).unwrap()
                    })
                })
                .collect();
            hs.into_iter()
                .map(|h| h.join().unwrap())
                .collect::<Vec<_>>()
        })
    };
    let reps = race("2026-09-26T00:00:10Z", "2026-09-01T00:00:00Z");
    assert_eq!(reps.iter().map(|r| r.opened.len()).sum::<usize>(), 1);
    assert_eq!(count_action(&fx, "attestation.window_opened"), 1);
    assert_eq!(count_action(&fx, "attestation.draft_created"), 1);
    let reps = race("2026-10-07T00:00:10Z", "2026-09-01T00:00:00Z");
    assert_eq!(reps.iter().map(|r| r.overdue.len()).sum::<usize>(), 1);
    assert_eq!(count_action(&fx, "attestation.window_closed_unsigned"), 1);
    assert_eq!(count_findings(&fx, "not signed by its hard close"), 1);
    let overdue = q3(&fx);
    assert_eq!(
        (overdue.status.as_str(), overdue.lateness_findings.len()),
        ("overdue", 1)
    );
    // Q4's window, never opened, is missed once (the database knew Q4 from October 1).
    let reps = race("2027-01-20T00:00:10Z", "2026-10-01T00:00:00Z");
    assert_eq!(reps.iter().map(|r| r.missed.len()).sum::<usize>(), 1);
    assert_eq!(count_action(&fx, "attestation.window_missed"), 1);
    assert_eq!(count_findings(&fx, "window missed"), 1);
});

// The overdue sweep after a signature changes nothing: the signed row is not marked
// overdue and no "not signed by its hard close" finding is opened.
on_both!(attest_overdue_sweep_leaves_a_signed_document_alone, |fx| {
    let mut fx = fx;
    setup(&mut fx, false);
    let s = signoffs(&fx);
    s.sync(t("2026-09-26T00:00:10Z"), t("2026-09-01T00:00:00Z"))
        .unwrap();
    let a = q3(&fx);
    s.sign(
        &a.id,
        &request(Opinion::Qualified, &[]),
        t("2026-10-02T09:00:00Z"),
    )
    .unwrap();
    let rep = s
        .sync(t("2026-10-07T00:00:10Z"), t("2026-09-01T00:00:00Z"))
        .unwrap();
    assert!(rep.overdue.is_empty(), "{rep:?}");
    assert_eq!(q3(&fx).status, "signed");
    assert_eq!(count_action(&fx, "attestation.window_closed_unsigned"), 0);
    assert_eq!(count_findings(&fx, "not signed by its hard close"), 0);
});

// Issue 15 item 2: collecting the third month of a quarter requests that quarter's
// review from the team lead, once (re-runs return the same review); other months do not.
on_both!(quarterly_review_requested_after_the_third_month, |fx| {
    let clock = ManualClock::at(t("2026-09-01T03:00:30Z"));
    let r = runner(&fx, &clock, "2026-06-01T00:00:00Z");
    let aug = Period::parse("2026-08", t("2026-09-01T03:00:30Z")).unwrap();
    let run = r.run_now("generate-soc2-evidence", Some(aug)).unwrap();
    assert_eq!(run.status, "succeeded", "{run}");
    assert!(run
        .outputs
        .as_ref()
        .unwrap()
        .get("quarterly_review")
        .is_none());
    let s = signoffs(&fx);
    assert!(s.find("quarterly-review", "2026-Q3").unwrap().is_none());
    clock.set(t("2026-10-01T03:00:30Z"));
    let sep = Period::parse("2026-09", t("2026-10-01T03:00:30Z")).unwrap();
    let run = r
        .run_now("generate-soc2-evidence", Some(sep.clone()))
        .unwrap();
    assert_eq!(run.status, "succeeded", "{run}");
    let out = run.outputs.clone().unwrap();
    let a = s
        .find("quarterly-review", "2026-Q3")
        .unwrap()
        .expect("the Q3 review was requested");
    assert_eq!(out["quarterly_review"]["id"], a.id.as_str());
    assert_eq!(a.signer_role, "team-lead");
    assert_eq!(a.created_at, "2026-10-01T03:00:30.000000Z");
    let requested = count_action(&fx, "signoff.requested");
    clock.set(t("2026-10-02T03:00:30Z"));
    let run = r.run_now("generate-soc2-evidence", Some(sep)).unwrap();
    assert_eq!(
        run.outputs.unwrap()["quarterly_review"]["id"],
        a.id.as_str()
    );
    assert_eq!(count_action(&fx, "signoff.requested"), requested);
    assert_eq!(s.list(Some("quarterly-review"), None).unwrap().len(), 1);
});
