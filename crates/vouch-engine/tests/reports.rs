//! Reports generated as job runs: the vulnerability pack with a real `pip-audit` (its
//! scans, age, SLA and fixes; empty and failed scans fix nothing), incidents and
//! access-review campaigns read from their crates, scheduled reports, and signatures
//! checked with `openssl`.

use crate::common;

use chrono::{Duration, Utc};
use serde_json::{json, Value};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use vouch_engine::jobs::{ManualClock, Runner};
use vouch_engine::reports;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn runner<'a>(fx: &'a common::Fx, clock: &'a ManualClock) -> Runner<'a> {
    Runner {
        config: &fx.config,
        store: fx.store.clone(),
        keys: &fx.keys,
        ledger: &fx.ledger,
        clock,
        worker: "test".into(),
        max_attempts: 2,
        backoff: Duration::minutes(1),
        not_before: None,
    }
}

/// Request a report and run its job; the generated report JSON.
fn generate(fx: &common::Fx, body: Value) -> (reports::Report, Value) {
    let now = Utc::now();
    let req = reports::parse_request(&body, now).unwrap();
    let r = reports::create(&fx.store, &fx.ledger, &req, "test", None, now)
        .unwrap()
        .unwrap();
    let clock = ManualClock::at(now);
    let run = runner(fx, &clock).run_report(&r.id).unwrap().unwrap();
    assert_eq!(run.status, "succeeded", "{run}");
    assert_eq!(run.run_key, format!("generate-report:{}", r.id));
    let r = reports::get(&fx.store, &r.id).unwrap();
    assert_eq!(r.status, "succeeded");
    let (_, bytes) = reports::artifact(&fx.config, &fx.store, &r.id, "json").unwrap();
    (r, serde_json::from_slice(&bytes).unwrap())
}

