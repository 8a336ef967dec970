//! External tools in tests: a missing one skips the test, except under CI=true, where it
//! fails it (CI must run them all). And a moto server (AWS APIs) on a free port.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// True when `have`; otherwise skip the test (false), or fail it under CI=true.
#[track_caller]
pub fn require(have: bool, what: &str) -> bool {
    if have {
        return true;
    }
    if crate::ci() {
        panic!("CI=true but {what}");
    }
    eprintln!("skipped: {what}");
    false
}

/// Do all these programs run (`TOOL --version`)? A missing one skips the test (false),
/// or fails it under CI=true.
#[track_caller]
pub fn have(tools: &[&str]) -> bool {
    for t in tools {
        let ok = Command::new(t)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok();
        if !ok {
            assert!(!crate::ci(), "CI=true but `{t}` is missing");
            eprintln!("skipped: {t} is not installed");
            return false;
        }
    }
    true
}

/// PATH plus the directories pip puts scripts in (`aws`, `moto_server`), so the tests
/// find them however pip installed them.
pub fn tool_path() -> String {
    let mut dirs: Vec<String> = std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .filter(|d| !d.is_empty())
        .map(str::to_string)
        .collect();
    for code in [
        "import sysconfig; print(sysconfig.get_path('scripts'))",
        "import site, os; print(os.path.join(site.getuserbase(), 'bin'))",
    ] {
        if let Ok(o) = Command::new("python3").args(["-c", code]).output() {
            let d = String::from_utf8_lossy(&o.stdout).trim().to_string();
            if o.status.success() && !d.is_empty() && !dirs.contains(&d) {
                dirs.push(d);
            }
        }
    }
    dirs.join(":")
}

/// Does `argv` run and exit 0 (with PATH = `path`)?
pub fn runs(path: &str, argv: &[&str]) -> bool {
    Command::new(argv[0])
        .args(&argv[1..])
        .env("PATH", path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// A free loopback TCP port (free when asked).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A moto server on a free loopback port, killed on drop.
pub struct Moto {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub url: String,
    /// The PATH it was started with ([`tool_path`]): give it to `aws` and `python3`.
    pub path: String,
}

impl Moto {
    /// Start moto, once `python3 -c 'import moto.server, boto3'` works and every one of
    /// `tools` runs (`aws --version`, say); `None` (skip) when something is missing,
    /// outside CI.
    pub fn start(tools: &[&[&str]]) -> Option<Moto> {
        let path = tool_path();
        for argv in tools {
            if !require(
                runs(&path, argv),
                &format!("`{}` does not run (pip install awscli?)", argv.join(" ")),
            ) {
                return None;
            }
        }
        if !require(
            runs(&path, &["python3", "-c", "import moto.server, boto3"]),
            "moto[server] and boto3 are not installed (pip install 'moto[server]' boto3)",
        ) {
            return None;
        }
        let port = free_port();
        let mut cmd = if runs(&path, &["moto_server", "--help"]) {
            Command::new("moto_server")
        } else {
            let mut c = Command::new("python3");
            c.args(["-m", "moto.server"]);
            c
        };
        let child = cmd
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("PATH", &path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto");
        let mut m = Moto {
            child,
            url: format!("http://127.0.0.1:{port}"),
            path,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(s) = m.child.try_wait().unwrap() {
                panic!("moto_server exited: {s}");
            }
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let _ = s.write_all(b"GET /moto-api/ HTTP/1.0\r\nHost: localhost\r\n\r\n");
                let mut buf = [0u8; 16];
                if matches!(s.read(&mut buf), Ok(n) if n > 0 && buf.starts_with(b"HTTP/")) {
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "moto did not answer on {}",
                m.url
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(m)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
