//! Control effectiveness over time (`GET /admin/compliance/effectiveness`): each
//! control's status for every month of the audit period, from the check results stored
//! at the time — as of the month's packet when one was generated (exactly what the
//! packet showed, as `vouch-packet`'s `rules::section` reads it), otherwise the latest
//! stored results for that month — never recomputed with today's checks; and the days
//! each control had no fresh evidence. Plotted as inline SVG (a status grid and the share
//! of controls passing), with the same figures in a table.

use super::overview::freshness;
use super::{badge, blocking, esc, page, url, Page, Viewer, ROOT};
use crate::error::ApiError;
use crate::extract::Caller;
use crate::App;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use chrono::{DateTime, Datelike, Duration, SubsecRound, Utc};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use vouch_core::period::Period;
use vouch_engine::checks::controls;

/// One month of the audit period.
struct Month {
    period: Period,
    /// `packet of …` or `latest stored results`.
    source: String,
    /// control id → status.
    status: BTreeMap<String, String>,
    /// control id → days without fresh evidence (None: nothing scheduled to judge by).
    stale_days: BTreeMap<String, Option<u32>>,
    /// Days of the month up to today.
    days: u32,
}

fn months(audit: &Period, now: DateTime<Utc>) -> Vec<Period> {
    let mut out = Vec::new();
    let mut t = audit.start;
    while t < audit.end && t <= now {
        if let Ok(p) = Period::parse(&format!("{}-{:02}", t.year(), t.month()), now) {
            t = p.end;
            out.push(p);
        } else {
            break;
        }
    }
    out
}

/// Effective times of a definition's successful items, sorted.
fn item_times(store: &vouch_store::Store, id: &str) -> Result<Vec<DateTime<Utc>>, ApiError> {
    let items = vouch_engine::evidence::list(
        store,
        &vouch_engine::evidence::ListFilter {
            evidence_id: Some(id.to_string()),
            period: None,
            limit: None,
        },
    )
    .map_err(vouch_engine::Error::from)?;
    let mut t: Vec<_> = items
        .iter()
        .filter(|i| i.ok())
        .filter_map(|i| vouch_core::checks::parse_time(&i.record["effective_at"]))
        .collect();
    t.sort();
    Ok(t)
}

/// Whether some item was fresh at `at`: effective at or before it, within the window.
fn fresh_at(times: &[DateTime<Utc>], at: DateTime<Utc>, window: Duration) -> bool {
    let i = times.partition_point(|t| *t <= at);
    i > 0 && times[i - 1] >= at - window
}

fn symbol(status: &str) -> &'static str {
    match status {
        "pass" => "✓",
        "fail" => "✗",
        "error" => "!",
        "no_evidence" => "∅",
        "not_tested" | "stale" => "?",
        "not_applicable" => "–",
        _ => "·",
    }
}

fn compute(app: &App, audit: &Period, now: DateTime<Utc>) -> Result<Vec<Month>, ApiError> {
    let store = &app.store;
    let config = &app.config;
    let mut times: BTreeMap<String, (Vec<DateTime<Utc>>, Option<Duration>)> = BTreeMap::new();
    let mut out = Vec::new();
    for m in months(audit, now) {
        let packet = store.query(
            "SELECT generated_at FROM packets WHERE period_start = $1 AND period_end = $2 ORDER BY generated_at DESC LIMIT 1",
            &[vouch_core::event::format_timestamp(&m.start).into(), vouch_core::event::format_timestamp(&m.end).into()],
        )?;
        let generated = packet
            .first()
            .and_then(|r| vouch_core::period::parse_instant(&r.text(0)));
        let (cs, source) = match generated {
            Some(g) => {
                let at = vouch_core::event::format_timestamp(
                    &(g.trunc_subsecs(0) + Duration::microseconds(999_999)),
                );
                (
                    controls::evaluate(config, store, &m, g, Some(&at))?,
                    format!("as of its packet ({})", g.format("%Y-%m-%d %H:%M UTC")),
                )
            }
            None => (
                controls::evaluate(config, store, &m, now, None)?,
                "latest stored results (no packet)".to_string(),
            ),
        };
        let last_day = m.end.min(now);
        let days = u32::try_from((last_day - m.start).num_days().max(0)).unwrap_or(0)
            + u32::from(last_day < m.end && last_day > m.start);
        let mut status = BTreeMap::new();
        let mut stale_days = BTreeMap::new();
        for c in &cs {
            let id = c["id"].as_str().unwrap_or_default().to_string();
            status.insert(id.clone(), super::overview::shown_status(c).to_string());
            let mut judged = false;
            let mut stale = 0u32;
            let evid: Vec<String> = c["evidence"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|e| e.as_str().map(str::to_string))
                .collect();
            for e in &evid {
                if !times.contains_key(e) {
                    let window =
                        freshness(config.evidence_def(e).and_then(|d| d.schedule.as_deref()));
                    times.insert(e.clone(), (item_times(store, e)?, window));
                }
            }
            for d in 0..days {
                let end_of_day = (m.start + Duration::days(i64::from(d) + 1)).min(now);
                let mut fresh = true;
                for e in &evid {
                    if let Some((t, Some(w))) = times.get(e) {
                        judged = true;
                        if !fresh_at(t, end_of_day, *w) {
                            fresh = false;
                        }
                    }
                }
                if !fresh {
                    stale += 1;
                }
            }
            stale_days.insert(id, judged.then_some(stale));
        }
        out.push(Month {
            period: m,
            source,
            status,
            stale_days,
            days,
        });
    }
    Ok(out)
}

