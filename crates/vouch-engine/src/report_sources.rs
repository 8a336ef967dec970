//! The seam between reports and the crates that own incidents and access-review
//! campaigns. `vouch-reports` does not depend on `vouch-incidents` or `vouch-signoff`;
//! the engine, which depends on all three, hands reports their data here, in the shapes
//! documented on [`ReportSources`].

use crate::reports::ReportSources;
use crate::Config;
use serde_json::{json, Value};
use vouch_core::period::Period;
use vouch_store::Store;

/// Reports' sources over `vouch-incidents` and `vouch-signoff::review`.
pub struct EngineSources<'a> {
    config: &'a Config,
    /// Incidents as they stood at this time (the report's generation time).
    as_of: chrono::DateTime<chrono::Utc>,
}

/// The incident and access-review sources reports read, as of `as_of`.
pub fn sources(config: &Config, as_of: chrono::DateTime<chrono::Utc>) -> EngineSources<'_> {
    EngineSources { config, as_of }
}

impl ReportSources for EngineSources<'_> {
    fn incidents(&self, store: &Store, period: &Period) -> Result<Option<Value>, String> {
        let r = crate::incidents::period_report(store, self.config, period, self.as_of)
            .map_err(|e| e.to_string())?;
        let incidents: Vec<Value> = r
            .incidents
            .iter()
            .map(|i| {
                json!({
                    "id": i["id"], "title": i["title"], "severity": i["severity"],
                    "status": i["status"], "detected_at": i["detected_at"],
                    "response_due": i["response_deadline"],
                    "responded_at": i["sla"]["responded_at"], "breached": i["breached"],
                    "closed_at": i["ended_at"], "lessons_learned": i["lessons_learned"],
                    "assignee": i["assignee"], "source": i["source"],
                })
            })
            .collect();
        let sla: Vec<Value> = r
            .by_severity
            .iter()
            .map(|s| {
                json!({
                    "severity": s.severity,
                    "response_minutes": s.response_time_secs / 60,
                    "total": s.total, "met": s.met, "breached": s.breached, "open": s.open,
                    "pending": s.pending, "mean_response_secs": s.mean_response_secs,
                })
            })
            .collect();
        Ok(Some(
            json!({"incidents": incidents, "sla": sla, "as_of": r.as_of}),
        ))
    }

    fn access_reviews(&self, store: &Store, period: &Period) -> Result<Option<Value>, String> {
        let views = crate::signoff::review::in_period(store, period).map_err(|e| e.to_string())?;
        let campaigns: Vec<Value> = views
            .iter()
            .map(|v| {
                let c = &v.campaign;
                let decisions: Vec<Value> = v
                    .entries
                    .iter()
                    .filter(|e| e.tag != "removed")
                    .map(|e| {
                        json!({
                            "user": e.account,
                            "role": e.population,
                            "decision": e.decision.as_deref().unwrap_or("undecided"),
                            "decided_by": e.decided_by, "decided_at": e.decided_at,
                            "note": e.note, "tag": e.tag, "flags": e.flags,
                        })
                    })
                    .collect();
                json!({
                    "id": c.id, "title": c.title, "status": c.status,
                    "opened_at": c.started_at, "closed_at": c.ended_at,
                    "document_sha256": c.document_sha256,
                    "decisions": decisions,
                })
            })
            .collect();
        Ok(Some(json!({ "campaigns": campaigns })))
    }
}
