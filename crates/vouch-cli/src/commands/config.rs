use anyhow::Result;
use vouch_engine::Config;

#[derive(clap::Subcommand)]
pub enum ConfigCommand {
    /// Validate vouch.toml: syntax, unknown keys, values; report environment variables
    /// the sources need that are not set (a warning), and fail on secrets too short to
    /// scrub from evidence (under 8 characters). No side effects.
    Check,
}

pub fn run(cli: &crate::Cli, c: &ConfigCommand) -> Result<i32> {
    match c {
        ConfigCommand::Check => {
            let config = Config::load(&cli.data_dir)?;
            vouch_server::auth::check_role_map(&config)?;
            let env = config.environment();
            if let Some(p) = env.iter().find_map(|e| e.problem.clone()) {
                anyhow::bail!("{p}");
            }
            let unset: Vec<_> = env.iter().filter(|e| !e.set).collect();
            if cli.json {
                crate::output::print_json(&serde_json::json!({
                    "valid": true,
                    "file": config.file.display().to_string(),
                    "files": config.files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>(),
                    "sources": config.sources.len(),
                    "evidence": config.evidence.len(),
                    "unset_environment": unset,
                }));
            } else {
                for e in &unset {
                    eprintln!(
                        "warning: environment variable {} is not set (needed by {})",
                        e.variable, e.needed_by
                    );
                }
                println!(
                    "{}: ok ({} file(s), {} source(s), {} evidence definition(s))",
                    config.file.display(),
                    config.files.len(),
                    config.sources.len(),
                    config.evidence.len()
                );
            }
            Ok(0)
        }
    }
}
