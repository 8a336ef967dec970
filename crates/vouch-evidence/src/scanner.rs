//! Vulnerability scanner output, read into one shape: SARIF 2.1.0 (code and container
//! scanners), CycloneDX JSON with `vulnerabilities` (a VEX or an SBOM with findings), and
//! `pip-audit --format json`. The evidence stays the scanner's own bytes; this module only
//! reads them (for the vulnerability report), so a verdict can always be re-derived from
//! the stored blob.

use serde::Serialize;
use serde_json::Value;

/// Which format a scan was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScanFormat {
    /// SARIF 2.1.0.
    Sarif,
    /// CycloneDX JSON (VEX or SBOM with vulnerabilities).
    Cyclonedx,
    /// `pip-audit --format json`.
    PipAudit,
}

/// The severities a report counts by. Scanners that give none (pip-audit) are `unknown`,
/// never guessed.
pub const SEVERITIES: &[&str] = &["critical", "high", "medium", "low", "unknown"];

/// One vulnerability (or security result) a scan reported.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// What identifies the same finding across scans: vulnerability id and where it is
    /// (package@version, or rule and file location).
    pub key: String,
    /// The vulnerability or rule id (`CVE-2024-22195`, `GHSA-…`, a SARIF ruleId).
    pub id: String,
    /// Other ids of the same vulnerability.
    pub aliases: Vec<String>,
    /// The affected package or file.
    pub component: String,
    /// The affected version, if the format says.
    pub version: Option<String>,
    /// `critical`, `high`, `medium`, `low` or `unknown`.
    pub severity: &'static str,
    /// `open`, `not_affected` (VEX: not affected or false positive), `resolved` (VEX)
    /// or `suppressed` (SARIF suppressions).
    pub state: &'static str,
    /// Versions that fix it, if known.
    pub fix: Vec<String>,
    /// One line describing it.
    pub title: String,
}

/// A parsed scan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scan {
    /// The format it was read from.
    pub format: ScanFormat,
    /// The scanner's name (SARIF driver, CycloneDX tool, `pip-audit`).
    pub tool: String,
    /// What it found.
    pub findings: Vec<Finding>,
    /// Components the scanner could not audit, with its reason (pip-audit's
    /// `skip_reason`): the scan says nothing about them.
    pub unaudited: Vec<String>,
    /// The names of those components: a finding on one of them is not fixed by a scan
    /// that skipped it.
    pub skipped: Vec<String>,
    /// Components the scan covered (pip-audit dependencies, CycloneDX components), if
    /// the format lists them.
    pub components: Option<u64>,
    /// Why this scan checked nothing, when it did not: no dependencies or components, no
    /// SARIF run, a run without results, or a run whose invocation reports failure. Such
    /// a scan proves nothing absent, so it must never close a finding.
    pub checked_nothing: Option<String>,
}

/// Severity from a CVSS-style score (the SARIF `security-severity` convention).
fn from_score(score: f64) -> &'static str {
    if score >= 9.0 {
        "critical"
    } else if score >= 7.0 {
        "high"
    } else if score >= 4.0 {
        "medium"
    } else if score > 0.0 {
        "low"
    } else {
        "unknown"
    }
}

fn word_severity(s: &str) -> &'static str {
    match s.to_ascii_lowercase().as_str() {
        "critical" => "critical",
        "high" => "high",
        "medium" | "moderate" => "medium",
        "low" | "info" | "informational" => "low",
        _ => "unknown",
    }
}

fn rank(s: &str) -> usize {
    SEVERITIES.iter().position(|x| *x == s).unwrap_or(4)
}

fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|x| x.as_str().map(str::to_string))
        .collect()
}

/// Read scanner output; the format is recognised from the content.
pub fn parse(bytes: &[u8]) -> Result<Scan, String> {
    let v: Value =
        serde_json::from_slice(bytes).map_err(|e| format!("not JSON scanner output: {e}"))?;
    if v.get("runs").is_some() && v["version"].as_str().is_some_and(|s| s.starts_with("2.1")) {
        return sarif(&v);
    }
    if v["bomFormat"] == "CycloneDX" {
        return cyclonedx(&v);
    }
    if v.get("dependencies").is_some_and(Value::is_array) || v.is_array() {
        return pip_audit(&v);
    }
    Err("not SARIF 2.1.0, CycloneDX JSON or pip-audit JSON (no `runs`+`version` 2.1.0, `bomFormat`, or `dependencies`)".into())
}

