//! Running the `vouch` binary from a test.
//!
//! The binary's path is given by the caller: `env!("CARGO_BIN_EXE_vouch")` only exists
//! in the vouch-cli crate's own tests, so those pass it in; other crates' tests can use
//! [`locate`], which finds it next to the test executable in the target directory.

use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The only variables of the test process's environment a `vouch` child sees (plus
/// every `VOUCH_TEST_*`): enough to find programs (PATH), a home and a temporary
/// directory, the locale, and the user and host names that the binary falls back to.
/// Everything else a test wants the child to see it sets with [`Vouch::env`], so a
/// developer's own `VOUCH_DATABASE_URL`, AWS or GitHub credentials, `GIT_DIR` or
/// `RUST_LOG` never change what a test sees.
pub const ENV_ALLOWLIST: &[&str] = &[
    "PATH",
    "HOME",
    "TMPDIR",
    "LANG",
    "LC_ALL",
    "TZ",
    "USER",
    "HOSTNAME",
    "RUST_BACKTRACE",
    // Coverage builds write their profiles where this says.
    "LLVM_PROFILE_FILE",
];

/// Is `name` passed from the test's environment to a `vouch` child?
pub fn allowed(name: &str) -> bool {
    ENV_ALLOWLIST.contains(&name) || name.starts_with("VOUCH_TEST_")
}

/// The path of a binary of this workspace built next to the running test executable
/// (`target/<profile>/deps/test-…` → `target/<profile>/<name>`).
pub fn locate(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let mut dir = exe
        .parent()
        .expect("test executable directory")
        .to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let p = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        p.exists(),
        "{} is not built (build the crate that has it first)",
        p.display()
    );
    p
}

/// A `vouch` invocation being built. Standard input is empty unless [`Vouch::stdin`]
/// gives some; stdout and stderr are captured.
pub struct Vouch {
    cmd: Command,
    input: Option<Vec<u8>>,
    shown: Vec<String>,
}

/// `bin` (the vouch binary) with the environment reduced to [`ENV_ALLOWLIST`].
pub fn vouch(bin: impl AsRef<OsStr>) -> Vouch {
    let mut cmd = Command::new(bin.as_ref());
    cmd.env_clear();
    for (k, v) in std::env::vars_os() {
        if k.to_str().is_some_and(allowed) {
            cmd.env(k, v);
        }
    }
    // HOME stays (gpg, git and the locale need one), but the credential files under it
    // do not reach the child: AWS profiles, a global git config, a pgpass file.
    for k in [
        "AWS_CONFIG_FILE",
        "AWS_SHARED_CREDENTIALS_FILE",
        "GIT_CONFIG_GLOBAL",
        "PGPASSFILE",
        "PGSERVICEFILE",
    ] {
        cmd.env(k, "/dev/null");
    }
    Vouch {
        cmd,
        input: None,
        shown: vec!["vouch".into()],
    }
}

impl Vouch {
    /// `--data-dir DIR`.
    pub fn data_dir(self, dir: impl AsRef<Path>) -> Self {
        self.arg("--data-dir").arg(dir.as_ref())
    }

    /// Append one argument (also to the command line shown on failure).
    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Self {
        self.shown.push(a.as_ref().to_string_lossy().into_owned());
        self.cmd.arg(a);
        self
    }

    /// Append several arguments, as [`Vouch::arg`] does.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        for a in args {
            self = self.arg(a);
        }
        self
    }

    /// Set an environment variable for the child.
    pub fn env(mut self, k: impl AsRef<OsStr>, v: impl AsRef<OsStr>) -> Self {
        self.cmd.env(k, v);
        self
    }

    /// Set several environment variables for the child.
    pub fn envs<I, K, V>(mut self, vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        self.cmd.envs(vars);
        self
    }

    /// Remove a variable from the child's environment.
    pub fn env_remove(mut self, k: impl AsRef<OsStr>) -> Self {
        self.cmd.env_remove(k);
        self
    }

    /// Run the child in directory `d`.
    pub fn current_dir(mut self, d: impl AsRef<Path>) -> Self {
        self.cmd.current_dir(d);
        self
    }

    /// Write `input` to the child's standard input (then close it).
    pub fn stdin(mut self, input: impl Into<Vec<u8>>) -> Self {
        self.input = Some(input.into());
        self
    }

    /// Run to completion.
    pub fn output(mut self) -> Output {
        self.cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        match self.input.take() {
            None => self
                .cmd
                .stdin(Stdio::null())
                .output()
                .unwrap_or_else(|e| panic!("{}: {e}", self.shown.join(" "))),
            Some(input) => {
                let mut child = self
                    .cmd
                    .stdin(Stdio::piped())
                    .spawn()
                    .unwrap_or_else(|e| panic!("{}: {e}", self.shown.join(" ")));
                let mut stdin = child.stdin.take().unwrap();
                // The child may exit before reading everything (a rejected input).
                let _ = stdin.write_all(&input);
                drop(stdin);
                child.wait_with_output().unwrap()
            }
        }
    }

    /// Run; it must succeed. Its stdout.
    pub fn ok(self) -> String {
        let shown = self.shown.join(" ");
        let o = self.output();
        assert!(o.status.success(), "{shown} failed: {}", text(&o));
        String::from_utf8(o.stdout).unwrap()
    }

    /// Run; it must fail. Its stderr.
    pub fn fails(self) -> String {
        let shown = self.shown.join(" ");
        let o = self.output();
        assert!(!o.status.success(), "{shown} should fail: {}", text(&o));
        String::from_utf8_lossy(&o.stderr).into_owned()
    }

    /// The command itself (to spawn a long-running `vouch serve`, say).
    pub fn into_command(self) -> Command {
        self.cmd
    }
}

/// Exit code, stdout and stderr, for failure messages.
pub fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `o` succeeded: its stdout (else fail, showing stdout and stderr).
#[track_caller]
pub fn ok(o: &Output) -> String {
    assert!(o.status.success(), "command failed: {}", text(o));
    String::from_utf8(o.stdout.clone()).unwrap()
}

/// `o` failed: its stderr (else fail, showing stdout and stderr).
#[track_caller]
pub fn fails(o: &Output) -> String {
    assert!(!o.status.success(), "unexpected success: {}", text(o));
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `o` failed with exactly one line on stderr: that line (trimmed at the end).
#[track_caller]
pub fn err_line(o: &Output) -> String {
    let e = fails(o);
    assert_eq!(
        e.trim_end().lines().count(),
        1,
        "one readable line expected, got: {e}"
    );
    e.trim_end().to_string()
}
