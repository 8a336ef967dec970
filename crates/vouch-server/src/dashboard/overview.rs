//! The overview (`GET /admin/compliance`): overall status and per category and
//! criterion for a period, open findings by severity, open incidents with their SLA
//! clocks, ledger integrity and events per day, evidence freshness per definition, and
//! job health. Everything is read from stored results, rows and daily counts.

use super::{badge, blocking, esc, human, jtext, page, period_form, url, when, Page, Viewer, ROOT};
use crate::error::ApiError;
use crate::extract::Caller;
use crate::handlers::status::CATEGORIES;
use crate::roles::Perm;
use crate::App;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use std::fmt::Write as _;
use vouch_engine::checks::controls;

/// The status shown for a control: `not_tested` because evidence went stale reads
/// `stale`.
pub fn shown_status(c: &Value) -> &str {
    let s = c["status"].as_str().unwrap_or("error");
    if s == "not_tested"
        && c["evidence_state"]
            .as_array()
            .is_some_and(|a| a.iter().any(|e| e["state"] == "stale"))
    {
        "stale"
    } else {
        s
    }
}

/// The controls mapped to a criterion.
pub fn controls_of<'a>(all: &'a [Value], criterion: &str) -> Vec<&'a Value> {
    all.iter()
        .filter(|c| {
            c["criteria"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x == criterion))
        })
        .collect()
}

/// How old the newest item of a schedule may be (as `vouch-checks` judges staleness).
pub fn freshness(schedule: Option<&str>) -> Option<Duration> {
    Some(Duration::days(match schedule? {
        "daily" => 2,
        "weekly" => 8,
        "monthly" => 32,
        "quarterly" => 93,
        "yearly" => 366,
        _ => return None,
    }))
}

/// The newest effective time of a definition's successful items, and how many of the
/// last few there are (items are listed newest first; no content is read).
pub fn newest_item(
    store: &vouch_store::Store,
    evidence_id: &str,
) -> Result<(Option<DateTime<Utc>>, Option<Value>), ApiError> {
    let items = vouch_engine::evidence::list(
        store,
        &vouch_engine::evidence::ListFilter {
            evidence_id: Some(evidence_id.to_string()),
            period: None,
            limit: Some(20),
        },
    )
    .map_err(vouch_engine::Error::from)?;
    let newest = items
        .iter()
        .filter(|i| i.ok())
        .filter_map(|i| vouch_core::checks::parse_time(&i.record["effective_at"]).map(|t| (t, i)))
        .max_by_key(|(t, _)| *t);
    Ok(match newest {
        Some((t, i)) => (Some(t), Some(i.record.clone())),
        None => (None, items.first().map(|i| i.record.clone())),
    })
}

/// Days between a finding's creation and now.
fn age_days(f: &Value, now: DateTime<Utc>) -> i64 {
    f["created_at"]
        .as_str()
        .or(f["first_seen"].as_str())
        .and_then(vouch_core::period::parse_instant)
        .map(|t| (now - t).num_days())
        .unwrap_or(0)
}

/// Whether a finding's due date (`YYYY-MM-DD`, inclusive) has passed.
pub fn overdue(f: &Value, now: DateTime<Utc>) -> bool {
    f["due_date"]
        .as_str()
        .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .is_some_and(|d| d < now.date_naive())
}