fn sarif(v: &Value) -> Result<Scan, String> {
    let mut findings = Vec::new();
    let mut tools = Vec::new();
    let runs: Vec<&Value> = v["runs"].as_array().into_iter().flatten().collect();
    let mut checked_nothing = runs
        .is_empty()
        .then(|| "the SARIF file has no run (`runs` is empty)".to_string());
    for run in &runs {
        let driver = &run["tool"]["driver"];
        let tool = driver["name"].as_str().unwrap_or("sarif").to_string();
        if !tools.contains(&tool) {
            tools.push(tool.clone());
        }
        // A failed invocation's missing results are not fixes, nor (SARIF §3.14.23) is a
        // run without a `results` array: the tool did not say what it found.
        if checked_nothing.is_none() {
            if run["invocations"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|i| i["executionSuccessful"] == false)
            {
                checked_nothing = Some(format!(
                    "the {tool} run reports a failed invocation (`executionSuccessful: false`)"
                ));
            } else if !run["results"].is_array() {
                checked_nothing = Some(format!("the {tool} run has no `results` array"));
            }
        }
        let rules: Vec<&Value> = driver["rules"].as_array().into_iter().flatten().collect();
        for r in run["results"].as_array().into_iter().flatten() {
            let rule_id = r["ruleId"]
                .as_str()
                .or_else(|| r["rule"]["id"].as_str())
                .unwrap_or("")
                .to_string();
            let rule = rules
                .iter()
                .find(|x| x["id"].as_str() == Some(rule_id.as_str()))
                .copied()
                .or_else(|| {
                    r["ruleIndex"]
                        .as_u64()
                        .and_then(|i| rules.get(i as usize).copied())
                });
            let score = |p: &Value| -> Option<f64> {
                match &p["properties"]["security-severity"] {
                    Value::String(s) => s.trim().parse().ok(),
                    Value::Number(n) => n.as_f64(),
                    _ => None,
                }
            };
            let level = r["level"]
                .as_str()
                .or_else(|| rule.and_then(|x| x["defaultConfiguration"]["level"].as_str()))
                .unwrap_or("warning");
            // security-severity (a CVSS score) when the scanner gives one; otherwise the
            // SARIF level: error → high, warning → medium, note → low.
            let severity = match score(r).or_else(|| rule.and_then(score)) {
                Some(s) => from_score(s),
                None => match level {
                    "error" => "high",
                    "warning" => "medium",
                    "note" => "low",
                    _ => "unknown",
                },
            };
            let loc = &r["locations"][0]["physicalLocation"];
            let uri = loc["artifactLocation"]["uri"].as_str().unwrap_or("");
            let line = loc["region"]["startLine"].as_u64();
            let place = match line {
                Some(l) => format!("{uri}:{l}"),
                None => uri.to_string(),
            };
            let fp = r["partialFingerprints"]
                .as_object()
                .and_then(|o| o.values().next())
                .or_else(|| {
                    r["fingerprints"]
                        .as_object()
                        .and_then(|o| o.values().next())
                })
                .and_then(Value::as_str);
            let key = match fp {
                Some(f) => format!("{rule_id}#{f}"),
                None => format!("{rule_id}@{place}"),
            };
            let suppressed = r["suppressions"].as_array().is_some_and(|s| {
                s.iter()
                    .any(|x| x["status"].is_null() || x["status"] == "accepted")
            });
            let title = r["message"]["text"]
                .as_str()
                .or_else(|| rule.and_then(|x| x["shortDescription"]["text"].as_str()))
                .unwrap_or("")
                .lines()
                .next()
                .unwrap_or("")
                .to_string();
            findings.push(Finding {
                key,
                id: rule_id,
                aliases: Vec::new(),
                component: place,
                version: None,
                severity,
                state: if suppressed { "suppressed" } else { "open" },
                fix: Vec::new(),
                title,
            });
        }
    }
    Ok(Scan {
        format: ScanFormat::Sarif,
        tool: if tools.is_empty() {
            "sarif".into()
        } else {
            tools.join(", ")
        },
        findings,
        unaudited: Vec::new(),
        skipped: Vec::new(),
        components: None,
        checked_nothing,
    })
}

