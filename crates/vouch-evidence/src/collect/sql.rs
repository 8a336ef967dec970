//! SQL collectors: PostgreSQL, MySQL/MariaDB and SQLite. Each runs the query in a
//! read-only transaction with a statement timeout, streams rows out as NDJSON (one JSON
//! object per row, columns in query order) and stops at the source's row/byte limits.

use super::{collector_id, env_var, hostname, ordered_object, Content, NdjsonSink, Outcome, Run};
use crate::secrets::{dsn_password, Scrubber};
use crate::template::{expand, Context};
use serde_json::{json, Value};

fn query_text(run: &Run<'_>, mysql: bool) -> Result<String, String> {
    let q = run.def.query.as_deref().unwrap_or_default();
    let q = expand(q, &run.vars, Context::Sql { mysql })?;
    Ok(q.trim().trim_end_matches(';').trim().to_string())
}

fn operation(query: &str, run: &Run<'_>) -> Value {
    json!({"query": query, "params": run.def.params, "collector": collector_id(run.source.kind.as_str())})
}

/// Run the definition's query on PostgreSQL in a read-only transaction.
pub fn postgres(run: &Run<'_>, scrubber: &mut Scrubber) -> Outcome {
    let fail = |fp: Value, op: Value, e: String| Outcome::failed(fp, op, json!({}), e);
    let query = match query_text(run, false) {
        Ok(q) => q,
        Err(e) => return fail(json!({}), json!({}), e),
    };
    let op = operation(&query, run);
    let first = query
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_ascii_uppercase();
    if !["SELECT", "WITH", "VALUES", "TABLE", "("]
        .iter()
        .any(|k| first.starts_with(k))
    {
        return fail(
            json!({}),
            op,
            format!("evidence queries must read (SELECT, WITH, VALUES, TABLE), not `{first}`"),
        );
    }
    let dsn = match env_var(run.source.url_env.as_deref().unwrap_or_default(), "url_env") {
        Ok(d) => d,
        Err(e) => return fail(json!({}), op, e),
    };
    for pw in dsn_password(&dsn) {
        scrubber.add(pw);
    }
    let pg = match vouch_store::pg_tls::PgDsn::parse(&dsn) {
        Ok(c) => c,
        Err(e) => {
            return fail(
                json!({}),
                op,
                scrubber.scrub(&format!(
                    "invalid DSN in {}: {e}",
                    run.source.url_env.as_deref().unwrap_or_default()
                )),
            )
        }
    };
    let mut cfg = pg.config.clone();
    // The DSN's options other than secrets (sslmode, options=-csearch_path=…,
    // application_name…): the auditor sees which schema was read and how.
    let options: serde_json::Map<String, Value> = pg
        .params
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "host" | "hostaddr" | "port" | "dbname" | "user"))
        .map(|(k, v)| (k.clone(), json!(scrubber.scrub(v))))
        .collect();
    // What the DSN asks for (`configured`) and, once connected, what the session had
    // (`session`): PgBouncer drops startup `options`, and `prefer` may end in plain
    // text, so the configured values alone do not say which schema was read or whether
    // the connection was encrypted.
    let mut fp = json!({
        "host": cfg.get_hosts().iter().map(|h| match h {
            postgres::config::Host::Tcp(s) => s.clone(),
            postgres::config::Host::Unix(p) => p.display().to_string(),
        }).collect::<Vec<_>>(),
        "port": cfg.get_ports(),
        "database": cfg.get_dbname(),
        "user": cfg.get_user(),
        "configured": {"sslmode": pg.mode.as_str(), "options": options},
        "session": null,
        "collected_on": hostname(),
    });
    let mut session = Value::Null;
    cfg.connect_timeout(run.source.timeout());
    cfg.application_name("vouch-collect");
    let result = (|| -> Result<Content, String> {
        let err = |e: postgres::Error| {
            let detail = e
                .as_db_error()
                .map(|d| format!("{} ({})", d.message(), d.code().code()))
                .unwrap_or_else(|| vouch_store::pg_tls::error_chain(&e));
            detail
        };
        let mut client = pg
            .connect_with(&cfg)
            .map_err(|e| format!("cannot connect: {}", pg.explain(&e)))?;
        let mut tx = client
            .build_transaction()
            .read_only(true)
            .start()
            .map_err(err)?;
        tx.batch_execute(&format!(
            "SET LOCAL statement_timeout = {}; SET LOCAL TIME ZONE 'UTC'",
            run.source.timeout().as_millis()
        ))
        .map_err(err)?;
        // The session as the server saw it (pg_stat_ssl of this backend; behind a pooler
        // it is the pooler's server connection).
        let row = tx
            .query_one(
                "SELECT current_setting('search_path'), \
                        coalesce((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false), \
                        (SELECT version FROM pg_stat_ssl WHERE pid = pg_backend_pid() AND ssl), \
                        (SELECT cipher FROM pg_stat_ssl WHERE pid = pg_backend_pid() AND ssl), \
                        inet_server_addr()::text IS NULL",
                &[],
            )
            .map_err(err)?;
        session = json!({
            "search_path": row.get::<_, String>(0),
            "ssl": row.get::<_, bool>(1),
            "tls_version": row.get::<_, Option<String>>(2),
            "cipher": row.get::<_, Option<String>>(3),
            "unix_socket": row.get::<_, bool>(4),
        });
        // row_to_json gives every PostgreSQL type its JSON form (numbers, booleans,
        // nested json, ISO timestamps) and keeps the column order.
        let wrapped = format!("SELECT row_to_json(vouch_q)::text FROM ({query}\n) AS vouch_q");
        let empty: [&str; 0] = [];
        let mut rows = tx.query_raw(&wrapped, empty).map_err(err)?;
        let mut sink = NdjsonSink::new(run.source);
        use postgres::fallible_iterator::FallibleIterator;
        while let Some(row) = rows.next().map_err(err)? {
            let text: Option<String> = row.try_get(0).map_err(err)?;
            sink.push(text.as_deref().unwrap_or("null"))?;
        }
        drop(rows);
        tx.rollback().map_err(err)?;
        Ok(sink.finish())
    })();
    fp["session"] = session;
    Outcome {
        fingerprint: fp,
        operation: op,
        details: json!({"read_only": true, "statement_timeout_ms": run.source.timeout().as_millis() as u64}),
        result: result.map(|c| vec![c]).map_err(|e| scrubber.scrub(&e)),
    }
}

