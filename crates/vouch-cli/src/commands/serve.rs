//! `vouch serve`, `vouch tokens …`, `vouch users add`.

use crate::output;
use anyhow::{bail, Result};
use vouch_server::roles::Role;

#[derive(clap::Args)]
pub struct ServeArgs {
    /// Address to listen on (default: [server] listen, 127.0.0.1:4000).
    #[arg(long)]
    pub listen: Option<String>,
    /// Serve HTTPS with this PEM certificate chain (with --tls-key), for deployments
    /// without a TLS-terminating proxy.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,
}

#[derive(clap::Subcommand)]
pub enum TokensCommand {
    /// Create an API token; the token is printed once and stored hashed.
    Create {
        /// The token's role: admin, compliance-officer, team-lead, auditor or ingest (see docs/api.md for what each may do).
        #[arg(long)]
        role: String,
        /// A name to recognise (and revoke) the token by, e.g. the system that uses it.
        #[arg(long)]
        name: String,
        /// Expiry: RFC 3339 time, a date, or a duration such as 90d.
        #[arg(long)]
        expires: Option<String>,
    },
    /// The tokens: id, name, role, created, expires, last used (never the token).
    List,
    /// Revoke by id or name.
    Revoke {
        /// The token's id or name.
        token: String,
    },
}

#[derive(clap::Subcommand)]
pub enum UsersCommand {
    /// Add a local user for the dashboard; the password is read from VOUCH_PASSWORD or stdin.
    Add {
        /// The login name.
        #[arg(long)]
        username: String,
        /// The user's role: admin, compliance-officer, team-lead, auditor or ingest (see docs/api.md for what each may do).
        #[arg(long)]
        role: String,
    },
    /// Set a user's password (policy and history apply); every session of the user ends
    /// and a lockout is lifted. The password is read from VOUCH_PASSWORD or stdin.
    Passwd {
        /// The login name.
        #[arg(long)]
        username: String,
    },
}

fn role(s: &str) -> Result<Role> {
    Role::parse(s).ok_or_else(|| {
        anyhow::anyhow!(
            "unknown role `{s}` (admin, compliance-officer, team-lead, auditor, ingest)"
        )
    })
}

pub fn serve(cli: &crate::Cli, a: &ServeArgs) -> Result<i32> {
    let config = vouch_engine::Config::load(&cli.data_dir)?;
    let listen = a
        .listen
        .clone()
        .unwrap_or_else(|| config.settings.server.listen.clone());
    let addr: std::net::SocketAddr = listen
        .parse()
        .map_err(|_| anyhow::anyhow!("--listen: `{listen}` is not an address:port"))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    let tls = match (&a.tls_cert, &a.tls_key) {
        (Some(cert), Some(key)) => Some(vouch_server::TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
        }),
        _ => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    rt.spawn(async move {
        if let Ok(a) = rx.await {
            eprintln!("vouch serve: listening on {scheme}://{a}");
        }
    });
    rt.block_on(vouch_server::serve_with(
        config,
        vouch_server::ServeOptions {
            listen: addr,
            ready: Some(tx),
            tls,
            shutdown: None,
        },
    ))?;
    Ok(0)
}

