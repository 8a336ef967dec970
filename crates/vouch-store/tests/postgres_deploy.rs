//! PostgreSQL as deployments run it: TLS with libpq's sslmode against a server whose
//! certificate comes from a CA the test makes with openssl, connection errors that
//! keep their cause, `default_transaction_isolation = serializable`, and PgBouncer in
//! transaction mode. Private clusters (initdb/pg_ctl as the `postgres` user, on free
//! ports) keep the shared server on 5432 unchanged.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use vouch_store::{Head, Store};
use vouch_test_support::ext::free_port;
use vouch_test_support::tls::{make_ca, make_server_cert, run};

/// Skip unless PostgreSQL tests are on (they must be under CI). Private clusters need
/// root (to run initdb and pg_ctl as `postgres` with runuser) and the server binaries.
fn enabled() -> bool {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    let ci = std::env::var("CI").as_deref() == Ok("true");
    if !root || !Path::new("/usr/lib/postgresql").exists() {
        assert!(
            !ci,
            "CI=true: these tests need root and the PostgreSQL server binaries"
        );
        eprintln!("skipping: needs root and /usr/lib/postgresql (private clusters)");
        return false;
    }
    match std::env::var("VOUCH_TEST_DATABASE_URL") {
        Ok(u) if !u.is_empty() => true,
        _ if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI=true but VOUCH_TEST_DATABASE_URL is not set")
        }
        _ => {
            eprintln!("skipping: VOUCH_TEST_DATABASE_URL not set");
            false
        }
    }
}

fn pg_bin(name: &str) -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL server binaries in /usr/lib/postgresql")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("bin").join(name).exists())
        .collect();
    versions.sort_by_key(|p| {
        p.file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.parse::<u32>().ok())
            .unwrap_or(0)
    });
    versions.pop().expect("initdb").join("bin").join(name)
}

/// `cmd` as the postgres user (initdb and the server refuse to run as root).
fn as_postgres(program: &Path) -> Command {
    let mut c = Command::new("runuser");
    c.args(["-u", "postgres", "--"]).arg(program);
    c
}

/// A private PostgreSQL cluster, stopped and removed on drop.
struct Cluster {
    dir: tempfile::TempDir,
    port: u16,
}

impl Cluster {
    /// `conf`: extra postgresql.conf lines; `hba`: pg_hba.conf lines (before a final
    /// `trust` for the postgres superuser over loopback).
    fn start(conf: &str, hba: &str, prepare: impl FnOnce(&Path)) -> Cluster {
        let dir = tempfile::Builder::new()
            .prefix("vouch-pg-")
            .tempdir_in("/var/tmp")
            .unwrap();
        let data = dir.path().join("data");
        run(Command::new("chown")
            .arg("postgres:postgres")
            .arg(dir.path()));
        run(as_postgres(&pg_bin("initdb"))
            .args([
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
                "-D",
            ])
            .arg(&data));
        prepare(dir.path());
        run(Command::new("chown")
            .arg("-R")
            .arg("postgres:postgres")
            .arg(dir.path()));
        let port = free_port();
        let mut c = std::fs::OpenOptions::new()
            .append(true)
            .open(data.join("postgresql.conf"))
            .unwrap();
        use std::io::Write;
        writeln!(
            c,
            "listen_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = '{}'\nfsync = off\nmax_connections = 40\n{conf}",
            dir.path().display()
        )
        .unwrap();
        std::fs::write(
            data.join("pg_hba.conf"),
            format!("local all all trust\n{hba}\nhost all postgres 127.0.0.1/32 trust\n"),
        )
        .unwrap();
        run(as_postgres(&pg_bin("pg_ctl"))
            .args(["-w", "-t", "60", "-l"])
            .arg(dir.path().join("log"))
            .arg("-D")
            .arg(&data)
            .arg("start"));
        Cluster { dir, port }
    }

    fn admin(&self) -> postgres::Client {
        postgres::Client::connect(
            &format!(
                "host=127.0.0.1 port={} user=postgres dbname=postgres sslmode=disable",
                self.port
            ),
            postgres::NoTls,
        )
        .unwrap()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = as_postgres(&pg_bin("pg_ctl"))
            .args(["-m", "immediate", "-D"])
            .arg(self.dir.path().join("data"))
            .arg("stop")
            .output();
    }
}

