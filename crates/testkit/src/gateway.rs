//! A `sluice gateway` child process on 127.0.0.1 ports chosen by the kernel: its manifests live
//! in a temporary directory the test edits, its JSON log lines are read from stderr on a
//! thread, and it is killed (by its own pid, never by name) when the value is dropped.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

use crate::PATIENCE;

/// The log line logged once per applied change.
pub const CONFIG_APPLIED: &str = "config applied";

/// How to start a gateway.
#[must_use]
pub struct GatewayBuilder {
    binary: PathBuf,
    files: Vec<(String, String)>,
    args: Vec<String>,
    grace: u64,
    timeout: u64,
}

/// A running `sluice gateway`.
pub struct Gateway {
    child: Mutex<Child>,
    pid: u32,
    dir: TempDir,
    log: Arc<Mutex<Vec<Value>>>,
    /// Plain HTTP (HTTP/1.1 and h2c).
    pub http: SocketAddr,
    /// HTTPS.
    pub https: SocketAddr,
    /// Admin: /healthz, /readyz, /metrics, /debug/routes.
    pub admin: SocketAddr,
}

impl GatewayBuilder {
    /// A gateway run from `binary` (a test passes `env!("CARGO_BIN_EXE_sluice")`).
    pub fn new(binary: impl Into<PathBuf>) -> Self {
        Self {
            binary: binary.into(),
            files: Vec::new(),
            args: Vec::new(),
            grace: 0,
            timeout: 10,
        }
    }

    /// A manifest file written into the directory before the start.
    pub fn file(mut self, name: &str, yaml: impl Into<String>) -> Self {
        self.files.push((name.to_owned(), yaml.into()));
        self
    }

    /// An extra command-line argument.
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// `--shutdown-grace-period` in seconds (default 0).
    pub fn grace(mut self, seconds: u64) -> Self {
        self.grace = seconds;
        self
    }

    /// `--shutdown-timeout` in seconds (default 10).
    pub fn shutdown_timeout(mut self, seconds: u64) -> Self {
        self.timeout = seconds;
        self
    }

    /// Writes the files, starts the process and waits for its `listening` line.
    pub async fn start(self) -> Gateway {
        let dir = tempfile::tempdir().unwrap();
        for (name, yaml) in &self.files {
            std::fs::write(dir.path().join(name), yaml).unwrap();
        }
        let mut child = Command::new(&self.binary)
            .arg("gateway")
            .arg("--manifests")
            .arg(dir.path())
            .args([
                "--bind-address",
                "127.0.0.1",
                "--admin-address",
                "127.0.0.1",
            ])
            .args(["--http-port", "0", "--https-port", "0", "--admin-port", "0"])
            .arg(format!("--shutdown-grace-period={}", self.grace))
            .arg(format!("--shutdown-timeout={}", self.timeout))
            .args(&self.args)
            .env("SLUICE_WORKER_THREADS", "2")
            .env_remove("SLUICE_LOG")
            .env_remove("SLUICE_LOG_FORMAT")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", self.binary.display()));
        let log = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = log.clone();
        let pid = child.id();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                // Shown with the test's output when it fails.
                eprintln!("[sluice {pid}] {line}");
                let value = serde_json::from_str(&line)
                    .unwrap_or_else(|_| serde_json::json!({ "raw": line }));
                sink.lock().unwrap().push(value);
            }
        });
        let mut gateway = Gateway {
            child: Mutex::new(child),
            pid,
            dir,
            log,
            http: "0.0.0.0:0".parse().unwrap(),
            https: "0.0.0.0:0".parse().unwrap(),
            admin: "0.0.0.0:0".parse().unwrap(),
        };
        let listening = gateway
            .wait_for("the listening line", 0, |v| message(v) == "listening")
            .await;
        let addr = |key: &str| -> SocketAddr {
            listening[key]
                .as_str()
                .and_then(|a| a.parse().ok())
                .unwrap_or_else(|| panic!("no {key} address in {listening}"))
        };
        gateway.http = addr("http");
        gateway.https = addr("https");
        gateway.admin = addr("admin");
        gateway
    }
}

impl Gateway {
    /// A builder for a gateway run from `binary`.
    pub fn builder(binary: impl Into<PathBuf>) -> GatewayBuilder {
        GatewayBuilder::new(binary)
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The manifests directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Writes (creates or replaces in place) a manifest file.
    pub fn write(&self, name: &str, yaml: &str) {
        std::fs::write(self.dir.path().join(name), yaml).unwrap();
    }

    /// Replaces a manifest file atomically (write a hidden temporary, rename over), as editors
    /// and `kubectl`-style tools do.
    pub fn replace(&self, name: &str, yaml: &str) {
        let temp = self.dir.path().join(format!(".{name}.tmp"));
        std::fs::write(&temp, yaml).unwrap();
        std::fs::rename(&temp, self.dir.path().join(name)).unwrap();
    }

    /// Deletes a manifest file.
    pub fn remove(&self, name: &str) {
        std::fs::remove_file(self.dir.path().join(name)).unwrap();
    }

    /// Every log line so far (non-JSON lines as `{"raw": line}`).
    pub fn log(&self) -> Vec<Value> {
        self.log.lock().unwrap().clone()
    }

    /// How many log lines there are: a mark for [`Gateway::wait_for`].
    pub fn mark(&self) -> usize {
        self.log.lock().unwrap().len()
    }

    /// Every `config applied` line so far.
    pub fn applied(&self) -> Vec<Value> {
        self.log()
            .into_iter()
            .filter(|v| message(v) == CONFIG_APPLIED)
            .collect()
    }

    /// Waits for the `n`-th `config applied` line (1-based; the first is the initial table).
    pub async fn wait_applied(&self, n: usize) -> Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let applied = self.applied();
            if let Some(line) = applied.get(n - 1) {
                return line.clone();
            }
            self.check_alive(&format!("config applied #{n}"));
            assert!(
                Instant::now() < deadline,
                "no config applied #{n} within {PATIENCE:?}; log: {:#?}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits for the first line at or after `mark` that satisfies `found`.
    pub async fn wait_for(&self, what: &str, mark: usize, found: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(line) = self
                .log
                .lock()
                .unwrap()
                .iter()
                .skip(mark)
                .find(|v| found(v))
            {
                return line.clone();
            }
            self.check_alive(what);
            assert!(
                Instant::now() < deadline,
                "no {what} within {PATIENCE:?}; log: {:#?}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Sends SIGTERM to the child (by its pid).
    pub fn terminate(&self) {
        let pid = i32::try_from(self.pid).unwrap();
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
    }

    /// Waits for the child to exit (at most twice [`PATIENCE`]) and returns its status.
    pub async fn wait_exit(&self) -> ExitStatus {
        let deadline = Instant::now() + PATIENCE * 2;
        loop {
            if let Some(status) = self.child.lock().unwrap().try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the gateway did not exit; log: {:#?}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Panics with the log when the child has exited.
    fn check_alive(&self, waiting_for: &str) {
        let exited = self.child.lock().unwrap().try_wait();
        if let Ok(Some(status)) = exited {
            panic!(
                "the gateway exited ({status}) while waiting for {waiting_for}; log: {:#?}",
                self.log()
            );
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        // Kills exactly this child (SIGKILL to its pid) if it still runs, and reaps it.
        let child = self.child.get_mut().unwrap_or_else(|p| p.into_inner());
        if let Ok(None) = child.try_wait() {
            let _ = child.kill();
        }
        let _ = child.wait();
    }
}

/// The `message` of a log line ("" when it has none).
pub fn message(line: &Value) -> &str {
    line["message"].as_str().unwrap_or_default()
}
