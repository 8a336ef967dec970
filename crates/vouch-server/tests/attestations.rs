//! Attestations over real loopback HTTP on SQLite and PostgreSQL (issue 15): an officer
//! opens and signs, auditors read and sign nothing, another role is refused by the
//! document (403), bad input is a 4xx naming the field, a second signature is 409, and
//! the scrape reports the window and then the signature.

use crate::common::*;
use serde_json::Value;
use vouch_server::roles::Role;

on_both!(attestation_api_roles_bad_input_and_freeze, |kind| {
    // Monthly attestations whose window is open all month, whatever today's date.
    let s = Server::start_with(kind, |t| {
        t.push_str("\n[attestations]\ncadence = \"monthly\"\nopen_days_before = 40\n")
    });
    let officer = token(&s, Role::ComplianceOfficer, None);
    let auditor = token(&s, Role::Auditor, None);
    let lead = token(&s, Role::TeamLead, None);
    let ingest = token(&s, Role::Ingest, None);
    let base = "/api/compliance/attestations";
    let month = chrono::Utc::now().format("%Y-%m").to_string();
    // Bad input names the field.
    let r = call(&s, "POST", base, Some(&officer), Some("{}"));
    assert_eq!(
        (r.status, r.json()["error"]["details"]["field"].as_str()),
        (400, Some("period")),
        "{}",
        r.text()
    );
    let r = call(
        &s,
        "POST",
        base,
        Some(&officer),
        Some(r#"{"period":"2026-Q9"}"#),
    );
    assert_eq!(
        (r.status, r.json()["error"]["details"]["field"].as_str()),
        (400, Some("period")),
        "{}",
        r.text()
    );
    let r = call(
        &s,
        "POST",
        base,
        Some(&officer),
        Some(r#"{"period":"2026-Q3"}"#),
    );
    assert_eq!(
        (r.status, r.json()["error"]["details"]["field"].as_str()),
        (400, Some("period")),
        "not a monthly period: {}",
        r.text()
    );
    assert_eq!(
        call(&s, "POST", base, Some(&auditor), Some("{}")).status,
        403
    );
    let body = format!("{{\"period\":\"{month}\"}}");
    let r = call(&s, "POST", base, Some(&officer), Some(&body));
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_string();
    assert_eq!(
        call(&s, "POST", base, Some(&officer), Some(&body)).status,
        409
    );
    // Auditors read it; ingest tokens do not.
    let r = call(&s, "GET", base, Some(&auditor), None);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()[0]["id"], id.as_str());
    assert_eq!(call(&s, "GET", base, Some(&ingest), None).status, 403);
    let r = call(
        &s,
        "GET",
        &format!("{base}?status=nope"),
        Some(&auditor),
        None,
    );
    assert_eq!(
        (r.status, r.json()["error"]["details"]["parameter"].as_str()),
        (400, Some("status"))
    );
    let one = call(&s, "GET", &format!("{base}/{id}"), Some(&auditor), None);
    assert_eq!(one.status, 200);
    assert_eq!(one.json()["attestation"]["status"], "open");
    assert!(one.json()["signed_document"].is_null());
    assert_eq!(
        call(&s, "GET", &format!("{base}/0123abcd"), Some(&auditor), None).status,
        404
    );
    // Signing: auditors and ingest by permission, the team lead by the document's role.
    let sign = format!("{base}/{id}/sign");
    assert_eq!(
        call(&s, "POST", &sign, Some(&auditor), Some("{}")).status,
        403
    );
    assert_eq!(
        call(&s, "POST", &sign, Some(&ingest), Some("{}")).status,
        403
    );
    let r = call(
        &s,
        "POST",
        &sign,
        Some(&lead),
        Some(r#"{"opinion":"qualified"}"#),
    );
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(r.text().contains("compliance-officer"), "{}", r.text());
    let r = call(
        &s,
        "POST",
        &sign,
        Some(&officer),
        Some(r#"{"opinion":"maybe"}"#),
    );
    assert_eq!(
        (r.status, r.json()["error"]["details"]["field"].as_str()),
        (422, Some("opinion"))
    );
    let r = call(&s, "POST", &sign, Some(&officer), Some(r#"{"notes":"x"}"#));
    assert_eq!(
        (r.status, r.json()["error"]["details"]["field"].as_str()),
        (422, Some("notes"))
    );
    let r = call(
        &s,
        "POST",
        &sign,
        Some(&officer),
        Some(r#"{"opinion":"unqualified"}"#),
    );
    assert_eq!(
        (r.status, r.json()["error"]["details"]["field"].as_str()),
        (400, Some("opinion")),
        "{}",
        r.text()
    );
    assert!(r.text().contains("nothing was attested"), "{}", r.text());
    let r = call(
        &s,
        "POST",
        &sign,
        Some(&officer),
        Some(r#"{"opinion":"qualified","notes":{"1":"x"}}"#),
    );
    assert_eq!(
        (r.status, r.json()["error"]["details"]["field"].as_str()),
        (400, Some("note")),
        "{}",
        r.text()
    );
    let r = call(
        &s,
        "POST",
        &sign,
        Some(&officer),
        Some(r#"{"opinion":"qualified"}"#),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v: Value = r.json();
    assert_eq!(v["attestation"]["status"], "signed");
    assert_eq!(
        v["attestation"]["signed"]["signer"]["role"],
        "compliance-officer"
    );
    assert_eq!(v["attestation"]["signed"]["via"], Value::Null);
    assert_eq!(v["attestation"]["signed"]["signer"]["via"], "api");
    let sha = v["signed_document"]["sha256"].as_str().unwrap().to_string();
    // Frozen.
    assert_eq!(
        call(
            &s,
            "POST",
            &sign,
            Some(&officer),
            Some(r#"{"opinion":"qualified"}"#)
        )
        .status,
        409
    );
    // The files are beside the packets; the ledger holds the signature with the hash.
    let dir = s
        .data
        .dir
        .path()
        .join("attestations")
        .join(format!("{month}-attestation"));
    for f in [
        "attestation.json",
        "attestation.json.sig",
        "attestation.md",
        "attestation.pdf",
        "attestation.pdf.sig",
        "public_key.pem",
    ] {
        assert!(dir.join(f).exists(), "{f}");
    }
    assert!(s
        .leaves()
        .iter()
        .any(|l| l["action"] == "attestation.signed"
            && l["metadata"]["document_sha256"] == sha.as_str()));
    let m = call(&s, "GET", "/metrics", None, None).text();
    assert!(
        m.contains(&format!("vouch_attestation_signed{{period=\"{month}\"}} 1")),
        "{m}"
    );
});
