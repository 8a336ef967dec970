//! Component definitions: one per pack in use (and one for the controls and checks of
//! vouch.toml itself, when it has any). Each describes the pack's controls and checks as
//! implemented requirements against the Trust Services Criteria: one per criterion, its
//! `control-id` the criterion id (`CC6.1`), its `source` [`crate::TSC_SOURCE`].

use crate::results::{prop, topic, tsc_order};
use crate::{ids, NS, OSCAL_VERSION, TSC_SOURCE};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use vouch_config::checks::{CheckDef, ControlDef};
use vouch_config::Config;
use vouch_core::event::format_timestamp as ts;

/// A file the configuration was read from: vouch.toml or a pack.
struct Unit {
    /// The pack's name (`[pack] name`, else its directory's name); `None` for vouch.toml.
    pack: Option<String>,
    /// The path as vouch.toml's `include` names it (vouch.toml: its file name).
    shown: String,
    file: PathBuf,
}

/// The pack name the loader gives an included file.
fn pack_name(path: &Path) -> String {
    let declared = std::fs::read_to_string(path)
        .ok()
        .and_then(|t| toml::from_str::<toml::Table>(&t).ok())
        .and_then(|t| t.get("pack")?.get("name")?.as_str().map(String::from));
    declared.unwrap_or_else(|| {
        path.parent()
            .and_then(Path::file_name)
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    })
}

fn units(config: &Config) -> Vec<Unit> {
    let mut out = Vec::new();
    for (i, f) in config.files.iter().enumerate() {
        if i == 0 {
            out.push(Unit {
                pack: None,
                shown: f
                    .file_name()
                    .map_or("vouch.toml".into(), |n| n.to_string_lossy().into_owned()),
                file: f.clone(),
            });
        } else {
            out.push(Unit {
                pack: Some(pack_name(f)),
                shown: config
                    .settings
                    .include
                    .get(i - 1)
                    .cloned()
                    .unwrap_or_else(|| f.display().to_string()),
                file: f.clone(),
            });
        }
    }
    out
}