/// Run the definition's query on MySQL/MariaDB in a read-only transaction.
pub fn mysql(run: &Run<'_>, scrubber: &mut Scrubber) -> Outcome {
    use mysql::prelude::Queryable;
    let fail = |fp: Value, op: Value, e: String| Outcome::failed(fp, op, json!({}), e);
    let query = match query_text(run, true) {
        Ok(q) => q,
        Err(e) => return fail(json!({}), json!({}), e),
    };
    let op = operation(&query, run);
    let var = run.source.url_env.as_deref().unwrap_or_default();
    let dsn = match env_var(var, "url_env") {
        Ok(d) => d,
        Err(e) => return fail(json!({}), op, e),
    };
    for pw in dsn_password(&dsn) {
        scrubber.add(pw);
    }
    // `ssl-mode` (and `ssl-ca`) as the mysql client takes them; the driver itself
    // rejects unknown URL parameters, so they are taken out first.
    let (dsn_rest, tls) = match mysql_tls(&dsn) {
        Ok(x) => x,
        Err(e) => {
            return fail(
                json!({}),
                op,
                scrubber.scrub(&format!("invalid DSN in {var}: {e}")),
            )
        }
    };
    let opts = match mysql::Opts::from_url(&dsn_rest) {
        Ok(o) => o,
        Err(e) => {
            return fail(
                json!({}),
                op,
                scrubber.scrub(&format!("invalid DSN in {var}: {e}")),
            )
        }
    };
    if let Some(pw) = opts.get_pass() {
        scrubber.add(pw.to_string());
    }
    let mut fp = json!({
        "host": opts.get_ip_or_hostname().to_string(),
        "port": opts.get_tcp_port(),
        "database": opts.get_db_name(),
        "user": opts.get_user(),
        "ssl_mode": tls.mode,
        "ssl_ca": tls.ca,
        "tls": false,
        "options": tls.options.iter().cloned().collect::<serde_json::Map<String, Value>>(),
        "collected_on": hostname(),
    });
    let timeout = run.source.timeout();
    let opts: mysql::Opts = mysql::OptsBuilder::from_opts(opts)
        .tcp_connect_timeout(Some(timeout))
        .read_timeout(Some(timeout))
        .into();
    let result = (|| -> Result<Content, String> {
        let e2s = |e: mysql::Error| e.to_string();
        let mut conn = tls.connect(opts)?;
        // What the session really uses, as the server reports it (empty when plain).
        let status = |conn: &mut mysql::Conn, var: &str| -> Option<String> {
            conn.query_first::<(String, String), _>(format!("SHOW SESSION STATUS LIKE '{var}'"))
                .ok()
                .flatten()
                .map(|(_, v)| v)
                .filter(|v| !v.is_empty())
        };
        let version = status(&mut conn, "Ssl_version");
        let cipher = status(&mut conn, "Ssl_cipher");
        fp["tls"] = json!(version.is_some());
        if let Some(v) = version {
            fp["tls_version"] = json!(v);
        }
        if let Some(c) = cipher {
            fp["tls_cipher"] = json!(c);
        }
        if tls.mode != "DISABLED" && tls.mode != "PREFERRED" && fp["tls"] != json!(true) {
            return Err(format!(
                "ssl-mode={}: the session is not encrypted (Ssl_version is empty); nothing was read",
                tls.mode
            ));
        }
        // MariaDB and MySQL name the statement timeout differently; set what exists.
        let _ = conn.query_drop(format!(
            "SET SESSION max_statement_time = {}",
            timeout.as_secs()
        ));
        let _ = conn.query_drop(format!(
            "SET SESSION max_execution_time = {}",
            timeout.as_millis()
        ));
        conn.query_drop("SET time_zone = '+00:00'").map_err(e2s)?;
        conn.query_drop("START TRANSACTION READ ONLY")
            .map_err(e2s)?;
        let mut sink = NdjsonSink::new(run.source);
        {
            let mut result = conn.query_iter(&query).map_err(e2s)?;
            while let Some(set) = result.iter() {
                for row in set {
                    let row = row.map_err(e2s)?;
                    let cols = row.columns_ref();
                    let mut pairs = Vec::with_capacity(cols.len());
                    for (i, c) in cols.iter().enumerate() {
                        let v = row.as_ref(i).cloned().unwrap_or(mysql::Value::NULL);
                        pairs.push((c.name_str().to_string(), mysql_json(&v, c.column_type())));
                    }
                    sink.push(&ordered_object(&pairs))?;
                }
            }
        }
        conn.query_drop("ROLLBACK").map_err(e2s)?;
        Ok(sink.finish())
    })();
    Outcome {
        fingerprint: fp,
        operation: op,
        details: json!({"read_only": true, "statement_timeout_ms": timeout.as_millis() as u64}),
        result: result.map(|c| vec![c]).map_err(|e| scrubber.scrub(&e)),
    }
}

