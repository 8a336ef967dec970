//! Self-audit: vouch's own events (failed authentications, denials, reads of evidence and
//! packets, changes of state) appended to the ledger it keeps.

use crate::{limiter, routes, App};
use serde_json::{json, Value};

/// The failures of a closed window after its first, as one event.
fn aggregate_event(a: &limiter::Aggregate) -> Value {
    json!({
        "timestamp": vouch_core::event::format_timestamp(&chrono::Utc::now()),
        "action": "auth.failures", "category": "authentication", "result": "failure",
        "actor": {"id": "anonymous", "email": null, "ip": a.ip},
        "resource": {"type": "api", "id": routes::BASE, "name": null},
        "details": {"description": format!(
            "{} more failed authentication(s) from {} between {} and {}{}",
            a.count, a.ip,
            vouch_core::event::format_timestamp(&a.from),
            vouch_core::event::format_timestamp(&a.to),
            if a.limited > 0 { format!(" ({} refused by the rate limit)", a.limited) } else { String::new() }
        )},
        "metadata": {
            "source": "vouch-serve", "count": a.count, "rate_limited": a.limited,
            "window_start": vouch_core::event::format_timestamp(&a.from),
            "window_end": vouch_core::event::format_timestamp(&a.to),
            "usernames": a.names, "more_usernames": a.more_names,
        },
    })
}

/// Append the limiter's aggregates of failed authentications (`all`: the open windows
/// too, at shutdown) and wait for the commit.
pub async fn log_aggregates(app: &App, all: bool) {
    let events: Vec<_> = app
        .limiter
        .drain(all)
        .iter()
        .filter_map(|a| vouch_core::event::Event::from_value(aggregate_event(a)).ok())
        .collect();
    if events.is_empty() {
        return;
    }
    match app.ledger.submit(events) {
        Ok(rx) => {
            if let Ok(Err(e)) = rx.await {
                tracing::error!(error = %e, "failed-authentication counts were not appended");
            }
        }
        Err(e) => tracing::error!(error = %e, "failed-authentication counts were not appended"),
    }
}

/// Append one self-audit event (in the background; a failure is logged): `action` by
/// `actor` from `ip` on `resource`, answered with HTTP `status`.
#[allow(clippy::too_many_arguments)]
pub fn audit(
    app: &App,
    actor: &str,
    ip: &str,
    action: &str,
    rtype: &str,
    resource: &str,
    result: &str,
    category: &str,
    status: u16,
) {
    let ev = json!({
        "timestamp": vouch_core::event::format_timestamp(&chrono::Utc::now()),
        "action": action, "category": category, "result": result,
        "actor": {"id": actor, "email": null, "ip": ip},
        "resource": {"type": rtype, "id": resource, "name": null},
        "details": {"description": format!("{action} → HTTP {status}")},
        "metadata": {"status": status, "source": "vouch-serve"},
    });
    match vouch_core::event::Event::from_value(ev) {
        Ok(e) => {
            if let Ok(rx) = app.ledger.submit(vec![e]) {
                tokio::spawn(async move {
                    if let Ok(Err(e)) = rx.await {
                        tracing::error!(error = %e, "self-audit event was not appended");
                    }
                });
            }
        }
        Err(e) => tracing::error!(error = %e, "self-audit event is invalid"),
    }
}
