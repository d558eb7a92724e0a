//! Running the binary and finding the fixtures.

use std::path::PathBuf;
use std::process::Command;

/// The check fixtures: ~20 real-world ingress-nginx manifests.
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/check")
}

/// Flags that make sluice take over ingress-nginx's class and ConfigMap, as a migration would.
pub const TAKE_OVER: &[&str] = &[
    "--controller-class",
    "k8s.io/ingress-nginx",
    "--ingress-class",
    "nginx",
    "--configmap",
    "ingress-nginx/ingress-nginx-controller",
];

/// Runs `sluice` with `args`; returns the exit code and standard output.
pub fn sluice<I, S>(args: I) -> (i32, String)
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let output = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(args)
        .env("SLUICE_LOG", "error")
        .output()
        .unwrap();
    (
        output.status.code().unwrap(),
        String::from_utf8(output.stdout).unwrap(),
    )
}

/// Copies the named fixture files into a new temporary directory.
pub fn subset(files: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for file in files {
        std::fs::copy(fixtures().join(file), dir.path().join(file)).unwrap();
    }
    dir
}