pub fn tokens(cli: &crate::Cli, c: &TokensCommand) -> Result<i32> {
    let (_config, store, _keys, ledger) = super::open(cli)?;
    match c {
        TokensCommand::Create {
            role: r,
            name,
            expires,
        } => {
            let r = role(r)?;
            let exp = match expires {
                None => None,
                Some(e) => Some(
                    vouch_core::period::parse_instant(e)
                        .or_else(|| {
                            vouch_core::checks::parse_duration(e)
                                .ok()
                                .map(|d| chrono::Utc::now() + d)
                        })
                        .ok_or_else(|| {
                            anyhow::anyhow!(
                                "--expires: `{e}` is neither a time nor a duration (90d)"
                            )
                        })?,
                ),
            };
            let (info, secret) = vouch_server::auth::create_token(&store, name, r, exp)
                .map_err(anyhow::Error::msg)?;
            vouch_engine::audit::record(
                &ledger,
                serde_json::json!({"action": "token.created", "category": "administrative", "result": "success", "resource": {"type": "api_token", "id": info["id"], "name": name}, "details": {"description": format!("API token `{name}` created with role {}", r.as_str())}}),
            )?;
            if cli.json {
                let mut v = info;
                v["token"] = serde_json::json!(secret);
                output::print_json(&v);
            } else {
                println!("{secret}");
                eprintln!(
                    "token `{name}` ({}) created; it is shown only now",
                    r.as_str()
                );
            }
        }
        TokensCommand::List => {
            let all = vouch_server::auth::list_tokens(&store).map_err(anyhow::Error::msg)?;
            if cli.json {
                output::print_json(&all);
            } else {
                for t in &all {
                    println!(
                        "{}  {:<20} {:<19} created {}  expires {}  {}",
                        t["id"].as_str().unwrap_or(""),
                        t["name"].as_str().unwrap_or(""),
                        t["role"].as_str().unwrap_or(""),
                        t["created_at"].as_str().unwrap_or(""),
                        t["expires_at"].as_str().unwrap_or("never"),
                        if t["revoked_at"].is_null() {
                            ""
                        } else {
                            "REVOKED"
                        }
                    );
                }
            }
        }
        TokensCommand::Revoke { token } => {
            vouch_server::auth::revoke_token(&store, token).map_err(anyhow::Error::msg)?;
            vouch_engine::audit::record(
                &ledger,
                serde_json::json!({"action": "token.revoked", "category": "administrative", "result": "success", "resource": {"type": "api_token", "id": token, "name": token}, "details": {"description": format!("API token `{token}` revoked")}}),
            )?;
            if !cli.json {
                println!("revoked {token}");
            }
        }
    }
    Ok(0)
}

fn read_password() -> Result<String> {
    let password = match std::env::var("VOUCH_PASSWORD") {
        Ok(p) => p,
        Err(_) => {
            let mut s = String::new();
            std::io::stdin().read_line(&mut s)?;
            s.trim_end_matches(['\n', '\r']).to_string()
        }
    };
    if password.is_empty() {
        bail!("no password: set VOUCH_PASSWORD or give it on stdin");
    }
    Ok(password)
}

pub fn users(cli: &crate::Cli, c: &UsersCommand) -> Result<i32> {
    match c {
        UsersCommand::Add { username, role: r } => {
            let r = role(r)?;
            let password = read_password()?;
            vouch_server::auth::password_policy(username, &password).map_err(anyhow::Error::msg)?;
            let (_config, store, _keys, ledger) = super::open(cli)?;
            let u = vouch_server::auth::add_user(&store, username, r, &password)
                .map_err(anyhow::Error::msg)?;
            vouch_engine::audit::record(
                &ledger,
                serde_json::json!({"action": "user.created", "category": "administrative", "result": "success", "resource": {"type": "user", "id": u["id"], "name": username}, "details": {"description": format!("local user `{username}` created with role {}", r.as_str())}}),
            )?;
            if cli.json {
                output::print_json(&u);
            } else {
                println!("user `{username}` ({}) created", r.as_str());
            }
        }
        UsersCommand::Passwd { username } => {
            let password = read_password()?;
            let (config, store, _keys, ledger) = super::open(cli)?;
            vouch_server::auth::reset_password(&store, &config.settings.auth, username, &password)
                .map_err(|e| anyhow::anyhow!(e.message))?;
            vouch_engine::audit::record(
                &ledger,
                serde_json::json!({"action": "user.password_reset", "category": "authentication", "result": "success", "resource": {"type": "user", "id": username, "name": username}, "details": {"description": format!("password of local user `{username}` set by an administrator; every session ended")}}),
            )?;
            if cli.json {
                output::print_json(
                    &serde_json::json!({"username": username, "password_changed": true}),
                );
            } else {
                println!("password of `{username}` changed; every session ended");
            }
        }
    }
    Ok(0)
}
