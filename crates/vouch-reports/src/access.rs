//! The `access_review` report: users, their roles and how they got them, read from the
//! period's evidence populations (items mapped to the logical-access criteria CC6.1–CC6.3
//! whose rows name a user and a role or group), and the period's access-review campaigns
//! with their decisions from [`crate::ReportSources::access_reviews`]. Without that
//! source, or without a campaign completed in the period, the report says so and is
//! `incomplete`.

use crate::{Built, Ctx, Error, Table};
use serde_json::{json, Map, Value};
use vouch_core::period::Period;

/// The criteria whose evidence holds access populations.
pub const ACCESS_CRITERIA: &[&str] = &["CC6.1", "CC6.2", "CC6.3"];

const USER_KEYS: &[&str] = &[
    "email",
    "user",
    "username",
    "user_name",
    "usename",
    "login",
    "member",
    "grantee",
    "principal",
    "UserName",
    "user_email",
    "account",
];
const ROLE_KEYS: &[&str] = &[
    "role",
    "role_name",
    "granted_role",
    "rolname",
    "permission",
    "privilege",
    "RoleName",
    "group_name",
    "group",
    "GroupName",
    "roles",
    "groups",
];

fn first<'a>(row: &'a Value, keys: &'static [&'static str]) -> Option<(&'static str, &'a Value)> {
    keys.iter().find_map(|k| {
        row.get(*k)
            .filter(|v| !v.is_null() && v.as_str() != Some(""))
            .map(|v| (*k, v))
    })
}

/// How a row says the user holds the role: through a group, a grantor, a date, or as
/// the evidence lists it.
fn how(row: &Value, role_key: &str, evidence_id: &str, title: &str) -> String {
    let given = |k: &str| {
        row.get(k)
            .filter(|v| !v.is_null() && v.as_str() != Some(""))
            .map(crate::cell)
    };
    let mut parts = Vec::new();
    if role_key == "group_name" || role_key == "group" {
        parts.push("group membership".to_string());
    } else if let Some(g) = given("group_name").or_else(|| given("group")) {
        parts.push(format!("member of group {g}"));
    }
    for (k, label) in [
        ("granted_by", "granted by"),
        ("grantor", "granted by"),
        ("via", "via"),
        ("granted_at", "on"),
        ("source", "source"),
    ] {
        if let Some(v) = given(k) {
            parts.push(format!("{label} {v}"));
        }
    }
    if parts.is_empty() {
        parts.push(format!("listed in {evidence_id} ({title})"));
    }
    parts.join(", ")
}

