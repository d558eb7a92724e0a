//! Loading a case and checking it against its `expected.json`.
//!
//! `expected.json` holds `diagnostics` (each with `source` `file` or `model`, `severity`,
//! `code`, `object` as `Kind namespace/name`, `field`, and optionally `message` (a substring),
//! `file` and `document`), `served` (`host`, `path`, and the `namespace/name` of the Ingress
//! whose route must serve it, or `null` for none) and `tls` (`host` and the certificate
//! Secret it presents, `null` for the default certificate).

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;
use sluice::file_source::{FileSource, Loaded};
use sluice::model::{BuildOptions, Built, Severity, build};
use sluice::router::Router;

/// `testdata/bad-config`.
pub fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/bad-config")
}

/// A case loaded and built, and its router.
pub struct Outcome {
    pub loaded: Loaded,
    pub built: Built,
    pub router: Router,
}

/// One diagnostic of either source in the shape `expected.json` uses.
#[derive(Debug)]
struct Found {
    source: &'static str,
    severity: Severity,
    code: &'static str,
    object: String,
    field: String,
    message: String,
    file: Option<String>,
    document: Option<usize>,
}

/// Loads `paths` plus the shared good manifest, builds as `sluice check` does (now = the
/// clock) and compiles the router.
pub fn load(paths: &[PathBuf]) -> Outcome {
    let mut all = paths.to_vec();
    all.push(corpus().join("good.yaml"));
    let loaded = FileSource::new(all).load();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let opts = BuildOptions {
        now: Some(i64::try_from(now).unwrap()),
        ..BuildOptions::default()
    };
    let built = build(&loaded.snapshot, &opts);
    let router = Router::new(&built.table.routes).expect("the router compiles every table");
    Outcome {
        loaded,
        built,
        router,
    }
}

impl Outcome {
    fn found(&self) -> Vec<Found> {
        let mut found = Vec::new();
        for d in &self.loaded.diagnostics {
            let object = d.object.as_ref().map_or_else(String::new, |o| {
                let namespace = o
                    .namespace
                    .as_deref()
                    .map(|n| format!("{n}/"))
                    .unwrap_or_default();
                format!("{} {namespace}{}", o.kind, o.name.as_deref().unwrap_or(""))
            });
            found.push(Found {
                source: "file",
                severity: d.severity,
                code: d.problem.code(),
                object,
                field: d.field.clone().unwrap_or_default(),
                message: d.to_string(),
                file: d.file.file_name().map(|f| f.to_string_lossy().into_owned()),
                document: d.document,
            });
        }
        for d in &self.built.diagnostics {
            found.push(Found {
                source: "model",
                severity: d.severity,
                code: d.kind.code(),
                object: d.object.to_string(),
                field: d.field.clone(),
                message: d.to_string(),
                file: None,
                document: None,
            });
        }
        found
    }

    /// The Ingress (`namespace/name`) whose route serves `host` and `path`, after checking that
    /// the router and the reference matcher agree.
    pub fn served_by(&self, host: &str, path: &str) -> Option<String> {
        let path = sluice::router::normalize_path(path);
        let want = self.built.table.lookup(host, &path);
        let got = self.router.lookup(host, &path);
        assert_eq!(got, want, "router and reference disagree on {host}{path}");
        got.and_then(|r| r.origin.as_ref())
            .map(|o| o.ingress.to_string())
    }

    /// The good Ingress is served.
    pub fn assert_good_served(&self) {
        assert_eq!(
            self.served_by("good.example.com", "/anything").as_deref(),
            Some("default/good"),
            "the good Ingress is not served"
        );
    }

    /// Errors and warnings of either source, one per line.
    pub fn problems(&self) -> Vec<String> {
        self.found()
            .into_iter()
            .filter(|f| f.severity != Severity::Info)
            .map(|f| f.message)
            .collect()
    }
}

fn severity(text: &str) -> Severity {
    match text {
        "error" => Severity::Error,
        "warning" => Severity::Warning,
        "info" => Severity::Info,
        other => panic!("unknown severity {other:?}"),
    }
}

fn matches(expected: &Value, found: &Found) -> bool {
    let text = |key: &str| expected.get(key).and_then(Value::as_str);
    text("source") == Some(found.source)
        && text("severity").map(severity) == Some(found.severity)
        && text("code") == Some(found.code)
        && text("object") == Some(found.object.as_str())
        && text("field").unwrap_or("") == found.field
        && text("message").is_none_or(|m| found.message.contains(m))
        && text("file").is_none_or(|f| found.file.as_deref() == Some(f))
        && expected
            .get("document")
            .and_then(Value::as_u64)
            .is_none_or(|d| found.document.and_then(|n| u64::try_from(n).ok()) == Some(d))
}

/// Checks an outcome against an `expected.json` value: every expected diagnostic is present and
/// names its object (and its field, or for whole-object findings its file and document); every
/// error or warning is expected; the `served` and `tls` rows hold; the good Ingress is served.
pub fn check(case: &str, outcome: &Outcome, expected: &Value) {
    let found = outcome.found();
    let listed = expected["diagnostics"]
        .as_array()
        .expect("diagnostics list");
    for want in listed {
        assert!(
            found.iter().any(|f| matches(want, f)),
            "{case}: expected {want}\nfound:\n{}",
            outcome.problems().join("\n")
        );
        let object = want["object"].as_str().unwrap_or("");
        assert!(
            object.contains(' ') && object.contains('/'),
            "{case}: {want} names no object"
        );
        let located = want.get("field").is_some()
            || (want.get("file").is_some() && want.get("document").is_some());
        assert!(
            located,
            "{case}: {want} names neither field nor file and document"
        );
    }
    for f in found.iter().filter(|f| f.severity != Severity::Info) {
        assert!(
            listed.iter().any(|want| matches(want, f)),
            "{case}: unexpected {:?} {} {}: {}",
            f.severity,
            f.code,
            f.object,
            f.message
        );
    }
    for row in expected["served"].as_array().expect("served list") {
        let (host, path) = (row["host"].as_str().unwrap(), row["path"].as_str().unwrap());
        let want = row["ingress"].as_str();
        assert_eq!(
            outcome.served_by(host, path).as_deref(),
            want,
            "{case}: {host}{path}"
        );
    }
    for row in expected["tls"].as_array().expect("tls list") {
        let host = row["host"].as_str().unwrap();
        let vhost = outcome
            .built
            .table
            .virtual_host(host)
            .expect("virtual host");
        let tls = vhost.tls.as_ref().expect("the host has TLS");
        let certificate = tls.certificate.as_ref().map(ToString::to_string);
        assert_eq!(
            certificate.as_deref(),
            row["certificate"].as_str(),
            "{case}: {host}"
        );
    }
    outcome.assert_good_served();
}