/// The open findings table (also used by the findings page).
pub fn findings_table(findings: &[&Value], now: DateTime<Utc>, testid: &str) -> String {
    if findings.is_empty() {
        return format!("<p data-testid=\"{testid}\" data-count=\"0\">No findings.</p>");
    }
    let mut h = format!(
        "<div class=\"scroll\" tabindex=\"0\" role=\"region\" aria-label=\"Findings, scrollable\"><table data-testid=\"{testid}\" data-count=\"{}\"><caption class=\"sr\">Findings</caption><thead><tr><th scope=\"col\">Finding</th><th scope=\"col\">Severity</th><th scope=\"col\">Status</th><th scope=\"col\">Age</th><th scope=\"col\">Due</th><th scope=\"col\">Owner</th></tr></thead><tbody>",
        findings.len()
    );
    for f in findings {
        let id = f["id"].as_str().unwrap_or_default();
        let late = overdue(f, now) && f["status"] == "open";
        let due = match f["due_date"].as_str() {
            Some(d) if late => format!("<strong class=\"overdue\">{} — overdue</strong>", esc(d)),
            Some(d) => esc(d),
            None => "—".into(),
        };
        let _ = write!(
            h,
            "<tr data-testid=\"finding-row\" data-finding-id=\"{}\" data-overdue=\"{late}\"{}><td><a href=\"{ROOT}/findings/{}\">{}</a></td><td>{}</td><td>{}</td><td>{} d</td><td>{due}</td><td>{}</td></tr>",
            esc(id),
            if late { " class=\"late\"" } else { "" },
            url(id),
            jtext(&f["title"]),
            badge(f["severity"].as_str().unwrap_or("")),
            badge(f["status"].as_str().unwrap_or("")),
            age_days(f, now),
            f["owner"].as_str().map(esc).unwrap_or_else(|| "—".into()),
        );
    }
    h.push_str("</tbody></table></div>");
    h
}

/// A bar chart of events per day as inline SVG (no script), with a table beside it for
/// screen readers and exact figures.
fn events_chart(days: &[(String, u64)]) -> String {
    let max = days.iter().map(|d| d.1).max().unwrap_or(0).max(1);
    let (w, hgt, bw) = (600.0, 120.0, 600.0 / days.len().max(1) as f64);
    let mut s = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {w} {}\" role=\"img\" aria-labelledby=\"epd-t\" data-testid=\"events-per-day\"><title id=\"epd-t\">Events per day, last {} days (most {max})</title>",
        hgt + 20.0,
        days.len()
    );
    for (i, (day, n)) in days.iter().enumerate() {
        let bh = (*n as f64 / max as f64) * hgt;
        let _ = write!(
            s,
            "<rect class=\"bar\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\"><title>{}: {n} events</title></rect>",
            i as f64 * bw + 1.0,
            hgt - bh,
            (bw - 2.0).max(1.0),
            bh,
            esc(day)
        );
    }
    if let (Some(first), Some(last)) = (days.first(), days.last()) {
        let _ = write!(
            s,
            "<text x=\"0\" y=\"{}\" class=\"axis\">{}</text><text x=\"{w}\" y=\"{}\" class=\"axis\" text-anchor=\"end\">{}</text>",
            hgt + 15.0,
            esc(&first.0),
            hgt + 15.0,
            esc(&last.0)
        );
    }
    s.push_str("</svg><details><summary>Events per day as a table</summary><div class=\"scroll\" tabindex=\"0\" role=\"region\" aria-label=\"Events per day, scrollable\"><table><thead><tr><th scope=\"col\">Day</th><th scope=\"col\">Events</th></tr></thead><tbody>");
    for (day, n) in days.iter().rev() {
        let _ = write!(
            s,
            "<tr><td>{}</td><td class=\"num\">{n}</td></tr>",
            esc(day)
        );
    }
    s.push_str("</tbody></table></div></details>");
    s
}

/// `GET /admin/compliance`.
pub async fn overview(
    State(app): State<App>,
    Caller(who): Caller,
    headers: HeaderMap,
    uri: Uri,
) -> Page {
    let v = Viewer::new(who, &headers);
    let q = super::query(&uri);
    let now = Utc::now();
    let period = crate::handlers::period_param("period", q.get("period").map(String::as_str))?;
    let ok = q.get("ok").cloned();
    let body = blocking(move || render(&app, &v, &period, now, ok.as_deref())).await?;
    Ok(super::html(StatusCode::OK, body))
}