/// The status grid: one row per control, one column per month; each cell's colour, a
/// symbol (never colour alone) and a tooltip with the status and its source.
fn grid(ids: &[(String, String)], months: &[Month]) -> String {
    let (label_w, cell_w, cell_h, top) = (170.0, 52.0, 26.0, 24.0);
    let w = label_w + cell_w * months.len() as f64 + 4.0;
    let h = top + cell_h * ids.len() as f64 + 4.0;
    let mut s = format!(
        "<svg class=\"chart grid\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-labelledby=\"grid-t\" data-testid=\"effectiveness-grid\"><title id=\"grid-t\">Status of each control per month (✓ pass, ✗ fail, ! error, ∅ no evidence, ? not tested or stale)</title>"
    );
    for (j, m) in months.iter().enumerate() {
        let _ = write!(
            s,
            "<text class=\"axis\" x=\"{:.1}\" y=\"16\" text-anchor=\"middle\">{}</text>",
            label_w + cell_w * j as f64 + cell_w / 2.0,
            esc(&m.period.label)
        );
    }
    for (i, (id, _)) in ids.iter().enumerate() {
        let y = top + cell_h * i as f64;
        let short: String = id.chars().take(24).collect();
        let _ = write!(
            s,
            "<text class=\"label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            label_w - 6.0,
            y + cell_h / 2.0 + 4.0,
            esc(&short)
        );
        for (j, m) in months.iter().enumerate() {
            let st_raw = m.status.get(id).map(String::as_str).unwrap_or("not_tested");
            let st = esc(st_raw);
            let st = st.as_str();
            let x = label_w + cell_w * j as f64;
            let _ = write!(
                s,
                "<g data-control=\"{}\" data-month=\"{}\" data-status=\"{st}\"><rect class=\"cell s-{st}\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"3\"><title>{}, {}: {} — {}</title></rect><text class=\"sym\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" aria-hidden=\"true\">{}</text></g>",
                esc(id),
                esc(&m.period.label),
                x + 2.0,
                y + 2.0,
                cell_w - 4.0,
                cell_h - 4.0,
                esc(id),
                esc(&m.period.label),
                esc(&st.replace('_', " ")),
                esc(&m.source),
                x + cell_w / 2.0,
                y + cell_h / 2.0 + 5.0,
                symbol(st)
            );
        }
    }
    s.push_str("</svg>");
    s
}

/// The share of controls passing per month, as a line.
fn pass_line(months: &[Month]) -> String {
    let (w, h, left, top) = (600.0, 160.0, 40.0, 10.0);
    let plot_w = w - left - 10.0;
    let plot_h = h - top - 30.0;
    let step = if months.len() > 1 {
        plot_w / (months.len() - 1) as f64
    } else {
        0.0
    };
    let mut s = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-labelledby=\"pass-t\" data-testid=\"effectiveness-pass-rate\"><title id=\"pass-t\">Share of controls passing per month</title>"
    );
    for pct in [0, 50, 100] {
        let y = top + plot_h * (1.0 - f64::from(pct) / 100.0);
        let _ = write!(
            s,
            "<line class=\"gridline\" x1=\"{left}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/><text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{pct}%</text>",
            w - 10.0,
            left - 4.0,
            y + 4.0
        );
    }
    let mut pts = Vec::new();
    for (j, m) in months.iter().enumerate() {
        let total = m.status.len().max(1);
        let pass = m.status.values().filter(|s| *s == "pass").count();
        let pct = pass as f64 * 100.0 / total as f64;
        let x = left + step * j as f64;
        let y = top + plot_h * (1.0 - pct / 100.0);
        pts.push((x, y, pct, pass, m.status.len(), &m.period.label));
    }
    let line: Vec<String> = pts
        .iter()
        .map(|p| format!("{:.1},{:.1}", p.0, p.1))
        .collect();
    let _ = write!(
        s,
        "<polyline class=\"line\" points=\"{}\"/>",
        line.join(" ")
    );
    for (x, y, pct, pass, total, label) in &pts {
        let _ = write!(
            s,
            "<circle class=\"dot\" cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"4\"><title>{}: {pass} of {total} controls pass ({pct:.0}%)</title></circle><text class=\"axis\" x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            esc(label),
            h - 8.0,
            esc(label.get(5..).unwrap_or(label))
        );
    }
    s.push_str("</svg>");
    s
}

