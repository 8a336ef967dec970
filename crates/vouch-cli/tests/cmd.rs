//! CLI behaviour as reviewed data files under `tests/cmd/`, run by `trycmd`: help
//! texts, usage and configuration errors, bad periods, exit codes. Each file is the
//! exact command line, exit code, stdout and stderr; `...` / `[..]` stand for what
//! varies (temporary paths, key fingerprints). Each directory is one test here, so a
//! test name says which behaviour broke. The child's environment is the shared
//! allowlist only (`env.inherit = false` in every case, the allowed variables added back
//! here). To update after a deliberate change: `TRYCMD=overwrite cargo nextest run -p
//! vouch-cli -E 'test(/^cmd::/)'`, then review the diff like code.

fn cases(glob: &str) {
    let t = trycmd::TestCases::new();
    t.register_bin(
        "vouch",
        std::path::PathBuf::from(env!("CARGO_BIN_EXE_vouch")),
    );
    for (k, v) in std::env::vars() {
        if vouch_test_support::cmd::allowed(&k) {
            t.env(k, v);
        }
    }
    t.case(glob);
    // The cases run when `t` is dropped.
}

/// `vouch --help` and the help of the commands people start with.
#[test]
fn help_texts() {
    cases("tests/cmd/help/*.toml");
}

/// Unknown flags, commands and values: one usage message, exit 2.
#[test]
fn usage_errors_exit_2() {
    cases("tests/cmd/usage/*.toml");
}

/// A configuration error names the file, line and column and the key; a valid one says
/// `ok` (the data directory's vouch.toml as `vouch init` writes it).
#[test]
fn config_errors_name_file_line_and_key() {
    cases("tests/cmd/config/*.toml");
}

/// A period that does not parse, a range that ends before it starts, and a data
/// directory that was never initialised: one clear line each, and a failing exit code.
#[test]
fn bad_periods_are_clear_errors() {
    cases("tests/cmd/periods/*.toml");
}