/// Every artifact's `.sig` verifies with `openssl dgst -sha256 -verify` and the
/// public key the report names.
fn openssl_verifies(fx: &common::Fx, r: &reports::Report) {
    if !vouch_test_support::ext::have(&["openssl"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("signing.pub.pem");
    std::fs::write(&pem, fx.keys.signing_public_pem()).unwrap();
    for a in &r.artifacts {
        let (_, bytes) = reports::artifact(&fx.config, &fx.store, &r.id, &a.format).unwrap();
        let f = dir.path().join(&a.file);
        std::fs::write(&f, &bytes).unwrap();
        let stored_sig = std::fs::read_to_string(
            reports::dir_of(&fx.config, &r.id).join(format!("{}.sig", a.file)),
        )
        .unwrap();
        assert_eq!(stored_sig.trim(), a.signature);
        use base64::Engine;
        let der = base64::engine::general_purpose::STANDARD
            .decode(a.signature.trim())
            .unwrap();
        let sig = dir.path().join(format!("{}.sig.der", a.file));
        std::fs::write(&sig, der).unwrap();
        let out = std::process::Command::new("openssl")
            .args(["dgst", "-sha256", "-verify"])
            .arg(&pem)
            .arg("-signature")
            .arg(&sig)
            .arg(&f)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl refused {}: {}",
            a.file,
            String::from_utf8_lossy(&out.stderr)
        );
        // And a changed byte is refused.
        let mut bad = bytes.clone();
        bad[0] ^= 1;
        std::fs::write(&f, bad).unwrap();
        let out = std::process::Command::new("openssl")
            .args(["dgst", "-sha256", "-verify"])
            .arg(&pem)
            .arg("-signature")
            .arg(&sig)
            .arg(&f)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{} altered still verifies", a.file);
    }
}

struct Osv(std::process::Child, u16);

impl Drop for Osv {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn osv_server() -> Osv {
    let fx = repo().join("tests/fixtures/vulnerability");
    let mut child = std::process::Command::new("python3")
        .arg(fx.join("osv_server.py"))
        .arg(fx.join("advisories.json"))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line.trim().parse().unwrap();
    Osv(child, port)
}

fn include_pack(fx: &mut common::Fx) {
    let pack = repo()
        .join("packs/vulnerability/pack.toml")
        .canonicalize()
        .unwrap();
    let main = fx.dir.path().join("vouch.toml");
    let text = std::fs::read_to_string(&main).unwrap();
    std::fs::write(
        &main,
        format!("include = [{:?}]\n{text}", pack.display().to_string()),
    )
    .unwrap();
    let db = fx.config.settings.database.clone();
    fx.config = vouch_engine::Config::load(fx.dir.path()).unwrap_or_else(|e| panic!("{e}"));
    fx.config.settings.database = db;
}

fn collect(fx: &common::Fx, period: &vouch_core::period::Period) -> vouch_engine::evidence::Item {
    let items = fx
        .collector()
        .collect(&["vulnerability.pip-audit".into()], period, &mut |_| {})
        .unwrap();
    assert_eq!(items.len(), 1);
    items.into_iter().next().unwrap()
}

// pip-audit runs for real on a pinned requirements file. PyPI's per-version JSON API
// (pip-audit's default service) answers 404 on this machine's mirror, so the advisories
// come from a loopback OSV endpoint serving the real GHSA record; the run without it
// shows what a skipped dependency does to the report.
on_both!(ext_pip_audit_vulnerability_report, |fx| {
    let mut fx = fx;
    if !vouch_test_support::ext::have(&["pip-audit", "python3"]) {
        return;
    }
    include_pack(&mut fx);
    let osv = osv_server();
    let dir = tempfile::tempdir().unwrap();
    let req = dir.path().join("requirements.txt");
    std::fs::write(&req, "jinja2==2.11.2\n").unwrap();
    std::env::set_var("VOUCH_VULN_REQUIREMENTS", &req);
    let osv_url = format!("http://127.0.0.1:{}/v1/query", osv.1);
    std::env::set_var("VOUCH_PIP_AUDIT_OSV_URL", &osv_url);
    let now = Utc::now();
    let period =
        vouch_core::period::Period::range(now - Duration::days(1), now + Duration::days(1))
            .unwrap();
    let day = |t: chrono::DateTime<Utc>| t.format("%Y-%m-%d").to_string();
    let body = json!({"report_type": "vulnerability", "period_start": day(now - Duration::days(1)), "period_end": day(now + Duration::days(1))});

    // 1. A vulnerable pin: one open finding, no severity from pip-audit (unknown).
    let item = collect(&fx, &period);
    assert!(item.ok(), "{}", item.record);
    let (r, v) = generate(&fx, body.clone());
    assert_eq!(v["status"], "open", "{v:#}");
    assert_eq!(v["totals"]["open"], 1, "{v:#}");
    let f = &v["vulnerabilities"][0];
    assert_eq!(f["id"], "CVE-2024-22195");
    assert_eq!(f["component"], "jinja2");
    assert_eq!(f["fix"], json!(["3.1.3"]));
    assert_eq!(f["severity"], "unknown");
    assert_eq!(f["sla_days"], 30);
    assert_eq!(v["by_severity"]["unknown"]["open"], 1);
    let (_, csv) = reports::artifact(&fx.config, &fx.store, &r.id, "csv").unwrap();
    let csv = String::from_utf8(csv).unwrap();
    assert!(csv.starts_with("stream,tool,id,"), "{csv}");
    assert!(
        csv.contains("CVE-2024-22195") && csv.contains("jinja2"),
        "{csv}"
    );
    openssl_verifies(&fx, &r);

    // The pack's checks judge the same output: a fixable vulnerability fails.
    let checks = vouch_engine::checks::Checker::new(&fx.config, fx.store.clone(), &fx.ledger)
        .run(&period, &[], now)
        .unwrap();
    let st = |id: &str| {
        checks
            .results
            .iter()
            .find(|c| c.check_id == id)
            .map(|c| c.status.clone())
    };
    assert_eq!(
        st("vulnerability.pip-audit-no-fixable").as_deref(),
        Some("fail")
    );
    assert_eq!(
        st("vulnerability.pip-audit-complete").as_deref(),
        Some("pass")
    );

    // 2. pip-audit against PyPI itself (no OSV endpoint): whatever it can reach, a
    // dependency it could not audit is never counted as fixed or clean.
    std::env::remove_var("VOUCH_PIP_AUDIT_OSV_URL");
    let item = collect(&fx, &period);
    let (_, v) = generate(&fx, body.clone());
    assert_ne!(v["status"], "pass", "{v:#}");
    assert_eq!(v["totals"]["fixed_in_period"], 0, "{v:#}");
    if item.ok() && !v["unaudited"].as_array().unwrap().is_empty() {
        assert_eq!(v["status"], "incomplete", "{v:#}");
        assert!(
            v["notes"].to_string().contains("could not be audited"),
            "{v:#}"
        );
    }

    // 3. The pin is raised to the fixed version: the finding is fixed in the period.
    std::env::set_var("VOUCH_PIP_AUDIT_OSV_URL", &osv_url);
    std::fs::write(&req, "jinja2==3.1.3\n").unwrap();
    assert!(collect(&fx, &period).ok());
    let (r, v) = generate(&fx, body);
    assert_eq!(v["status"], "pass", "{v:#}");
    assert_eq!(v["totals"]["open"], 0, "{v:#}");
    assert_eq!(v["totals"]["fixed_in_period"], 1, "{v:#}");
    assert_eq!(v["vulnerabilities"][0]["state"], "fixed");
    assert!(v["vulnerabilities"][0]["fixed_at"].is_string());
    openssl_verifies(&fx, &r);
    std::env::remove_var("VOUCH_PIP_AUDIT_OSV_URL");
    std::env::remove_var("VOUCH_VULN_REQUIREMENTS");
});

// With no scan at all, the vulnerability report is no_evidence; with no incident in the
// period the incident report says `no_incidents` (a quiet month does not show that
// incident response works), and the access review with no population is no_evidence.
on_both!(reports_without_data_say_so, |fx| {
    let (_, v) = generate(&fx, json!({"report_type": "vulnerability"}));
    assert_eq!(v["status"], "no_evidence", "{v:#}");
    assert!(v["notes"][0]
        .as_str()
        .unwrap()
        .contains("No vulnerability scan"));

    let (r, v) = generate(&fx, json!({"report_type": "incident"}));
    assert_eq!(v["status"], "no_incidents", "{v:#}");
    assert_eq!(v["incidents"]["available"], true);
    assert_eq!(v["incidents"]["data"]["incidents"], json!([]));
    assert!(
        v["notes"][0]
            .as_str()
            .unwrap()
            .contains("says nothing about whether incident response works"),
        "{v:#}"
    );
    assert!(r.artifacts.iter().any(|a| a.format == "csv"));

    let (_, v) = generate(&fx, json!({"report_type": "access_review"}));
    assert_eq!(v["status"], "no_evidence", "{v:#}");
    assert_eq!(v["campaigns"]["available"], true);
    assert_eq!(v["campaigns"]["data"]["campaigns"], json!([]));

    // soc2 with nothing configured: every criterion no_evidence, never pass.
    let (r, v) = generate(
        &fx,
        json!({"report_type": "soc2", "period_start": "2025-01-01", "period_end": "2025-03-31", "criteria": ["security", "availability", "confidentiality"]}),
    );
    assert_eq!(v["period"]["label"], "2025-Q1");
    assert_eq!(v["period_state"], "ended", "{v:#}");
    assert_eq!(v["status"], "no_evidence", "{v:#}");
    let results = v["criteria_results"].as_array().unwrap();
    assert!(!results.is_empty());
    assert!(results.iter().all(|c| c["status"] == "no_evidence"));
    assert!(results.iter().all(|c| c["category"] != "privacy"));
    let (_, pdf) = reports::artifact(&fx.config, &fx.store, &r.id, "pdf").unwrap();
    assert!(pdf.starts_with(b"%PDF"));
    openssl_verifies(&fx, &r);
});

// A report that cannot be archived (no [archive] recipients) says so in its record and
// in the ledger: `report.archive_skipped` naming the report and the reason, once.
on_both!(report_not_archived_is_recorded_in_the_ledger, |fx| {
    let (r, _) = generate(&fx, json!({"report_type": "incident"}));
    let a = r.archive.clone().unwrap();
    assert_eq!(a["status"], "not_archived", "{a:#}");
    let skipped: Vec<Value> = fx
        .all_leaves()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["action"] == "report.archive_skipped")
        .collect();
    assert_eq!(skipped.len(), 1, "{skipped:#?}");
    let e = &skipped[0];
    assert_eq!(e["resource"]["type"], "report", "{e:#}");
    assert_eq!(e["resource"]["id"], r.id.as_str(), "{e:#}");
    assert_eq!(e["metadata"]["reason"], a["reason"], "{e:#}");
    assert!(
        e["details"]["description"]
            .as_str()
            .unwrap()
            .contains("not archived"),
        "{e:#}"
    );
    // Another report: its own event; the first is not recorded twice.
    let (r2, _) = generate(&fx, json!({"report_type": "incident"}));
    let ids: Vec<String> = fx
        .all_leaves()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["action"] == "report.archive_skipped")
        .map(|e| e["resource"]["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, vec![r.id.clone(), r2.id.clone()]);
});

// An access population in the evidence (users, roles, how) is listed.
on_both!(access_review_lists_the_population, |fx| {
    let mut fx = fx;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("grants.csv"),
        "email,role,group_name,granted_by\nana@acme.example,admin,ops,bob@acme.example\ncy@acme.example,auditor,,\n",
    )
    .unwrap();
    fx.with_catalog(&format!(
        "[[source]]\nname = \"grants\"\nkind = \"files\"\npath = {:?}\n\n[[evidence]]\nid = \"access.grants\"\ntitle = \"Role grants\"\nsource = \"grants\"\ncriteria = [\"CC6.2\"]\nglob = \"*.csv\"\n",
        dir.path().display().to_string()
    ));
    let now = Utc::now();
    let p = reports::default_period("access_review", now);
    let items = fx.collector().collect(&[], &p, &mut |_| {}).unwrap();
    assert!(items[0].ok(), "{}", items[0].record);
    let (r, v) = generate(&fx, json!({"report_type": "access_review"}));
    assert_eq!(v["status"], "incomplete", "no campaign reviewed it: {v:#}");
    assert!(
        v["notes"].as_array().unwrap().iter().any(|n| n
            .as_str()
            .unwrap()
            .contains("No access-review campaign was completed")),
        "{v:#}"
    );
    let access = v["access"].as_array().unwrap();
    assert_eq!(access.len(), 2, "{v:#}");
    assert_eq!(access[0]["user"], "ana@acme.example");
    assert_eq!(access[0]["role"], "admin");
    assert_eq!(
        access[0]["how"],
        "member of group ops, granted by bob@acme.example"
    );
    assert!(access[1]["how"]
        .as_str()
        .unwrap()
        .starts_with("listed in access.grants"));
    let (_, csv) = reports::artifact(&fx.config, &fx.store, &r.id, "csv").unwrap();
    assert!(String::from_utf8(csv)
        .unwrap()
        .starts_with("user,role,how,evidence,item,result\n"));
    // Nobody reviewed these assignments: not_tested, in the common vocabulary.
    assert!(
        access.iter().all(|a| a["result"] == "not_tested"),
        "{access:#?}"
    );
});

// `[reports] schedule`: each period's report is requested and generated once.
on_both!(scheduled_reports_run_once_per_period, |fx| {
    let mut fx = fx;
    fx.config
        .settings
        .reports
        .schedule
        .insert("vulnerability".into(), "weekly".into());
    let now = Utc::now();
    let clock = ManualClock::at(now);
    let r = Runner {
        not_before: Some(now - Duration::days(30)),
        ..runner(&fx, &clock)
    };
    let done = r.tick().unwrap();
    let mine: Vec<_> = done.iter().filter(|x| x.job == "generate-report").collect();
    assert_eq!(mine.len(), 1, "{done:?}");
    assert_eq!(mine[0].status, "succeeded");
    assert!(r.tick().unwrap().iter().all(|x| x.job != "generate-report"));
    let list = reports::list(&fx.store, Some("vulnerability"), 10).unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].requested_by, "schedule");
    assert_eq!(
        list[0].schedule.as_deref(),
        Some(
            format!(
                "vulnerability:{}",
                reports::scheduled_period("weekly", now).unwrap().label
            )
            .as_str()
        )
    );
});