/// A file name part: letters, digits, `.`, `-`, `_`.
fn slug(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Every component definition, as (file stem, document), in the order of the files.
pub(crate) fn definitions(config: &Config, at: &DateTime<Utc>) -> Vec<(String, Value)> {
    let origin = config.settings.ledger.origin.as_str();
    let mut out = Vec::new();
    for u in units(config) {
        let controls: Vec<&ControlDef> = config
            .controls
            .iter()
            .filter(|c| c.origin.file == u.file)
            .collect();
        let checks: Vec<&CheckDef> = config
            .checks
            .iter()
            .filter(|c| c.origin.file == u.file)
            .collect();
        let evidence: Vec<&str> = config
            .evidence
            .iter()
            .filter(|e| e.origin.file == u.file)
            .map(|e| e.id.as_str())
            .collect();
        // vouch.toml gets a component only when it defines controls or checks itself.
        if u.pack.is_none() && controls.is_empty() && checks.is_empty() {
            continue;
        }
        let (stem, name, title) = match &u.pack {
            Some(p) => (
                format!("pack-{}", slug(p)),
                p.clone(),
                format!("vouch pack {p}"),
            ),
            None => (
                "vouch-toml".to_string(),
                u.shown.clone(),
                format!(
                    "{}'s own controls ({})",
                    config.settings.organization.name, u.shown
                ),
            ),
        };
        out.push((
            stem,
            document(
                config, origin, &name, &title, &u.shown, &controls, &checks, &evidence, at,
            ),
        ));
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn document(
    config: &Config,
    origin: &str,
    name: &str,
    title: &str,
    shown: &str,
    controls: &[&ControlDef],
    checks: &[&CheckDef],
    evidence: &[&str],
    at: &DateTime<Utc>,
) -> Value {
    // The definitions' digest: the same definitions give the same version and uuid.
    let digest_input = json!({
        "controls": controls.iter().map(|c| serde_json::to_value(c).unwrap_or_default()).collect::<Vec<_>>(),
        "checks": checks.iter().map(|c| json!([c.id, c.definition_sha256()])).collect::<Vec<_>>(),
        "evidence": evidence,
    });
    let digest = vouch_store::blobs::sha256_hex(&vouch_core::canonical::to_vec(&digest_input));
    let component_uuid = ids::id(&[origin, "component", name]);
    let criteria = tsc_order(controls.iter().flat_map(|c| c.criteria.clone()));
    let check_def = |id: &str| config.checks.iter().find(|c| c.id == id);
    let mut reqs = Vec::new();
    for crit in &criteria {
        let on: Vec<&&ControlDef> = controls
            .iter()
            .filter(|c| c.criteria.iter().any(|x| x == crit))
            .collect();
        let mut props = Vec::new();
        let mut lines = Vec::new();
        for c in &on {
            props.extend(prop("control", &c.id));
            let mut parts = Vec::new();
            for k in &c.checks {
                props.extend(prop("check", k));
                match check_def(k) {
                    Some(d) => parts.push(format!(
                        "check `{k}` ({}, severity {}): {} [definition SHA-256 {}]",
                        d.kind,
                        d.severity(),
                        d.title,
                        d.definition_sha256()
                    )),
                    None => parts.push(format!("check `{k}`")),
                }
            }
            for e in &c.evidence {
                parts.push(format!("evidence `{e}` examined directly"));
            }
            lines.push(format!(
                "- {} — {}{}{}",
                c.id,
                c.title,
                c.description
                    .as_deref()
                    .filter(|d| !d.trim().is_empty())
                    .map(|d| format!(": {}", d.trim()))
                    .unwrap_or_default(),
                if parts.is_empty() {
                    String::new()
                } else {
                    format!("\n  {}", parts.join("\n  "))
                }
            ));
        }
        reqs.push(json!({
            "uuid": ids::id(&[origin, "component", name, "requirement", crit]),
            "control-id": crit,
            "description": format!("{crit} ({}) is implemented by:\n\n{}", topic(crit), lines.join("\n")),
            "props": props,
        }));
    }
    let mut component = json!({
        "uuid": component_uuid,
        "type": "software",
        "title": title,
        "description": format!(
            "Evidence definitions, checks and controls of {title}, read from `{shown}`: {} evidence definition(s), {} check(s), {} control(s). vouch collects the evidence, evaluates the checks on it and rolls them up to the controls; every result is recorded in its ledger.",
            evidence.len(), checks.len(), controls.len()
        ),
        "purpose": "Automated, ledger-backed evidence for SOC 2 controls.",
        "props": prop("definitions-sha256", &digest).into_iter()
            .chain(evidence.iter().filter_map(|e| prop("evidence-id", e)))
            .chain(checks.iter().filter_map(|c| prop("check", &c.id)))
            .collect::<Vec<_>>(),
    });
    if !reqs.is_empty() {
        component["control-implementations"] = json!([{
            "uuid": ids::id(&[origin, "component", name, "control-implementation"]),
            "source": TSC_SOURCE,
            "description": "How these controls address the AICPA 2017 Trust Services Criteria (points of focus revised 2022). The criteria are not published as an OSCAL catalog: `source` is the AICPA's publication, and control ids are the criterion ids.",
            "props": [{"name": "catalog", "ns": NS, "value": "AICPA TSC 2017 (rev. 2022)"}],
            "implemented-requirements": reqs,
        }]);
    }
    json!({
        "component-definition": {
            "uuid": ids::id(&[origin, "component-definition", name, &digest]),
            "metadata": {
                "title": format!("{title}: controls and checks against the Trust Services Criteria"),
                "last-modified": ts(at),
                "version": format!("definitions {}", &digest[..16]),
                "oscal-version": OSCAL_VERSION,
                "props": [{"name": "generator", "ns": NS, "value": format!("vouch {}", vouch_core::VERSION)}],
            },
            "components": [component],
            "back-matter": {
                "resources": [{
                    "uuid": ids::id(&[origin, "catalog", TSC_SOURCE]),
                    "title": "AICPA 2017 Trust Services Criteria (with revised points of focus, 2022)",
                    "description": "The criteria the control ids (CC6.1, A1.2, …) refer to. The AICPA does not publish them as an OSCAL catalog.",
                    "rlinks": [{"href": TSC_SOURCE}],
                }],
            },
        }
    })
}
