//! The `vouch` binary: argument parsing and output. All work is done by vouch-engine.

mod commands;
mod output;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "vouch",
    version,
    about = "SOC 2 evidence engine: a tamper-evident audit ledger, verifiable by anyone",
    propagate_version = true
)]
pub(crate) struct Cli {
    /// Data directory holding vouch.toml, keys and the embedded database.
    #[arg(
        long,
        global = true,
        env = "VOUCH_DATA_DIR",
        default_value = "./vouch-data"
    )]
    pub data_dir: PathBuf,
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Create the configuration, keys and database (never overwrites keys).
    Init(commands::init::InitArgs),
    /// The audit ledger: append, verify, checkpoint, prove, export.
    #[command(subcommand)]
    Ledger(commands::ledger::LedgerCommand),
    /// Generate a signed evidence packet (JSON + PDF) for a period, or reproduce one.
    Packet(commands::packet::PacketArgs),
    /// Verify packets offline: signatures, checkpoint, consistency proof, file hashes.
    Verify(commands::verify::VerifyArgs),
    /// A whole audit period in one directory for the auditor, checked by its own script.
    AuditorKit(commands::kit::KitArgs),
    /// Public keys: the log's C2SP verifier key and the signing key (PEM); rotation.
    #[command(subcommand)]
    Keys(commands::keys::KeysCommand),
    /// Run evidence definitions against their sources and store what they return.
    Collect(commands::evidence::CollectArgs),
    /// Evidence items: list, show, cat, upload.
    #[command(subcommand)]
    Evidence(commands::evidence::EvidenceCommand),
    /// Evaluate checks on the collected evidence; controls' status; findings.
    Check(commands::checks::CheckArgs),
    /// The Trust Services Criteria and the organisation's controls, with status.
    #[command(subcommand)]
    Controls(commands::checks::ControlsCommand),
    /// A period's overall status, controls by status, open findings, ledger size.
    Status(commands::checks::StatusArgs),
    /// Findings: list, show, open, update.
    #[command(subcommand)]
    Findings(commands::checks::FindingsCommand),
    /// Incidents with response-time SLAs: list, show, open, update, note.
    #[command(subcommand)]
    Incidents(commands::incidents::IncidentsCommand),
    /// Access-review campaigns: start, list, show, decide, complete, cancel.
    #[command(subcommand)]
    Review(commands::review::ReviewCommand),
    /// Quarterly attestations (seed 002): list, show, open, sign, export.
    #[command(subcommand)]
    Attest(commands::attest::AttestCommand),
    /// Monthly collection sign-offs (seed 001): list, show, sign, export.
    #[command(subcommand)]
    Signoff(commands::attest::AttestCommand),
    /// Seal a period's evidence into an encrypted archive in WORM storage; verify, restore.
    Archive(commands::archive::ArchiveArgs),
    /// Archived collections (the collection log).
    #[command(subcommand)]
    Collections(commands::archive::CollectionsCommand),
    /// The HTTP API (audit-log ingest and query, proofs, packets, evidence, findings).
    Serve(commands::serve::ServeArgs),
    /// API tokens: create (shown once), list, revoke.
    #[command(subcommand)]
    Tokens(commands::serve::TokensCommand),
    /// Local users for the dashboard.
    #[command(subcommand)]
    Users(commands::serve::UsersCommand),
    /// Scheduled jobs: list, run history, run now.
    #[command(subcommand)]
    Jobs(commands::jobs::JobsCommand),
    /// Compliance reports: soc2, access_review, vulnerability, incident.
    #[command(subcommand)]
    Reports(commands::reports::ReportsCommand),
    /// Populations of control occurrences: take (Merkle root in the ledger), list, export.
    #[command(subcommand)]
    Population(commands::population::PopulationCommand),
    /// Samples nobody can steer: commit to a nonce, draw, show, export (docs/sampling.md).
    #[command(subcommand)]
    Sample(commands::sample::SampleCommand),
    /// Requests on sampled items (PBC list): request, answer, accept, return, list.
    #[command(subcommand)]
    Pbc(commands::pbc::PbcCommand),
    /// Validate vouch.toml without side effects.
    #[command(subcommand)]
    Config(commands::config::ConfigCommand),
    /// Run the whole product end to end in a fresh data directory.
    Demo(commands::demo::DemoArgs),
    /// Export a period's evidence in other formats: OSCAL assessment results.
    #[command(subcommand)]
    Export(commands::export::ExportCommand),
    /// Witnesses (C2SP tlog-witness): keygen, serve a witness, submit, verify k of n.
    #[command(subcommand)]
    Witness(commands::witness::WitnessCommand),
    /// RFC 3161 timestamps of files (packets, attestations, checkpoints): FILE.tsr.
    Timestamp(commands::witness::TimestampArgs),
}

fn main() {
    // `vouch … | head` must end quietly, as Unix tools do, not panic on a closed pipe.
    #[cfg(unix)]
    #[allow(unsafe_code)]
    // SAFETY: restoring the default disposition of one signal before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    output::init_logging();
    let json = cli.json;
    let result = match &cli.command {
        Command::Init(a) => commands::init::run(&cli, a),
        Command::Ledger(c) => commands::ledger::run(&cli, c),
        Command::Keys(c) => commands::keys::run(&cli, c),
        Command::Packet(a) => commands::packet::run(&cli, a),
        Command::Verify(a) => commands::verify::run(&cli, a),
        Command::AuditorKit(a) => commands::kit::run(&cli, a),
        Command::Config(c) => commands::config::run(&cli, c),
        Command::Collect(a) => commands::evidence::collect(&cli, a),
        Command::Evidence(c) => commands::evidence::run(&cli, c),
        Command::Check(a) => commands::checks::check(&cli, a),
        Command::Serve(a) => commands::serve::serve(&cli, a),
        Command::Jobs(c) => commands::jobs::run(&cli, c),
        Command::Reports(c) => commands::reports::run(&cli, c),
        Command::Tokens(c) => commands::serve::tokens(&cli, c),
        Command::Users(c) => commands::serve::users(&cli, c),
        Command::Archive(a) => commands::archive::run(&cli, a),
        Command::Collections(c) => commands::archive::collections(&cli, c),
        Command::Controls(c) => commands::checks::controls(&cli, c),
        Command::Status(a) => commands::checks::status(&cli, a),
        Command::Findings(c) => commands::checks::findings(&cli, c),
        Command::Incidents(c) => commands::incidents::run(&cli, c),
        Command::Review(c) => commands::review::run(&cli, c),
        Command::Demo(a) => commands::demo::run(&cli, a),
        Command::Attest(c) => commands::attest::run(&cli, c),
        Command::Signoff(c) => commands::signoff::run(&cli, c),
        Command::Export(c) => commands::export::run(&cli, c),
        Command::Population(c) => commands::population::run(&cli, c),
        Command::Sample(c) => commands::sample::run(&cli, c),
        Command::Pbc(c) => commands::pbc::run(&cli, c),
        Command::Witness(c) => commands::witness::run(&cli, c),
        Command::Timestamp(a) => commands::witness::timestamp(&cli, a),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            output::error(json, &e);
            // `vouch check`: 1 means a control fails, so any error of the run (usage,
            // configuration, store, unknown check) is 2, the run was incomplete.
            let code = if matches!(cli.command, Command::Check(_)) {
                2
            } else {
                1
            };
            std::process::exit(code);
        }
    }
}