fn render(
    app: &App,
    v: &Viewer,
    period: &vouch_core::period::Period,
    now: DateTime<Utc>,
    ok: Option<&str>,
) -> Result<String, ApiError> {
    let store = &app.store;
    let config = &app.config;
    let all = controls::evaluate(config, store, period, now, None)?;
    let statuses: Vec<&str> = all
        .iter()
        .map(|c| c["status"].as_str().unwrap_or("error"))
        .collect();
    let overall = controls::overall_status(&statuses);
    let mut h = String::new();
    let p = url(&period.label);

    // Status.
    let _ = write!(
        h,
        "<section aria-labelledby=\"h-status\" class=\"card\"><h2 id=\"h-status\">Compliance status for {}</h2>{}\
<p class=\"overall\">Overall: <span data-testid=\"overall-status\" data-status=\"{overall}\">{}</span> \
<span class=\"hint\">({} controls; the same rule as <a href=\"/api/compliance/status?period={p}\">GET /api/compliance/status</a>)</span></p><ul class=\"counts\" data-testid=\"status-counts\">",
        esc(&period.label),
        period_form(ROOT, &period.label, now),
        badge(overall),
        all.len(),
    );
    for s in controls::STATUSES {
        let n = statuses.iter().filter(|x| *x == s).count();
        let _ = write!(
            h,
            "<li data-testid=\"count-{s}\" data-count=\"{n}\">{} {n}</li>",
            badge(s)
        );
    }
    let stale = all.iter().filter(|c| shown_status(c) == "stale").count();
    let _ = write!(h, "<li data-testid=\"count-stale\" data-count=\"{stale}\">{} {stale} <span class=\"hint\">(of not tested)</span></li></ul>", badge("stale"));
    if v.can(Perm::Operate) {
        let _ = write!(
            h,
            "<form method=\"post\" action=\"{ROOT}/checks/run\" class=\"inline\" data-action=\"run-checks\" data-testid=\"run-checks-form\">{}<input type=\"hidden\" name=\"period\" value=\"{}\"><button type=\"submit\">Run checks for {}</button></form>",
            v.csrf_field(),
            esc(&period.label),
            esc(&period.label)
        );
    }
    h.push_str("</section>");

    // Categories.
    h.push_str("<section aria-labelledby=\"h-cat\" class=\"card\"><h2 id=\"h-cat\">By category</h2><div class=\"scroll\" tabindex=\"0\" role=\"region\" aria-label=\"By category, scrollable\"><table data-testid=\"categories\"><thead><tr><th scope=\"col\">Category</th><th scope=\"col\">Status</th><th scope=\"col\">Controls passing</th></tr></thead><tbody>");
    for cat in CATEGORIES {
        let st: Vec<&str> = all
            .iter()
            .filter(|c| {
                c["criteria"].as_array().is_some_and(|a| {
                    a.iter().any(|x| {
                        x.as_str()
                            .and_then(vouch_core::tsc::criterion)
                            .is_some_and(|k| k.category == *cat)
                    })
                })
            })
            .map(|c| c["status"].as_str().unwrap_or("error"))
            .collect();
        let passed = st.iter().filter(|s| **s == "pass").count();
        let _ = write!(
            h,
            "<tr data-testid=\"category-{cat}\"><th scope=\"row\">{}</th><td>{}</td><td class=\"num\">{passed} / {}</td></tr>",
            esc(&cat.replace('_', " ")),
            badge(controls::overall_status(&st)),
            st.len()
        );
    }
    h.push_str("</tbody></table></div></section>");

    // Criteria.
    h.push_str("<section aria-labelledby=\"h-crit\" class=\"card\"><h2 id=\"h-crit\">By Trust Services Criterion</h2><div class=\"scroll\" tabindex=\"0\" role=\"region\" aria-label=\"By Trust Services Criterion, scrollable\"><table data-testid=\"criteria\"><thead><tr><th scope=\"col\">Criterion</th><th scope=\"col\">Topic</th><th scope=\"col\">Status</th><th scope=\"col\">Controls</th></tr></thead><tbody>");
    let mut unmapped = 0;
    for k in vouch_core::tsc::CRITERIA {
        let cs = controls_of(&all, k.id);
        if cs.is_empty() {
            unmapped += 1;
        }
        let st = if cs.is_empty() {
            "no_evidence"
        } else {
            let r = controls::rollup(cs.iter().map(|c| c["status"].as_str().unwrap_or("error")));
            if r == "not_tested" && cs.iter().any(|c| shown_status(c) == "stale") {
                "stale"
            } else {
                r
            }
        };
        let passed = cs.iter().filter(|c| c["status"] == "pass").count();
        let _ = write!(
            h,
            "<tr data-testid=\"criterion-row\" data-criterion=\"{id}\" data-status=\"{st}\"><th scope=\"row\"><a href=\"{ROOT}/criteria/{id}?period={p}\">{id}</a></th><td>{}</td><td>{}</td><td class=\"num\">{}</td></tr>",
            esc(k.topic),
            badge(st),
            if cs.is_empty() { "no control mapped".to_string() } else { format!("{passed} / {} pass", cs.len()) },
            id = esc(k.id),
        );
    }
    let _ = write!(h, "</tbody></table></div><p class=\"hint\">{unmapped} of {} criteria have no control mapped: nothing is judged for them, so they show no evidence.</p></section>", vouch_core::tsc::CRITERIA.len());

    // Findings.
    let open = vouch_engine::checks::findings::list(store, Some("open"))?;
    h.push_str("<section aria-labelledby=\"h-find\" class=\"card\"><h2 id=\"h-find\">Open findings</h2><ul class=\"counts\" data-testid=\"findings-by-severity\">");
    for sev in ["critical", "high", "medium", "low"] {
        let n = open.iter().filter(|f| f["severity"] == sev).count();
        let _ = write!(
            h,
            "<li data-testid=\"severity-{sev}\" data-count=\"{n}\">{} {n}</li>",
            badge(sev)
        );
    }
    h.push_str("</ul>");
    let mut sorted: Vec<&Value> = open.iter().collect();
    let rank = |f: &Value| match f["severity"].as_str() {
        Some("critical") => 0,
        Some("high") => 1,
        Some("medium") => 2,
        _ => 3,
    };
    sorted.sort_by_key(|f| (!overdue(f, now), rank(f)));
    let overdue_n = sorted.iter().filter(|f| overdue(f, now)).count();
    let _ = write!(h, "<p><span data-testid=\"findings-overdue\" data-count=\"{overdue_n}\">{overdue_n} overdue</span> · <a href=\"{ROOT}/findings\">all findings</a></p>");
    h.push_str(&findings_table(&sorted, now, "findings-open"));
    h.push_str("</section>");

    // Incidents.
    let incidents = vouch_engine::incidents::list(
        store,
        &vouch_engine::incidents::Filter {
            status: Some("open".into()),
            ..Default::default()
        },
        now,
    )?;
    let _ = write!(h, "<section aria-labelledby=\"h-inc\" class=\"card\"><h2 id=\"h-inc\">Open incidents</h2><p class=\"hint\">Response clocks as of {} (reload to refresh).</p>", now.format("%Y-%m-%d %H:%M UTC"));
    if incidents.is_empty() {
        h.push_str("<p data-testid=\"incidents-open\" data-count=\"0\">No open incidents.</p>");
    } else {
        let _ = write!(h, "<div class=\"scroll\" tabindex=\"0\" role=\"region\" aria-label=\"Open incidents, scrollable\"><table data-testid=\"incidents-open\" data-count=\"{}\"><thead><tr><th scope=\"col\">Incident</th><th scope=\"col\">Severity</th><th scope=\"col\">Status</th><th scope=\"col\">Detected</th><th scope=\"col\">Response SLA</th></tr></thead><tbody>", incidents.len());
        for i in &incidents {
            let clock = match (
                &i.sla.responded_at,
                vouch_core::period::parse_instant(&i.sla.deadline),
            ) {
                (Some(r), _) => format!(
                    "responded {}{}",
                    when(r),
                    if i.breached(now) { " (late)" } else { "" }
                ),
                (None, Some(d)) if d > now => format!(
                    "<strong>{} left</strong> (due {})",
                    human((d - now).num_seconds()),
                    when(&i.sla.deadline)
                ),
                (None, Some(d)) => format!(
                    "<strong class=\"overdue\">breached {} ago</strong>",
                    human((now - d).num_seconds())
                ),
                (None, None) => esc(&i.sla.deadline),
            };
            let _ = write!(
                h,
                "<tr data-testid=\"incident-row\" data-incident-id=\"{}\" data-breached=\"{}\"><td><a href=\"/api/compliance/incidents/{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{clock}</td></tr>",
                esc(&i.id), i.breached(now), url(&i.id), esc(&i.title), badge(&i.severity), badge(&i.status), when(&i.detected_at)
            );
        }
        h.push_str("</tbody></table></div>");
    }
    h.push_str("</section>");

    // Ledger integrity.
    let head = store.head()?;
    let cp = app.ledger.latest_checkpoint()?;
    let last_verify = vouch_engine::jobs::integrity_log(store, 1)?
        .into_iter()
        .next();
    let _ = write!(h, "<section aria-labelledby=\"h-led\" class=\"card\" data-testid=\"ledger-integrity\"><h2 id=\"h-led\">Ledger integrity</h2><dl class=\"facts\"><dt>Tree size</dt><dd data-testid=\"tree-size\" data-value=\"{0}\">{0} events</dd>", head.size);
    match &cp {
        Some(c) => {
            let age = vouch_core::period::parse_instant(&c.created_at)
                .map(|t| human((now - t).num_seconds()))
                .unwrap_or_default();
            let _ = write!(h, "<dt>Latest signed checkpoint</dt><dd data-testid=\"checkpoint-age\">size {}, {} ({age} ago) · <a href=\"/api/compliance/ledger/checkpoint\">checkpoint</a></dd>", c.size, when(&c.created_at));
        }
        None => h.push_str(
            "<dt>Latest signed checkpoint</dt><dd data-testid=\"checkpoint-age\">none yet</dd>",
        ),
    }
    match &last_verify {
        Some(l) => {
            let _ = write!(h, "<dt>Last verification</dt><dd data-testid=\"last-verification\" data-result=\"{}\">{} — {} ({} entries verified, {} errors)</dd>", jtext(&l["result"]), when(l["completed_at"].as_str().unwrap_or("")), badge(l["result"].as_str().unwrap_or("")), jtext(&l["rows_verified"]), jtext(&l["errors"]));
        }
        None => h.push_str("<dt>Last verification</dt><dd data-testid=\"last-verification\" data-result=\"none\">never (the verify-ledger job runs daily; <code>vouch ledger verify</code> by hand)</dd>"),
    }
    h.push_str("</dl>");
    let from = (now - Duration::days(29)).format("%Y-%m-%d").to_string();
    let to = now.format("%Y-%m-%d").to_string();
    let counts = super::daily_counts(store, &from, &to)?;
    let mut days: Vec<(String, u64)> = Vec::new();
    let mut d = now - Duration::days(29);
    while d.date_naive() <= now.date_naive() {
        let key = d.format("%Y-%m-%d").to_string();
        let n = counts
            .iter()
            .filter(|c| c.day == key)
            .map(|c| c.count)
            .sum();
        days.push((key, n));
        d += Duration::days(1);
    }
    h.push_str(&events_chart(&days));
    h.push_str("</section>");

    // Evidence freshness.
    h.push_str(
        "<section aria-labelledby=\"h-ev\" class=\"card\"><h2 id=\"h-ev\">Evidence freshness</h2>",
    );
    if config.evidence.is_empty() {
        h.push_str("<p data-testid=\"evidence-freshness\" data-count=\"0\">No evidence is defined in vouch.toml.</p>");
    } else {
        let _ = write!(h, "<div class=\"scroll\" tabindex=\"0\" role=\"region\" aria-label=\"Evidence freshness, scrollable\"><table data-testid=\"evidence-freshness\" data-count=\"{}\"><thead><tr><th scope=\"col\">Evidence</th><th scope=\"col\">Schedule</th><th scope=\"col\">Newest item (effective)</th><th scope=\"col\">State</th></tr></thead><tbody>", config.evidence.len());
        for e in &config.evidence {
            let (newest, item) = newest_item(store, &e.id)?;
            let state = match (newest, freshness(e.schedule.as_deref())) {
                (None, _) => "missing",
                (Some(t), Some(f)) if t < now - f => "stale",
                (Some(_), Some(_)) => "current",
                (Some(_), None) => "unscheduled",
            };
            let newest_cell = match (&newest, &item) {
                (Some(t), Some(i)) => format!(
                    "<a href=\"{ROOT}/evidence/{}\">{}</a>",
                    url(i["id"].as_str().unwrap_or("")),
                    t.format("%Y-%m-%d %H:%M UTC")
                ),
                _ => "—".into(),
            };
            let _ = write!(h, "<tr data-testid=\"freshness-row\" data-evidence-id=\"{}\" data-state=\"{state}\"><th scope=\"row\">{}<br><span class=\"hint\">{}</span></th><td>{}</td><td>{newest_cell}</td><td>{}</td></tr>", esc(&e.id), esc(&e.id), esc(&e.title), esc(e.schedule.as_deref().unwrap_or("on demand")), badge(state));
        }
        h.push_str("</tbody></table></div>");
    }
    h.push_str("</section>");

    // Jobs.
    h.push_str("<section aria-labelledby=\"h-jobs\" class=\"card\"><h2 id=\"h-jobs\">Job health</h2><div class=\"scroll\" tabindex=\"0\" role=\"region\" aria-label=\"Job health, scrollable\"><table data-testid=\"job-health\"><thead><tr><th scope=\"col\">Job</th><th scope=\"col\">Schedule (UTC)</th><th scope=\"col\">Last run</th><th scope=\"col\">Failures (last 20 runs)</th>");
    if v.can(Perm::Operate) {
        h.push_str("<th scope=\"col\">Action</th>");
    }
    h.push_str("</tr></thead><tbody>");
    for j in vouch_engine::jobs::JOBS {
        let runs = vouch_engine::jobs::runs(store, Some(j.name), 20)?;
        let failures = runs.iter().filter(|r| r.status == "failed").count();
        let last = match runs.first() {
            Some(r) => format!(
                "{} {}{}",
                badge(&r.status),
                when(r.finished_at.as_deref().unwrap_or(&r.started_at)),
                r.error
                    .as_deref()
                    .map(|e| format!("<br><span class=\"hint\">{}</span>", esc(e)))
                    .unwrap_or_default()
            ),
            None => "never".into(),
        };
        let _ = write!(h, "<tr data-testid=\"job-row\" data-job=\"{n}\" data-failures=\"{failures}\"><th scope=\"row\">{n}<br><span class=\"hint\">{}</span></th><td><code>{}</code></td><td>{last}</td><td class=\"num\">{failures}</td>", esc(j.description), esc(j.schedule), n = esc(j.name));
        if v.can(Perm::Operate) {
            let _ = write!(h, "<td><form method=\"post\" action=\"{ROOT}/jobs/{}/run\" data-action=\"run-job\" data-testid=\"run-job-form\">{}<button type=\"submit\">Run now<span class=\"sr\">: {n}</span></button></form></td>", url(j.name), v.csrf_field(), n = esc(j.name));
        }
        h.push_str("</tr>");
    }
    h.push_str("</tbody></table></div></section>");
    Ok(page("Compliance overview", Some(v), "overview", ok, &h))
}
