use crate::output::{self, n};
use anyhow::Result;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct DemoArgs {
    /// Where to put the demo (replaced if it holds an earlier demo).
    #[arg(long = "into", default_value = "./vouch-demo")]
    pub into: PathBuf,
    /// How many events to generate over the year.
    #[arg(long, default_value_t = 100_000)]
    pub events: usize,
}

pub fn run(cli: &crate::Cli, a: &DemoArgs) -> Result<i32> {
    if a.events < 1200 {
        anyhow::bail!("--events must be at least 1200 (100 per month)");
    }
    let bar = output::progress(a.events as u64, "appending");
    let mut phase = String::new();
    let report = vouch_engine::demo::run(
        &a.into,
        a.events,
        chrono::Utc::now(),
        &mut |done, total, what| {
            if what != phase {
                phase = what.to_string();
                bar.set_message(phase.clone());
                bar.set_length(total);
            }
            bar.set_position(done);
        },
    )?;
    bar.finish_and_clear();
    let d = report.data_dir.display().to_string();
    let (dash_url, login) = dashboard_login(&report.data_dir)?;
    if cli.json {
        output::print_json(&serde_json::json!({
            "data_dir": d, "events": report.events, "append_seconds": report.append_secs,
            "verify": report.verify, "verify_seconds": report.verify_secs,
            "checkpoint": report.checkpoint_note, "proof_file": report.proof_file, "proof_index": report.proof_index,
            "consistency_file": report.consistency_file, "export_file": report.export_file, "export_events": report.export_events,
            "log_verifier_key": report.log_verifier_key,
            "packet": report.packet, "public_key_file": report.public_key_file,
            "incident": report.incident.as_ref().map(|i| i.view(chrono::Utc::now())),
            "access_review": {"id": report.access_review.id, "title": report.access_review.title, "dir": report.access_review.dir, "packet": report.review_packet},
            "attestation": {"id": report.attestation.id, "title": report.attestation.title, "opinion": report.attestation.opinion, "exceptions": report.attestation.exceptions, "signed_at": report.attestation.signed_at, "dir": report.attestation.dir},
            "dashboard": {"url": dash_url, "serve": format!("vouch --data-dir {d} serve"), "username": login.username, "password": login.password, "auditor_token": login.auditor_token},
        }));
        return Ok(if report.verify.valid { 0 } else { 1 });
    }
    let first = &report
        .months
        .first()
        .map(|m| m.0.clone())
        .unwrap_or_default();
    println!("vouch demo — a year of audit events for Acme Analytics, a 42-person company\n");
    println!(
        "1. Appended {} events ({} to {}: logins, failed logins, MFA, role grants and revocations,",
        n(report.events),
        first,
        report.last_month
    );
    println!("   config changes, data exports, backups) in {:.1} s — {} events/s — through the sequencer,", report.append_secs, n((report.events as f64 / report.append_secs.max(1e-9)) as u64));
    println!("   each one a Merkle leaf chained with HMAC-SHA-256, and signed a checkpoint at every month end.");
    println!("2. Verified the whole ledger in {:.2} s: valid = {}, broken_at = {}, {} entries, {} checkpoints.",
        report.verify_secs, report.verify.valid, report.verify.broken_at.map(|b| b.to_string()).unwrap_or_else(|| "null".into()), n(report.verify.checked), report.verify.checkpoints_checked);
    println!("3. The latest signed checkpoint (C2SP tlog-checkpoint):\n");
    for line in report.checkpoint_note.lines() {
        println!("     {line}");
    }
    println!(
        "\n4. Wrote an inclusion proof for entry {} (\"{}\") to\n     {}",
        report.proof_index,
        report.proof_action,
        report.proof_file.display()
    );
    println!(
        "   and a consistency proof from last month's checkpoint to now to\n     {}",
        report.consistency_file.display()
    );
    println!(
        "5. Exported {} events of {} (NDJSON, one leaf per line) to\n     {}",
        n(report.export_events),
        report.last_month,
        report.export_file.display()
    );
    let ev = &report.evidence;
    println!(
        "6. Stored {} evidence items for {}: query results from the demo application database\n   (demo-app.db, through demo-pack.toml) and an uploaded DR drill report; each records its exact query,\n   times, row count and SHA-256, and is logged in the ledger.",
        ev.items, report.last_month
    );
    println!(
        "7. Evaluated {} checks and {} controls:",
        ev.results.len(),
        ev.controls.len()
    );
    let shout = |s: &str| s.replace('_', " ").to_uppercase();
    for (id, status, message) in &ev.results {
        println!("     {:<6} {id}: {message}", shout(status));
    }
    for (id, status) in &ev.controls {
        println!("     control {id}: {}", shout(status));
    }
    if ev.controls.iter().any(|(_, s)| s == "no_evidence") {
        println!(
            "   NO EVIDENCE is never a pass: nothing was collected or uploaded to judge (here, the\n   quarterly access review; `vouch evidence upload FILE --evidence access.quarterly-review`)."
        );
    }
    println!(
        "   {} finding(s) opened (see `vouch findings list`).",
        ev.findings_opened
    );
    match &report.incident {
        Some(i) => println!(
            "   A burst of failed logins from {} opened incident {} ({} severity, response due\n   by {}); triaged by {}: response in {} s (see `vouch incidents show {}`).",
            vouch_engine::demo::incidents::ATTACKER_IP,
            i.id,
            i.severity,
            i.response_deadline,
            i.assignee.as_deref().unwrap_or("—"),
            i.sla.response_secs.unwrap_or(0),
            i.id
        ),
        None => println!("   The failed-login burst opened no incident (automatic incidents are off:\n   SOC2_INCIDENT_AUTO_CREATE=false)."),
    }
    let ar = &report.access_review;
    println!(
        "   Access review \"{}\" ({}): {} accounts decided ({}); revoked: {}.\n   Nobody decided their own account; each revoke opened a remediation finding that the\n   next collection closes once the account is gone. Completed and signed like an attestation\n   (access-review.json, .md, .pdf, each signed) in\n     {}\n     check it with `vouch verify {}`, or openssl: base64 -d {}.sig > /tmp/review.sig.bin; openssl dgst -sha256 -verify {} -signature /tmp/review.sig.bin {}",
        ar.title,
        &ar.id[..8],
        ar.entries,
        ar.decisions.iter().map(|(k, n)| format!("{k} {n}")).collect::<Vec<_>>().join(", "),
        if ar.revoked.is_empty() { "none".to_string() } else { ar.revoked.join(", ") },
        ar.dir.display(),
        ar.dir.display(),
        ar.document_file.display(),
        report.public_key_file.display(),
        ar.document_file.display()
    );
    println!(
        "   It is CC6.2/CC6.3 evidence in the packet of the month it was completed: this month's,\n   so far (the month-to-date packet, {}), in\n     {}",
        report.review_packet.period,
        report.review_packet.dir.display()
    );
    let pd = report.packet.dir.display();
    println!(
        "8. Generated the signed evidence packet for {} (status {}) in\n     {pd}",
        report.last_month, report.packet.overall_status
    );
    println!(
        "   SOC2_Evidence.json and SOC2_Evidence.pdf, each with a .sig, plus the period's exports."
    );
    println!(
        "   Verify it as seed 000's runbook does, with openssl and the public key vouch wrote:\n"
    );
    let key = report.public_key_file.display();
    for f in ["SOC2_Evidence.json", "SOC2_Evidence.pdf"] {
        println!("     base64 -d {pd}/{f}.sig > /tmp/{f}.sig.bin");
        println!("     openssl dgst -sha256 -verify {key} -signature /tmp/{f}.sig.bin {pd}/{f}");
    }
    let at = &report.attestation;
    println!(
        "9. Signed the {} (opinion {}, {} exception(s)) as dana.officer at {}:\n     {}",
        at.title,
        at.opinion,
        at.exceptions.len(),
        at.signed_at,
        at.dir.display()
    );
    for e in at.exceptions.iter().take(5) {
        println!("     - {e}");
    }
    println!("   attestation.json (+ .sig), attestation.md, attestation.pdf (+ .sig); check it with `vouch verify {}`.", at.dir.display());
    let r = &report.soc2_report;
    let rdir = vouch_engine::reports::dir_of(&vouch_engine::Config::load(&report.data_dir)?, &r.id);
    println!(
        "10. Generated seed 003's quarterly soc2 report for {} ({}; job run generate-report:{}) in\n     {}",
        r.period.label,
        r.status,
        r.id,
        rdir.display()
    );
    println!(
        "   report.json, report.pdf and report.csv, each with a .sig (same key as the packet)."
    );
    println!();
    println!("Everything is in {d}. Try:");
    println!("  vouch --data-dir {d} ledger verify");
    println!("  vouch --data-dir {d} evidence list");
    println!(
        "  vouch --data-dir {d} check --period {}",
        report.last_month
    );
    println!("  vouch --data-dir {d} findings list");
    println!("  vouch --data-dir {d} incidents list");
    println!("  vouch --data-dir {d} reports show {}", r.id);
    println!("  vouch --data-dir {d} verify {pd}");
    println!("  vouch --data-dir {d} attest list");
    println!(
        "  vouch --data-dir {d} verify {}",
        report.attestation.dir.display()
    );
    println!("  vouch --data-dir {d} packet --reproduce {pd}/SOC2_Evidence.json");
    println!(
        "  vouch --data-dir {d} ledger verify-proof {}",
        report.proof_file.display()
    );
    println!("  vouch --data-dir {d} keys show      # the log key any verifier needs:");
    println!("     {}", report.log_verifier_key);
    println!();
    println!(
        "The compliance dashboard (status, effectiveness, audit timeline, drill-down to proofs):"
    );
    println!("  vouch --data-dir {d} serve");
    println!("  then open {dash_url}");
    match &login.password {
        Some(pw) => println!(
            "  and log in as `{}` (compliance officer) with the password {pw}",
            login.username
        ),
        None => println!(
            "  and log in as `{}` (its password is unchanged; reset it with `vouch --data-dir {d} users passwd {}`)",
            login.username, login.username
        ),
    }
    println!(
        "  or, read-only as an auditor, paste the token {}",
        login.auditor_token
    );
    Ok(if report.verify.valid { 0 } else { 1 })
}