// SARIF and CycloneDX (VEX) uploads: counts by severity, a VEX `not_affected` is not
// open, and forty days later the critical one is past its 15-day SLA: the report fails.
on_both!(sarif_and_cyclonedx_severity_and_sla, |fx| {
    let dir = tempfile::tempdir().unwrap();
    let sarif = json!({"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "trivy", "rules": [
        {"id": "CVE-2023-0286", "properties": {"security-severity": "9.1"}},
        {"id": "CVE-2023-0464", "properties": {"security-severity": "7.5"}}]}},
        "results": [
            {"ruleId": "CVE-2023-0286", "level": "error", "message": {"text": "openssl: X.400 address type confusion"}, "locations": [{"physicalLocation": {"artifactLocation": {"uri": "Dockerfile"}, "region": {"startLine": 1}}}]},
            {"ruleId": "CVE-2023-0464", "level": "error", "message": {"text": "openssl: policy constraints"}, "locations": [{"physicalLocation": {"artifactLocation": {"uri": "Dockerfile"}, "region": {"startLine": 1}}}]}]}]});
    let vex = json!({"bomFormat": "CycloneDX", "specVersion": "1.5",
        "components": [{"bom-ref": "pkg:npm/lodash@4.17.20", "name": "lodash", "version": "4.17.20"}],
        "vulnerabilities": [
            {"id": "CVE-2021-23337", "ratings": [{"severity": "medium"}], "affects": [{"ref": "pkg:npm/lodash@4.17.20"}]},
            {"id": "CVE-2020-28500", "ratings": [{"severity": "low"}], "analysis": {"state": "not_affected", "justification": "code_not_reachable"}, "affects": [{"ref": "pkg:npm/lodash@4.17.20"}]}]});
    std::fs::write(dir.path().join("image.sarif"), sarif.to_string()).unwrap();
    std::fs::write(dir.path().join("app.cdx.json"), vex.to_string()).unwrap();
    let now = Utc::now();
    let p = vouch_core::period::Period::range(now - Duration::days(1), now + Duration::days(1))
        .unwrap();
    let c = fx.collector();
    for f in ["image.sarif", "app.cdx.json"] {
        let i = c
            .upload(&dir.path().join(f), "vulnerability.scans", None, "test", &p)
            .unwrap();
        assert!(i.ok());
    }
    let day = |t: chrono::DateTime<Utc>| t.format("%Y-%m-%d").to_string();
    let body = json!({"report_type": "vulnerability", "period_start": day(now - Duration::days(1)), "period_end": day(now + Duration::days(60))});
    let (_, v) = generate(&fx, body.clone());
    assert_eq!(v["status"], "open", "{v:#}");
    assert_eq!(v["by_severity"]["critical"]["open"], 1, "{v:#}");
    assert_eq!(v["by_severity"]["high"]["open"], 1);
    assert_eq!(v["by_severity"]["medium"]["open"], 1);
    assert_eq!(
        v["by_severity"]["low"]["open"], 0,
        "VEX not_affected is not open"
    );
    assert_eq!(v["totals"]["open"], 3);

    // Forty days on, nothing rescanned: the critical (15 days) and high (30) are late.
    let later = now + Duration::days(40);
    let req = reports::parse_request(&body, later).unwrap();
    let r = reports::create(&fx.store, &fx.ledger, &req, "test", None, later)
        .unwrap()
        .unwrap();
    let clock = ManualClock::at(later);
    let run = runner(&fx, &clock).run_report(&r.id).unwrap().unwrap();
    assert_eq!(run.status, "succeeded", "{run}");
    let (_, bytes) = reports::artifact(&fx.config, &fx.store, &r.id, "json").unwrap();
    let v: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(v["status"], "fail", "{v:#}");
    assert_eq!(v["by_severity"]["critical"]["open_past_sla"], 1, "{v:#}");
    assert_eq!(v["by_severity"]["high"]["open_past_sla"], 1);
    assert_eq!(v["by_severity"]["medium"]["open_past_sla"], 0);
    assert_eq!(v["by_age_days"]["31-90"], 3);
    // The common result vocabulary: past SLA fails, within SLA passes.
    let results: Vec<(String, String)> = v["vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["severity"].as_str().unwrap().to_string(),
                x["result"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for (sev, res) in &results {
        let want = if sev == "critical" || sev == "high" {
            "fail"
        } else if sev == "low" {
            "not_applicable"
        } else {
            "pass"
        };
        assert_eq!(res, want, "{sev}: {results:?}");
    }
    assert!(results.iter().any(|(s, _)| s == "medium"), "{results:?}");
});

