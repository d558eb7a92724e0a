//! `ingress_class.feature`: an Ingress naming an unknown class is not served. Around it, the
//! rest of the Kubernetes class rules: an IngressClass is ours by its controller, a foreign one
//! is not, the legacy `kubernetes.io/ingress.class` annotation, and class-less Ingresses served
//! only through a default IngressClass of ours or `--watch-ingress-without-class`.

use super::*;

/// An Ingress `name` for host `name` → Service `app`, with a `spec` line (or annotation block)
/// choosing its class.
fn classed(name: &str, class_line: &str, annotations: &str) -> String {
    format!(
        "
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {name}
  namespace: classes
{annotations}spec:
{class_line}  rules:
    - host: \"{name}\"
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service:
                name: app
                port:
                  number: 8080
"
    )
}

#[tokio::test]
async fn an_ingress_with_an_invalid_class_is_not_served() {
    let (_echo, services) = echo_services("classes", &["app", "ingress-class-prefix"]).await;
    let scenario = "
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: test-ingress-class
  namespace: classes
spec:
  ingressClassName: some-invalid-class-name
  rules:
    - host: \"ingress-class\"
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service:
                name: ingress-class-prefix
                port:
                  number: 8080
";
    let control = classed("control", "  ingressClassName: sluice\n", "");
    let gw = deploy(&[
        ("services.yaml", &services),
        ("ingress.yaml", &documents(&[scenario, &control])),
    ])
    .await;
    assert_eq!(capture(&gw, "GET", "ingress-class", "").await.status, 404);
    assert_eq!(served_by(&capture(&gw, "GET", "control", "").await), "app");
}

#[tokio::test]
async fn ingress_classes_are_ours_by_controller_annotation_or_default() {
    let (_echo, services) = echo_services("classes", &["app"]).await;
    let classes = documents(&[
        &ingress_class("internal", CONTROLLER, false),
        &ingress_class("nginx", "k8s.io/ingress-nginx", false),
    ]);
    let ingresses = documents(&[
        &classed("by-controller", "  ingressClassName: internal\n", ""),
        &classed("foreign", "  ingressClassName: nginx\n", ""),
        &classed(
            "legacy",
            "",
            "  annotations:\n    kubernetes.io/ingress.class: sluice\n",
        ),
        &classed(
            "legacy-foreign",
            "",
            "  annotations:\n    kubernetes.io/ingress.class: nginx\n",
        ),
        &classed("classless", "", ""),
    ]);
    // No default IngressClass and no flag: the class-less Ingress is not ours.
    let gw = gateway()
        .file("services.yaml", services.clone())
        .file("classes.yaml", classes.clone())
        .file("ingress.yaml", ingresses.clone())
        .start()
        .await;
    let served = [
        ("by-controller", true),
        ("foreign", false),
        ("legacy", true),
        ("legacy-foreign", false),
        ("classless", false),
    ];
    for (host, ours) in served {
        let reply = capture(&gw, "GET", host, "").await;
        assert_eq!(reply.status == 200, ours, "{host}: {}", reply.status);
    }

    // Our IngressClass becomes the default: the class-less Ingress is ours too.
    gw.write(
        "default-class.yaml",
        &ingress_class("sluice", CONTROLLER, true),
    );
    gw.wait_applied(2).await;
    assert_eq!(
        served_by(&capture(&gw, "GET", "classless", "").await),
        "app"
    );
    assert_eq!(capture(&gw, "GET", "foreign", "").await.status, 404);

    // The flag does the same without a default class.
    let flagged = gateway()
        .file("services.yaml", services)
        .file("classes.yaml", classes)
        .file("ingress.yaml", ingresses)
        .arg("--watch-ingress-without-class=true")
        .start()
        .await;
    assert_eq!(
        served_by(&capture(&flagged, "GET", "classless", "").await),
        "app"
    );
    assert_eq!(capture(&flagged, "GET", "foreign", "").await.status, 404);
}
