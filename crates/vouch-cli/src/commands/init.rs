use crate::output;
use anyhow::Result;

#[derive(clap::Args)]
pub struct InitArgs {
    /// Organization name for vouch.toml (only when it is created).
    #[arg(long)]
    pub org: Option<String>,
    /// Checkpoint origin, `<host or org>/vouch/<log>` (default: <hostname>/vouch/audit).
    #[arg(long)]
    pub origin: Option<String>,
}

pub fn run(cli: &crate::Cli, a: &InitArgs) -> Result<i32> {
    let done = vouch_engine::init::init(&cli.data_dir, a.org.as_deref(), a.origin.as_deref())?;
    if cli.json {
        output::print_json(&serde_json::json!({
            "data_dir": cli.data_dir.display().to_string(),
            "config": done.config.file.display().to_string(),
            "config_created": done.config_created,
            "keys_created": done.keys.created,
            "keys_kept": done.keys.kept,
            "database": done.database,
        }));
        return Ok(0);
    }
    let cfg = done.config.file.display();
    if done.config_created {
        println!("wrote {cfg}");
    } else {
        println!("kept {cfg}");
    }
    for k in &done.keys.created {
        println!("generated key {k}");
    }
    for k in &done.keys.kept {
        println!("kept existing key {k}");
    }
    println!("database {}", done.database);
    Ok(0)
}
