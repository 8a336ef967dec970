//! Sealed archives end to end with the real tools: `age` and `gpg` decrypt what vouch
//! wrote, the WORM directory refuses a second write, S3 Object Lock on moto holds the
//! lock mode and date, refuses deletion and keeps the original on overwrite.

use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::util::ext::{have, Moto};
use crate::util::vouch as bin;

struct Fx {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Fx {
    fn new() -> Fx {
        let dir = tempfile::tempdir().unwrap();
        let fx = Fx {
            dir,
            env: Vec::new(),
        };
        fx.ok(&[
            "init",
            "--org",
            "Acme",
            "--origin",
            "acme.example/vouch/audit",
        ]);
        // A few October events and an uploaded evidence file.
        let events: String = (1..=20)
            .map(|i| format!("{{\"timestamp\":\"2026-10-{:02}T10:00:00Z\",\"action\":\"user.login\",\"category\":\"authentication\",\"result\":\"success\",\"actor\":{{\"id\":\"u{i}\"}}}}\n", i))
            .collect();
        let f = fx.dir.path().join("events.ndjson");
        std::fs::write(&f, events).unwrap();
        fx.ok(&["ledger", "append", f.to_str().unwrap()]);
        let report = fx.dir.path().join("drill.txt");
        std::fs::write(&report, "DR drill report: restore passed\n").unwrap();
        fx.ok(&[
            "evidence",
            "upload",
            report.to_str().unwrap(),
            "--evidence",
            "dr-drill",
            "--period",
            "2026-10",
        ]);
        fx
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("vouch-data")
    }