fn err_of(r: vouch_store::Result<Store>) -> String {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

/// Whether the store's connections are encrypted (pg_stat_ssl of its own backend).
fn ssl_in_use(store: &Store) -> bool {
    let rows = store
        .query(
            "SELECT ssl::int FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .unwrap();
    rows[0].0[0] == vouch_store::Value::Int(1)
}

#[test]
fn ext_tls_sslmodes_against_a_test_ca() {
    if !enabled() {
        return;
    }
    let certs = tempfile::tempdir().unwrap();
    make_ca(certs.path(), "ca");
    make_ca(certs.path(), "other-ca");
    make_server_cert(certs.path(), "ca");
    let cluster = Cluster::start(
        "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n",
        "hostssl all vouch 127.0.0.1/32 trust\nhostnossl all vouch 127.0.0.1/32 trust\nhostssl all scram 127.0.0.1/32 scram-sha-256",
        |dir| {
            for f in ["server.crt", "server.key"] {
                std::fs::copy(certs.path().join(f), dir.join("data").join(f)).unwrap();
            }
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(
                dir.join("data/server.key"),
                std::fs::Permissions::from_mode(0o600),
            )
            .unwrap();
        },
    );
    let mut admin = cluster.admin();
    admin.batch_execute("CREATE ROLE vouch LOGIN").unwrap();
    admin
        .batch_execute("CREATE DATABASE vouch OWNER vouch")
        .unwrap();
    admin
        .batch_execute("CREATE ROLE scram LOGIN PASSWORD 'Scram-Plus-42'; GRANT CREATE ON DATABASE vouch TO scram")
        .unwrap();
    let ca = certs.path().join("ca.crt").display().to_string();
    let other = certs.path().join("other-ca.crt").display().to_string();
    let port = cluster.port;
    // `localhost` by name, the address given so no resolver is involved.
    let by_name = format!("postgres://vouch@localhost:{port}/vouch?hostaddr=127.0.0.1");
    let by_ip = format!("postgres://vouch@127.0.0.1:{port}/vouch");

    // verify-full with the CA: the certificate names localhost.
    let s = vouch_store::open(
        &format!("{by_name}&sslmode=verify-full&sslrootcert={ca}"),
        Some("tls_full"),
    )
    .unwrap_or_else(|e| panic!("verify-full with the right CA: {e}"));
    assert!(ssl_in_use(&s));
    s.ledger_write(&mut |tx| {
        let h = tx.head()?;
        assert_eq!(h.size, 0);
        Ok(())
    })
    .unwrap();
    drop(s);

    // verify-full by IP: the certificate does not name 127.0.0.1.
    let e = err_of(vouch_store::open(
        &format!("{by_ip}?sslmode=verify-full&sslrootcert={ca}"),
        None,
    ));
    assert!(
        e.contains("does not name the host") && e.contains("127.0.0.1"),
        "wrong host name: {e}"
    );

    // verify-ca skips only the host name check.
    let s = vouch_store::open(&format!("{by_ip}?sslmode=verify-ca&sslrootcert={ca}"), None)
        .unwrap_or_else(|e| panic!("verify-ca: {e}"));
    assert!(ssl_in_use(&s));
    drop(s);

    // An untrusted CA fails in both verifying modes.
    for mode in ["verify-full", "verify-ca"] {
        let e = err_of(vouch_store::open(
            &format!("{by_name}&sslmode={mode}&sslrootcert={other}"),
            None,
        ));
        assert!(
            e.contains("not signed by a CA in") && e.contains("other-ca.crt"),
            "untrusted CA ({mode}): {e}"
        );
    }

    // verify-full without any root certificate: a clear configuration error.
    let e = err_of(vouch_store::open(
        &format!("{by_name}&sslmode=verify-full"),
        None,
    ));
    assert!(e.contains("sslrootcert"), "{e}");

    // require: encrypted, certificate not checked (as libpq without a root file).
    let s = vouch_store::open(&format!("{by_ip}?sslmode=require"), None)
        .unwrap_or_else(|e| panic!("require: {e}"));
    assert!(ssl_in_use(&s));
    drop(s);
    // prefer (the default) uses TLS when the server offers it.
    let s = vouch_store::open(&by_ip, None).unwrap_or_else(|e| panic!("prefer: {e}"));
    assert!(
        ssl_in_use(&s),
        "sslmode=prefer must not fall back to plain text"
    );
    drop(s);
    // disable: plain TCP.
    let s = vouch_store::open(&format!("{by_ip}?sslmode=disable"), None)
        .unwrap_or_else(|e| panic!("disable: {e}"));
    assert!(!ssl_in_use(&s));
    drop(s);
    // SCRAM with channel binding (SCRAM-SHA-256-PLUS, tls-server-end-point).
    let s = vouch_store::open(
        &format!("postgres://scram:Scram-Plus-42@localhost:{port}/vouch?hostaddr=127.0.0.1&sslmode=verify-full&sslrootcert={ca}&channel_binding=require"),
        Some("tls_scram"),
    )
    .unwrap_or_else(|e| panic!("channel binding: {e}"));
    assert!(ssl_in_use(&s));
    drop(s);
    // The same through libpq's keyword form.
    let kv = format!("host=localhost hostaddr=127.0.0.1 port={port} user=vouch dbname=vouch sslmode=verify-full sslrootcert='{ca}'");
    let d = vouch_store::pg_tls::PgDsn::parse(&kv).unwrap();
    let mut c = d.connect().unwrap_or_else(|e| panic!("{}", d.explain(&e)));
    let ssl: bool = c
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(ssl);
}

#[test]
fn ext_tls_require_fails_clearly_when_the_server_has_no_tls() {
    if !enabled() {
        return;
    }
    let cluster = Cluster::start("ssl = off\n", "", |_| {});
    let url = format!("postgres://postgres@127.0.0.1:{}/postgres", cluster.port);
    let e = err_of(vouch_store::open(&format!("{url}?sslmode=require"), None));
    assert!(e.contains("does not offer it"), "{e}");
    // prefer falls back to plain text only when the server has no TLS.
    let s = vouch_store::open(&url, None).unwrap();
    assert!(!ssl_in_use(&s));
}

#[test]
fn ext_connection_errors_keep_their_cause() {
    if !enabled() {
        return;
    }
    let cluster = Cluster::start(
        "password_encryption = 'scram-sha-256'\n",
        "host all vouch 127.0.0.1/32 scram-sha-256",
        |_| {},
    );
    let mut admin = cluster.admin();
    admin
        .batch_execute("CREATE ROLE vouch LOGIN PASSWORD 'Right-Horse-9'")
        .unwrap();
    admin
        .batch_execute("CREATE DATABASE vouch OWNER vouch")
        .unwrap();
    let port = cluster.port;
    let secret = "Wr0ng-Secret-77";

    let e = err_of(vouch_store::open(
        &format!("postgres://vouch:{secret}@127.0.0.1:{port}/vouch?sslmode=disable"),
        None,
    ));
    assert!(e.contains("password authentication failed"), "{e}");
    assert!(!e.contains(secret), "password leaked: {e}");
    assert!(e.contains(&format!("127.0.0.1:{port}")), "{e}");
    let e = err_of(vouch_store::open(
        &format!("postgres://vouch@127.0.0.1:{port}/vouch?password={secret}&sslmode=disable"),
        None,
    ));
    assert!(e.contains("password authentication failed"), "{e}");
    assert!(!e.contains(secret), "password leaked: {e}");

    let e = err_of(vouch_store::open(
        &format!("postgres://vouch:Right-Horse-9@127.0.0.1:{port}/nosuchdb"),
        None,
    ));
    assert!(e.contains("database \"nosuchdb\" does not exist"), "{e}");
    assert!(!e.contains("Right-Horse-9"), "password leaked: {e}");

    let closed = free_port();
    let e = err_of(vouch_store::open(
        &format!("postgres://vouch:{secret}@127.0.0.1:{closed}/vouch"),
        None,
    ));
    assert!(e.to_lowercase().contains("connection refused"), "{e}");
    assert!(!e.contains(secret), "password leaked: {e}");

    // The right password works (and the ledger opens).
    let s = vouch_store::open(
        &format!("postgres://vouch:Right-Horse-9@127.0.0.1:{port}/vouch"),
        None,
    )
    .unwrap();
    assert_eq!(s.head().unwrap().size, 0);
}

/// `threads` writers each move the ledger head forward `per` times, each in its own
/// write transaction (the lock and read-modify-write pattern of every append).
fn contend(store: &Store, threads: usize, per: usize) {
    let hs: Vec<_> = (0..threads)
        .map(|_| {
            let s = Arc::clone(store);
            std::thread::spawn(move || {
                for _ in 0..per {
                    s.ledger_write(&mut |tx| {
                        let h = tx.head()?;
                        tx.put_head(&Head {
                            size: h.size + 1,
                            ..h
                        })
                    })
                    .unwrap_or_else(|e| panic!("write failed: {e}"));
                    s.write(&mut |sql| {
                        sql.execute(
                            "UPDATE schema_migrations SET applied_at = now() WHERE version = 1",
                            &[],
                        )?;
                        Ok(())
                    })
                    .unwrap_or_else(|e| panic!("record write failed: {e}"));
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    assert_eq!(store.head().unwrap().size, (threads * per) as u64);
}

#[test]
fn ext_serializable_isolation_is_retried() {
    if !enabled() {
        return;
    }
    let base = std::env::var("VOUCH_TEST_DATABASE_URL").unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    // Serializable for this test's connections only, not the shared cluster.
    let url = format!("{base}{sep}options=-cdefault_transaction_isolation%3Dserializable");
    let schema = format!("vouch_ser_{}", std::process::id());
    let store = vouch_store::open(&url, Some(&schema)).unwrap();
    let iso = store
        .query("SHOW default_transaction_isolation", &[])
        .unwrap();
    assert_eq!(iso[0].0[0], vouch_store::Value::Text("serializable".into()));
    let before = vouch_store::serialization_retries();
    // A conflict that must happen: B's transaction takes its snapshot while A holds the
    // head row, then waits for it; when A commits, B fails with 40001 ("could not
    // serialize access due to concurrent update") and is retried.
    let (locked_tx, locked_rx) = std::sync::mpsc::channel::<()>();
    let a = {
        let s = Arc::clone(&store);
        std::thread::spawn(move || {
            s.ledger_write(&mut |tx| {
                let h = tx.head()?;
                let _ = locked_tx.send(());
                std::thread::sleep(std::time::Duration::from_millis(500));
                tx.put_head(&Head {
                    size: h.size + 1,
                    ..h
                })
            })
            .unwrap()
        })
    };
    locked_rx.recv().unwrap();
    let mut attempts = 0;
    store
        .ledger_write(&mut |tx| {
            attempts += 1;
            let h = tx.head()?;
            tx.put_head(&Head {
                size: h.size + 1,
                ..h
            })
        })
        .unwrap_or_else(|e| panic!("the conflicting write was not retried: {e}"));
    a.join().unwrap();
    assert!(attempts >= 2, "B ran {attempts} time(s): no conflict seen");
    assert!(
        vouch_store::serialization_retries() > before,
        "no serialisation failure was retried"
    );
    // Both increments landed exactly once.
    assert_eq!(store.head().unwrap().size, 2);
    store
        .ledger_write(&mut |tx| {
            let h = tx.head()?;
            tx.put_head(&Head { size: 0, ..h })
        })
        .unwrap();
    // Many writers at once: every write lands, none twice.
    contend(&store, 6, 15);
    let _ = store.write(&mut |sql| {
        sql.execute(&format!("DROP SCHEMA {schema} CASCADE"), &[])?;
        Ok(())
    });
}

#[test]
fn ext_works_behind_pgbouncer_in_transaction_mode() {
    if !enabled() {
        return;
    }
    let cluster = Cluster::start(
        "default_transaction_isolation = 'serializable'\n",
        "",
        |_| {},
    );
    cluster
        .admin()
        .batch_execute("CREATE DATABASE vouch")
        .unwrap();
    let bdir = tempfile::Builder::new()
        .prefix("vouch-pgbouncer-")
        .tempdir_in("/var/tmp")
        .unwrap();
    let bport = free_port();
    std::fs::write(bdir.path().join("users.txt"), "\"postgres\" \"\"\n").unwrap();
    std::fs::write(
        bdir.path().join("pgbouncer.ini"),
        format!(
            "[databases]\nvouch = host=127.0.0.1 port={} dbname=vouch\n\
             [pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {bport}\nunix_socket_dir =\n\
             auth_type = trust\nauth_file = {dir}/users.txt\npool_mode = transaction\n\
             default_pool_size = 3\nmax_client_conn = 100\nserver_round_robin = 1\n\
             logfile = {dir}/pgbouncer.log\npidfile = {dir}/pgbouncer.pid\n",
            cluster.port,
            dir = bdir.path().display()
        ),
    )
    .unwrap();
    run(Command::new("chown")
        .arg("-R")
        .arg("postgres:postgres")
        .arg(bdir.path()));
    run(as_postgres(Path::new("/usr/sbin/pgbouncer"))
        .arg("-d")
        .arg(bdir.path().join("pgbouncer.ini")));
    struct Stop(PathBuf);
    impl Drop for Stop {
        fn drop(&mut self) {
            if let Ok(pid) = std::fs::read_to_string(&self.0) {
                let _ = Command::new("kill").arg(pid.trim()).output();
            }
        }
    }
    let _stop = Stop(bdir.path().join("pgbouncer.pid"));
    for _ in 0..50 {
        if std::net::TcpStream::connect(("127.0.0.1", bport)).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let url = format!("postgres://postgres@127.0.0.1:{bport}/vouch?sslmode=disable");
    // A schema (set per transaction: PgBouncer does not pass startup options on).
    let store = vouch_store::open(&url, Some("behind_bouncer"))
        .unwrap_or_else(|e| panic!("open through PgBouncer: {e}"));
    contend(&store, 8, 10);
    // The ledger probe (run before every open whose database is not the recorded one)
    // goes through the bouncer too, while other clients use the pool.
    let busy = std::sync::atomic::AtomicBool::new(true);
    let probes: Vec<_> = std::thread::scope(|sc| {
        sc.spawn(|| {
            while busy.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = store.head();
            }
        });
        let probes = (0..30)
            .map(|_| vouch_store::probe(&url, Some("behind_bouncer")).map_err(|e| e.to_string()))
            .collect();
        busy.store(false, std::sync::atomic::Ordering::Relaxed);
        probes
    });
    for p in probes {
        assert_eq!(
            p.unwrap_or_else(|e| panic!("probe through PgBouncer: {e}")),
            Some(80)
        );
    }
    // Reads through the bouncer, many times over its three server connections.
    for _ in 0..50 {
        assert_eq!(store.head().unwrap().size, 80);
        assert!(store.latest_checkpoint().unwrap().is_none());
        let n = store
            .query("SELECT count(*) FROM schema_migrations", &[])
            .unwrap();
        assert!(matches!(n[0].0[0], vouch_store::Value::Int(k) if k > 0));
        // The audit-log query's read transaction: its planner settings and several
        // typed queries (unnamed statements) on one server connection.
        let mut seen = Vec::new();
        store
            .read(&[("enable_seqscan", "off"), ("jit", "off")], &mut |sql| {
                let a = sql.query(
                    "SELECT count(*) FROM schema_migrations WHERE version >= $1 AND $2 <> ''",
                    &[vouch_store::Value::Int(0), "x".into()],
                )?;
                let b = sql.query("SELECT current_setting('enable_seqscan')", &[])?;
                seen = vec![a[0].int(0).to_string(), b[0].text(0)];
                Ok(())
            })
            .unwrap();
        assert_eq!(seen, [n[0].int(0).to_string(), "off".to_string()]);
    }
    // A setting is never taken from text that is not a plain name and value.
    assert!(store
        .read(&[("enable_seqscan", "off; DROP TABLE x")], &mut |_| Ok(()))
        .is_err());
    // Every kind of statement the ledger uses (array inserts, streams, checkpoints,
    // packets), through the bouncer.
    store
        .ledger_write(&mut |tx| {
            let rows: Vec<vouch_store::EntryRow> = (0..3u64)
                .map(|i| vouch_store::EntryRow {
                    seq: i,
                    id: format!("00000000-0000-4000-8000-00000000000{i}"),
                    ts: format!("2026-10-01T00:00:0{i}.000000Z"),
                    leaf: format!("{{\"seq\":{i}}}").into_bytes(),
                    leaf_hash: [i as u8; 32],
                    chain: [9; 32],
                    index: vouch_store::IndexFields {
                        action: "a".into(),
                        category: "system".into(),
                        result: "success".into(),
                        ..Default::default()
                    },
                })
                .collect();
            tx.insert_entries(&rows)?;
            tx.insert_nodes(&[vouch_core::merkle::Node {
                level: 8,
                index: 0,
                hash: [7; 32],
            }])?;
            assert_eq!(
                tx.find_ids(&["00000000-0000-4000-8000-000000000001"])?
                    .len(),
                1
            );
            Ok(())
        })
        .unwrap();
    let mut seen = 0;
    store
        .scan_entries(0, &mut |_| {
            seen += 1;
            Ok(true)
        })
        .unwrap();
    assert_eq!(seen, 3);
    // The audit-log index rows and the daily counter, through the bouncer too.
    let daily = store.daily_counts("2026-10-01", "2026-10-01").unwrap();
    assert_eq!(daily.len(), 1);
    assert_eq!(daily[0].count, 3);
    assert_eq!(store.leaf_hashes(0, 3).unwrap().len(), 3);
    assert_eq!(store.nodes(8, 0, 1).unwrap(), vec![[7u8; 32]]);
    store
        .insert_checkpoint(&vouch_store::CheckpointRow {
            size: 3,
            root: vec![1; 32],
            note: "note".into(),
            created_at: "2026-10-01T00:00:03Z".into(),
        })
        .unwrap();
    assert_eq!(store.checkpoint_at(3).unwrap().unwrap().note, "note");
    assert_eq!(
        store
            .size_covering_before("2026-10-01T00:00:02.000000Z")
            .unwrap(),
        2
    );
    // The tables went to the schema, not to public.
    let mut admin = cluster.admin();
    let _ = &mut admin;
    let mut c = postgres::Client::connect(
        &format!(
            "host=127.0.0.1 port={} user=postgres dbname=vouch sslmode=disable",
            cluster.port
        ),
        postgres::NoTls,
    )
    .unwrap();
    let t: Option<String> = c
        .query_one(
            "SELECT to_regclass('behind_bouncer.ledger_head')::text",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(t.is_some());
    let p: Option<String> = c
        .query_one("SELECT to_regclass('public.ledger_head')::text", &[])
        .unwrap()
        .get(0);
    assert!(p.is_none(), "tables leaked into public");
}

/// The shared test server's user, database and port (from VOUCH_TEST_DATABASE_URL).
fn shared_server() -> (String, String, u16) {
    let base = std::env::var("VOUCH_TEST_DATABASE_URL").unwrap();
    let cfg: postgres::Config = base.split('?').next().unwrap().parse().unwrap();
    (
        cfg.get_user().unwrap_or("postgres").to_string(),
        cfg.get_dbname().unwrap_or("postgres").to_string(),
        cfg.get_ports().first().copied().unwrap_or(5432),
    )
}

fn drop_schema(schema: &str) {
    let base = std::env::var("VOUCH_TEST_DATABASE_URL").unwrap();
    let mut c = postgres::Client::connect(&base, postgres::NoTls).unwrap();
    c.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .unwrap();
}

/// tokio-postgres asks the TLS connector for an empty server name when the host is a
/// Unix socket or only `hostaddr` is given; that must not stop the connection. As
/// libpq: sslmode does not apply to Unix sockets; `hostaddr` alone is TCP, with TLS
/// when the server offers it (prefer) and plain text with `disable`.
#[test]
fn ext_unix_socket_and_hostaddr_only_connect() {
    if !enabled() {
        return;
    }
    let socket_dir = "/var/run/postgresql";
    let (user, db, port) = shared_server();
    assert!(
        Path::new(&format!("{socket_dir}/.s.PGSQL.{port}")).exists(),
        "the test server listens on {socket_dir}"
    );
    let schema = format!("vouch_sock_{}", std::process::id());
    for mode in ["disable", "prefer", "require", "verify-full"] {
        let url =
            format!("postgres:///{db}?host={socket_dir}&port={port}&user={user}&sslmode={mode}");
        let s = vouch_store::open(&url, Some(&schema))
            .unwrap_or_else(|e| panic!("Unix socket, sslmode={mode}: {e}"));
        assert_eq!(s.head().unwrap().size, 0);
        // Over a Unix socket the server reports no client address.
        let r = s.query("SELECT inet_client_addr() IS NULL", &[]).unwrap();
        assert_eq!(r[0].0[0], vouch_store::Value::Int(1), "{mode}");
        assert_eq!(
            vouch_store::probe(&url, Some(&schema)).unwrap(),
            Some(0),
            "probe over the socket ({mode})"
        );
    }
    // The same through the keyword form (what collectors are often given).
    let kv = format!("host={socket_dir} port={port} user={user} dbname={db}");
    let d = vouch_store::pg_tls::PgDsn::parse(&kv).unwrap();
    d.connect()
        .unwrap_or_else(|e| panic!("keyword form over the socket: {}", d.explain(&e)));

    let url =
        format!("postgres:///{db}?hostaddr=127.0.0.1&port={port}&user={user}&sslmode=disable");
    let s = vouch_store::open(&url, Some(&schema))
        .unwrap_or_else(|e| panic!("hostaddr only, sslmode=disable: {e}"));
    assert!(!ssl_in_use(&s));
    drop(s);
    // The default (prefer) against a server with TLS on: encrypted, as libpq.
    let url = format!("postgres:///{db}?hostaddr=127.0.0.1&port={port}&user={user}");
    let s = vouch_store::open(&url, Some(&schema))
        .unwrap_or_else(|e| panic!("hostaddr only, sslmode=prefer: {e}"));
    assert!(ssl_in_use(&s), "prefer with hostaddr uses TLS when offered");
    drop(s);
    drop_schema(&schema);
}

/// Several processes starting at once on a fresh schema: all open it (the schema is
/// created under the migration lock, not raced for).
#[test]
fn ext_concurrent_open_of_a_fresh_schema() {
    if !enabled() {
        return;
    }
    let base = std::env::var("VOUCH_TEST_DATABASE_URL").unwrap();
    for round in 0..6 {
        let schema = format!("vouch_race_{}_{round}", std::process::id());
        let barrier = Arc::new(std::sync::Barrier::new(6));
        let hs: Vec<_> = (0..6)
            .map(|_| {
                let (b, url, s) = (barrier.clone(), base.clone(), schema.clone());
                std::thread::spawn(move || {
                    b.wait();
                    vouch_store::open(&url, Some(&s))
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                })
            })
            .collect();
        let results: Vec<_> = hs.into_iter().map(|h| h.join().unwrap()).collect();
        drop_schema(&schema);
        for r in results {
            r.unwrap_or_else(|e| panic!("concurrent open (round {round}): {e}"));
        }
    }
}

/// A serialisation failure on a read (never retried) is not reported as retried; one
/// from a write transaction that kept failing says how often it was tried.
#[test]
fn ext_serialization_errors_say_what_was_retried() {
    if !enabled() {
        return;
    }
    let base = std::env::var("VOUCH_TEST_DATABASE_URL").unwrap();
    let schema = format!("vouch_sermsg_{}", std::process::id());
    let store = vouch_store::open(&base, Some(&schema)).unwrap();
    store
        .write(&mut |sql| {
            sql.execute(
                &format!("CREATE FUNCTION {schema}.conflict() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'simulated conflict' USING ERRCODE = 'serialization_failure'; END $$"),
                &[],
            )?;
            Ok(())
        })
        .unwrap();
    let e = store
        .query(&format!("SELECT {schema}.conflict()"), &[])
        .unwrap_err();
    assert!(
        matches!(e, vouch_store::StoreError::Serialization(_)),
        "{e}"
    );
    let msg = e.to_string();
    assert!(msg.contains("simulated conflict"), "{msg}");
    assert!(!msg.contains("retried"), "a read is never retried: {msg}");
    let before = vouch_store::serialization_retries();
    let e = store
        .write(&mut |sql| {
            sql.query(&format!("SELECT {schema}.conflict()"), &[])?;
            Ok(())
        })
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("simulated conflict") && e.contains("20 attempts"),
        "{e}"
    );
    assert_eq!(vouch_store::serialization_retries() - before, 19);
    drop(store);
    drop_schema(&schema);
}