/// Build the access-review report.
pub fn build(ctx: &Ctx<'_>, period: &Period) -> Result<Built, Error> {
    let blobs = vouch_evidence::blob_store(ctx.config);
    let items = vouch_evidence::list(
        ctx.store,
        &vouch_evidence::ListFilter {
            evidence_id: None,
            period: Some(period.clone()),
            limit: None,
        },
    )?;
    // The latest item of each evidence id: the population as last seen in the period.
    let mut seen = std::collections::BTreeSet::new();
    let mut populations = Vec::new();
    let mut entries = Vec::new();
    let mut table = Table::new(
        "Users, roles and how they got them",
        &["user", "role", "how", "evidence", "item"],
        "no user population in the period's evidence",
    );
    for i in items.iter().filter(|i| i.ok()) {
        let r = &i.record;
        let crit_ok = r["criteria"].as_array().is_some_and(|a| {
            a.iter()
                .any(|c| c.as_str().is_some_and(|c| ACCESS_CRITERIA.contains(&c)))
        });
        let eid = r["evidence_id"].as_str().unwrap_or("").to_string();
        if !crit_ok || seen.contains(&eid) {
            continue;
        }
        let Some(sha) = i.sha256() else { continue };
        let bytes = blobs
            .get(sha)
            .map_err(vouch_evidence::EvidenceError::from)?;
        let media = r["media_type"].as_str().unwrap_or("");
        let path = ctx
            .config
            .evidence_def(&eid)
            .and_then(|d| d.rows.clone())
            .filter(|_| media == "application/json");
        let Ok(rows) = vouch_evidence::rows::parse(&bytes, media, path.as_deref()) else {
            continue;
        };
        let title = r["title"].as_str().unwrap_or("");
        let mut users = std::collections::BTreeSet::new();
        let mut n = 0;
        for row in &rows {
            let (Some((_, u)), Some((rk, role))) = (first(row, USER_KEYS), first(row, ROLE_KEYS))
            else {
                continue;
            };
            let user = crate::cell(u);
            users.insert(user.clone());
            n += 1;
            let h = how(row, rk, &eid, title);
            table.push(&[
                json!(user),
                json!(crate::cell(role)),
                json!(h),
                json!(eid),
                json!(i.id()),
            ]);
            entries.push(json!({"user": user, "role": crate::cell(role), "how": h, "evidence_id": eid, "item_id": i.id(),
                "deactivated_at": row.get("deactivated_at").cloned().unwrap_or(Value::Null)}));
        }
        if n == 0 {
            continue;
        }
        seen.insert(eid.clone());
        populations.push(json!({
            "evidence_id": eid, "title": title, "item_id": i.id(), "sha256": r["sha256"],
            "effective_at": r["effective_at"], "rows": rows.len(), "entries": n, "users": users.len(),
        }));
    }
    let mut notes = Vec::new();
    let campaigns = ctx
        .sources
        .access_reviews(ctx.store, period)
        .map_err(|e| Error::Source(format!("access-review campaigns: {e}")))?;
    let mut c_table = Table::new(
        "Access-review campaigns and decisions",
        &[
            "campaign",
            "status",
            "user",
            "role",
            "decision",
            "decided_by",
            "decided_at",
            "note",
            "result",
        ],
        "no access-review campaign in the period",
    );
    let campaigns_json = match &campaigns {
        None => {
            notes.push("Access-review campaigns: the data source is not available in this vouch (no campaign store is wired to reports). This report lists who has access; it does not show that anyone reviewed it.".into());
            c_table.empty =
                "data source not available: no campaign store is wired to reports".into();
            json!({"available": false, "reason": "no access-review campaign store is wired to reports"})
        }
        Some(v) => {
            let mut v = v.clone();
            for c in v["campaigns"].as_array_mut().into_iter().flatten() {
                for d in c["decisions"].as_array_mut().into_iter().flatten() {
                    let r = crate::item_result_decision(
                        d["decision"].as_str().filter(|d| *d != "undecided"),
                    );
                    d["result"] = json!(r);
                }
            }
            for c in v["campaigns"].as_array().into_iter().flatten() {
                let ds: Vec<&Value> = c["decisions"].as_array().into_iter().flatten().collect();
                if ds.is_empty() {
                    c_table.push(&[
                        c["id"].clone(),
                        c["status"].clone(),
                        Value::Null,
                        Value::Null,
                        json!("no decisions"),
                        Value::Null,
                        Value::Null,
                        Value::Null,
                        json!("not_tested"),
                    ]);
                }
                for d in ds {
                    c_table.push(&[
                        c["id"].clone(),
                        c["status"].clone(),
                        d["user"].clone(),
                        d["role"].clone(),
                        d["decision"].clone(),
                        d["decided_by"].clone(),
                        d["decided_at"].clone(),
                        d["note"].clone(),
                        d["result"].clone(),
                    ]);
                }
            }
            json!({"available": true, "data": v})
        }
    };
    // Each user's role assignment, in the common vocabulary: the latest decision of a
    // campaign of the period on that user and role (or that population), else
    // `not_tested` (nobody reviewed it).
    let decisions: Vec<&Value> = campaigns_json["data"]["campaigns"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|c| c["decisions"].as_array().into_iter().flatten())
        .collect();
    table.columns.push("result".into());
    for (e, row) in entries.iter_mut().zip(table.rows.iter_mut()) {
        let r = decisions
            .iter()
            .rev()
            .find(|d| {
                d["user"] == e["user"]
                    && (d["role"] == e["role"] || d["role"] == e["evidence_id"])
                    && d["result"] != "not_tested"
            })
            .and_then(|d| d["result"].as_str())
            .unwrap_or("not_tested");
        e["result"] = json!(r);
        row.push(r.to_string());
    }
    let users: std::collections::BTreeSet<&str> =
        entries.iter().filter_map(|e| e["user"].as_str()).collect();
    let status = if populations.is_empty() {
        notes.insert(0, format!(
            "No user population was found in the period's evidence (items mapped to {} whose rows name a user and a role or group): this report cannot list who has access.",
            ACCESS_CRITERIA.join(", ")
        ));
        "no_evidence"
    } else if campaigns.is_none() {
        "incomplete"
    } else if !campaigns
        .iter()
        .flat_map(|v| v["campaigns"].as_array().into_iter().flatten())
        .any(|c| c["status"] == "completed")
    {
        // Who has access is listed; that nobody reviewed it is not a `complete` review.
        notes.push("No access-review campaign was completed in the period: this report lists who has access; it does not show that anyone reviewed it.".into());
        "incomplete"
    } else {
        "complete"
    };
    let summary = vec![
        format!("Status: {status}"),
        format!(
            "{} user(s) holding {} role assignment(s), from {} population(s)",
            users.len(),
            entries.len(),
            populations.len()
        ),
        match &campaigns {
            None => "Campaigns: data source not available".to_string(),
            Some(v) => format!(
                "Campaigns in the period: {}",
                v["campaigns"].as_array().map(Vec::len).unwrap_or(0)
            ),
        },
    ];
    let mut body = Map::new();
    body.insert("populations".into(), json!(populations));
    body.insert("access".into(), json!(entries));
    body.insert("campaigns".into(), campaigns_json);
    Ok(Built {
        body,
        status: status.into(),
        summary,
        notes,
        tables: vec![table, c_table],
        csv: Some(0),
    })
}