/// A MySQL DSN's TLS settings (`ssl-mode`, `ssl-ca`), as the mysql client reads them.
struct MysqlTls {
    mode: &'static str,
    ca: Option<String>,
    /// The DSN's other parameters, for the IPE record (no secrets: the driver takes
    /// none as parameters).
    options: Vec<(String, Value)>,
}

fn mysql_tls(dsn: &str) -> Result<(String, MysqlTls), String> {
    let (base, query) = dsn.split_once('?').unwrap_or((dsn, ""));
    let mut kept = Vec::new();
    let mut mode = None;
    let mut ca = None;
    let mut options = Vec::new();
    for kv in query.split('&').filter(|s| !s.is_empty()) {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        let norm = k.replace('_', "-").to_ascii_lowercase();
        match norm.as_str() {
            "ssl-mode" | "sslmode" => {
                mode = Some(match v.to_ascii_uppercase().replace('-', "_").as_str() {
                    "DISABLED" => "DISABLED",
                    "PREFERRED" => "PREFERRED",
                    "REQUIRED" => "REQUIRED",
                    "VERIFY_CA" => "VERIFY_CA",
                    "VERIFY_IDENTITY" => "VERIFY_IDENTITY",
                    other => {
                        return Err(format!(
                            "invalid ssl-mode `{other}` (DISABLED, PREFERRED, REQUIRED, VERIFY_CA or VERIFY_IDENTITY)"
                        ))
                    }
                });
                continue;
            }
            "ssl-ca" | "sslrootcert" => {
                let path = percent_decode(v).ok_or("ssl-ca is not valid percent-encoded UTF-8")?;
                if path.is_empty() {
                    return Err("ssl-ca is empty (give the CA certificate file)".into());
                }
                ca = Some(path);
                continue;
            }
            _ => kept.push(kv),
        }
        if !k.eq_ignore_ascii_case("password") {
            options.push((k.to_string(), json!(v)));
        }
    }
    // As the mysql client: ssl-ca without ssl-mode means VERIFY_CA.
    let mode = mode.unwrap_or(if ca.is_some() {
        "VERIFY_CA"
    } else {
        "PREFERRED"
    });
    if matches!(mode, "VERIFY_CA" | "VERIFY_IDENTITY") && ca.is_none() {
        return Err(format!(
            "ssl-mode={mode} needs ssl-ca=FILE (the CA that signed the server's certificate)"
        ));
    }
    if let Some(ca) = &ca {
        if mode == "DISABLED" {
            return Err(format!(
                "ssl-ca={ca} with ssl-mode=DISABLED: the CA would never be used (drop one of them)"
            ));
        }
        if let Err(e) = std::fs::metadata(ca) {
            return Err(format!("ssl-ca {ca}: cannot read: {e}"));
        }
    }
    let rest = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((rest, MysqlTls { mode, ca, options }))
}

