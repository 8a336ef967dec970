//! The upcoming audit timeline (`GET /admin/compliance/timeline`): the next monthly
//! packet, attestation windows (open, closing, missed) with the sign form for those
//! allowed, access reviews in progress, evidence about to go stale, and the end of the
//! audit period — one list sorted by date, then each part in detail.

use super::overview::{freshness, newest_item};
use super::{badge, blocking, esc, human, page, url, when, Page, Viewer, ROOT};
use crate::error::ApiError;
use crate::extract::Caller;
use crate::roles::Perm;
use crate::App;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use chrono::{DateTime, Duration, Timelike, Utc};
use std::fmt::Write as _;
use vouch_engine::signoff::attest::Signoffs;

/// The next time a five-field cron schedule fires after `now` (minute steps, within
/// 62 days — the monthly job's longest gap).
pub fn next_run(schedule: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let cron = vouch_engine::jobs::cron::Cron::parse(schedule).ok()?;
    let mut t = now.with_second(0)?.with_nanosecond(0)? + Duration::minutes(1);
    // Whole hours first when the minute field is fixed would be faster; 62 days of
    // minutes is ~90k cheap matches.
    for _ in 0..(62 * 24 * 60) {
        if cron.matches(t) {
            return Some(t);
        }
        t += Duration::minutes(1);
    }
    None
}

fn relative(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let s = (t - now).num_seconds();
    if s >= 0 {
        format!("in {}", human(s))
    } else {
        format!("{} ago", human(-s))
    }
}

