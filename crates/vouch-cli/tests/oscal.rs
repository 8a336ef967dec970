//! `vouch export oscal`: assessment results and component definitions that say only
//! what was checked, identical on every export of the same data, valid for
//! compliance-trestle (and invalid when broken), and clear errors on bad input.

use crate::util::{err_line, ok, text, vouch, PgSchema};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use vouch_test_support::{ext, Kind};

const PACK: &str = r#"
[pack]
name = "fixture"

[[source]]
name = "fixture-cmd"
kind = "command"

[[evidence]]
id = "fixture.users"
title = "Users and their MFA"
source = "fixture-cmd"
criteria = ["CC6.1"]
argv = ["printf", "{\"users\": [{\"name\": \"a\", \"mfa\": true}, {\"name\": \"b\", \"mfa\": false}]}"]
format = "json"
rows = "users"

[[check]]
id = "fixture.some-users"
title = "There are users"
kind = "non_empty"
evidence = "fixture.users"

[[check]]
id = "fixture.mfa"
title = "Every user has MFA"
kind = "all"
evidence = "fixture.users"
field = "mfa"
equals = true
severity = "high"

[[control]]
id = "FX-1"
title = "Users are known"
criteria = ["CC6.2"]
checks = ["fixture.some-users"]

[[control]]
id = "FX-2"
title = "MFA everywhere"
criteria = ["CC6.6", "CC6.1"]
checks = ["fixture.mfa"]
"#;

/// A data directory (SQLite, or a fresh PostgreSQL schema) with the fixture pack.
struct Data {
    t: tempfile::TempDir,
    dir: PathBuf,
    env: Vec<(String, String)>,
    _pg: Option<PgSchema>,
}

impl Data {
    fn new(kind: Kind) -> Data {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("data");
        let mut env = Vec::new();
        let pg = match kind {
            Kind::Sqlite => None,
            Kind::Postgres => {
                let url = crate::util::pg_url().expect("PostgreSQL URL");
                let pg = PgSchema::new(&url, "vouch_oscal");
                env.push(("VOUCH_DATABASE_URL".to_string(), url));
                env.push(("VOUCH_DATABASE_SCHEMA".to_string(), pg.name.clone()));
                Some(pg)
            }
        };
        let d = Data {
            t,
            dir,
            env,
            _pg: pg,
        };
        ok(&d.run(&[
            "init",
            "--org",
            "Acme",
            "--origin",
            "acme.example/vouch/audit",
        ]));
        let pack = d.t.path().join("packs/fixture/pack.toml");
        std::fs::create_dir_all(pack.parent().unwrap()).unwrap();
        std::fs::write(&pack, PACK).unwrap();
        let cfg = d.dir.join("vouch.toml");
        let old = std::fs::read_to_string(&cfg).unwrap();
        std::fs::write(
            &cfg,
            format!("include = [\"../packs/fixture/pack.toml\"]\n{old}"),
        )
        .unwrap();
        ok(&d.run(&["config", "check"]));
        d
    }

    fn run(&self, args: &[&str]) -> Output {
        vouch()
            .data_dir(&self.dir)
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .output()
    }

