//! A completed access review is CC6.2/CC6.3 evidence: it appears in the packet of the
//! period it was completed in (its signed document's hash, its signature), under the
//! controls that address those criteria or name its population, the packet still
//! validates against the schema and reproduces byte for byte.

use crate::common;

use chrono::{TimeZone, Utc};
use serde_json::{json, Value};
use vouch_core::period::Period;
use vouch_engine::packet::{self, Format, Request, JSON_FILE};
use vouch_engine::signoff::review::{self, Ctx, Decision, NewCampaign, PopulationSpec, Reviewer};

const CATALOG: &str = r#"
[[source]]
name = "directory"
kind = "command"

[[evidence]]
id = "iam.users"
title = "AWS IAM users"
source = "directory"
argv = ["cat", "{{pack_dir}}/iam.json"]
population = true
account_key = "UserName"

[[control]]
id = "AC-9"
title = "IAM users are reviewed"
criteria = ["CC6.1"]
evidence = ["iam.users"]

[[control]]
id = "AC-10"
title = "Availability control that names the population"
criteria = ["A1.2"]
evidence = ["iam.users"]
"#;

on_both!(completed_review_is_in_the_packet, |fx| {
    let mut fx = fx;
    fx.with_catalog(CATALOG);
    std::fs::write(
        fx.dir.path().join("iam.json"),
        json!([{"UserName": "ci-deployer"}, {"UserName": "erin"}]).to_string(),
    )
    .unwrap();
    let oct = Period::parse("2026-10", Utc::now()).unwrap();
    fx.collector()
        .collect(&["iam.users".into()], &oct, &mut |_| {})
        .unwrap();
    let ctx = Ctx {
        config: &fx.config,
        store: &fx.store,
        ledger: &fx.ledger,
    };
    let t = Utc.with_ymd_and_hms(2026, 10, 20, 9, 0, 0).unwrap();
    let v = review::create(
        &ctx,
        &NewCampaign {
            title: "October IAM review".into(),
            populations: vec![PopulationSpec {
                evidence: "iam.users".into(),
                reviewers: vec![Reviewer {
                    id: "user:sam".into(),
                    accounts: vec![],
                }],
            }],
            draft: false,
        },
        "user:officer",
        t,
    )
    .unwrap();
    let id = v.campaign.id.clone();
    for a in ["ci-deployer", "erin"] {
        let d = Decision {
            population: "iam.users".into(),
            account: a.into(),
            decision: "keep".into(),
            note: None,
        };
        review::decide(&ctx, &id, &d, "user:sam", t).unwrap();
    }
    let done = review::complete(
        &ctx,
        &fx.keys,
        &id,
        "user:officer",
        t + chrono::Duration::days(1),
        review::Personal::None,
        &packet::attestation::review_pdf,
    )
    .unwrap();

    let out = tempfile::tempdir().unwrap();
    let generated_at = Utc.with_ymd_and_hms(2026, 11, 5, 12, 0, 0).unwrap();
    let request = |dir: &std::path::Path, period: &str| Request {
        period: Period::parse(period, generated_at).unwrap(),
        generated_at: Some(generated_at),
        format: Format::Json,
        out: dir.to_path_buf(),
        force: false,
    };
    packet::generate(
        &fx.config,
        &fx.keys,
        &fx.ledger,
        &request(&out.path().join("oct"), "2026-10"),
    )
    .unwrap();
    let p: Value =
        serde_json::from_slice(&std::fs::read(out.path().join("oct").join(JSON_FILE)).unwrap())
            .unwrap();
    let eid = format!("access-review-{id}");
    let e = p["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == eid.as_str())
        .unwrap_or_else(|| panic!("{eid} not in {}", p["evidence"]));
    assert_eq!(
        e["sha256"].as_str(),
        Some(vouch_store::blobs::sha256_hex(done.document.as_bytes()).as_str())
    );
    assert_eq!(e["criteria"], json!(["CC6.2", "CC6.3"]));
    assert_eq!(
        e["produced_by"]["parameters"]["signature"].as_str(),
        Some(done.signature.as_str())
    );
    let ctl = |cid: &str| {
        p["controls"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == cid)
            .unwrap()
            .clone()
    };
    assert!(
        ctl("AC-9")["evidence"]
            .as_array()
            .unwrap()
            .contains(&json!(eid)),
        "a control naming the population lists it"
    );
    assert!(ctl("AC-10")["evidence"]
        .as_array()
        .unwrap()
        .contains(&json!(eid)));
    if let Some(r) = common::schema_check(&out.path().join("oct").join(JSON_FILE)) {
        assert_eq!(r, "valid");
    }
    let r = packet::reproduce(
        &fx.config,
        &fx.ledger,
        &out.path().join("oct").join(JSON_FILE),
    )
    .unwrap();
    assert!(r[0].identical, "{r:?}");
    // September's packet does not have it.
    packet::generate(
        &fx.config,
        &fx.keys,
        &fx.ledger,
        &request(&out.path().join("sep"), "2026-09"),
    )
    .unwrap();
    let sep = std::fs::read_to_string(out.path().join("sep").join(JSON_FILE)).unwrap();
    assert!(!sep.contains(&eid));
});

on_both!(
    the_monthly_job_closes_a_revoke_once_the_account_is_gone_not_on_an_empty_export,
    |fx| {
        use vouch_engine::jobs::{ManualClock, Runner};
        let mut fx = fx;
        fx.with_catalog(CATALOG);
        let users = |names: &[&str]| {
            let rows: Vec<Value> = names.iter().map(|n| json!({"UserName": n})).collect();
            std::fs::write(
                fx.dir.path().join("iam.json"),
                Value::Array(rows).to_string(),
            )
            .unwrap();
        };
        users(&["ci-deployer", "erin"]);
        let oct = Period::parse("2026-10", Utc::now()).unwrap();
        fx.collector()
            .collect(&["iam.users".into()], &oct, &mut |_| {})
            .unwrap();
        let ctx = Ctx {
            config: &fx.config,
            store: &fx.store,
            ledger: &fx.ledger,
        };
        let t = Utc.with_ymd_and_hms(2026, 10, 20, 9, 0, 0).unwrap();
        let n = NewCampaign {
            title: "October IAM review".into(),
            populations: vec![PopulationSpec {
                evidence: "iam.users".into(),
                reviewers: vec![Reviewer {
                    id: "user:sam".into(),
                    accounts: vec![],
                }],
            }],
            draft: false,
        };
        let id = review::create(&ctx, &n, "user:officer", t)
            .unwrap()
            .campaign
            .id;
        let d = Decision {
            population: "iam.users".into(),
            account: "erin".into(),
            decision: "revoke".into(),
            note: Some("left in September".into()),
        };
        let finding = review::decide(&ctx, &id, &d, "user:sam", t)
            .unwrap()
            .finding_id
            .unwrap();

        // erin is still there at the next run: nothing closes.
        let clock = ManualClock::at(Utc.with_ymd_and_hms(2026, 11, 1, 3, 0, 30).unwrap());
        let runner = Runner {
            config: &fx.config,
            store: fx.store.clone(),
            keys: &fx.keys,
            ledger: &fx.ledger,
            clock: &clock,
            worker: "a".into(),
            max_attempts: 1,
            backoff: chrono::Duration::minutes(5),
            not_before: Some(Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()),
        };
        let run = runner
            .run_now("generate-soc2-evidence", Some(oct.clone()))
            .unwrap();
        assert_eq!(run.status, "succeeded", "{run}");
        assert!(run
            .outputs
            .as_ref()
            .unwrap()
            .get("access_reviews_remediated")
            .is_none());
        assert_eq!(
            vouch_engine::checks::findings::get(&fx.store, &finding).unwrap()["status"],
            "open"
        );

        // The export comes back empty (a broken source far likelier than everyone
        // removed): the job's collection cannot prove erin gone, so nothing closes.
        users(&[]);
        clock.set(Utc.with_ymd_and_hms(2026, 11, 1, 15, 0, 30).unwrap());
        let run = runner
            .run_now("generate-soc2-evidence", Some(oct.clone()))
            .unwrap();
        assert_eq!(run.status, "succeeded", "{run}");
        assert!(run
            .outputs
            .as_ref()
            .unwrap()
            .get("access_reviews_remediated")
            .is_none());
        assert_eq!(
            vouch_engine::checks::findings::get(&fx.store, &finding).unwrap()["status"],
            "open"
        );

        // Removed from IAM: the job's collection closes the finding.
        users(&["ci-deployer"]);
        clock.set(Utc.with_ymd_and_hms(2026, 11, 2, 3, 0, 30).unwrap());
        let run = runner.run_now("generate-soc2-evidence", Some(oct)).unwrap();
        assert_eq!(
            run.outputs.as_ref().unwrap()["access_reviews_remediated"],
            1,
            "{run}"
        );
        let f = vouch_engine::checks::findings::get(&fx.store, &finding).unwrap();
        assert_eq!(
            (f["status"].as_str(), f["resolution"]["by"].as_str()),
            (Some("resolved"), Some("collection"))
        );
        let e = review::get(&fx.store, &id)
            .unwrap()
            .entries
            .into_iter()
            .find(|e| e.account == "erin")
            .unwrap();
        assert!(e.remediated_at.is_some());
    }
);