/// `GET /admin/compliance/effectiveness[?audit=START..END]`.
pub async fn effectiveness(
    State(app): State<App>,
    Caller(who): Caller,
    headers: HeaderMap,
    uri: Uri,
) -> Page {
    let v = Viewer::new(who, &headers);
    let q = super::query(&uri);
    let now = Utc::now();
    let audit = super::audit_period(&q, now)?;
    let body = blocking(move || {
        let ms = compute(&app, &audit, now)?;
        let ids: Vec<(String, String)> = app
            .config
            .controls
            .iter()
            .map(|c| (c.id.clone(), c.title.clone()))
            .collect();
        let mut h = format!(
            "<p>Audit period <strong data-testid=\"audit-period\">{}</strong> ({} to {}). Each month shows the stored check results as they were: as of the month's signed packet when one was generated, otherwise the latest results stored for that month. Statuses are never recomputed with today's checks.</p>\
<form method=\"get\" action=\"{ROOT}/effectiveness\" class=\"period\" data-testid=\"audit-form\"><label for=\"audit\">Audit period</label><input id=\"audit\" name=\"audit\" value=\"{}\" placeholder=\"2026 or 2025-07-01..2026-07-01\"><button type=\"submit\">Show</button></form>",
            esc(&audit.label),
            audit.start.format("%Y-%m-%d"),
            (audit.end - Duration::days(1)).format("%Y-%m-%d"),
            esc(&audit.label)
        );
        if ids.is_empty() || ms.is_empty() {
            h.push_str("<p data-testid=\"effectiveness-empty\">No controls are configured, or the audit period has not started.</p>");
            return Ok(page("Control effectiveness", Some(&v), "effectiveness", None, &h));
        }
        let _ = write!(h, "<section aria-labelledby=\"h-grid\" class=\"card\"><h2 id=\"h-grid\">Status per month</h2><div class=\"scroll\" tabindex=\"0\" role=\"region\" aria-label=\"Status per month, scrollable\">{}</div></section>", grid(&ids, &ms));
        let _ = write!(h, "<section aria-labelledby=\"h-line\" class=\"card\"><h2 id=\"h-line\">Controls passing</h2><div class=\"scroll\" tabindex=\"0\" role=\"region\" aria-label=\"Controls passing, scrollable\">{}</div></section>", pass_line(&ms));
        h.push_str("<section aria-labelledby=\"h-tab\" class=\"card\"><h2 id=\"h-tab\">Table: status and days without fresh evidence</h2><div class=\"scroll\" tabindex=\"0\" role=\"region\" aria-label=\"Table: status and days without fresh evidence, scrollable\"><table data-testid=\"effectiveness-table\"><thead><tr><th scope=\"col\">Control</th>");
        for m in &ms {
            let _ = write!(h, "<th scope=\"col\"><abbr title=\"{}\">{}</abbr></th>", esc(&m.source), esc(&m.period.label));
        }
        h.push_str("</tr></thead><tbody>");
        for (id, title) in &ids {
            let _ = write!(h, "<tr data-testid=\"effectiveness-row\" data-control=\"{}\"><th scope=\"row\"><a href=\"{ROOT}/controls/{}\">{}</a><br><span class=\"hint\">{}</span></th>", esc(id), url(id), esc(id), esc(title));
            for m in &ms {
                let st_raw = m.status.get(id).map(String::as_str).unwrap_or("not_tested");
            let st = esc(st_raw);
            let st = st.as_str();
                let stale = match m.stale_days.get(id).copied().flatten() {
                    Some(0) => "fresh every day".to_string(),
                    Some(n) => format!("<strong>{n} of {} d</strong> without fresh evidence", m.days),
                    None => "no scheduled evidence".to_string(),
                };
                let _ = write!(h, "<td data-month=\"{}\" data-status=\"{st}\"><a href=\"{ROOT}/controls/{}?period={}\">{}</a><br><span class=\"hint\">{stale}</span></td>", esc(&m.period.label), url(id), url(&m.period.label), badge(st));
            }
            h.push_str("</tr>");
        }
        h.push_str("</tbody></table></div><p class=\"hint\">A day counts as without fresh evidence when any scheduled evidence of the control had no item effective within its freshness window (daily 2 days, weekly 8, monthly 32, quarterly 93, yearly 366) at the end of that day.</p></section>");
        Ok(page("Control effectiveness", Some(&v), "effectiveness", None, &h))
    })
    .await?;
    Ok(super::html(StatusCode::OK, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freshness_window_is_inclusive_of_its_start() {
        let t = |d: u32| chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 3, d, 0, 0, 0).unwrap();
        let times = vec![t(1), t(10)];
        assert!(fresh_at(&times, t(3), Duration::days(2)));
        assert!(!fresh_at(&times, t(4), Duration::days(2)));
        assert!(fresh_at(&times, t(10), Duration::days(2)));
        assert!(!fresh_at(
            &times,
            t(1) - Duration::seconds(1),
            Duration::days(2)
        ));
    }
}