/// `%XX` escapes decoded (a URL parameter's value).
fn percent_decode(v: &str) -> Option<String> {
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = v.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

impl MysqlTls {
    /// The driver's TLS options for this mode (OpenSSL through native-tls):
    /// REQUIRED and PREFERRED encrypt without checking the certificate (as the mysql
    /// client does); VERIFY_CA checks the chain against `ssl-ca` but not the host
    /// name; VERIFY_IDENTITY checks both.
    fn ssl_opts(&self) -> Option<mysql::SslOpts> {
        let base = mysql::SslOpts::default();
        let base = match &self.ca {
            Some(ca) => base.with_root_cert_path(Some(std::path::PathBuf::from(ca))),
            None => base,
        };
        match self.mode {
            "DISABLED" => None,
            "PREFERRED" | "REQUIRED" => Some(
                base.with_danger_accept_invalid_certs(true)
                    .with_danger_skip_domain_validation(true),
            ),
            "VERIFY_CA" => Some(base.with_danger_skip_domain_validation(true)),
            _ => Some(base),
        }
    }

    fn connect(&self, opts: mysql::Opts) -> Result<mysql::Conn, String> {
        let Some(ssl) = self.ssl_opts() else {
            return mysql::Conn::new(opts)
                .map_err(|e| format!("cannot connect: {}", vouch_store::pg_tls::error_chain(&e)));
        };
        let host = opts.get_ip_or_hostname().to_string();
        // Stay on the TCP connection that was secured: the driver would otherwise move
        // a loopback connection to the server's Unix socket, without TLS.
        let secure: mysql::Opts = mysql::OptsBuilder::from_opts(opts.clone())
            .prefer_socket(false)
            .ssl_opts(Some(ssl))
            .into();
        match mysql::Conn::new(secure) {
            Ok(c) => Ok(c),
            Err(mysql::Error::DriverError(mysql::DriverError::TlsNotSupported))
                if self.mode == "PREFERRED" =>
            {
                mysql::Conn::new(opts).map_err(|e| {
                    format!("cannot connect: {}", vouch_store::pg_tls::error_chain(&e))
                })
            }
            Err(mysql::Error::DriverError(mysql::DriverError::TlsNotSupported)) => Err(format!(
                "cannot connect: ssl-mode={} requires TLS and the server at {host} does not offer it; nothing was read in plain text",
                self.mode
            )),
            Err(e) => Err(self.explain(&e, &host)),
        }
    }

    fn explain(&self, e: &mysql::Error, host: &str) -> String {
        let msg = vouch_store::pg_tls::error_chain(e);
        let ca = self.ca.as_deref().unwrap_or("ssl-ca");
        let lower = msg.to_ascii_lowercase();
        let why = if lower.contains("hostname mismatch") || lower.contains("ip address mismatch") {
            format!(
                " (ssl-mode=VERIFY_IDENTITY: the server's certificate does not name `{host}`; connect by a name the certificate lists, or use VERIFY_CA)"
            )
        } else if msg.contains("certificate verify failed") {
            format!(
                " (ssl-mode={}: the server's certificate is not signed by a CA in {ca})",
                self.mode
            )
        } else {
            String::new()
        };
        format!("cannot connect: {msg}{why}")
    }
}

fn mysql_json(v: &mysql::Value, ty: mysql::consts::ColumnType) -> Value {
    use mysql::consts::ColumnType as T;
    match v {
        mysql::Value::NULL => Value::Null,
        mysql::Value::Int(i) => json!(i),
        mysql::Value::UInt(u) => json!(u),
        mysql::Value::Float(f) => json!(f),
        mysql::Value::Double(d) => json!(d),
        mysql::Value::Bytes(b) => {
            let text = String::from_utf8_lossy(b).into_owned();
            match ty {
                T::MYSQL_TYPE_TINY
                | T::MYSQL_TYPE_SHORT
                | T::MYSQL_TYPE_LONG
                | T::MYSQL_TYPE_INT24
                | T::MYSQL_TYPE_LONGLONG
                | T::MYSQL_TYPE_YEAR => {
                    text.parse::<i64>().map(|i| json!(i)).unwrap_or(json!(text))
                }
                T::MYSQL_TYPE_FLOAT | T::MYSQL_TYPE_DOUBLE => {
                    text.parse::<f64>().map(|f| json!(f)).unwrap_or(json!(text))
                }
                T::MYSQL_TYPE_JSON => serde_json::from_str(&text).unwrap_or(json!(text)),
                _ if std::str::from_utf8(b).is_err() => json!(hex::encode(b)),
                _ => json!(text),
            }
        }
        other => json!(other.as_sql(true).trim_matches('\'')),
    }
}

/// Run the definition's query on SQLite, read-only.
pub fn sqlite(run: &Run<'_>, scrubber: &mut Scrubber) -> Outcome {
    let fail = |fp: Value, op: Value, e: String| Outcome::failed(fp, op, json!({}), e);
    let query = match query_text(run, false) {
        Ok(q) => q,
        Err(e) => return fail(json!({}), json!({}), e),
    };
    let op = operation(&query, run);
    let path = match run.source.resolved_path() {
        Ok(p) => p,
        Err(e) => return fail(json!({}), op, e),
    };
    let fp = json!({"path": path.display().to_string(), "collected_on": hostname()});
    let timeout = run.source.timeout();
    let result = (|| -> Result<Content, String> {
        let e2s = |e: rusqlite::Error| e.to_string();
        let conn = rusqlite::Connection::open_with_flags(
            &path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        conn.pragma_update(None, "query_only", true).map_err(e2s)?;
        conn.busy_timeout(timeout).map_err(e2s)?;
        // The statement timeout: a timer thread interrupts the query; dropping `_timer`
        // (the sender) when the query ends stops it.
        let handle = conn.get_interrupt_handle();
        let (_timer, done) = std::sync::mpsc::channel::<()>();
        std::thread::spawn(move || {
            if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = done.recv_timeout(timeout) {
                handle.interrupt();
            }
        });
        conn.execute_batch("BEGIN").map_err(e2s)?;
        let mut stmt = conn.prepare(&query).map_err(e2s)?;
        let names: Vec<String> = stmt.column_names().iter().map(|s| s.to_string()).collect();
        let mut rows = stmt.query([]).map_err(e2s)?;
        let mut sink = NdjsonSink::new(run.source);
        loop {
            let row = match rows.next() {
                Ok(Some(r)) => r,
                Ok(None) => break,
                Err(rusqlite::Error::SqliteFailure(f, _))
                    if f.code == rusqlite::ErrorCode::OperationInterrupted =>
                {
                    return Err(format!(
                        "statement timeout ({} s) exceeded",
                        timeout.as_secs()
                    ))
                }
                Err(e) => return Err(e.to_string()),
            };
            let mut pairs = Vec::with_capacity(names.len());
            for (i, n) in names.iter().enumerate() {
                use rusqlite::types::ValueRef as R;
                let v = match row.get_ref(i).map_err(e2s)? {
                    R::Null => Value::Null,
                    R::Integer(i) => json!(i),
                    R::Real(f) => json!(f),
                    R::Text(t) => json!(String::from_utf8_lossy(t)),
                    R::Blob(b) => json!(hex::encode(b)),
                };
                pairs.push((n.clone(), v));
            }
            sink.push(&ordered_object(&pairs))?;
        }
        Ok(sink.finish())
    })();
    Outcome {
        fingerprint: fp,
        operation: op,
        details: json!({"read_only": true, "statement_timeout_ms": timeout.as_millis() as u64}),
        result: result.map(|c| vec![c]).map_err(|e| scrubber.scrub(&e)),
    }
}
