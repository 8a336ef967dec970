//! The `vouch` binary run as a child process, and its peak RSS measured from here.

use anyhow::{anyhow, bail, Context, Result};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The `vouch` binary the benchmarks run.
#[derive(Debug, Clone)]
pub struct Vouch {
    /// Path of the executable.
    pub path: PathBuf,
}

impl Vouch {
    /// `explicit` (`--vouch PATH` or `VOUCH_BIN`), else `vouch` next to this executable
    /// (the same target directory); an error that says how to get one if it is missing.
    pub fn locate(explicit: Option<&Path>) -> Result<Vouch> {
        let path = match explicit {
            Some(p) => p.to_path_buf(),
            None => std::env::current_exe()
                .context("cannot find this executable's directory")?
                .parent()
                .map(|d| d.join(format!("vouch{}", std::env::consts::EXE_SUFFIX)))
                .ok_or_else(|| anyhow!("cannot find this executable's directory"))?,
        };
        if !path.is_file() {
            bail!(
                "the vouch binary is not at {}: build it into the same target directory \
                 (`cargo build --release -p vouch-cli`), or give --vouch PATH or VOUCH_BIN",
                path.display()
            );
        }
        Ok(Vouch { path })
    }

    /// `vouch --data-dir DIR ARGS…`.
    pub fn command(&self, data_dir: &Path) -> Command {
        let mut cmd = Command::new(&self.path);
        cmd.arg("--data-dir").arg(data_dir);
        cmd
    }
}

/// What a measured child did.
#[derive(Debug)]
pub struct Measured {
    /// Everything the child wrote to standard output.
    pub stdout: Vec<u8>,
    /// From spawn to exit.
    pub seconds: f64,
    /// The child's own peak resident set, KiB.
    pub peak_rss_kb: u64,
}

/// `VmHWM` (peak RSS, KiB) from a `/proc/…/status` file; `None` where it is missing
/// (no /proc, or the process has exited).
pub fn vm_hwm(status_file: &str) -> Option<u64> {
    std::fs::read_to_string(status_file).ok().and_then(|s| {
        s.lines()
            .find(|l| l.starts_with("VmHWM:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
    })
}

/// This process's peak RSS in KiB (VmHWM), 0 where /proc is missing.
pub fn own_peak_rss_kb() -> u64 {
    vm_hwm("/proc/self/status").unwrap_or(0)
}

/// Run `cmd` to completion (stderr passed through); fails unless it exits 0. Its peak RSS
/// is `ru_maxrss` from `wait4` when that exceeds this process's own peak; otherwise that
/// figure may be ours (a child spawned with vfork, or forked, carries its parent's
/// high-water mark into `exec`), and the child's `VmHWM`, polled from /proc while it
/// runs, is used instead.
pub fn run_measured(mut cmd: Command) -> Result<Measured> {
    cmd.stdout(Stdio::piped()).stderr(Stdio::inherit());
    let t = Instant::now();
    let mut child = cmd.spawn().with_context(|| format!("cannot run {cmd:?}"))?;
    // Our high-water mark after the exec: an upper bound on what the child inherited.
    let ours = own_peak_rss_kb();
    let pid = child.id() as libc::pid_t;
    let mut stdout = child.stdout.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        stdout.read_to_end(&mut v).map(|_| v)
    });
    let status_file = format!("/proc/{pid}/status");
    let mut polled = 0u64;
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain data; wait4 fills it.
    #[allow(unsafe_code)]
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        if let Some(kb) = vm_hwm(&status_file) {
            polled = polled.max(kb);
        }
        // SAFETY: waiting for our own child, with valid pointers.
        #[allow(unsafe_code)]
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if r == pid {
            break;
        }
        if r < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(anyhow!("waiting for {cmd:?}: {e}"));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let seconds = t.elapsed().as_secs_f64();
    let stdout = reader
        .join()
        .map_err(|_| anyhow!("reading the output of {cmd:?} panicked"))?
        .with_context(|| format!("reading the output of {cmd:?}"))?;
    let exited_ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    if !exited_ok {
        bail!("{cmd:?} failed: {}", String::from_utf8_lossy(&stdout));
    }
    // ru_maxrss is in KiB on Linux.
    let maxrss = usage.ru_maxrss.max(0) as u64;
    let peak_rss_kb = if maxrss > ours { maxrss } else { polled };
    Ok(Measured {
        stdout,
        seconds,
        peak_rss_kb,
    })
}
