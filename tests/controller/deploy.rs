//! `deploy/`: both kustomizations render, every object round-trips through its k8s-openapi type
//! (so a misspelled field, which k8s-openapi would silently drop, fails), and the RBAC rules
//! can be compared with the requests the controller makes.
//!
//! Rendering uses `kubectl kustomize` when kubectl is installed. A fresh CI machine may not
//! have it (Debian's `kubernetes-client` is 1.20, whose kustomize predates the syntax used), so
//! a small renderer for exactly the features these kustomizations use (resources: files and
//! directories; patches: `$patch: delete`) runs too, and must agree with kubectl when both run.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::IngressClass;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use k8s_openapi::serde::Serialize;
use k8s_openapi::serde::de::DeserializeOwned;
use serde_json::Value;

pub fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy")
}

/// The objects a kustomization renders to.
pub fn render(dir: &Path) -> Vec<Value> {
    let own = render_without_kubectl(dir);
    if let Some(text) = kubectl_kustomize(dir) {
        let real: Vec<Value> = serde_saphyr::from_multiple(&text).unwrap();
        assert_eq!(
            identities(&real),
            identities(&own),
            "the fallback renderer disagrees with kubectl"
        );
        let sorted = |objects: &[Value]| {
            let mut texts: Vec<String> = objects.iter().map(Value::to_string).collect();
            texts.sort();
            texts
        };
        assert!(
            sorted(&real) == sorted(&own),
            "the fallback renderer disagrees with kubectl"
        );
        return real;
    }
    own
}

fn kubectl_kustomize(dir: &Path) -> Option<String> {
    let out = Command::new("kubectl")
        .arg("kustomize")
        .arg(dir)
        .output()
        .ok()?;
    assert!(
        out.status.success(),
        "kubectl kustomize {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8(out.stdout).unwrap())
}

fn identities(objects: &[Value]) -> BTreeSet<(String, String, String)> {
    objects
        .iter()
        .map(|o| {
            let s = |p: &str| {
                o.pointer(p)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            (s("/kind"), s("/metadata/namespace"), s("/metadata/name"))
        })
        .collect()
}

fn render_without_kubectl(dir: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(dir.join("kustomization.yaml")).unwrap();
    let k: Value = serde_saphyr::from_str(&text).unwrap();
    for key in k.as_object().unwrap().keys() {
        assert!(
            ["apiVersion", "kind", "resources", "patches"].contains(&key.as_str()),
            "{}: the fallback renderer does not know {key}",
            dir.display()
        );
    }
    let mut objects = Vec::new();
    for entry in k["resources"].as_array().into_iter().flatten() {
        let path = dir.join(entry.as_str().unwrap());
        if path.is_dir() {
            objects.extend(render_without_kubectl(&path));
        } else {
            let text = std::fs::read_to_string(&path).unwrap();
            let docs: Vec<Value> = serde_saphyr::from_multiple(&text).unwrap();
            objects.extend(docs.into_iter().filter(|d| !d.is_null()));
        }
    }
    for patch in k["patches"].as_array().into_iter().flatten() {
        let text = std::fs::read_to_string(dir.join(patch["path"].as_str().unwrap())).unwrap();
        let doc: Value = serde_saphyr::from_str(&text).unwrap();
        assert_eq!(doc["$patch"], "delete", "only delete patches are supported");
        let target = identities(std::slice::from_ref(&doc));
        objects.retain(|o| identities(std::slice::from_ref(o)) != target);
    }
    // kustomize sorts by kind (its legacy order) then name; compare sets, keep kubectl's order.
    objects.sort_by_key(|o| {
        let order = [
            "Namespace",
            "ServiceAccount",
            "Role",
            "ClusterRole",
            "RoleBinding",
            "ClusterRoleBinding",
            "ConfigMap",
            "Service",
            "Deployment",
            "DaemonSet",
            "PodDisruptionBudget",
            "IngressClass",
            "ValidatingWebhookConfiguration",
        ];
        let kind = o["kind"].as_str().unwrap_or_default();
        (
            order.iter().position(|k| *k == kind).unwrap_or(99),
            o["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        )
    });
    objects
}

/// `object` deserialises into `T`, and serialising `T` back gives the same document.
fn round_trip<T: DeserializeOwned + Serialize>(object: &Value) {
    let typed: T = serde_json::from_value(object.clone())
        .unwrap_or_else(|e| panic!("{}: {e}", object["kind"]));
    let back = serde_json::to_value(&typed).unwrap();
    assert_eq!(
        strip_nulls(object.clone()),
        strip_nulls(back),
        "{} {} has fields its type does not know",
        object["kind"],
        object["metadata"]["name"]
    );
}

fn strip_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, strip_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(strip_nulls).collect()),
        other => other,
    }
}

fn check_types(objects: &[Value]) {
    for object in objects {
        match object["kind"].as_str().unwrap_or_default() {
            "Namespace" => round_trip::<Namespace>(object),
            "ServiceAccount" => round_trip::<ServiceAccount>(object),
            "ClusterRole" => round_trip::<ClusterRole>(object),
            "ClusterRoleBinding" => round_trip::<ClusterRoleBinding>(object),
            "Role" => round_trip::<Role>(object),
            "RoleBinding" => round_trip::<RoleBinding>(object),
            "ConfigMap" => round_trip::<ConfigMap>(object),
            "IngressClass" => round_trip::<IngressClass>(object),
            "Deployment" => round_trip::<Deployment>(object),
            "DaemonSet" => round_trip::<DaemonSet>(object),
            "PodDisruptionBudget" => round_trip::<PodDisruptionBudget>(object),
            "Service" => round_trip::<Service>(object),
            "ValidatingWebhookConfiguration" => {
                round_trip::<ValidatingWebhookConfiguration>(object)
            }
            other => panic!("unexpected kind {other}"),
        }
    }
}

fn find<'a>(objects: &'a [Value], kind: &str) -> Vec<&'a Value> {
    objects.iter().filter(|o| o["kind"] == kind).collect()
}

