use anyhow::Result;
use vouch_engine::{Config, Keys};

#[derive(clap::Subcommand)]
pub enum KeysCommand {
    /// Print the log's C2SP verifier key and the signing public key (SPKI PEM).
    Show,
    /// Replace the signing key; the old public key stays known, the rotation is logged.
    Rotate,
}

pub fn run(cli: &crate::Cli, c: &KeysCommand) -> Result<i32> {
    match c {
        KeysCommand::Show => {
            let config = Config::load(&cli.data_dir)?;
            let keys = Keys::load(&config)?;
            let vkey = keys.log_verifier().to_vkey();
            let pem = keys.signing_public_pem();
            if cli.json {
                crate::output::print_json(&serde_json::json!({
                    "log_verifier_key": vkey,
                    "signing_public_key_pem": pem,
                    "signing_key_id": keys.signing_key_id(),
                }));
            } else {
                println!("log verifier key (C2SP signed-note, checkpoints):\n{vkey}\n");
                println!(
                    "signing public key (ECDSA P-256, key id {}):\n{}",
                    keys.signing_key_id(),
                    pem.trim_end()
                );
                let known = vouch_engine::keys::known_signing_keys(&config, None);
                if !known.is_empty() {
                    println!(
                        "\n{} retired signing key(s) kept in {}",
                        known.len(),
                        vouch_engine::keys::retired_dir(&config).display()
                    );
                }
            }
            Ok(0)
        }
        KeysCommand::Rotate => {
            let (config, _, _, ledger) = super::open(cli)?;
            let r = vouch_engine::keys::rotate(&config, &ledger)?;
            if cli.json {
                crate::output::print_json(&r);
            } else {
                println!(
                    "rotated the signing key: {} -> {}",
                    r.old_key_id, r.new_key_id
                );
                println!(
                    "the old public key stays at {} so older packets keep verifying",
                    r.retired_public_key
                );
            }
            Ok(0)
        }
    }
}
