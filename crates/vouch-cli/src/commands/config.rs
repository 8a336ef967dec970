use anyhow::Result;
use vouch_engine::Config;

#[derive(clap::Subcommand)]
pub enum ConfigCommand {
    /// Validate vouch.toml: syntax, unknown keys, values. No side effects.
    Check,
}

pub fn run(cli: &crate::Cli, c: &ConfigCommand) -> Result<i32> {
    match c {
        ConfigCommand::Check => {
            let config = Config::load(&cli.data_dir)?;
            if cli.json {
                crate::output::print_json(&serde_json::json!({
                    "valid": true,
                    "file": config.file.display().to_string(),
                    "files": config.files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>(),
                    "sources": config.sources.len(),
                    "evidence": config.evidence.len(),
                }));
            } else {
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