/// `GET /admin/compliance/timeline`.
pub async fn timeline(
    State(app): State<App>,
    Caller(who): Caller,
    headers: HeaderMap,
    uri: Uri,
) -> Page {
    let v = Viewer::new(who, &headers);
    let q = super::query(&uri);
    let now = Utc::now();
    let audit = super::audit_period(&q, now)?;
    let ok = q.get("ok").cloned();
    let body = blocking(move || {
        // (when, kind, text, testid)
        let mut events: Vec<(DateTime<Utc>, &str, String)> = Vec::new();
        let mut h = String::new();

        let packet_job = vouch_engine::jobs::job("generate-soc2-evidence");
        if let Some(t) = packet_job.and_then(|j| next_run(j.schedule, now)) {
            let month = vouch_core::period::Period::last_month(t);
            events.push((t, "packet", format!("Monthly evidence packet for {} (collect, check, sign, archive)", esc(&month.label))));
        }
        events.push((audit.end, "audit-end", format!("End of the audit period {}", esc(&audit.label))));

        // Attestations.
        let s = Signoffs { config: &app.config, store: app.store.clone(), ledger: &app.ledger, keys: &app.keys };
        let atts = s.list(None, None).map_err(vouch_engine::Error::from)?;
        let mut ah = String::new();
        let pending: Vec<_> = atts.iter().filter(|a| a.status != "signed").collect();
        if pending.is_empty() {
            ah.push_str("<p data-testid=\"attestations\" data-count=\"0\">No attestation window is open, overdue or missed.</p>");
        } else {
            let _ = write!(ah, "<div class=\"scroll\" tabindex=\"0\" role=\"region\" aria-label=\"Attestation windows, scrollable\"><table data-testid=\"attestations\" data-count=\"{}\"><thead><tr><th scope=\"col\">Attestation</th><th scope=\"col\">Status</th><th scope=\"col\">Window</th><th scope=\"col\">Signer role</th><th scope=\"col\">Sign</th></tr></thead><tbody>", pending.len());
            for a in &pending {
                let closes = vouch_core::period::parse_instant(&a.closes_at);
                let opens = vouch_core::period::parse_instant(&a.opens_at);
                let target = vouch_core::period::parse_instant(&a.target_at);
                let phase = match (opens, target, closes) {
                    (_, _, Some(c)) if c <= now => "missed or closed".to_string(),
                    (Some(o), _, _) if o > now => "not open yet".to_string(),
                    (_, Some(t), Some(c)) if t <= now => format!("closing {}", relative(c, now)),
                    (_, _, Some(c)) => format!("open, closes {}", relative(c, now)),
                    _ => String::new(),
                };
                if let Some(t) = target.filter(|t| *t > now) {
                    events.push((t, "attestation", format!("Attestation target: {}", esc(&a.title))));
                }
                if let Some(c) = closes.filter(|c| *c > now) {
                    events.push((c, "attestation", format!("Attestation window closes: {}", esc(&a.title))));
                }
                let form = if v.can(Perm::SignOff) && a.status != "missed" {
                    format!(
                        "<form method=\"post\" action=\"{ROOT}/attestations/{}/sign\" data-action=\"sign-attestation\" data-testid=\"sign-form\">{}\
<label for=\"op-{id}\">Opinion</label><select id=\"op-{id}\" name=\"opinion\"><option value=\"unqualified\">unqualified</option><option value=\"qualified\">qualified</option></select>\
<button type=\"submit\">Sign as {}</button></form>{}",
                        url(&a.id),
                        v.csrf_field(),
                        esc(&v.who.actor),
                        if a.exceptions.is_empty() { String::new() } else { format!("<p class=\"hint\">Exceptions: {}</p>", esc(&a.exceptions.join("; "))) },
                        id = esc(&a.id),
                    )
                } else {
                    "—".to_string()
                };
                let _ = write!(ah, "<tr data-testid=\"attestation-row\" data-attestation-id=\"{}\" data-status=\"{}\"><th scope=\"row\"><a href=\"/api/compliance/attestations/{}\">{}</a></th><td>{} {}</td><td>opens {}<br>target {}<br>closes {}</td><td>{}</td><td>{form}</td></tr>",
                    esc(&a.id), esc(&a.status), url(&a.id), esc(&a.title), badge(&a.status), esc(&phase), when(&a.opens_at), when(&a.target_at), when(&a.closes_at), esc(&a.signer_role));
            }
            ah.push_str("</tbody></table></div>");
        }

        // Access reviews.
        let reviews = vouch_engine::signoff::review::list(&app.store, Some("in_progress")).map_err(vouch_engine::Error::from)?;
        let mut rh = String::new();
        if reviews.is_empty() {
            rh.push_str("<p data-testid=\"access-reviews\" data-count=\"0\">No access review is in progress.</p>");
        } else {
            let _ = write!(rh, "<ul data-testid=\"access-reviews\" data-count=\"{}\">", reviews.len());
            for r in &reviews {
                let _ = write!(rh, "<li data-testid=\"access-review-row\" data-review-id=\"{}\"><a href=\"{ROOT}/access-reviews/{}\">{}</a> — {} of {} entries still to decide (started {})</li>",
                    esc(&r.campaign.id), url(&r.campaign.id), esc(&r.campaign.title), r.summary.to_decide, r.summary.entries, when(r.campaign.started_at.as_deref().unwrap_or("")));
            }
            rh.push_str("</ul>");
        }

        // Evidence going stale within 14 days (or already stale).
        let mut eh = String::new();
        let mut soon = Vec::new();
        for e in &app.config.evidence {
            let Some(w) = freshness(e.schedule.as_deref()) else { continue };
            let (newest, _) = newest_item(&app.store, &e.id)?;
            match newest {
                Some(t) if t + w <= now + Duration::days(14) => soon.push((t + w, e)),
                None => soon.push((now, e)),
                _ => {}
            }
        }
        soon.sort_by_key(|(t, _)| *t);
        if soon.is_empty() {
            eh.push_str("<p data-testid=\"stale-soon\" data-count=\"0\">No evidence goes stale in the next 14 days.</p>");
        } else {
            let _ = write!(eh, "<ul data-testid=\"stale-soon\" data-count=\"{}\">", soon.len());
            for (t, e) in &soon {
                if *t > now {
                    events.push((*t, "evidence", format!("Evidence {} goes stale", esc(&e.id))));
                }
                let _ = write!(eh, "<li data-testid=\"stale-row\" data-evidence-id=\"{}\">{} ({}) — {}</li>", esc(&e.id), esc(&e.id), esc(e.schedule.as_deref().unwrap_or("")),
                    if *t <= now { "<strong class=\"overdue\">stale now</strong>".to_string() } else { format!("stale {} ({})", relative(*t, now), t.format("%Y-%m-%d %H:%M UTC")) });
            }
            eh.push_str("</ul>");
        }

        events.sort_by_key(|e| e.0);
        h.push_str("<section aria-labelledby=\"h-next\" class=\"card\"><h2 id=\"h-next\">Coming up</h2><ol class=\"timeline\" data-testid=\"timeline\">");
        for (t, kind, text) in &events {
            let _ = write!(h, "<li data-testid=\"timeline-item\" data-kind=\"{kind}\"><time datetime=\"{}\">{}</time> <span class=\"hint\">({})</span> — {text}</li>", t.to_rfc3339(), t.format("%Y-%m-%d %H:%M UTC"), relative(*t, now));
        }
        h.push_str("</ol></section>");
        let _ = write!(h, "<section aria-labelledby=\"h-att\" class=\"card\"><h2 id=\"h-att\">Attestation windows</h2>{ah}</section>");
        let _ = write!(h, "<section aria-labelledby=\"h-rev\" class=\"card\"><h2 id=\"h-rev\">Access reviews in progress</h2>{rh}</section>");
        let _ = write!(h, "<section aria-labelledby=\"h-stale\" class=\"card\"><h2 id=\"h-stale\">Evidence about to go stale</h2>{eh}</section>");
        Ok::<_, ApiError>(page("Audit timeline", Some(&v), "timeline", ok.as_deref(), &h))
    })
    .await?;
    Ok(super::html(StatusCode::OK, body))
}
