//! Drill-down pages: a criterion → its controls → a control's checks and evidence → an
//! evidence item's IPE record → the ledger inclusion proof of its event (the API's
//! `/api/compliance/ledger/proof`, downloadable); findings with their history and the
//! update form; packets and archives with their signatures; an access review's entries
//! with the decision form.

use super::overview::{controls_of, findings_table, shown_status};
use super::{badge, blocking, esc, jtext, page, period_form, url, when, Page, Viewer, ROOT};
use crate::error::ApiError;
use crate::extract::{Caller, Path};
use crate::roles::Perm;
use crate::App;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use chrono::Utc;
use serde_json::Value;
use std::fmt::Write as _;
use vouch_engine::checks::controls;

fn period_of(
    q: &std::collections::HashMap<String, String>,
) -> Result<vouch_core::period::Period, ApiError> {
    crate::handlers::period_param("period", q.get("period").map(String::as_str))
}

/// `GET /admin/compliance/criteria/{id}`: the criterion and its controls for a period.
pub async fn criterion(
    State(app): State<App>,
    Caller(who): Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Page {
    let v = Viewer::new(who, &headers);
    let q = super::query(&uri);
    let period = period_of(&q)?;
    let k = vouch_core::tsc::criterion(&id)
        .ok_or_else(|| ApiError::not_found(format!("`{id}` is not a Trust Services Criterion")))?;
    let now = Utc::now();
    let body = blocking(move || {
        let all = controls::evaluate(&app.config, &app.store, &period, now, None)?;
        let cs = controls_of(&all, k.id);
        let p = url(&period.label);
        let mut h = format!(
            "<p><a href=\"{ROOT}?period={p}\">Overview</a> › {id}</p><p>{} · category {}</p>{}",
            esc(k.topic),
            esc(&k.category.replace('_', " ")),
            period_form(&format!("{ROOT}/criteria/{}", k.id), &period.label, now),
            id = esc(k.id)
        );
        let st = if cs.is_empty() { "no_evidence" } else { controls::rollup(cs.iter().map(|c| c["status"].as_str().unwrap_or("error"))) };
        let _ = write!(h, "<p>Status for {}: <span data-testid=\"criterion-status\" data-status=\"{st}\">{}</span></p>", esc(&period.label), badge(st));
        if cs.is_empty() {
            h.push_str("<p data-testid=\"criterion-controls\" data-count=\"0\">No control in vouch.toml maps to this criterion, so nothing is judged for it.</p>");
        } else {
            let _ = write!(h, "<div class=\"scroll\" tabindex=\"0\" role=\"region\" aria-label=\"Controls mapped to this criterion, scrollable\"><table data-testid=\"criterion-controls\" data-count=\"{}\"><thead><tr><th scope=\"col\">Control</th><th scope=\"col\">Status</th><th scope=\"col\">Checks</th><th scope=\"col\">Owner</th></tr></thead><tbody>", cs.len());
            for c in cs {
                let cid = c["id"].as_str().unwrap_or_default();
                let checks = c["checks"].as_array().map(Vec::len).unwrap_or(0);
                let _ = write!(h, "<tr data-testid=\"control-row\" data-control=\"{}\"><th scope=\"row\"><a href=\"{ROOT}/controls/{}?period={p}\">{}</a><br><span class=\"hint\">{}</span></th><td>{}</td><td class=\"num\">{checks}</td><td>{}</td></tr>",
                    esc(cid), url(cid), esc(cid), jtext(&c["title"]), badge(shown_status(c)), c["owner"].as_str().map(esc).unwrap_or_else(|| "—".into()));
            }
            h.push_str("</tbody></table></div>");
        }
        Ok(page(&format!("Criterion {}", k.id), Some(&v), "overview", None, &h))
    })
    .await?;
    Ok(super::html(StatusCode::OK, body))
}

/// `GET /admin/compliance/controls/{id}`: checks, their evidence items, evidence state,
/// coverage gaps and findings of one control.
pub async fn control(
    State(app): State<App>,
    Caller(who): Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Page {
    let v = Viewer::new(who, &headers);
    let q = super::query(&uri);
    let period = period_of(&q)?;
    let now = Utc::now();
    let body = blocking(move || {
        let all = controls::evaluate(&app.config, &app.store, &period, now, None)?;
        let c = all
            .iter()
            .find(|c| c["id"] == id.as_str())
            .ok_or_else(|| ApiError::not_found(format!("no control `{id}`")))?;
        let p = url(&period.label);
        let crit: Vec<String> = c["criteria"].as_array().into_iter().flatten().filter_map(|x| x.as_str()).map(|x| format!("<a href=\"{ROOT}/criteria/{}?period={p}\">{}</a>", url(x), esc(x))).collect();
        let mut h = format!(
            "<p><a href=\"{ROOT}?period={p}\">Overview</a> › {}</p><p>{}</p><p>Criteria: {}</p>{}<p>Status for {}: <span data-testid=\"control-status\" data-status=\"{st}\">{}</span></p>",
            esc(&id), jtext(&c["description"]), crit.join(", "),
            period_form(&format!("{ROOT}/controls/{}", url(&id)), &period.label, now),
            esc(&period.label), badge(shown_status(c)), st = esc(shown_status(c))
        );
        h.push_str("<section aria-labelledby=\"h-checks\" class=\"card\"><h2 id=\"h-checks\">Checks</h2>");
        let checks = c["checks"].as_array().cloned().unwrap_or_default();
        if checks.is_empty() {
            h.push_str("<p>This control names no checks.</p>");
        }
        for k in &checks {
            let _ = write!(h, "<article class=\"check\" data-testid=\"check\" data-check=\"{}\" data-status=\"{}\"><h3>{} {}</h3><p>{}</p><p class=\"hint\">evaluated {} · result {} · definition SHA-256 <code>{}</code></p>",
                jtext(&k["id"]), jtext(&k["status"]), badge(k["status"].as_str().unwrap_or("")), jtext(&k["title"]), jtext(&k["detail"]),
                k["evaluated_at"].as_str().map(when).unwrap_or_else(|| "never".into()), jtext(&k["result_id"]), jtext(&k["definition_sha256"]));
            let items: Vec<&str> = k["evidence"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
            if items.is_empty() {
                h.push_str("<p>No evidence item behind this result.</p>");
            } else {
                h.push_str("<ul class=\"items\">");
                for i in items {
                    let _ = write!(h, "<li><a href=\"{ROOT}/evidence/{}\" data-testid=\"evidence-link\">{}</a></li>", url(i), esc(i));
                }
                h.push_str("</ul>");
            }
            h.push_str("</article>");
        }
        h.push_str("</section><section aria-labelledby=\"h-ev\" class=\"card\"><h2 id=\"h-ev\">Evidence for the period</h2><div class=\"scroll\" tabindex=\"0\" role=\"region\" aria-label=\"Evidence for the period, scrollable\"><table data-testid=\"control-evidence\"><thead><tr><th scope=\"col\">Evidence</th><th scope=\"col\">State</th><th scope=\"col\">Items</th><th scope=\"col\">Newest effective</th></tr></thead><tbody>");
        for e in c["evidence_state"].as_array().into_iter().flatten() {
            let _ = write!(h, "<tr><th scope=\"row\">{}</th><td>{}</td><td class=\"num\">{}</td><td>{}</td></tr>", jtext(&e["id"]), badge(e["state"].as_str().unwrap_or("")), jtext(&e["items"]), e["newest_effective_at"].as_str().map(when).unwrap_or_else(|| "—".into()));
        }
        let gaps: Vec<String> = c["coverage"]["gaps"].as_array().into_iter().flatten().filter_map(|g| g.as_str()).map(esc).collect();
        let _ = write!(h, "</tbody></table></div><p>Coverage by {}: {} of {} covered{}</p></section>",
            jtext(&c["coverage"]["unit"]), c["coverage"]["covered"].as_array().map(Vec::len).unwrap_or(0), jtext(&c["coverage"]["buckets"]),
            if gaps.is_empty() { String::new() } else { format!("; gaps: {}", gaps.join(", ")) });
        let fs = vouch_engine::checks::findings::list(&app.store, None)?;
        let mine: Vec<&Value> = fs.iter().filter(|f| f["controls"].as_array().is_some_and(|a| a.iter().any(|x| x == id.as_str())) || f["control_id"] == id.as_str()).collect();
        let _ = write!(h, "<section aria-labelledby=\"h-f\" class=\"card\"><h2 id=\"h-f\">Findings on this control</h2>{}</section>", findings_table(&mine, now, "control-findings"));
        Ok(page(&format!("Control {id}"), Some(&v), "overview", None, &h))
    })
    .await?;
    Ok(super::html(StatusCode::OK, body))
}

/// One field of a record as a definition-list entry (objects and arrays as JSON).
fn field(h: &mut String, label: &str, v: &Value, testid: &str) {
    let text = match v {
        Value::Null => return,
        Value::String(s) => esc(s),
        Value::Object(_) | Value::Array(_) => format!(
            "<pre>{}</pre>",
            esc(&serde_json::to_string_pretty(v).unwrap_or_default())
        ),
        other => esc(&other.to_string()),
    };
    let _ = write!(
        h,
        "<dt>{}</dt><dd data-testid=\"{testid}\">{text}</dd>",
        esc(label)
    );
}

/// The shell command the evidence page shows for the log's verifier key (`{BASE}` is the
/// server's origin): the `X-Log-Verifier-Key` header of the public-key route, whose body
/// is the packet-signing PEM instead (docs/api.md).
pub const VERIFIER_KEY_CMD: &str = "curl -sI {BASE}/api/compliance/public-key | sed -n 's/^x-log-verifier-key: //Ip' | tr -d '\\r'";

/// `GET /admin/compliance/evidence/{id}`: an item's IPE record and its ledger proof.
pub async fn evidence(
    State(app): State<App>,
    Caller(who): Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Page {
    let v = Viewer::new(who, &headers);
    let store = app.store.clone();
    let ledger = app.ledger.clone();
    let (item, covered) = blocking(move || {
        let item = vouch_engine::evidence::get(&store, &id).map_err(vouch_engine::Error::from)?;
        let covered = ledger
            .latest_checkpoint()
            .map_err(vouch_engine::Error::from)?
            .map_or(0, |c| c.size);
        Ok((item, covered))
    })
    .await?;
    let r = &item.record;
    let iid = item.id().to_string();
    let mut h = format!("<p><a href=\"{ROOT}\">Overview</a> › evidence item</p><section aria-labelledby=\"h-ipe\" class=\"card\"><h2 id=\"h-ipe\">Information produced by the entity (IPE)</h2><dl class=\"facts\" data-testid=\"ipe-record\">");
    field(&mut h, "Item id", &r["id"], "ipe-id");
    field(
        &mut h,
        "Evidence definition",
        &r["evidence_id"],
        "ipe-evidence-id",
    );
    field(&mut h, "Title", &r["title"], "ipe-title");
    field(&mut h, "Status", &r["status"], "ipe-status");
    field(&mut h, "Source", &r["source"], "ipe-source");
    field(&mut h, "Query / command", &r["operation"], "ipe-operation");
    field(&mut h, "Period", &r["period"]["label"], "ipe-period");
    field(&mut h, "Started", &r["started_at"], "ipe-started");
    field(&mut h, "Finished", &r["finished_at"], "ipe-finished");
    field(&mut h, "Effective at", &r["effective_at"], "ipe-effective");
    field(&mut h, "Row count", &r["count"], "ipe-count");
    field(&mut h, "Size (bytes)", &r["size"], "ipe-size");
    field(&mut h, "Content SHA-256", &r["sha256"], "ipe-sha256");
    field(&mut h, "Criteria", &r["criteria"], "ipe-criteria");
    field(&mut h, "Collector", &r["collector"], "ipe-collector");
    field(&mut h, "Error", &r["error"], "ipe-error");
    match item.ledger_seq {
        Some(seq) => {
            let key_cmd = esc(&VERIFIER_KEY_CMD.replace("{BASE}", "…"));
            // The latest signed checkpoint may predate this event (checkpoints are signed
            // periodically): then prove it in the smallest tree that holds it, whose
            // checkpoint the proof route signs on request.
            let size = if seq < covered {
                String::new()
            } else {
                format!("&amp;size={}", seq + 1)
            };
            let _ = write!(h, "<dt>Ledger seq</dt><dd data-testid=\"ipe-ledger-seq\" data-seq=\"{seq}\">{seq}</dd></dl>\
<p><a class=\"button\" href=\"/api/compliance/ledger/proof?index={seq}{size}\" download=\"evidence-{seq}.tlog-proof\" data-testid=\"proof-link\">Download the inclusion proof (C2SP tlog-proof)</a></p>\
<p class=\"hint\">Verify it offline: <code>vouch ledger verify-proof evidence-{seq}.tlog-proof --key \"$({key_cmd})\"</code> (the log's verifier key is that response's <code>X-Log-Verifier-Key</code> header; <code>vouch keys show</code> prints it on the server); the proof's last line carries the logged event, whose metadata holds this record's SHA-256 and the content hash above.</p>");
        }
        None => h.push_str("<dt>Ledger seq</dt><dd data-testid=\"ipe-ledger-seq\" data-seq=\"\">not recorded yet</dd></dl>"),
    }
    let _ = write!(
        h,
        "<p><a href=\"/api/compliance/evidence/{}\">The record as JSON</a></p></section>",
        url(&iid)
    );
    h.push_str("<details><summary>The whole stored record</summary>");
    let _ = write!(
        h,
        "<pre data-testid=\"ipe-json\">{}</pre></details>",
        esc(&serde_json::to_string_pretty(r).unwrap_or_default())
    );
    Ok(super::html(
        StatusCode::OK,
        page(
            &format!("Evidence item {}", iid.get(..13).unwrap_or(&iid)),
            Some(&v),
            "overview",
            None,
            &h,
        ),
    ))
}

/// `GET /admin/compliance/findings[?status=open]`.
pub async fn findings(
    State(app): State<App>,
    Caller(who): Caller,
    headers: HeaderMap,
    uri: Uri,
) -> Page {
    let v = Viewer::new(who, &headers);
    let q = super::query(&uri);
    let status = q.get("status").filter(|s| !s.is_empty()).cloned();
    if let Some(s) = &status {
        if !vouch_engine::checks::findings::STATUSES.contains(&s.as_str()) {
            return Err(ApiError::bad("status must be open, accepted or resolved").into());
        }
    }
    let now = Utc::now();
    let body = blocking(move || {
        let fs = vouch_engine::checks::findings::list(&app.store, status.as_deref())?;
        let mut refs: Vec<&Value> = fs.iter().collect();
        refs.sort_by(|a, b| b["updated_at"].as_str().cmp(&a["updated_at"].as_str()));
        let mut h = format!("<form method=\"get\" action=\"{ROOT}/findings\" class=\"period\" data-testid=\"findings-filter\"><label for=\"status\">Status</label><select id=\"status\" name=\"status\"><option value=\"\">any</option>");
        for s in vouch_engine::checks::findings::STATUSES {
            let sel = if status.as_deref() == Some(*s) { " selected" } else { "" };
            let _ = write!(h, "<option value=\"{s}\"{sel}>{s}</option>");
        }
        h.push_str("</select><button type=\"submit\">Filter</button></form>");
        h.push_str(&findings_table(&refs, now, "findings"));
        Ok(page("Findings", Some(&v), "findings", None, &h))
    })
    .await?;
    Ok(super::html(StatusCode::OK, body))
}

/// `GET /admin/compliance/findings/{id}`: the finding, every version, the update form.
pub async fn finding(
    State(app): State<App>,
    Caller(who): Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Page {
    let v = Viewer::new(who, &headers);
    let ok = super::query(&uri).get("ok").cloned();
    let body = blocking(move || {
        let f = vouch_engine::checks::findings::get(&app.store, &id)?;
        let fid = f["id"].as_str().unwrap_or_default().to_string();
        let hist = app.store.query("SELECT version, at, record FROM finding_history WHERE finding_id = $1 ORDER BY version", &[fid.clone().into()])?;
        let mut h = format!("<p><a href=\"{ROOT}/findings\">Findings</a> › {}</p><section aria-labelledby=\"h-fd\" class=\"card\"><h2 id=\"h-fd\">{}</h2><dl class=\"facts\" data-testid=\"finding\" data-finding-id=\"{}\" data-status=\"{}\" data-severity=\"{}\">",
            esc(&fid), jtext(&f["title"]), esc(&fid), jtext(&f["status"]), jtext(&f["severity"]));
        let _ = write!(h, "<dt>Status</dt><dd data-testid=\"finding-status\">{}</dd><dt>Severity</dt><dd data-testid=\"finding-severity\">{}</dd>", badge(f["status"].as_str().unwrap_or("")), badge(f["severity"].as_str().unwrap_or("")));
        field(&mut h, "Owner", &f["owner"], "finding-owner");
        field(&mut h, "Description", &f["description"], "finding-description");
        field(&mut h, "Remediation plan", &f["remediation_plan"], "finding-plan");
        field(&mut h, "Due date", &f["due_date"], "finding-due");
        field(&mut h, "Controls", &f["controls"], "finding-controls");
        field(&mut h, "Check", &f["check_id"], "finding-check");
        field(&mut h, "Source", &f["source"], "finding-source");
        field(&mut h, "Opened", &f["created_at"], "finding-created");
        field(&mut h, "Resolved", &f["resolved_at"], "finding-resolved");
        h.push_str("</dl>");
        let notes: Vec<&Value> = f["notes"].as_array().into_iter().flatten().collect();
        if !notes.is_empty() {
            h.push_str("<h3>Notes</h3><ul data-testid=\"finding-notes\">");
            for n in notes {
                let text = n["text"].as_str().or(n["note"].as_str()).map(str::to_string).unwrap_or_else(|| n.to_string());
                let _ = write!(h, "<li>{} <span class=\"hint\">{} {}</span></li>", esc(&text), jtext(&n["by"]), n["at"].as_str().map(when).unwrap_or_default());
            }
            h.push_str("</ul>");
        }
        h.push_str("</section>");
        if v.can(Perm::Operate) {
            let _ = write!(h, "<section aria-labelledby=\"h-up\" class=\"card\"><h2 id=\"h-up\">Update</h2><form method=\"post\" action=\"{ROOT}/findings/{}\" data-action=\"update-finding\" data-testid=\"finding-form\">{}", url(&fid), v.csrf_field());
            h.push_str("<p><label for=\"f-status\">Status</label><select id=\"f-status\" name=\"status\"><option value=\"\">(unchanged)</option>");
            for s in vouch_engine::checks::findings::STATUSES {
                let _ = write!(h, "<option value=\"{s}\">{s}</option>");
            }
            h.push_str("</select></p><p><label for=\"f-severity\">Severity</label><select id=\"f-severity\" name=\"severity\"><option value=\"\">(unchanged)</option>");
            for s in ["critical", "high", "medium", "low"] {
                let _ = write!(h, "<option value=\"{s}\">{s}</option>");
            }
            h.push_str("</select></p><p><label for=\"f-owner\">Owner</label><input id=\"f-owner\" name=\"owner\" autocomplete=\"off\"></p><p><label for=\"f-note\">Note</label><textarea id=\"f-note\" name=\"note\" rows=\"3\"></textarea></p><p><button type=\"submit\">Update finding</button></p></form><p class=\"hint\">The same change as <code>PATCH /api/compliance/findings/{id}</code>: a new version, recorded in the ledger.</p></section>");
        }
        let _ = write!(h, "<section aria-labelledby=\"h-hist\" class=\"card\"><h2 id=\"h-hist\">History</h2><ol data-testid=\"finding-history\" data-count=\"{}\">", hist.len());
        for r in &hist {
            let rec: Value = serde_json::from_str(&r.text(2)).unwrap_or(Value::Null);
            let _ = write!(h, "<li data-testid=\"finding-version\" data-version=\"{}\">version {} · {} · status {} · severity {} · owner {}</li>", r.int(0), r.int(0), when(&r.text(1)), jtext(&rec["status"]), jtext(&rec["severity"]), rec["owner"].as_str().map(esc).unwrap_or_else(|| "—".into()));
        }
        h.push_str("</ol></section>");
        Ok(page(&format!("Finding {}", fid.get(..13).unwrap_or(&fid)), Some(&v), "findings", ok.as_deref(), &h))
    })
    .await?;
    Ok(super::html(StatusCode::OK, body))
}

/// `GET /admin/compliance/packets`: signed packets, archived collections, signed
/// attestations — with their hashes, signing key and download links.
pub async fn packets(State(app): State<App>, Caller(who): Caller, headers: HeaderMap) -> Page {
    let v = Viewer::new(who, &headers);
    let body = blocking(move || {
        let rows = app.store.query("SELECT period_label, period_start, period_end, generated_at, checkpoint_size, json_sha256, pdf_sha256, signing_key_id FROM packets ORDER BY period_start DESC, generated_at DESC LIMIT 200", &[])?;
        let mut h = String::from("<p><a href=\"/api/compliance/public-key\">The signing public key and the log's verifier key</a> verify every signature here; <code>vouch verify DIR</code> checks a packet offline.</p>");
        let _ = write!(h, "<section aria-labelledby=\"h-pk\" class=\"card\"><h2 id=\"h-pk\">Evidence packets</h2>");
        if rows.is_empty() {
            h.push_str("<p data-testid=\"packets\" data-count=\"0\">No packet has been generated yet (the generate-soc2-evidence job makes one each month).</p>");
        } else {
            let _ = write!(h, "<div class=\"scroll\" tabindex=\"0\" role=\"region\" aria-label=\"Evidence packets, scrollable\"><table data-testid=\"packets\" data-count=\"{}\"><thead><tr><th scope=\"col\">Period</th><th scope=\"col\">Generated</th><th scope=\"col\">Checkpoint</th><th scope=\"col\">SHA-256 (JSON / PDF)</th><th scope=\"col\">Signing key</th><th scope=\"col\">Download</th></tr></thead><tbody>", rows.len());
            for r in &rows {
                let start = r.text(1);
                let end = vouch_core::period::parse_instant(&r.text(2)).map(|e| (e - chrono::Duration::days(1)).format("%Y-%m-%d").to_string()).unwrap_or_default();
                let sd = start.get(..10).unwrap_or("");
                let _ = write!(h, "<tr data-testid=\"packet-row\" data-period=\"{p}\"><th scope=\"row\">{p}</th><td>{}</td><td class=\"num\">{}</td><td><code>{}</code><br><code>{}</code></td><td><code>{}</code></td><td><a href=\"/api/compliance/soc2-packet?startDate={sd}&amp;endDate={e}\">JSON</a> · <a href=\"/api/compliance/soc2-packet?startDate={sd}&amp;endDate={e}&amp;format=pdf\">PDF</a></td></tr>",
                    when(&r.text(3)), r.int(4), esc(&r.text(5)), esc(&r.opt_text(6).unwrap_or_else(|| "—".into())), esc(&r.text(7)), p = esc(&r.text(0)), sd = url(sd), e = url(&end));
            }
            h.push_str("</tbody></table></div><p class=\"hint\">The signature of a download is in its <code>X-Evidence-Signature</code> header.</p>");
        }
        h.push_str("</section>");
        let cols = vouch_engine::seal::collections(&app.store, None)?;
        let _ = write!(h, "<section aria-labelledby=\"h-ar\" class=\"card\"><h2 id=\"h-ar\">Archives (WORM)</h2>");
        if cols.is_empty() {
            h.push_str("<p data-testid=\"archives\" data-count=\"0\">No period has been archived yet.</p>");
        } else {
            let _ = write!(h, "<ul data-testid=\"archives\" data-count=\"{}\">", cols.len());
            for c in cols.iter().rev().take(100) {
                let _ = write!(h, "<li data-testid=\"archive-row\"><details><summary>{} — {}</summary><pre>{}</pre></details></li>", if c["period_label"].is_null() { jtext(&c["period"]) } else { jtext(&c["period_label"]) }, jtext(&c["created_at"]), esc(&serde_json::to_string_pretty(c).unwrap_or_default()));
            }
            h.push_str("</ul>");
        }
        h.push_str("</section>");
        let s = vouch_engine::signoff::attest::Signoffs { config: &app.config, store: app.store.clone(), ledger: &app.ledger, keys: &app.keys };
        let signed = s.list(None, Some("signed")).map_err(vouch_engine::Error::from)?;
        let _ = write!(h, "<section aria-labelledby=\"h-at\" class=\"card\"><h2 id=\"h-at\">Signed attestations</h2>");
        if signed.is_empty() {
            h.push_str("<p data-testid=\"signed-attestations\" data-count=\"0\">None yet.</p>");
        } else {
            let _ = write!(h, "<div class=\"scroll\" tabindex=\"0\" role=\"region\" aria-label=\"Signed attestations, scrollable\"><table data-testid=\"signed-attestations\" data-count=\"{}\"><thead><tr><th scope=\"col\">Attestation</th><th scope=\"col\">Signed</th><th scope=\"col\">Document SHA-256</th><th scope=\"col\">Ledger seq</th></tr></thead><tbody>", signed.len());
            for a in &signed {
                let by = a.signed.as_ref().map(|g| format!("{} ({}), {} — {}", esc(&g.signer.name), esc(&g.signer.role), when(&g.signed_at), esc(&g.opinion))).unwrap_or_default();
                let seq = a.ledger_seq.map(|s| format!("<a href=\"/api/compliance/ledger/proof?index={s}\" download=\"attestation-{s}.tlog-proof\">{s}</a>")).unwrap_or_default();
                let _ = write!(h, "<tr><th scope=\"row\"><a href=\"/api/compliance/attestations/{}\">{}</a></th><td>{by}</td><td><code>{}</code></td><td>{seq}</td></tr>", url(&a.id), esc(&a.title), esc(a.document_sha256.as_deref().unwrap_or("")));
            }
            h.push_str("</tbody></table></div>");
        }
        h.push_str("</section>");
        Ok(page("Packets & archives", Some(&v), "packets", None, &h))
    })
    .await?;
    Ok(super::html(StatusCode::OK, body))
}

/// `GET /admin/compliance/access-reviews/{id}`: a campaign's entries and, for those
/// allowed, the decision form per undecided entry.
pub async fn access_review(
    State(app): State<App>,
    Caller(who): Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Page {
    let v = Viewer::new(who, &headers);
    let ok = super::query(&uri).get("ok").cloned();
    let body = blocking(move || {
        let r = vouch_engine::signoff::review::get(&app.store, &id).map_err(vouch_engine::Error::from)?;
        let c = &r.campaign;
        let mut h = format!("<p><a href=\"{ROOT}/timeline\">Audit timeline</a> › access review</p><p>Status {} · {} entries, {} to decide · started {}</p>",
            badge(&c.status), r.summary.entries, r.summary.to_decide, when(c.started_at.as_deref().unwrap_or("")));
        let can = v.can(Perm::DecideAccess) && c.status == "in_progress";
        let _ = write!(h, "<div class=\"scroll\" tabindex=\"0\" role=\"region\" aria-label=\"Access review entries, scrollable\"><table data-testid=\"review-entries\" data-count=\"{}\"><thead><tr><th scope=\"col\">Population</th><th scope=\"col\">Account</th><th scope=\"col\">Flags</th><th scope=\"col\">Decision</th></tr></thead><tbody>", r.entries.len());
        for (n, e) in r.entries.iter().enumerate() {
            let decided = e.decision.as_deref().map(|d| format!("{} by {} {}", badge(d), esc(e.decided_by.as_deref().unwrap_or("")), when(e.decided_at.as_deref().unwrap_or("")))).unwrap_or_default();
            let form = if can && !matches!(e.decision.as_deref(), Some("keep" | "revoke")) {
                let mut f = format!("<form method=\"post\" action=\"{ROOT}/access-reviews/{}/decisions\" class=\"decide\" data-action=\"decide-access\" data-testid=\"decide-form\">{}<input type=\"hidden\" name=\"population\" value=\"{}\"><input type=\"hidden\" name=\"account\" value=\"{}\"><label for=\"d-{n}\">Decision for {}</label><select id=\"d-{n}\" name=\"decision\">",
                    url(&c.id), v.csrf_field(), esc(&e.population), esc(&e.account), esc(&e.account));
                for d in vouch_engine::signoff::review::DECISIONS {
                    let _ = write!(f, "<option value=\"{d}\">{d}</option>");
                }
                let _ = write!(f, "</select><label for=\"n-{n}\">Note</label><input id=\"n-{n}\" name=\"note\"><button type=\"submit\">Decide</button></form>");
                f
            } else {
                String::new()
            };
            let _ = write!(h, "<tr data-testid=\"review-entry\" data-account=\"{}\"><td>{}</td><th scope=\"row\">{}</th><td>{}</td><td>{decided}{form}</td></tr>", esc(&e.account), esc(&e.population), esc(&e.account), esc(&e.flags.join(", ")));
        }
        h.push_str("</tbody></table></div>");
        Ok(page(&c.title, Some(&v), "timeline", ok.as_deref(), &h))
    })
    .await?;
    Ok(super::html(StatusCode::OK, body))
}