fn day(t: chrono::DateTime<Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

// A scan that checked nothing — pip-audit of an empty requirements file, SARIF without a
// run, SARIF whose invocation failed, SARIF without results — is not a clean scan: the
// findings the previous scan of its stream reported stay open, and the report is
// `incomplete` and names the scan, never `pass`.
on_both!(empty_or_failed_scans_fix_nothing, |fx| {
    let dir = tempfile::tempdir().unwrap();
    let trivy = |results: Value| {
        json!({"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "trivy", "rules": [
            {"id": "CVE-2023-0286", "properties": {"security-severity": "5.0"}}]}},
            "results": results}]})
    };
    let finding = json!([{"ruleId": "CVE-2023-0286", "level": "error", "message": {"text": "openssl"},
        "locations": [{"physicalLocation": {"artifactLocation": {"uri": "Dockerfile"}, "region": {"startLine": 1}}}]}]);
    let pip_ok = json!({"dependencies": [{"name": "jinja2", "version": "2.11.2",
        "vulns": [{"id": "CVE-2024-22195", "fix_versions": ["3.1.3"], "aliases": [], "description": "x"}]}], "fixes": []});
    let mut failed = trivy(json!([]));
    failed["runs"][0]["invocations"] = json!([{"executionSuccessful": false}]);
    let mut no_results = trivy(json!([]));
    no_results["runs"][0]
        .as_object_mut()
        .unwrap()
        .remove("results");
    // (file, first scan with a finding, the scan that checked nothing, why)
    let cases = [
        (
            "deps.json",
            pip_ok,
            json!({"dependencies": [], "fixes": []}),
            "no dependency",
        ),
        (
            "a.sarif",
            trivy(finding.clone()),
            json!({"version": "2.1.0", "runs": []}),
            "no run",
        ),
        (
            "b.sarif",
            trivy(finding.clone()),
            failed,
            "failed invocation",
        ),
        ("c.sarif", trivy(finding), no_results, "no `results`"),
    ];
    let now = Utc::now();
    let p = vouch_core::period::Period::range(now - Duration::days(1), now + Duration::days(1))
        .unwrap();
    let c = fx.collector();
    for (file, _, _, _) in &cases {
        let path = dir.path().join(file);
        std::fs::write(
            &path,
            cases.iter().find(|x| x.0 == *file).unwrap().1.to_string(),
        )
        .unwrap();
        assert!(c
            .upload(&path, "vulnerability.scans", None, "test", &p)
            .unwrap()
            .ok());
    }
    let body = json!({"report_type": "vulnerability", "period_start": day(now - Duration::days(1)), "period_end": day(now + Duration::days(1))});
    let (_, v) = generate(&fx, body.clone());
    assert_eq!(v["status"], "open", "{v:#}");
    assert_eq!(v["totals"]["open"], 4, "{v:#}");
    for (file, _, empty, _) in &cases {
        let path = dir.path().join(file);
        std::fs::write(&path, empty.to_string()).unwrap();
        assert!(c
            .upload(&path, "vulnerability.scans", None, "test", &p)
            .unwrap()
            .ok());
    }
    let (_, v) = generate(&fx, body);
    assert_eq!(v["status"], "incomplete", "{v:#}");
    assert_eq!(v["totals"]["open"], 4, "nothing was fixed: {v:#}");
    assert_eq!(v["totals"]["fixed_in_period"], 0, "{v:#}");
    let why = v["checked_nothing"].as_array().unwrap();
    assert_eq!(why.len(), 4, "{v:#}");
    for (file, _, _, reason) in &cases {
        assert!(
            why.iter().any(|w| {
                let w = w.as_str().unwrap();
                w.contains(&format!("vulnerability.scans {file}")) && w.contains(reason)
            }),
            "{file}: {v:#}"
        );
    }
    assert!(
        v["notes"].as_array().unwrap().iter().any(|n| n
            .as_str()
            .unwrap()
            .contains("4 scan(s) in the period checked nothing")),
        "{v:#}"
    );
});