/// The dashboard's URL (from `[server] listen`) and the demo's logins: a compliance
/// officer created now (recorded in the ledger like `vouch users add`) and an auditor
/// token.
fn dashboard_login(
    dir: &std::path::Path,
) -> Result<(String, vouch_server::dashboard::login::DemoLogin)> {
    let config = vouch_engine::Config::load(dir)?;
    let (store, _keys, ledger) = vouch_engine::open(&config)?;
    let login = vouch_server::dashboard::login::demo_login(&store).map_err(anyhow::Error::msg)?;
    if login.password.is_some() {
        vouch_engine::audit::record(
            &ledger,
            serde_json::json!({"action": "user.created", "category": "administrative", "result": "success", "resource": {"type": "user", "id": login.username, "name": login.username}, "details": {"description": format!("demo: local user `{}` created with role compliance-officer", login.username)}}),
        )?;
    }
    vouch_engine::audit::record(
        &ledger,
        serde_json::json!({"action": "token.created", "category": "administrative", "result": "success", "resource": {"type": "api_token", "id": "demo-auditor", "name": "demo-auditor"}, "details": {"description": "demo: an auditor API token created for the dashboard"}}),
    )?;
    let listen = config
        .settings
        .server
        .listen
        .replace("0.0.0.0", "127.0.0.1");
    Ok((format!("http://{listen}/admin/compliance"), login))
}