#[test]
fn base_renders_into_typed_objects() {
    let objects = render(&deploy_dir());
    check_types(&objects);
    let deployment: Deployment =
        serde_json::from_value(find(&objects, "Deployment")[0].clone()).unwrap();
    let spec = deployment.spec.unwrap();
    assert_eq!(spec.replicas, Some(2));
    let pod = spec.template.spec.unwrap();
    let container = &pod.containers[0];
    let security = container.security_context.clone().unwrap();
    assert_eq!(security.read_only_root_filesystem, Some(true));
    assert_eq!(security.allow_privilege_escalation, Some(false));
    let caps = security.capabilities.unwrap();
    assert_eq!(caps.drop, Some(vec!["ALL".to_owned()]));
    assert_eq!(caps.add, Some(vec!["NET_BIND_SERVICE".to_owned()]));
    assert_eq!(pod.security_context.unwrap().run_as_non_root, Some(true));
    let probe_path = |p: &Option<k8s_openapi::api::core::v1::Probe>| {
        p.as_ref()
            .and_then(|p| p.http_get.as_ref())
            .map(|h| (h.path.clone().unwrap_or_default(), h.port.clone()))
    };
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
    assert_eq!(
        probe_path(&container.readiness_probe),
        Some(("/readyz".into(), IntOrString::Int(10254)))
    );
    assert_eq!(
        probe_path(&container.liveness_probe),
        Some(("/healthz".into(), IntOrString::Int(10254)))
    );
    assert!(
        container
            .resources
            .as_ref()
            .and_then(|r| r.requests.as_ref())
            .is_some()
    );
    let pre_stop = container
        .lifecycle
        .as_ref()
        .and_then(|l| l.pre_stop.as_ref())
        .and_then(|h| h.sleep.as_ref())
        .map(|s| s.seconds)
        .unwrap();
    let args = container.args.clone().unwrap();
    let flag = |name: &str| -> i64 {
        args.iter()
            .find_map(|a| a.strip_prefix(&format!("--{name}=")))
            .unwrap()
            .parse()
            .unwrap()
    };
    let drain = pre_stop + flag("shutdown-grace-period") + flag("shutdown-timeout");
    assert!(
        pod.termination_grace_period_seconds.unwrap() > drain,
        "the grace period covers preStop and the drain"
    );

    let service: Service = serde_json::from_value(
        find(&objects, "Service")
            .into_iter()
            .find(|s| s["metadata"]["name"] == "sluice")
            .unwrap()
            .clone(),
    )
    .unwrap();
    let spec = service.spec.unwrap();
    assert_eq!(spec.type_.as_deref(), Some("LoadBalancer"));
    assert_eq!(spec.external_traffic_policy.as_deref(), Some("Local"));
    let webhook: ValidatingWebhookConfiguration =
        serde_json::from_value(find(&objects, "ValidatingWebhookConfiguration")[0].clone())
            .unwrap();
    let hook = &webhook.webhooks.unwrap()[0];
    assert_eq!(hook.admission_review_versions, vec!["v1".to_owned()]);
    assert_eq!(
        hook.client_config.service.as_ref().unwrap().name,
        "sluice-admission"
    );
}

#[test]
fn daemonset_overlay_renders_on_the_host_network() {
    let objects = render(&deploy_dir().join("overlays/daemonset"));
    check_types(&objects);
    assert!(find(&objects, "Deployment").is_empty());
    let ds: DaemonSet = serde_json::from_value(find(&objects, "DaemonSet")[0].clone()).unwrap();
    let pod = ds.spec.unwrap().template.spec.unwrap();
    assert_eq!(pod.host_network, Some(true));
    assert_eq!(pod.dns_policy.as_deref(), Some("ClusterFirstWithHostNet"));
    assert!(
        find(&objects, "Service")
            .iter()
            .all(|s| s["spec"]["type"] != "LoadBalancer"),
        "no LoadBalancer Service in front of host-network pods"
    );
}

/// One RBAC permission: (apiGroup, resource, verb).
pub type Rule = (String, String, String);

/// The rules of the rendered base.
pub struct Granted {
    /// The ClusterRole's.
    pub cluster: BTreeSet<Rule>,
    /// The Role's (the controller's namespace).
    pub namespaced: BTreeSet<Rule>,
}

/// The permissions the ClusterRole and the Role grant.
pub fn granted() -> Granted {
    let objects = render(&deploy_dir());
    let rules = |kind: &str| -> BTreeSet<Rule> {
        let mut out = BTreeSet::new();
        for object in find(&objects, kind) {
            for rule in object["rules"].as_array().unwrap() {
                for group in rule["apiGroups"].as_array().unwrap() {
                    for resource in rule["resources"].as_array().unwrap() {
                        for verb in rule["verbs"].as_array().unwrap() {
                            out.insert((
                                group.as_str().unwrap().to_owned(),
                                resource.as_str().unwrap().to_owned(),
                                verb.as_str().unwrap().to_owned(),
                            ));
                        }
                    }
                }
            }
        }
        out
    };
    Granted {
        cluster: rules("ClusterRole"),
        namespaced: rules("Role"),
    }
}