fn cyclonedx(v: &Value) -> Result<Scan, String> {
    let components: Vec<&Value> = v["components"].as_array().into_iter().flatten().collect();
    let component = |r: &str| -> (String, Option<String>) {
        match components
            .iter()
            .find(|c| c["bom-ref"].as_str() == Some(r) || c["purl"].as_str() == Some(r))
        {
            Some(c) => (
                c["name"].as_str().unwrap_or(r).to_string(),
                c["version"].as_str().map(str::to_string),
            ),
            None => (r.to_string(), None),
        }
    };
    let tool = v["metadata"]["tools"]["components"][0]["name"]
        .as_str()
        .or_else(|| v["metadata"]["tools"][0]["name"].as_str())
        .unwrap_or("cyclonedx")
        .to_string();
    let mut findings = Vec::new();
    for x in v["vulnerabilities"].as_array().into_iter().flatten() {
        let id = x["id"].as_str().unwrap_or("").to_string();
        let severity = x["ratings"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| match r["severity"].as_str() {
                Some(s) if word_severity(s) != "unknown" => word_severity(s),
                _ => r["score"].as_f64().map(from_score).unwrap_or("unknown"),
            })
            .min_by_key(|s| rank(s))
            .unwrap_or("unknown");
        let state = match x["analysis"]["state"].as_str() {
            Some("not_affected" | "false_positive") => "not_affected",
            Some("resolved" | "resolved_with_pedigree") => "resolved",
            _ => "open",
        };
        let aliases: Vec<String> = x["references"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["id"].as_str().map(str::to_string))
            .collect();
        let title = x["description"]
            .as_str()
            .or_else(|| x["detail"].as_str())
            .unwrap_or("")
            .lines()
            .next()
            .unwrap_or("")
            .to_string();
        let fix: Vec<String> = x["recommendation"]
            .as_str()
            .map(|r| vec![r.to_string()])
            .unwrap_or_default();
        let refs: Vec<&str> = x["affects"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a["ref"].as_str())
            .collect();
        let refs = if refs.is_empty() { vec![""] } else { refs };
        for r in refs {
            let (name, version) = component(r);
            findings.push(Finding {
                key: format!(
                    "{id}@{name}{}",
                    version
                        .as_deref()
                        .map(|v| format!("=={v}"))
                        .unwrap_or_default()
                ),
                id: id.clone(),
                aliases: aliases.clone(),
                component: name,
                version,
                severity,
                state,
                fix: fix.clone(),
                title: title.clone(),
            });
        }
    }
    // A VEX may list vulnerabilities without components; with neither, nothing was
    // looked at.
    let checked_nothing = (components.is_empty() && findings.is_empty())
        .then(|| "the CycloneDX file lists no component and no vulnerability".to_string());
    Ok(Scan {
        format: ScanFormat::Cyclonedx,
        tool,
        findings,
        unaudited: Vec::new(),
        skipped: Vec::new(),
        components: Some(components.len() as u64),
        checked_nothing,
    })
}