// An incident opened in the period is in the incident report with its severity's SLA
// row, read from vouch-incidents.
on_both!(incident_report_lists_the_periods_incident, |fx| {
    let now = Utc::now();
    let i = vouch_engine::incidents::open(
        &fx.store,
        &fx.ledger,
        &fx.config,
        &vouch_engine::incidents::NewIncident {
            title: "Leaked API key".into(),
            severity: "low".into(),
            description: None,
            affected_systems: vec!["api".into()],
            detected_at: Some(vouch_core::event::format_timestamp(
                &(now - Duration::minutes(10)),
            )),
            detected_by: Some("on-call".into()),
        },
        "user:ops",
        now - Duration::minutes(5),
    )
    .unwrap();
    let body = json!({"report_type": "incident", "period_start": day(now - Duration::days(1)), "period_end": day(now + Duration::days(1))});
    let (r, v) = generate(&fx, body);
    // The period has not ended: the report says it is partial, first.
    assert_eq!(v["period_state"], "in_progress", "{v:#}");
    assert!(
        v["notes"][0]
            .as_str()
            .unwrap()
            .starts_with("Partial period:"),
        "{v:#}"
    );
    // Its low-severity response is still pending (due in 24 hours): not `complete`.
    assert_eq!(v["status"], "responses_pending", "{v:#}");
    assert!(
        v["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains("had not been responded to")),
        "{v:#}"
    );
    let data = &v["incidents"]["data"];
    let list = data["incidents"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{v:#}");
    assert_eq!(list[0]["id"], json!(i.id));
    assert_eq!(list[0]["title"], "Leaked API key");
    assert_eq!(list[0]["breached"], false);
    assert_eq!(list[0]["result"], "not_tested", "{v:#}");
    let low = data["sla"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["severity"] == "low")
        .unwrap_or_else(|| panic!("no SLA row for low: {v:#}"));
    assert_eq!(
        (low["total"].clone(), low["open"].clone()),
        (json!(1), json!(1)),
        "{v:#}"
    );
    let (_, csv) = reports::artifact(&fx.config, &fx.store, &r.id, "csv").unwrap();
    assert!(String::from_utf8(csv).unwrap().contains(&i.id));
    // Once it is triaged in time, every deadline of the period is met: `complete`.
    vouch_engine::incidents::update(
        &fx.store,
        &fx.ledger,
        &fx.config,
        &i.id,
        &vouch_engine::incidents::Update {
            state: Some("triaged".into()),
            assignee: Some("ops".into()),
            ..Default::default()
        },
        "user:ops",
        Utc::now(),
    )
    .unwrap();
    let (_, v) = generate(
        &fx,
        json!({"report_type": "incident", "period_start": day(now - Duration::days(1)), "period_end": day(now + Duration::days(1))}),
    );
    assert_eq!(v["status"], "complete", "{v:#}");
});

// A completed access-review campaign's decisions are in the access_review report, which
// is then `complete`.
on_both!(access_report_lists_a_completed_campaign, |fx| {
    use vouch_engine::signoff::review::{
        self, Ctx, Decision, NewCampaign, PopulationSpec, Reviewer,
    };
    let mut fx = fx;
    fx.with_catalog(
        r#"
[[source]]
name = "directory"
kind = "command"

[[evidence]]
id = "iam.users"
title = "AWS IAM users"
source = "directory"
criteria = ["CC6.2"]
argv = ["cat", "{{pack_dir}}/iam.json"]
population = true
account_key = "UserName"
"#,
    );
    std::fs::write(
        fx.dir.path().join("iam.json"),
        json!([{"UserName": "ci-deployer", "GroupName": "deploy"}, {"UserName": "erin", "GroupName": "admins"}]).to_string(),
    )
    .unwrap();
    let now = Utc::now();
    let p = vouch_core::period::Period::range(now - Duration::days(1), now + Duration::days(1))
        .unwrap();
    let items = fx
        .collector()
        .collect(&["iam.users".into()], &p, &mut |_| {})
        .unwrap();
    assert!(items[0].ok(), "{}", items[0].record);
    let ctx = Ctx {
        config: &fx.config,
        store: &fx.store,
        ledger: &fx.ledger,
    };
    let t = Utc::now();
    let c = review::create(
        &ctx,
        &NewCampaign {
            title: "IAM review".into(),
            populations: vec![PopulationSpec {
                evidence: "iam.users".into(),
                reviewers: vec![Reviewer {
                    id: "user:sam".into(),
                    accounts: vec![],
                }],
            }],
            draft: false,
        },
        "user:officer",
        t,
    )
    .unwrap();
    let id = c.campaign.id.clone();
    for (a, d) in [("ci-deployer", "keep"), ("erin", "revoke")] {
        let d = Decision {
            population: "iam.users".into(),
            account: a.into(),
            decision: d.into(),
            note: Some(format!("{a} checked")),
        };
        review::decide(&ctx, &id, &d, "user:sam", t).unwrap();
    }
    review::complete(
        &ctx,
        &fx.keys,
        &id,
        "user:officer",
        t,
        review::Personal::None,
        &vouch_engine::packet::attestation::review_pdf,
    )
    .unwrap();

    let body = json!({"report_type": "access_review", "period_start": day(now - Duration::days(1)), "period_end": day(now + Duration::days(1))});
    let (_, v) = generate(&fx, body);
    assert_eq!(v["status"], "complete", "{v:#}");
    let cs = v["campaigns"]["data"]["campaigns"].as_array().unwrap();
    assert_eq!(cs.len(), 1, "{v:#}");
    assert_eq!(cs[0]["id"], json!(id));
    assert_eq!(cs[0]["status"], "completed");
    let ds = cs[0]["decisions"].as_array().unwrap();
    let of = |u: &str| {
        ds.iter()
            .find(|d| d["user"] == u)
            .unwrap_or_else(|| panic!("{u}: {v:#}"))
    };
    assert_eq!(of("ci-deployer")["decision"], "keep");
    assert_eq!(of("erin")["decision"], "revoke");
    assert_eq!(of("erin")["decided_by"], "user:sam");
    // The common result vocabulary: keep passes, revoke fails (an exception).
    assert_eq!(of("ci-deployer")["result"], "pass");
    assert_eq!(of("erin")["result"], "fail");
});

// The soc2 report has the packet's own control, VOUCH-LEDGER-INTEGRITY: with audited
// events in the period and an intact ledger it passes, yet alone it never makes its
// criteria pass (it shows the trail is intact, not that the organisation's controls
// work).
on_both!(soc2_report_includes_the_ledger_control, |fx| {
    fx.append_n(500); // September 2026
    let (_, v) = generate(
        &fx,
        json!({"report_type": "soc2", "period_start": "2026-09-01", "period_end": "2026-09-30", "criteria": ["CC7.2", "CC6.1"]}),
    );
    let ledger = v["controls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "VOUCH-LEDGER-INTEGRITY")
        .unwrap_or_else(|| panic!("no ledger control: {v:#}"));
    assert_eq!(ledger["status"], "pass", "{ledger:#}");
    assert_eq!(ledger["criteria"], json!(["CC7.2", "CC8.1"]));
    let cc72 = v["criteria_results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "CC7.2")
        .unwrap();
    assert_eq!(cc72["status"], "no_evidence", "{cc72:#}");
    assert_eq!(cc72["result"], "no_evidence", "{cc72:#}");
    assert!(cc72["controls"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["id"] == "VOUCH-LEDGER-INTEGRITY"));
    assert_eq!(v["status"], "no_evidence", "{v:#}");
    // A period without audited events: the ledger vouches for nothing.
    let (_, v) = generate(
        &fx,
        json!({"report_type": "soc2", "period_start": "2025-01-01", "period_end": "2025-03-31", "criteria": ["CC7.2"]}),
    );
    let ledger = v["controls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "VOUCH-LEDGER-INTEGRITY")
        .unwrap();
    assert_eq!(ledger["status"], "no_evidence", "{ledger:#}");
    // A broken ledger fails the control, and the report lists it as an exception.
    fx.exec("UPDATE ledger_entries SET leaf = replace(leaf, '\"result\":\"success\"', '\"result\":\"failure\"') WHERE seq = 3");
    let (_, v) = generate(
        &fx,
        json!({"report_type": "soc2", "period_start": "2026-09-01", "period_end": "2026-09-30", "criteria": ["CC7.2"]}),
    );
    let ledger = v["controls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "VOUCH-LEDGER-INTEGRITY")
        .unwrap();
    assert_eq!(ledger["status"], "fail", "{ledger:#}");
    assert!(v["exceptions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["control"] == "VOUCH-LEDGER-INTEGRITY"));
});

/// An age key pair made by the real `age-keygen`: (identity file, recipient).
fn age_key(dir: &Path) -> (PathBuf, String) {
    let key = dir.join("age.key");
    let o = std::process::Command::new("age-keygen")
        .arg("-o")
        .arg(&key)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&key).unwrap();
    let recipient = text
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .unwrap()
        .to_string();
    (key, recipient)
}

// Reports are archived like packets: each generated report's files and signatures are
// sealed (age, zstd, deterministic tar with a signed MANIFEST) into WORM storage, the
// archive is recorded with the report and as `report.archived` in the ledger, and the
// real `age`, `zstd` and `tar` read it back. Without recipients the report says it is
// not archived. A tampered file is refused, naming the report and the archived copy.
on_both!(ext_reports_are_archived_to_worm, |fx| {
    if !vouch_test_support::ext::have(&["age", "age-keygen", "zstd", "tar"]) {
        return;
    }
    // No recipients: not archived, and the report says why.
    let (r, _) = generate(&fx, json!({"report_type": "incident"}));
    let a = r.archive.clone().unwrap();
    assert_eq!(a["status"], "not_archived", "{a:#}");
    assert!(a["reason"].as_str().unwrap().contains("recipients"));

    let mut fx = fx;
    let keys = tempfile::tempdir().unwrap();
    let (identity, recipient) = age_key(keys.path());
    fx.config.settings.archive.recipients = vec![recipient];
    let (r, _) = generate(
        &fx,
        json!({"report_type": "soc2", "period_start": "2025-01-01", "period_end": "2025-03-31", "criteria": ["security"]}),
    );
    let a = r
        .archive
        .clone()
        .unwrap_or_else(|| panic!("not archived: {r:?}"));
    let folder = a["folder"].as_str().unwrap();
    assert_eq!(folder, format!("reports/soc2/{}", r.id));
    let worm = fx.config.data_dir.join("worm").join(folder);
    assert_eq!(a["uri"], json!(worm.display().to_string()));
    let mut names: Vec<String> = std::fs::read_dir(&worm)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let bundle = format!("report-soc2-{}.tar.zst.age", r.id);
    for want in [
        "MANIFEST.json",
        "MANIFEST.json.sig",
        "report.csv",
        "report.csv.sig",
        "report.json",
        "report.json.sig",
        "report.pdf",
        "report.pdf.sig",
        bundle.as_str(),
    ] {
        assert!(names.iter().any(|n| n == want), "{want} not in {names:?}");
    }
    // Written once: read-only files in a read-only folder.
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(worm.join("report.pdf"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o444
    );
    assert_eq!(
        std::fs::metadata(&worm).unwrap().permissions().mode() & 0o777,
        0o555
    );
    // The recorded files are the stored ones.
    for f in a["files"].as_array().unwrap() {
        let p = PathBuf::from(f["uri"].as_str().unwrap());
        let bytes = std::fs::read(&p).unwrap();
        assert_eq!(
            f["sha256"].as_str().unwrap(),
            vouch_store::blobs::sha256_hex(&bytes),
            "{}",
            p.display()
        );
    }
    // The real tools open the bundle: every artifact and its signature, byte for byte.
    let out = tempfile::tempdir().unwrap();
    let sh = format!(
        "age -d -i '{}' '{}' | zstd -d | tar -x -C '{}'",
        identity.display(),
        worm.join(&bundle).display(),
        out.path().display()
    );
    let o = std::process::Command::new("sh")
        .args(["-c", &sh])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for art in &r.artifacts {
        let (_, bytes) = reports::artifact(&fx.config, &fx.store, &r.id, &art.format).unwrap();
        assert_eq!(std::fs::read(out.path().join(&art.file)).unwrap(), bytes);
        assert_eq!(
            std::fs::read_to_string(out.path().join(format!("{}.sig", art.file)))
                .unwrap()
                .trim(),
            art.signature
        );
    }
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(out.path().join("MANIFEST.json")).unwrap()).unwrap();
    assert_eq!(manifest["files"].as_array().unwrap().len(), 6);
    vouch_engine::packet::sign::verify_b64(
        &fx.keys.signing_public_pem(),
        &std::fs::read(out.path().join("MANIFEST.json")).unwrap(),
        std::fs::read_to_string(out.path().join("MANIFEST.json.sig"))
            .unwrap()
            .trim(),
    )
    .unwrap();
    // `vouch archive verify` (the same code) accepts it: manifest signature, every hash.
    let checked = vouch_engine::seal::verify(
        &worm.join(&bundle).display().to_string(),
        Some(&identity),
        &[fx.keys.signing_public_pem()],
        None,
    )
    .unwrap();
    assert!(checked.valid, "{:?}", checked.problems);
    assert_eq!(checked.files, 8);
    // Logged: one report.archived event naming the stored files and the record's hash.
    let leaves = fx.all_leaves();
    let logged: Vec<Value> = leaves
        .lines()
        .filter(|l| l.contains("\"report.archived\"") && l.contains(&r.id))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(logged.len(), 1, "{leaves}");
    assert_eq!(
        logged[0]["metadata"]["files"].as_array().unwrap().len(),
        a["files"].as_array().unwrap().len()
    );
    // A tampered file is refused with an error naming the report and the archive.
    let p = reports::dir_of(&fx.config, &r.id).join("report.pdf");
    let mut bytes = std::fs::read(&p).unwrap();
    bytes[10] ^= 1;
    std::fs::write(&p, bytes).unwrap();
    match reports::artifact(&fx.config, &fx.store, &r.id, "pdf") {
        Err(e @ reports::Error::ArtifactIntegrity(_)) => {
            let m = e.to_string();
            assert!(m.contains(&r.id) && m.contains("report.pdf"), "{m}");
            assert!(m.contains(&worm.display().to_string()), "{m}");
        }
        other => panic!("{:?}", other.map(|(a, _)| a)),
    }
    std::fs::remove_file(reports::dir_of(&fx.config, &r.id).join("report.csv")).unwrap();
    match reports::artifact(&fx.config, &fx.store, &r.id, "csv") {
        Err(e @ reports::Error::ArtifactIntegrity(_)) => {
            assert!(e.to_string().contains("is missing"), "{e}")
        }
        other => panic!("{:?}", other.map(|(a, _)| a)),
    }
});
