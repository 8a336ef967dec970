//! Seed 003's reports API against a live server: the seed's body posted verbatim → 202,
//! the generation job runs, the artifacts download with signatures `openssl` accepts;
//! bad bodies are 4xx naming the field.

use crate::common::*;
use base64::Engine;
use serde_json::Value;
use vouch_server::roles::Role;

/// Seed 003, "Generating Compliance Reports", byte for byte.
const SEED_BODY: &str = r#"{
  "report_type": "soc2",
  "period_start": "2025-01-01",
  "period_end": "2025-03-31",
  "criteria": ["security", "availability", "confidentiality"]
}"#;

fn wait_done(s: &Server, token: &str, id: &str) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(180);
    loop {
        let r = call(
            s,
            "GET",
            &format!("/api/compliance/reports/{id}"),
            Some(token),
            None,
        );
        assert_eq!(r.status, 200, "{}", r.text());
        let v = r.json();
        match v["status"].as_str() {
            Some("succeeded") => return v,
            Some("failed") => panic!("report failed: {v:#}"),
            _ if std::time::Instant::now() > deadline => panic!("report not done: {v:#}"),
            _ => std::thread::sleep(std::time::Duration::from_millis(200)),
        }
    }
}

on_both!(ext_seed003_report_body_verbatim_signed_artifacts, |kind| {
    let s = Server::start(kind);
    let officer = token(&s, Role::ComplianceOfficer, None);
    let auditor = token(&s, Role::Auditor, None);
    let r = call(
        &s,
        "POST",
        "/api/compliance/reports",
        Some(&officer),
        Some(SEED_BODY),
    );
    assert_eq!(r.status, 202, "{}", r.text());
    let v = r.json();
    let id = v["id"].as_str().unwrap().to_string();
    assert_eq!(v["report_type"], "soc2");
    assert_eq!(v["period"]["label"], "2025-Q1");
    assert_eq!(
        r.header("location"),
        Some(format!("/api/compliance/reports/{id}").as_str())
    );
    let done = wait_done(&s, &auditor, &id);
    let formats: Vec<&str> = done["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["format"].as_str().unwrap())
        .collect();
    assert_eq!(formats, vec!["json", "pdf", "csv"]);
    // The job run is recorded.
    let runs = call(
        &s,
        "GET",
        "/api/compliance/jobs/generate-report/runs",
        Some(&auditor),
        None,
    );
    let _ = runs; // generate-report is not a cron job; its runs are in job_runs:
    assert_eq!(
        s.count(&format!("SELECT COUNT(*) FROM job_runs WHERE run_key = 'generate-report:{id}' AND status = 'succeeded'")),
        1
    );
    // Listed.
    let list = call(&s, "GET", "/api/compliance/reports", Some(&auditor), None).json();
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["id"] == id.as_str()));

    let pem = String::from_utf8(
        call(
            &s,
            "GET",
            "/api/compliance/public-key",
            Some(&auditor),
            None,
        )
        .body,
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pub.pem"), &pem).unwrap();
    for (format, ct) in [
        ("json", "application/json"),
        ("pdf", "application/pdf"),
        ("csv", "text/csv"),
    ] {
        let r = call(
            &s,
            "GET",
            &format!("/api/compliance/reports/{id}/download?format={format}"),
            Some(&auditor),
            None,
        );
        assert_eq!(r.status, 200, "{format}: {}", r.text());
        assert_eq!(r.header("content-type"), Some(ct));
        let sig = r.header("x-evidence-signature").unwrap().to_string();
        vouch_engine::packet::sign::verify_b64(&pem, &r.body, &sig).unwrap();
        let f = dir.path().join(format!("report.{format}"));
        std::fs::write(&f, &r.body).unwrap();
        let der = base64::engine::general_purpose::STANDARD
            .decode(&sig)
            .unwrap();
        std::fs::write(dir.path().join("sig.der"), der).unwrap();
        if vouch_test_support::ext::have(&["openssl"]) {
            let o = std::process::Command::new("openssl")
                .args(["dgst", "-sha256", "-verify"])
                .arg(dir.path().join("pub.pem"))
                .arg("-signature")
                .arg(dir.path().join("sig.der"))
                .arg(&f)
                .output()
                .unwrap();
            assert!(
                o.status.success(),
                "{format}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
        if format == "json" {
            let doc: Value = serde_json::from_slice(&r.body).unwrap();
            assert_eq!(doc["schema"], "vouch.report/v1");
            assert_eq!(
                doc["criteria_requested"],
                serde_json::json!(["security", "availability", "confidentiality"])
            );
            // Nothing configured checks these criteria: no_evidence, never pass.
            assert_eq!(doc["status"], "no_evidence");
            let crit = doc["criteria_results"].as_array().unwrap();
            assert!(crit.iter().any(|c| c["id"] == "CC6.1"));
            assert!(crit.iter().any(|c| c["id"] == "A1.2"));
            assert!(crit
                .iter()
                .all(|c| c["category"] != "privacy" && c["status"] != "pass"));
        }
        if format == "csv" {
            assert!(
                String::from_utf8_lossy(&r.body).starts_with("criterion,category,topic,status,")
            );
        }
    }
    // Ingest may do nothing here; auditors may not create.
    let ingest = token(&s, Role::Ingest, None);
    assert_eq!(
        call(
            &s,
            "GET",
            &format!("/api/compliance/reports/{id}"),
            Some(&ingest),
            None
        )
        .status,
        403
    );
    assert_eq!(
        call(
            &s,
            "POST",
            "/api/compliance/reports",
            Some(&auditor),
            Some(SEED_BODY)
        )
        .status,
        403
    );
});

on_both!(report_bad_bodies_name_the_field, |kind| {
    let s = Server::start(kind);
    let officer = token(&s, Role::ComplianceOfficer, None);
    for (body, field, status) in [
        (r#"{"report_type": "pentest"}"#, "report_type", 400),
        (
            r#"{"period_start": "2025-01-01", "period_end": "2025-03-31"}"#,
            "report_type",
            400,
        ),
        (
            r#"{"report_type": "soc2", "period_start": "2025-03-31", "period_end": "2025-01-01"}"#,
            "period_end",
            400,
        ),
        (
            r#"{"report_type": "soc2", "period_start": "2025-01-01"}"#,
            "period_end",
            400,
        ),
        (
            r#"{"report_type": "soc2", "period_start": "January", "period_end": "2025-03-31"}"#,
            "period_start",
            400,
        ),
        (
            r#"{"report_type": "soc2", "criteria": ["security", "CC99.9"]}"#,
            "criteria",
            400,
        ),
        (
            r#"{"report_type": "soc2", "criteria": "security"}"#,
            "criteria",
            400,
        ),
        (r#"{"report_type": 7}"#, "report_type", 422),
        (r#"{"report_type": "soc2", "format": "pdf"}"#, "format", 422),
    ] {
        let r = call(
            &s,
            "POST",
            "/api/compliance/reports",
            Some(&officer),
            Some(body),
        );
        assert_eq!(r.status, status, "{body}: {}", r.text());
        let v = r.json();
        assert_eq!(v["error"]["details"]["field"], field, "{body}: {v}");
    }
    assert_eq!(
        s.count("SELECT COUNT(*) FROM reports"),
        0,
        "nothing half-written"
    );
    // Unknown report, unknown format.
    let r = call(
        &s,
        "GET",
        "/api/compliance/reports/01a20000-0000-7000-8000-000000000000",
        Some(&officer),
        None,
    );
    assert_eq!(r.status, 404);
    let r = call(
        &s,
        "GET",
        "/api/compliance/reports/x/download?format=docx",
        Some(&officer),
        None,
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["details"]["field"], "format");
});

// Reports are archived like packets (GET shows where), and a report file altered or
// removed on disk answers an error naming the report, the file and the archived copy —
// not a bare "internal error".
on_both!(ext_report_archived_and_tampered_files_named, |kind| {
    if !vouch_test_support::ext::have(&["age-keygen"]) {
        return;
    }
    let keys = tempfile::tempdir().unwrap();
    let key = keys.path().join("age.key");
    let o = std::process::Command::new("age-keygen")
        .arg("-o")
        .arg(&key)
        .output()
        .unwrap();
    assert!(o.status.success());
    let recipient = std::fs::read_to_string(&key)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("# public key: ").map(str::to_string))
        .unwrap();
    let s = Server::start_with(kind, |t| {
        *t = t.replacen(
            "recipients = []",
            &format!("recipients = [\"{recipient}\"]"),
            1,
        )
    });
    let officer = token(&s, Role::ComplianceOfficer, None);
    let auditor = token(&s, Role::Auditor, None);
    let r = call(
        &s,
        "POST",
        "/api/compliance/reports",
        Some(&officer),
        Some(SEED_BODY),
    );
    assert_eq!(r.status, 202, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_string();
    let done = wait_done(&s, &auditor, &id);
    let a = &done["archive"];
    assert_eq!(a["folder"], format!("reports/soc2/{id}"), "{done:#}");
    let uri = a["uri"].as_str().unwrap().to_string();
    assert!(std::path::Path::new(&uri)
        .join(format!("report-soc2-{id}.tar.zst.age"))
        .exists());
    assert_eq!(a["files"].as_array().unwrap().len(), 9, "{a:#}");
    assert!(s
        .leaves()
        .iter()
        .any(|l| l["action"] == "report.archived" && l["resource"]["id"] == id.as_str()));

    let dir = s.data.dir.path().join("reports").join(&id);
    let pdf = dir.join("report.pdf");
    let mut bytes = std::fs::read(&pdf).unwrap();
    bytes[20] ^= 1;
    std::fs::write(&pdf, bytes).unwrap();
    let r = call(
        &s,
        "GET",
        &format!("/api/compliance/reports/{id}/download?format=pdf"),
        Some(&auditor),
        None,
    );
    assert_eq!(r.status, 500, "{}", r.text());
    let e = r.json()["error"].clone();
    assert_eq!(e["code"], "report_artifact_integrity", "{e}");
    assert_eq!(e["details"]["report"], id.as_str());
    assert_eq!(e["details"]["format"], "pdf");
    assert_eq!(e["details"]["file"], "report.pdf");
    assert_eq!(e["details"]["archive"], uri.as_str());
    let m = e["message"].as_str().unwrap();
    assert!(
        m.contains("fails its integrity check") && m.contains(&id),
        "{m}"
    );
    std::fs::remove_file(dir.join("report.csv")).unwrap();
    let r = call(
        &s,
        "GET",
        &format!("/api/compliance/reports/{id}/download?format=csv"),
        Some(&auditor),
        None,
    );
    assert_eq!(r.status, 500, "{}", r.text());
    let e = r.json()["error"].clone();
    assert_eq!(e["code"], "report_artifact_integrity", "{e}");
    assert!(e["message"].as_str().unwrap().contains("is missing"), "{e}");
    // The JSON is untouched and still served.
    let r = call(
        &s,
        "GET",
        &format!("/api/compliance/reports/{id}/download?format=json"),
        Some(&auditor),
        None,
    );
    assert_eq!(r.status, 200);
});