fn pip_audit(v: &Value) -> Result<Scan, String> {
    // pip-audit ≥ 2.5 writes {"dependencies": [...], "fixes": [...]}; older ones a list.
    let deps: Vec<&Value> = match v {
        Value::Array(a) => a.iter().collect(),
        _ => v["dependencies"].as_array().into_iter().flatten().collect(),
    };
    let mut findings = Vec::new();
    let mut unaudited = Vec::new();
    let mut skipped = Vec::new();
    for d in &deps {
        let name = d["name"].as_str().unwrap_or("").to_string();
        if let Some(reason) = d["skip_reason"].as_str() {
            unaudited.push(format!("{name}: {reason}"));
            skipped.push(name);
            continue;
        }
        let version = d["version"].as_str().map(str::to_string);
        for x in d["vulns"].as_array().into_iter().flatten() {
            let id = x["id"].as_str().unwrap_or("").to_string();
            findings.push(Finding {
                key: format!("{id}@{name}=={}", version.as_deref().unwrap_or("?")),
                id,
                aliases: strs(&x["aliases"]),
                component: name.clone(),
                version: version.clone(),
                // pip-audit reports no severity: unknown, never guessed.
                severity: "unknown",
                state: "open",
                fix: strs(&x["fix_versions"]),
                title: x["description"]
                    .as_str()
                    .unwrap_or("")
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_string(),
            });
        }
    }
    Ok(Scan {
        format: ScanFormat::PipAudit,
        tool: "pip-audit".into(),
        findings,
        unaudited,
        skipped,
        components: Some(deps.len() as u64),
        // An empty requirements file or a wrong path: no dependency was audited.
        checked_nothing: deps
            .is_empty()
            .then(|| "pip-audit lists no dependency (nothing was audited)".to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_three_formats() {
        let sarif = json!({"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "trivy", "rules": [
            {"id": "CVE-2023-1", "properties": {"security-severity": "9.8"}},
            {"id": "R2", "defaultConfiguration": {"level": "note"}}]}},
            "results": [
                {"ruleId": "CVE-2023-1", "level": "error", "message": {"text": "openssl\nmore"}, "locations": [{"physicalLocation": {"artifactLocation": {"uri": "Dockerfile"}, "region": {"startLine": 3}}}]},
                {"ruleId": "R2", "message": {"text": "n"}, "suppressions": [{"kind": "inSource"}]}]}]});
        let s = parse(sarif.to_string().as_bytes()).unwrap();
        assert_eq!(s.format, ScanFormat::Sarif);
        assert_eq!(s.findings[0].severity, "critical");
        assert_eq!(s.findings[0].key, "CVE-2023-1@Dockerfile:3");
        assert_eq!(s.findings[0].title, "openssl");
        assert_eq!(
            (s.findings[1].severity, s.findings[1].state),
            ("low", "suppressed")
        );

        let cdx = json!({"bomFormat": "CycloneDX", "specVersion": "1.5",
            "components": [{"bom-ref": "pkg:pypi/jinja2@2.11.2", "name": "jinja2", "version": "2.11.2"}],
            "vulnerabilities": [
                {"id": "CVE-2024-22195", "ratings": [{"severity": "medium"}, {"score": 7.5}], "affects": [{"ref": "pkg:pypi/jinja2@2.11.2"}]},
                {"id": "CVE-2020-28493", "ratings": [{"severity": "low"}], "analysis": {"state": "not_affected"}, "affects": [{"ref": "pkg:pypi/jinja2@2.11.2"}]}]});
        let c = parse(cdx.to_string().as_bytes()).unwrap();
        assert_eq!(c.findings[0].severity, "high");
        assert_eq!(c.findings[0].key, "CVE-2024-22195@jinja2==2.11.2");
        assert_eq!(c.findings[1].state, "not_affected");

        let pa = json!({"dependencies": [
            {"name": "jinja2", "version": "2.11.2", "vulns": [{"id": "CVE-2024-22195", "fix_versions": ["3.1.3"], "aliases": ["GHSA-h5c8-rqwp-cp95"], "description": "x"}]},
            {"name": "flask", "skip_reason": "Dependency not found on PyPI and could not be audited: flask (0.1)"}], "fixes": []});
        let p = parse(pa.to_string().as_bytes()).unwrap();
        assert_eq!(p.findings.len(), 1);
        assert_eq!(p.findings[0].severity, "unknown");
        assert_eq!(p.findings[0].fix, vec!["3.1.3"]);
        assert_eq!(
            p.unaudited.len(),
            1,
            "a skipped dependency is not a clean one"
        );
        assert!(parse(b"{\"x\": 1}").unwrap_err().contains("not SARIF"));
        assert_eq!(s.checked_nothing, None);
        assert_eq!(c.checked_nothing, None);
        assert_eq!(p.checked_nothing, None);
    }

    #[test]
    fn scans_that_checked_nothing_say_so() {
        let cases = [
            (json!({"dependencies": [], "fixes": []}), "no dependency"),
            (json!([]), "no dependency"),
            (json!({"version": "2.1.0", "runs": []}), "no run"),
            (
                json!({"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "trivy"}},
                    "invocations": [{"executionSuccessful": false}], "results": []}]}),
                "failed invocation",
            ),
            (
                json!({"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "trivy"}}}]}),
                "no `results`",
            ),
            (
                json!({"bomFormat": "CycloneDX", "specVersion": "1.5", "components": []}),
                "no component",
            ),
        ];
        for (doc, why) in cases {
            let s = parse(doc.to_string().as_bytes()).unwrap();
            let got = s.checked_nothing.unwrap_or_default();
            assert!(got.contains(why), "{doc}: {got:?}");
        }
        // A successful run with no result did check: it is a clean scan.
        let clean = json!({"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "trivy"}},
            "invocations": [{"executionSuccessful": true}], "results": []}]});
        assert_eq!(
            parse(clean.to_string().as_bytes()).unwrap().checked_nothing,
            None
        );
    }
}