    fn run(&self, args: &[&str]) -> Output {
        bin()
            .data_dir(self.data())
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .output()
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "vouch {args:?}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    fn fails(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(!o.status.success(), "vouch {args:?} should fail");
        let e = String::from_utf8_lossy(&o.stderr).into_owned();
        assert_eq!(e.trim().lines().count(), 1, "one readable line: {e}");
        e
    }
}

fn sh(cmd: &mut Command) -> Vec<u8> {
    let o = cmd.output().unwrap();
    assert!(
        o.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o.stdout
}

fn tar_names(tar: &[u8]) -> Vec<String> {
    let mut child = Command::new("tar")
        .args(["-tf", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(tar).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

fn unzstd(bytes: &[u8]) -> Vec<u8> {
    let mut child = Command::new("zstd")
        .args(["-d", "-c"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = bytes.to_vec();
    let t = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    t.join().unwrap().unwrap();
    assert!(out.status.success());
    out.stdout
}

struct Keys {
    age_key: PathBuf,
    age_recipient: String,
    gnupg: PathBuf,
    gpg_pub: PathBuf,
    gpg_sec: PathBuf,
}

fn keys(dir: &Path) -> Keys {
    let age_key = dir.join("age.key");
    sh(Command::new("age-keygen").arg("-o").arg(&age_key));
    let text = std::fs::read_to_string(&age_key).unwrap();
    let age_recipient = text
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .unwrap()
        .to_string();
    let gnupg = dir.join("gnupg");
    std::fs::create_dir(&gnupg).unwrap();
    #[cfg(unix)]
    std::fs::set_permissions(&gnupg, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let gpg = |args: &[&str]| {
        sh(Command::new("gpg")
            .arg("--homedir")
            .arg(&gnupg)
            .args([
                "--batch",
                "--yes",
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                "",
            ])
            .args(args))
    };
    gpg(&[
        "--quick-gen-key",
        "Compliance <compliance@example.com>",
        "default",
        "default",
        "never",
    ]);
    let gpg_pub = dir.join("compliance.asc");
    std::fs::write(
        &gpg_pub,
        gpg(&["--armor", "--export", "compliance@example.com"]),
    )
    .unwrap();
    let gpg_sec = dir.join("compliance-secret.asc");
    std::fs::write(
        &gpg_sec,
        gpg(&["--armor", "--export-secret-keys", "compliance@example.com"]),
    )
    .unwrap();
    Keys {
        age_key,
        age_recipient,
        gnupg,
        gpg_pub,
        gpg_sec,
    }
}

#[test]
fn ext_age_and_openpgp_archives_open_with_the_real_tools() {
    if !have(&["age", "age-keygen", "gpg", "zstd", "tar"]) {
        return;
    }
    let fx = Fx::new();
    let k = keys(fx.dir.path());
    // No recipients: refused, nothing written.
    let e = fx.fails(&["archive", "--period", "2026-10"]);
    assert!(
        e.contains("no recipients") && e.contains("--no-encrypt"),
        "{e}"
    );
    let out: Value = serde_json::from_str(&fx.ok(&[
        "--json",
        "archive",
        "--period",
        "2026-10",
        "--recipient",
        &k.age_recipient,
        "--recipient",
        k.gpg_pub.to_str().unwrap(),
    ]))
    .unwrap();
    assert_eq!(out["folder"], "soc2/2026-10");
    let worm = fx.data().join("worm/soc2/2026-10");
    let mut names: Vec<String> = std::fs::read_dir(&worm)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        vec![
            "MANIFEST.json",
            "MANIFEST.json.sig",
            "SOC2_Evidence.json",
            "SOC2_Evidence.json.sig",
            "SOC2_Evidence.pdf",
            "SOC2_Evidence.pdf.sig",
            "soc2-evidence-2026-10.tar.zst.age",
            "soc2-evidence-2026-10.tar.zst.gpg",
        ]
    );
    // Write-once files: read-only.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(worm.join("soc2-evidence-2026-10.tar.zst.age"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o444);
    }
    // The real age and gpg decrypt to the same compressed tar (deterministic content).
    let from_age = sh(Command::new("age")
        .arg("-d")
        .arg("-i")
        .arg(&k.age_key)
        .arg(worm.join("soc2-evidence-2026-10.tar.zst.age")));
    let from_gpg = sh(Command::new("gpg")
        .arg("--homedir")
        .arg(&k.gnupg)
        .args([
            "--batch",
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            "",
            "-d",
        ])
        .arg(worm.join("soc2-evidence-2026-10.tar.zst.gpg")));
    let tar_a = unzstd(&from_age);
    let tar_g = unzstd(&from_gpg);
    assert_eq!(tar_a, tar_g, "both formats carry the same tar bytes");
    let names = tar_names(&tar_a);
    for want in [
        "MANIFEST.json",
        "MANIFEST.json.sig",
        "SOC2_Evidence.json",
        "SOC2_Evidence.pdf.sig",
        "exports/audit-log-2026-10.ndjson",
        "exports/auth-events-2026-10.ndjson",
        "ledger/checkpoint.txt",
        "ledger/consistency-proof.json",
        "evidence/items.json",
    ] {
        assert!(
            names.contains(&want.to_string()),
            "{want} missing from {names:?}"
        );
    }
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("evidence/dr-drill/") && n.ends_with(".txt")),
        "{names:?}"
    );
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "entries are sorted");
    // The manifest in WORM is the manifest in the tar, and its signature verifies with openssl.
    let manifest = std::fs::read(worm.join("MANIFEST.json")).unwrap();
    let m: Value = serde_json::from_slice(&manifest).unwrap();
    let listed: Vec<&str> = m["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(listed.len(), names.len() - 2);
    let pem = fx.dir.path().join("pub.pem");
    std::fs::write(
        &pem,
        fx.ok(&["keys", "show", "--json"])
            .parse::<Value>()
            .map(|v| {
                v["signing_public_key_pem"]
                    .as_str()
                    .unwrap_or("")
                    .to_string()
            })
            .unwrap_or_default(),
    )
    .unwrap();
    let sig = sh(Command::new("base64")
        .arg("-d")
        .arg(worm.join("MANIFEST.json.sig")));
    std::fs::write(fx.dir.path().join("m.sig"), sig).unwrap();
    if std::fs::read_to_string(&pem)
        .unwrap()
        .contains("BEGIN PUBLIC KEY")
    {
        sh(Command::new("openssl")
            .args(["dgst", "-sha256", "-verify"])
            .arg(&pem)
            .arg("-signature")
            .arg(fx.dir.path().join("m.sig"))
            .arg(worm.join("MANIFEST.json")));
    }
    // vouch's own verify and restore, with either identity.
    let age_file = worm.join("soc2-evidence-2026-10.tar.zst.age");
    let gpg_file = worm.join("soc2-evidence-2026-10.tar.zst.gpg");
    let v: Value = serde_json::from_str(&fx.ok(&[
        "--json",
        "archive",
        "verify",
        age_file.to_str().unwrap(),
        "--identity",
        k.age_key.to_str().unwrap(),
    ]))
    .unwrap();
    assert_eq!(
        (v["valid"].as_bool(), v["files"].as_u64()),
        (Some(true), Some(names.len() as u64)),
        "{v}"
    );
    let v: Value = serde_json::from_str(&fx.ok(&[
        "--json",
        "archive",
        "verify",
        gpg_file.to_str().unwrap(),
        "--identity",
        k.gpg_sec.to_str().unwrap(),
    ]))
    .unwrap();
    assert_eq!(v["valid"], true, "{v}");
    let restored = fx.dir.path().join("restored");
    fx.ok(&[
        "archive",
        "restore",
        age_file.to_str().unwrap(),
        "--identity",
        k.age_key.to_str().unwrap(),
        "--out",
        restored.to_str().unwrap(),
    ]);
    assert_eq!(
        std::fs::read(restored.join("SOC2_Evidence.json")).unwrap(),
        std::fs::read(fx.data().join("packets/2026-10/SOC2_Evidence.json")).unwrap()
    );
    // Wrong identity and a damaged archive are refused.
    let other = fx.dir.path().join("other.key");
    sh(Command::new("age-keygen").arg("-o").arg(&other));
    let e = fx.fails(&[
        "archive",
        "verify",
        age_file.to_str().unwrap(),
        "--identity",
        other.to_str().unwrap(),
    ]);
    assert!(e.contains("age"), "{e}");
    let mut bytes = std::fs::read(&age_file).unwrap();
    let n = bytes.len();
    bytes[n - 100] ^= 1;
    let damaged = fx.dir.path().join("damaged.age");
    std::fs::write(&damaged, bytes).unwrap();
    assert!(!fx
        .run(&[
            "archive",
            "verify",
            damaged.to_str().unwrap(),
            "--identity",
            k.age_key.to_str().unwrap()
        ])
        .status
        .success());

    // A second archive of the period is refused; --supersede writes a new key, both logged.
    let e = fx.fails(&[
        "archive",
        "--period",
        "2026-10",
        "--recipient",
        &k.age_recipient,
    ]);
    assert!(
        e.contains("already archived") && e.contains("--supersede"),
        "{e}"
    );
    let again: Value = serde_json::from_str(&fx.ok(&[
        "--json",
        "archive",
        "--period",
        "2026-10",
        "--recipient",
        &k.age_recipient,
        "--supersede",
        "--compression",
        "gzip",
    ]))
    .unwrap();
    assert_eq!(again["folder"], "soc2/2026-10-r2");
    assert_eq!(again["supersedes"], out["id"]);
    let gz = fx
        .data()
        .join("worm/soc2/2026-10-r2/soc2-evidence-2026-10.tar.gz.age");
    let plain = sh(Command::new("age")
        .arg("-d")
        .arg("-i")
        .arg(&k.age_key)
        .arg(&gz));
    assert_eq!(&plain[..2], &[0x1f, 0x8b]);
    let cols: Value = serde_json::from_str(&fx.ok(&["--json", "collections", "list"])).unwrap();
    assert_eq!(cols.as_array().unwrap().len(), 2);
    assert_eq!(cols[0]["files"].as_array().unwrap().len(), 8);
    // The collection is in the ledger, and the ledger still verifies.
    let export = fx.ok(&[
        "ledger",
        "export",
        "--period",
        &format!("{}..{}", "2026-11-01", "2100-01-01"),
    ]);
    assert_eq!(
        export.matches("\"action\":\"collection.archived\"").count(),
        2,
        "{export}"
    );
    let verify: Value = serde_json::from_str(&fx.ok(&["--json", "ledger", "verify"])).unwrap();
    assert_eq!(verify["valid"], true);
    // Unencrypted only when asked.
    let plain: Value = serde_json::from_str(&fx.ok(&[
        "--json",
        "archive",
        "--period",
        "2026-10",
        "--no-encrypt",
        "--supersede",
    ]))
    .unwrap();
    assert!(plain["files"][0]["uri"]
        .as_str()
        .unwrap()
        .ends_with("soc2-evidence-2026-10.tar.zst"));
}

/// moto (no aws CLI needed here; boto3 seeds the buckets).
fn moto() -> Option<Moto> {
    Moto::start(&[])
}

fn boto(m: &Moto, code: &str) -> Value {
    let script = format!(
        "import boto3, json, datetime\ns3 = boto3.client('s3', endpoint_url='{}', aws_access_key_id='testing', aws_secret_access_key='testing', region_name='us-east-1')\n{code}",
        m.url
    );
    let o = Command::new("python3")
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap_or(Value::Null)
}

#[test]
fn ext_s3_object_lock_on_moto() {
    if !have(&["age", "age-keygen"]) {
        return;
    }
    let Some(m) = moto() else { return };
    let mut fx = Fx::new();
    let k = keys(fx.dir.path());
    boto(
        &m,
        "s3.create_bucket(Bucket='worm', ObjectLockEnabledForBucket=True)\nprint('null')",
    );
    fx.env = vec![
        ("AWS_ENDPOINT_URL".into(), m.url.clone()),
        ("AWS_ACCESS_KEY_ID".into(), "testing".into()),
        ("AWS_SECRET_ACCESS_KEY".into(), "testing".into()),
        ("AWS_REGION".into(), "us-east-1".into()),
    ];
    // A failing upload records nothing.
    let e = fx.fails(&[
        "archive",
        "--period",
        "2026-10",
        "--recipient",
        &k.age_recipient,
        "--storage",
        "s3://no-such-bucket/x",
    ]);
    assert!(
        e.contains("nothing was recorded as collected") && e.contains("NoSuchBucket"),
        "{e}"
    );
    assert_eq!(fx.ok(&["--json", "collections", "list"]).trim(), "[]");

    let out: Value = serde_json::from_str(&fx.ok(&[
        "--json",
        "archive",
        "--period",
        "2026-10",
        "--recipient",
        &k.age_recipient,
        "--storage",
        "s3://worm/compliance",
    ]))
    .unwrap();
    let key = "compliance/soc2/2026-10/soc2-evidence-2026-10.tar.zst.age";
    let archive = out["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["uri"] == format!("s3://worm/{key}"))
        .unwrap()
        .clone();
    assert_eq!(archive["lock_mode"], "COMPLIANCE");
    // HeadObject (moto's GetObjectRetention is unreliable in server mode).
    let head = boto(&m, &format!("h = s3.head_object(Bucket='worm', Key='{key}')\nprint(json.dumps({{'mode': h.get('ObjectLockMode'), 'until': h['ObjectLockRetainUntilDate'].isoformat(), 'version': h.get('VersionId')}}))"));
    assert_eq!(head["mode"], "COMPLIANCE");
    let until = chrono::DateTime::parse_from_rfc3339(head["until"].as_str().unwrap()).unwrap();
    let days = (until.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_days();
    assert!(
        (2553..=2555).contains(&days),
        "retain until {until} ({days} days)"
    );
    // Read back through vouch's own S3 client and checked against the signed manifest.
    let v: Value = serde_json::from_str(&fx.ok(&[
        "--json",
        "archive",
        "verify",
        &format!("s3://worm/{key}"),
        "--identity",
        k.age_key.to_str().unwrap(),
    ]))
    .unwrap();
    assert_eq!(v["valid"], true, "{v}");
    // Deleting the locked version is refused; an overwrite makes a new version and the original stays.
    let del = boto(&m, &format!("import botocore\ntry:\n    s3.delete_object(Bucket='worm', Key='{key}', VersionId='{}')\n    print(json.dumps('deleted'))\nexcept botocore.exceptions.ClientError as e:\n    print(json.dumps(e.response['Error']['Code']))", head["version"].as_str().unwrap()));
    assert_eq!(del, "AccessDenied");
    let versions = boto(&m, &format!("s3.put_object(Bucket='worm', Key='{key}', Body=b'overwrite')\nv = s3.list_object_versions(Bucket='worm', Prefix='{key}')['Versions']\nprint(json.dumps([x['VersionId'] for x in v]))"));
    assert_eq!(versions.as_array().unwrap().len(), 2);
    assert!(versions
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v == &head["version"]));
    let original = boto(&m, &format!("b = s3.get_object(Bucket='worm', Key='{key}', VersionId='{}')['Body'].read()\nprint(json.dumps(b[:21].decode()))", head["version"].as_str().unwrap()));
    assert_eq!(original, "age-encryption.org/v1");
    // Archiving again is refused (the key exists in the bucket).
    let e = fx.fails(&[
        "archive",
        "--period",
        "2026-10",
        "--recipient",
        &k.age_recipient,
        "--storage",
        "s3://worm/compliance",
    ]);
    assert!(e.contains("already archived"), "{e}");
}

#[test]
fn ext_worm_directory_is_sealed_and_does_not_follow_links() {
    if !have(&["zstd"]) {
        return;
    }
    // A completed period folder is read-only (0555); retain-until is stated as advisory.
    let fx = Fx::new();
    let text = fx.ok(&["archive", "--period", "2026-10", "--no-encrypt"]);
    assert!(text.contains("advisory"), "{text}");
    let rec: Value = serde_json::from_str(&fx.ok(&["--json", "collections", "list"])).unwrap();
    let rec = &rec[0];
    assert!(
        rec.to_string().contains("advisory"),
        "the record states that retain-until is advisory: {rec}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let folder = fx.data().join("worm/soc2/2026-10");
        let mode = std::fs::metadata(&folder).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o555, "{} is {mode:o}", folder.display());
        // The parent stays writable for the next periods.
        let parent = std::fs::metadata(fx.data().join("worm/soc2")).unwrap();
        assert_ne!(parent.permissions().mode() & 0o200, 0);
    }

    // A period folder that is a symbolic link is refused, and nothing lands behind it.
    let fx = Fx::new();
    let elsewhere = fx.dir.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::create_dir_all(fx.data().join("worm/soc2")).unwrap();
    std::os::unix::fs::symlink(&elsewhere, fx.data().join("worm/soc2/2026-10")).unwrap();
    let e = fx.fails(&["archive", "--period", "2026-10", "--no-encrypt"]);
    assert!(e.contains("symbolic link"), "{e}");
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
    assert_eq!(fx.ok(&["--json", "collections", "list"]).trim(), "[]");
}

#[test]
fn ext_recipient_files_resolve_against_the_current_directory() {
    if !have(&["age", "age-keygen", "gpg", "zstd"]) {
        return;
    }
    let fx = Fx::new();
    let k = keys(fx.dir.path());
    // `--recipient gpg.pub` given in the directory holding it (not the data dir).
    let name = k.gpg_pub.file_name().unwrap().to_str().unwrap().to_string();
    let o = bin()
        .current_dir(k.gpg_pub.parent().unwrap())
        .data_dir(fx.data())
        .args([
            "--json",
            "archive",
            "--period",
            "2026-10",
            "--recipient",
            &name,
        ])
        .output();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(fx
        .data()
        .join("worm/soc2/2026-10/soc2-evidence-2026-10.tar.zst.gpg")
        .exists());
}

#[test]
fn ext_s3_prefix_soc2_is_not_doubled() {
    if !have(&["zstd"]) {
        return;
    }
    let Some(m) = moto() else { return };
    let mut fx = Fx::new();
    boto(
        &m,
        "s3.create_bucket(Bucket='worm2', ObjectLockEnabledForBucket=True)\nprint('null')",
    );
    fx.env = vec![
        ("AWS_ENDPOINT_URL".into(), m.url.clone()),
        ("AWS_ACCESS_KEY_ID".into(), "testing".into()),
        ("AWS_SECRET_ACCESS_KEY".into(), "testing".into()),
        ("AWS_REGION".into(), "us-east-1".into()),
    ];
    let out = fx.ok(&[
        "archive",
        "--period",
        "2026-10",
        "--no-encrypt",
        "--storage",
        "s3://worm2/soc2",
    ]);
    assert!(
        out.contains("COMPLIANCE") && !out.contains("advisory"),
        "{out}"
    );
    let keys = boto(
        &m,
        "print(json.dumps([o['Key'] for o in s3.list_objects_v2(Bucket='worm2')['Contents']]))",
    );
    let keys: Vec<String> = serde_json::from_value(keys).unwrap();
    assert!(
        keys.iter()
            .any(|k| k == "soc2/2026-10/soc2-evidence-2026-10.tar.zst"),
        "{keys:?}"
    );
    assert!(
        keys.iter().all(|k| !k.starts_with("soc2/soc2/")),
        "{keys:?}"
    );
}