    fn export(&self, period: &str, out: &Path, extra: &[&str]) -> Output {
        let mut args = vec![
            "export",
            "oscal",
            "--period",
            period,
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend(extra);
        self.run(&args)
    }
}

fn read(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

/// Every file under `dir`, relative path → bytes.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(base: &Path, d: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                let rel = p.strip_prefix(base).unwrap().display().to_string();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn prop<'a>(v: &'a Value, name: &str) -> Vec<&'a str> {
    v["props"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["name"] == name)
        .filter_map(|p| p["value"].as_str())
        .collect()
}

fn sha256(bytes: &[u8]) -> String {
    use std::io::Write;
    let mut c = Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("sha256sum (coreutils)");
    c.stdin.take().unwrap().write_all(bytes).unwrap();
    let out = ok(&c.wait_with_output().unwrap());
    out.split_whitespace().next().unwrap().to_string()
}

fn result_of(ar: &Value) -> &Value {
    &ar["assessment-results"]["results"][0]
}

/// Criterion findings by target id: (state, vouch status).
fn determinations(ar: &Value) -> BTreeMap<String, (String, String)> {
    result_of(ar)["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| prop(f, "finding-kind") == ["criterion-determination"])
        .map(|f| {
            (
                f["target"]["target-id"].as_str().unwrap().to_string(),
                (
                    f["target"]["status"]["state"].as_str().unwrap().to_string(),
                    prop(f, "vouch-status")[0].to_string(),
                ),
            )
        })
        .collect()
}

vouch_test_support::on_both!(oscal_export_claims_only_what_was_checked, |kind| {
    let d = Data::new(kind);
    let tmp = d.t.path().to_path_buf();
    // Nothing collected or checked: an error, not an empty document.
    let e = err_line(&d.export("2026-10", &tmp.join("none"), &[]));
    assert!(e.contains("no data for period 2026-10"), "{e}");
    assert!(!tmp.join("none/assessment-results.json").exists());

    // Collected but not checked: a document, but nothing satisfied and no_evidence said.
    let c = d.run(&["collect", "--period", "2026-10"]);
    ok(&c);
    let o = tmp.join("unchecked");
    ok(&d.export("2026-10", &o, &[]));
    let ar = read(&o.join("assessment-results.json"));
    let r = result_of(&ar);
    let det = determinations(&ar);
    assert_eq!(
        det.keys().collect::<Vec<_>>(),
        ["CC6.1", "CC6.2", "CC6.6"],
        "{det:?}"
    );
    assert!(det.values().all(|(s, _)| s == "not-satisfied"), "{det:?}");
    assert!(det.values().all(|(_, v)| v == "not_tested"), "{det:?}");
    assert!(
        r["remarks"].as_str().unwrap().starts_with("no_evidence"),
        "{r}"
    );
    let obs = r["observations"].as_array().unwrap();
    assert_eq!(obs.len(), 1, "one evidence item, no check result: {r}");
    assert_eq!(obs[0]["methods"], serde_json::json!(["EXAMINE"]));

    // Checked: CC6.2's only control passed; MFA failed on CC6.1 and CC6.6, with a finding.
    let c = d.run(&["check", "--period", "2026-10"]);
    assert_eq!(c.status.code(), Some(1), "a control fails: {}", text(&c));
    let (o1, o2) = (tmp.join("one"), tmp.join("two"));
    let out = ok(&d.export("2026-10", &o1, &[]));
    assert!(out.contains("3 criteria reviewed, 1 satisfied"), "{out}");
    ok(&d.export("2026-10", &o2, &[]));
    // Deterministic: the same data gives the same bytes, uuids and timestamps included.
    let (t1, t2) = (tree(&o1), tree(&o2));
    assert_eq!(t1.keys().collect::<Vec<_>>(), t2.keys().collect::<Vec<_>>());
    for (k, v) in &t1 {
        assert!(t2[k] == *v, "{k} differs between two exports");
    }
    // Exporting again into the same directory replaces the earlier export.
    ok(&d.export("2026-10", &o1, &[]));
    assert_eq!(tree(&o1), t1);

    let ar = read(&o1.join("assessment-results.json"));
    let doc = &ar["assessment-results"];
    assert_eq!(doc["metadata"]["oscal-version"], "1.1.3");
    let r = result_of(&ar);
    assert!(r.get("remarks").is_none(), "{r}");
    let det = determinations(&ar);
    assert_eq!(det["CC6.2"], ("satisfied".to_string(), "pass".to_string()));
    assert_eq!(
        det["CC6.1"],
        ("not-satisfied".to_string(), "fail".to_string())
    );
    assert_eq!(
        det["CC6.6"],
        ("not-satisfied".to_string(), "fail".to_string())
    );
    let include: Vec<&str> = r["reviewed-controls"]["control-selections"][0]["include-controls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["control-id"].as_str().unwrap())
        .collect();
    assert_eq!(include, ["CC6.1", "CC6.2", "CC6.6"]);
    // The vouch finding of the failed MFA check, against CC6.1, linked to its result.
    let findings = r["findings"].as_array().unwrap();
    let ex: Vec<&Value> = findings
        .iter()
        .filter(|f| prop(f, "finding-kind") == ["exception"])
        .collect();
    assert_eq!(ex.len(), 1, "{r}");
    assert_eq!(ex[0]["target"]["target-id"], "CC6.1");
    assert_eq!(ex[0]["target"]["status"]["state"], "not-satisfied");
    assert_eq!(prop(ex[0], "finding-status"), ["open"]);
    assert_eq!(prop(ex[0], "check-id"), ["fixture.mfa"]);
    // Observations: one EXAMINE (the item), two TEST (the checks), each artifact in the
    // export with its SHA-256 and ledger entry.
    let obs = r["observations"].as_array().unwrap();
    let uuids: Vec<&str> = obs.iter().map(|o| o["uuid"].as_str().unwrap()).collect();
    let test: Vec<&Value> = obs.iter().filter(|o| o["methods"][0] == "TEST").collect();
    assert_eq!(test.len(), 2, "{r}");
    assert_eq!(obs.len(), 3, "{r}");
    let related = ex[0]["related-observations"][0]["observation-uuid"]
        .as_str()
        .unwrap();
    let mfa = test
        .iter()
        .find(|o| prop(o, "check-id") == ["fixture.mfa"])
        .unwrap();
    assert_eq!(related, mfa["uuid"]);
    assert!(uuids.contains(&related));
    let items: Value = serde_json::from_str(&ok(&d.run(&["--json", "evidence", "list"]))).unwrap();
    let item_sha = items[0]["sha256"].as_str().unwrap();
    for o in obs {
        for ev in o["relevant-evidence"].as_array().unwrap() {
            let href = ev["href"].as_str().unwrap();
            let bytes = std::fs::read(o1.join(href)).unwrap();
            assert_eq!(prop(ev, "sha256"), [sha256(&bytes).as_str()], "{href}");
            let seq = prop(ev, "ledger-seq");
            assert!(seq.len() == 1 && seq[0].parse::<u64>().is_ok(), "{ev}");
        }
    }
    assert!(o1.join("evidence").join(item_sha).is_file());
    // The check result file is the record the ledger hashed: its SHA-256 is the
    // check.evaluated event's record_sha256.
    let rec_sha = prop(&mfa["relevant-evidence"][0], "sha256")[0].to_string();
    let seq: u64 = prop(&mfa["relevant-evidence"][0], "ledger-seq")[0]
        .parse()
        .unwrap();
    let export = ok(&d.run(&["ledger", "export", "--period", "2000-01-01..2100-01-01"]));
    let leaf: Value = export
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|l| l["seq"] == seq)
        .expect("the ledger entry named by ledger-seq");
    assert_eq!(leaf["action"], "check.evaluated", "{leaf}");
    assert_eq!(
        leaf["metadata"]["record_sha256"],
        rec_sha.as_str(),
        "{leaf}"
    );

    // The pack's component definition: its controls against the TSC.
    let cd = read(&o1.join("component-definitions/pack-fixture.json"));
    let comp = &cd["component-definition"]["components"][0];
    assert_eq!(comp["title"], "vouch pack fixture");
    let ci = &comp["control-implementations"][0];
    assert_eq!(ci["source"], vouch_engine_tsc_source());
    let reqs: Vec<&str> = ci["implemented-requirements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["control-id"].as_str().unwrap())
        .collect();
    assert_eq!(reqs, ["CC6.1", "CC6.2", "CC6.6"]);
    assert_eq!(
        cd["component-definition"]["metadata"]["last-modified"],
        doc["metadata"]["last-modified"]
    );

    // As of a time before anything was stored: no data then.
    let e = err_line(&d.export(
        "2026-10",
        &tmp.join("early"),
        &["--as-of", "2026-01-01T00:00:00Z"],
    ));
    assert!(
        e.contains("no data for period 2026-10 as of 2026-01-01T00:00:00"),
        "{e}"
    );
});

fn vouch_engine_tsc_source() -> &'static str {
    "https://www.aicpa-cima.com/resources/download/2017-trust-services-criteria-with-revised-points-of-focus-2022"
}

#[test]
fn oscal_export_bad_input_is_one_line() {
    let d = Data::new(Kind::Sqlite);
    let tmp = d.t.path().to_path_buf();
    ok(&d.run(&["collect", "--period", "2026-10"]));
    let e = err_line(&d.export("2026-13", &tmp.join("x"), &[]));
    assert!(e.contains("invalid period `2026-13`"), "{e}");
    let e = err_line(&d.export("2026-10", &tmp.join("x"), &["--as-of", "yesterday"]));
    assert!(
        e.contains("--as-of: `yesterday` is not an RFC 3339 date-time"),
        "{e}"
    );
    // A directory holding something else is not mixed into.
    let busy = tmp.join("busy");
    std::fs::create_dir_all(&busy).unwrap();
    std::fs::write(busy.join("notes.txt"), "keep").unwrap();
    let e = err_line(&d.export("2026-10", &busy, &[]));
    assert!(
        e.contains("is not empty (notes.txt is not part of an OSCAL export)"),
        "{e}"
    );
    assert_eq!(
        std::fs::read_to_string(busy.join("notes.txt")).unwrap(),
        "keep"
    );
    // An output path that cannot be a directory (under a regular file), even for root.
    let e = err_line(&d.export("2026-10", &tmp.join("busy/notes.txt/out"), &[]));
    assert!(
        e.starts_with("error: cannot write") || e.contains("cannot write"),
        "{e}"
    );
    // An empty directory nobody may write to (root may write anywhere: skipped then).
    let ro = tmp.join("readonly");
    std::fs::create_dir_all(&ro).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
    let writable = std::fs::write(ro.join("probe"), "x").is_ok();
    if !writable {
        let e = err_line(&d.export("2026-10", &ro, &[]));
        assert!(
            e.contains("cannot write") && e.contains("ermission denied"),
            "{e}"
        );
    } else {
        let _ = std::fs::remove_file(ro.join("probe"));
        eprintln!("running as root: the read-only directory case is covered by the file case");
    }
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Run the trestle validation script on an export: (success, output).
fn trestle_validate(dir: &Path) -> (bool, String) {
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../vouch-oscal/tests/trestle_validate.py");
    let o = Command::new("python3")
        .arg(script)
        .arg(dir)
        .output()
        .unwrap();
    (
        o.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    )
}

fn have_trestle() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import trestle.oscal.assessment_results"])
        .output()
        .is_ok_and(|o| o.status.success());
    ext::require(
        ok,
        "python3 with compliance-trestle is missing (pip install 'compliance-trestle>=3.12,<4')",
    )
}

#[test]
fn ext_oscal_export_of_the_demo_validates_with_trestle() {
    if !have_trestle() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let demo = t.path().join("demo");
    ok(&vouch()
        .args(["demo", "--into", demo.to_str().unwrap(), "--events", "1200"])
        .output());
    // The demo's last month: the period of its monthly packet (`packets/YYYY-MM`; the
    // demo also writes `packets/month-to-date`, which is no period).
    let month = std::fs::read_dir(demo.join("packets"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(|c: char| c.is_ascii_digit()))
        .max()
        .unwrap();
    let run = |out: &Path| {
        ok(&vouch()
            .data_dir(&demo)
            .args([
                "export",
                "oscal",
                "--period",
                &month,
                "--out",
                out.to_str().unwrap(),
            ])
            .output())
    };
    let good = t.path().join("oscal");
    run(&good);
    let (valid, out) = trestle_validate(&good);
    assert!(valid, "{out}");
    assert!(
        out.starts_with("ok: ") && out.contains("OSCAL document(s) valid"),
        "{out}"
    );
    let again = t.path().join("again");
    run(&again);
    assert!(
        tree(&good) == tree(&again),
        "two exports of the demo differ"
    );
    let ar = read(&good.join("assessment-results.json"));
    let r = result_of(&ar);
    assert!(r["observations"].as_array().unwrap().len() >= 3, "{r}");
    assert!(!r["findings"].as_array().unwrap().is_empty(), "{r}");

    // Broken documents fail, each for its reason (so the check can fail).
    let copy = |name: &str| {
        let dir = t.path().join(name);
        for (rel, bytes) in tree(&good) {
            let p = dir.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, bytes).unwrap();
        }
        dir
    };
    // An observation without its required `methods`.
    let b1 = copy("no-methods");
    let mut v = read(&b1.join("assessment-results.json"));
    v["assessment-results"]["results"][0]["observations"][0]
        .as_object_mut()
        .unwrap()
        .remove("methods");
    std::fs::write(b1.join("assessment-results.json"), v.to_string()).unwrap();
    let (valid, out) = trestle_validate(&b1);
    assert!(!valid, "{out}");
    assert!(
        out.contains("not a valid OSCAL AssessmentResults") && out.contains("methods"),
        "{out}"
    );
    // A finding whose state is not an OSCAL state.
    let b2 = copy("bad-state");
    let mut v = read(&b2.join("assessment-results.json"));
    v["assessment-results"]["results"][0]["findings"][0]["target"]["status"]["state"] =
        "mostly".into();
    std::fs::write(b2.join("assessment-results.json"), v.to_string()).unwrap();
    let (valid, out) = trestle_validate(&b2);
    assert!(
        !valid && out.contains("not a valid OSCAL AssessmentResults"),
        "{out}"
    );
    // A component definition without the catalog `source` of its implementation.
    let b3 = copy("no-source");
    let cd_path = std::fs::read_dir(b3.join("component-definitions"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut v = read(&cd_path);
    v["component-definition"]["components"][0]["control-implementations"][0]
        .as_object_mut()
        .unwrap()
        .remove("source");
    std::fs::write(&cd_path, v.to_string()).unwrap();
    let (valid, out) = trestle_validate(&b3);
    assert!(
        !valid && out.contains("not a valid OSCAL ComponentDefinition"),
        "{out}"
    );
    // An evidence file altered after the export: its hash no longer matches.
    let b4 = copy("altered");
    let ev = std::fs::read_dir(b4.join("evidence"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::write(&ev, b"altered").unwrap();
    let (valid, out) = trestle_validate(&b4);
    assert!(!valid && out.contains("does not match its sha256"), "{out}");
}
