//! `sluice check --manifests` on the fixture directory: the JSON report's statuses, migration
//! tables and exit codes.

use std::collections::BTreeMap;

use serde_json::Value;

use super::support::*;

fn check_json(path: &std::path::Path) -> (i32, Value) {
    let mut args = vec!["check".to_owned(), "--manifests".to_owned()];
    args.push(path.display().to_string());
    args.extend(TAKE_OVER.iter().map(|s| (*s).to_owned()));
    args.extend(["--output".to_owned(), "json".to_owned()]);
    let (code, stdout) = sluice(&args);
    (code, serde_json::from_str(&stdout).unwrap())
}

fn ingress<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["ingresses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == name)
        .unwrap_or_else(|| panic!("no Ingress {name}"))
}

fn annotation_status(report: &Value, ingress_name: &str) -> BTreeMap<String, String> {
    ingress(report, ingress_name)["annotations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["annotation"].as_str().unwrap().to_owned(),
                a["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn fixture_directory_gives_the_expected_report() {
    let (code, report) = check_json(&fixtures());
    assert_eq!(code, 1, "rejected Ingresses make the check fail");
    let statuses: BTreeMap<String, String> = report["ingresses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                format!(
                    "{}/{}",
                    i["namespace"].as_str().unwrap(),
                    i["name"].as_str().unwrap()
                ),
                i["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected: BTreeMap<String, String> = [
        ("docs/old-extensions", "served"),
        ("docs/old-networking", "served"),
        ("docs/regex-paths", "served"),
        ("shop/admin", "served"),
        ("shop/api-canary", "served"),
        ("shop/api-main", "served"),
        ("shop/api-rewrite", "served"),
        ("shop/app-root", "served"),
        ("shop/bad-body-size", "rejected"),
        ("shop/cors", "served"),
        ("shop/dashboard", "served"),
        ("shop/half-broken", "partial"),
        ("shop/legacy-snippet", "rejected"),
        ("shop/misc", "served"),
        ("shop/missing-cert", "served"),
        ("shop/moved", "served"),
        ("shop/orphan", "served"),
        ("shop/rate-limited", "served"),
        ("shop/secure", "served"),
        ("shop/server-snippet", "rejected"),
        ("shop/shop", "served"),
        ("shop/shop-copy", "shadowed"),
        ("shop/sticky", "served"),
        ("shop/traefik-app", "ignored"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(statuses, expected);
    assert_eq!(
        report["summary"],
        serde_json::json!({
            "ingresses": 24, "served": 18, "partial": 1, "rejected": 3, "shadowed": 1,
            "ignored": 1, "errors": 4, "warnings": 5, "source_errors": 0
        })
    );

    // Migration tables.
    let misc = annotation_status(&report, "misc");
    let expected_misc: BTreeMap<String, String> = [
        ("custom-http-errors", "exact"),
        ("enable-modsecurity", "no_effect"),
        ("enable-opentelemetry", "partial"),
        ("not-a-real-annotation", "unknown"),
        ("proxy-buffering", "partial"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(misc, expected_misc);
    let snippet = ingress(&report, "legacy-snippet");
    assert_eq!(
        annotation_status(&report, "legacy-snippet")["configuration-snippet"],
        "refused"
    );
    assert_eq!(snippet["diagnostics"][0]["code"], "snippet");
    let buffering = ingress(&report, "misc")["annotations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["annotation"] == "proxy-buffering")
        .unwrap();
    assert!(buffering["note"].as_str().unwrap().contains("streamed"));
    let whitelist = ingress(&report, "rate-limited")["annotations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["annotation"] == "limit-whitelist")
        .unwrap();
    assert_eq!(whitelist["alias_of"], "limit-allowlist");
    assert_eq!(
        ingress(&report, "bad-body-size")["diagnostics"][0]["field"],
        "metadata.annotations.nginx.ingress.kubernetes.io/proxy-body-size"
    );
    assert_eq!(
        ingress(&report, "orphan")["diagnostics"][0]["code"],
        "service_not_found"
    );

    // The ConfigMap's keys that are set, with their effect.
    let keys: BTreeMap<String, (String, bool, bool)> = report["configmap"]["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["key"].as_str().unwrap().to_owned(),
                (
                    k["status"].as_str().unwrap().to_owned(),
                    k["default"].as_bool().unwrap(),
                    k["valid"].as_bool().unwrap(),
                ),
            )
        })
        .collect();
    assert_eq!(keys["proxy-body-size"], ("exact".into(), false, true));
    assert_eq!(keys["keep-alive"], ("partial".into(), true, true));
    assert_eq!(keys["client-header-timeout"], ("exact".into(), true, false));
    assert_eq!(keys["enable-vts-status"].0, "no_effect");
    assert_eq!(keys.len(), 6);

    let source = report["source_diagnostics"].as_array().unwrap();
    assert_eq!(source.len(), 3, "{source:#?}");
    assert!(source.iter().all(|d| d["severity"] != "error"));
}

#[test]
fn text_report_names_every_ingress_and_sums_up() {
    let dir = fixtures();
    let mut args = vec!["check", "--manifests", dir.to_str().unwrap()];
    args.extend(TAKE_OVER);
    let (code, text) = sluice(&args);
    assert_eq!(code, 1);
    assert!(
        text.contains("\nIngress shop/legacy-snippet: REJECTED\n"),
        "{text}"
    );
    assert!(text.contains("    refused    configuration-snippet: more_set_headers"));
    assert!(text.contains(
        "    no effect  enable-modsecurity: true — ModSecurity is not available in sluice\n"
    ));
    assert!(text.contains(
        "24 Ingresses: 18 served, 1 partially served, 3 rejected, 1 shadowed, 1 ignored (other class); 4 errors, 5 warnings, 0 source errors\n"
    ));
}

#[test]
fn manifests_without_errors_pass() {
    let dir = subset(&[
        "00-controller.yaml",
        "01-backends.yaml",
        "02-plain.yaml",
        "03-rewrite.yaml",
        "04-canary.yaml",
        "09-tls.yaml",
        "17-missing-service.yaml",
    ]);
    let (code, report) = check_json(dir.path());
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["summary"]["served"], 6);
    assert_eq!(report["summary"]["rejected"], 0);
}

#[test]
fn unreadable_manifests_fail() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("broken.yaml"),
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: [\n",
    )
    .unwrap();
    let (code, report) = check_json(dir.path());
    assert_eq!(code, 1);
    assert_eq!(report["summary"]["source_errors"], 1);
}
