//! The `incident` report: the period's incidents with SLA performance per severity, open
//! and breached ones and lessons learned, from [`crate::ReportSources::incidents`].
//! Without that source the report is `not_available` and says so: it never reads as "no
//! incidents". With the source and no incident in the period the status is
//! `no_incidents`, never `complete`: a quiet period does not show that response works.

use crate::{Built, Ctx, Error, Table};
use serde_json::{json, Map, Value};
use vouch_core::period::Period;

/// Build the incident report.
pub fn build(ctx: &Ctx<'_>, period: &Period) -> Result<Built, Error> {
    let data = ctx
        .sources
        .incidents(ctx.store, period)
        .map_err(|e| Error::Source(format!("incidents: {e}")))?;
    let mut body = Map::new();
    let Some(v) = data else {
        body.insert(
            "incidents".into(),
            json!({"available": false, "reason": "no incident store is wired to reports"}),
        );
        return Ok(Built {
            body,
            status: "not_available".into(),
            summary: vec!["Status: not_available".into()],
            notes: vec!["Incidents: the data source is not available in this vouch (no incident store is wired to reports). This report says nothing about whether incidents happened in the period or how they were handled.".into()],
            tables: Vec::new(),
            csv: None,
        });
    };
    // Each incident's `result` in the reports' common vocabulary: its response SLA
    // breached `fail`, met `pass`, not measured yet `not_tested`.
    let mut v = v;
    for i in v["incidents"].as_array_mut().into_iter().flatten() {
        let r = crate::item_result_incident(i["breached"] == true, !i["responded_at"].is_null());
        i["result"] = json!(r);
    }
    let incidents: Vec<&Value> = v["incidents"].as_array().into_iter().flatten().collect();
    let mut table = Table::new(
        "Incidents of the period",
        &[
            "id",
            "title",
            "severity",
            "status",
            "detected_at",
            "response_due",
            "responded_at",
            "breached",
            "closed_at",
            "lessons_learned",
            "result",
        ],
        "no incident was recorded in the period",
    );
    for i in &incidents {
        table.push(&[
            i["id"].clone(),
            i["title"].clone(),
            i["severity"].clone(),
            i["status"].clone(),
            i["detected_at"].clone(),
            i["response_due"].clone(),
            i["responded_at"].clone(),
            i["breached"].clone(),
            i["closed_at"].clone(),
            i["lessons_learned"].clone(),
            i["result"].clone(),
        ]);
    }
    let mut sla = Table::new(
        "Response-time SLA by severity",
        &[
            "severity",
            "response_minutes",
            "total",
            "met",
            "breached",
            "open",
        ],
        "no SLA data",
    );
    for s in v["sla"].as_array().into_iter().flatten() {
        sla.push(&[
            s["severity"].clone(),
            s["response_minutes"].clone(),
            s["total"].clone(),
            s["met"].clone(),
            s["breached"].clone(),
            s["open"].clone(),
        ]);
    }
    let breached = incidents.iter().filter(|i| i["breached"] == true).count();
    let open = incidents
        .iter()
        .filter(|i| !matches!(i["status"].as_str(), Some("closed" | "dismissed")))
        .count();
    // Not breached and not responded to: the deadline has not come yet. Such an
    // incident's SLA is not measured, so the report cannot be `complete`.
    let pending = incidents
        .iter()
        .filter(|i| i["breached"] != true && i["responded_at"].is_null())
        .count();
    let mut notes = Vec::new();
    // No incident is not evidence that incident response works: nothing was tested.
    let status = if incidents.is_empty() {
        notes.push("No incident was recorded in the period. This says nothing about whether incident response works: no incident was handled, so no response time was measured. Show a tabletop exercise or test incident for this period instead.".to_string());
        "no_incidents"
    } else if breached > 0 {
        "breaches"
    } else if pending > 0 {
        notes.push(format!("{pending} incident(s) had not been responded to when this report was generated (their response deadline had not passed): their SLA is not measured yet, so this report does not say every deadline was met."));
        "responses_pending"
    } else {
        "complete"
    };
    body.insert("incidents".into(), json!({"available": true, "data": v}));
    Ok(Built {
        body,
        status: status.into(),
        summary: vec![
            format!("Status: {status}"),
            format!(
                "{} incident(s) in the period, {open} still open, {breached} response deadline(s) breached, {pending} response(s) pending",
                incidents.len()
            ),
        ],
        notes,
        tables: vec![table, sla],
        csv: Some(0),
    })
}
