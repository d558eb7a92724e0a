//! Broken edits through the binary: a YAML syntax error, an invalid object and a broken new
//! file are reported in the log (naming the file) while the last good routing keeps serving;
//! fixing the file applies it. `sluice check` fails on the same files.

use std::process::Command;

use super::support::*;

fn error_naming(file: &str) -> impl Fn(&serde_json::Value) -> bool + '_ {
    move |line| line["level"] == "ERROR" && message(line).contains(file)
}

#[tokio::test]
async fn a_broken_edit_keeps_the_old_routing_and_reports_the_error() {
    let b = backends(&["app", "new"]).await;
    let gw = gateway()
        .file("services.yaml", services(&b, 80))
        .file(
            "routes.yaml",
            ingress("web", Some("a.example.com"), &[("/", "app")]),
        )
        .start()
        .await;
    assert_eq!(served_by(&get(gw.http, "a.example.com", "/").await), "app");

    // A syntax error (an unclosed flow sequence), and a route change in the same edit.
    let mark = gw.mark();
    let broken = ingress("web", Some("a.example.com"), &[("/", "new")]) + "  oops: [\n";
    gw.write("routes.yaml", &broken);
    let error = gw
        .wait_for(
            "an error naming routes.yaml",
            mark,
            error_naming("routes.yaml"),
        )
        .await;
    assert!(message(&error).contains("routes.yaml"), "{error}");
    for _ in 0..5 {
        assert_eq!(served_by(&get(gw.http, "a.example.com", "/").await), "app");
    }

    // An object that does not convert: a pathType that does not exist.
    let mark = gw.mark();
    let invalid = ingress("web", Some("a.example.com"), &[("/", "new")])
        .replace("pathType: Prefix", "pathType: Sometimes");
    gw.write("routes.yaml", &invalid);
    let error = gw
        .wait_for(
            "an error about the pathType",
            mark,
            error_naming("routes.yaml"),
        )
        .await;
    assert!(
        message(&error).contains("Sometimes") || message(&error).contains("pathType"),
        "{error}"
    );
    assert_eq!(served_by(&get(gw.http, "a.example.com", "/").await), "app");

    // Fixed: the new routing applies.
    let applied = gw.applied().len();
    gw.write(
        "routes.yaml",
        &ingress("web", Some("a.example.com"), &[("/", "new")]),
    );
    let line = gw.wait_applied(applied + 1).await;
    assert_eq!(line["change"], "rebuild", "{line}");
    assert_eq!(served_by(&get(gw.http, "a.example.com", "/").await), "new");
}

#[tokio::test]
async fn a_broken_new_file_is_reported_and_the_rest_still_served() {
    let b = backends(&["app"]).await;
    let gw = gateway()
        .file("services.yaml", services(&b, 80))
        .file(
            "routes.yaml",
            ingress("web", Some("a.example.com"), &[("/", "app")]),
        )
        .start()
        .await;
    let mark = gw.mark();
    gw.write("extra.yaml", "kind: Ingress\nmetadata: {name: x\n");
    gw.wait_for(
        "an error naming extra.yaml",
        mark,
        error_naming("extra.yaml"),
    )
    .await;
    assert_eq!(served_by(&get(gw.http, "a.example.com", "/").await), "app");

    let check = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .arg("check")
        .arg("--manifests")
        .arg(gw.dir())
        .output()
        .unwrap();
    assert!(
        !check.status.success(),
        "sluice check must fail on the broken file"
    );
    let report = String::from_utf8_lossy(&check.stdout);
    assert!(report.contains("extra.yaml"), "{report}");
}

#[tokio::test]
async fn a_gateway_started_on_a_broken_file_serves_what_decodes() {
    let b = backends(&["app"]).await;
    let routes = documents(&[
        &ingress("good", Some("good.example.com"), &[("/", "app")]),
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: bad\nspec:\n  rules: 7\n",
    ]);
    let gw = gateway()
        .file("services.yaml", services(&b, 80))
        .file("routes.yaml", routes)
        .start()
        .await;
    assert_eq!(
        served_by(&get(gw.http, "good.example.com", "/").await),
        "app"
    );
    let error = gw
        .wait_for(
            "an error naming routes.yaml",
            0,
            error_naming("routes.yaml"),
        )
        .await;
    assert!(
        message(&error).contains("bad") || message(&error).contains("rules"),
        "{error}"
    );
}
