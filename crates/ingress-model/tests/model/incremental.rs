//! `Incremental::build` equals `build` after every change, whichever path it takes, and a
//! change to one host leaves the other virtual hosts' allocations alone.

use std::sync::Arc;

use proptest::prelude::*;
use sluice_ingress_model::PathType::Prefix;
use sluice_ingress_model::*;

use super::fixtures::*;
use super::laws::{SERVICES, addresses, ingress_strategy, slice_with};

/// One change to the snapshot.
#[derive(Clone, Debug)]
enum Step {
    /// Adds or replaces the Ingress of this index.
    Put(Ingress),
    /// Removes the Ingress of this index.
    Remove(usize),
    /// Replaces the endpoints of one Service.
    Endpoints(usize, Vec<(u8, bool)>),
    /// Moves the clock.
    Clock(i64),
    /// Replaces the `cert` Secret of a namespace: another certificate, broken data, or none.
    Secret(usize, u8),
}

/// Ingresses mostly without what forces a full build (default backends, canaries, aliases,
/// upstream settings), so both paths are taken. `spec.tls` stays: it is built incrementally.
fn ingress(index: usize) -> impl Strategy<Value = Ingress> {
    (ingress_strategy(index), 0u8..4).prop_map(|(mut ing, plain)| {
        if plain > 0 {
            ing.default_backend = None;
            ing.annotations.retain(|k, _| {
                !["canary", "alias", "www", "affinity"]
                    .iter()
                    .any(|s| k.contains(s))
            });
        }
        ing
    })
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        5 => (0usize..8).prop_flat_map(ingress).prop_map(Step::Put),
        2 => (0usize..8).prop_map(Step::Remove),
        2 => (0usize..3, addresses()).prop_map(|(i, a)| Step::Endpoints(i, a)),
        1 => prop_oneof![Just(1_000), Just(2_000_000_000), Just(4_200_000_000)].prop_map(Step::Clock),
        1 => (0usize..2, 0u8..4).prop_map(|(ns, variant)| Step::Secret(ns, variant)),
    ]
}

fn initial() -> impl Strategy<Value = Vec<Ingress>> {
    (0usize..8).prop_flat_map(|n| (0..n).map(ingress).collect::<Vec<_>>())
}

/// A certificate for `a.com` and `*.a.com` (so `b.com` does not match it) that expires in 2040,
/// between two of the clocks the steps set, made once.
fn certificate() -> &'static (String, String) {
    static CERT: std::sync::OnceLock<(String, String)> = std::sync::OnceLock::new();
    CERT.get_or_init(|| make_certificate(&["a.com", "*.a.com"], 2040))
}

/// Another certificate, for `a.com` (so a rotation keeps serving it) and `b.com`, that expires
/// in 2100.
fn other_certificate() -> &'static (String, String) {
    static CERT: std::sync::OnceLock<(String, String)> = std::sync::OnceLock::new();
    CERT.get_or_init(|| make_certificate(&["a.com", "b.com"], 2100))
}

fn make_certificate(names: &[&str], expires: i32) -> (String, String) {
    let names = names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(names).unwrap();
    params.not_after = rcgen::date_time_ymd(expires, 1, 1);
    let cert = params.self_signed(&key).unwrap();
    (cert.pem(), key.serialize_pem())
}

fn base() -> Snapshot {
    let mut s = Snapshot::default();
    let (cert, key) = certificate();
    for ns in ["default", "other"] {
        s.insert_secret(tls_secret(ns, "cert", cert, key));
        for svc in SERVICES.iter().take(3) {
            s.insert_service(service(ns, svc, 80));
            s.insert_endpoint_slice(slice_with(ns, svc, &[(1, true)]));
        }
    }
    s
}

fn key_of(index: usize) -> ObjectKey {
    let ns = if index.is_multiple_of(2) {
        "default"
    } else {
        "other"
    };
    ObjectKey::new(ns, format!("ing-{index}"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn every_incremental_build_equals_a_full_build(
        first in initial(),
        steps in prop::collection::vec(step(), 1..10),
    ) {
        let mut snapshot = base();
        for ing in first {
            snapshot.insert_ingress(ing);
        }
        let mut opts = BuildOptions { class_name_without_object: true, ..BuildOptions::default() };
        let mut incremental = Incremental::new();
        prop_assert_eq!(incremental.build(&snapshot, &opts), build(&snapshot, &opts));
        for step in steps {
            match step {
                Step::Put(ing) => snapshot.insert_ingress(ing),
                Step::Remove(i) => {
                    snapshot.ingresses.remove(&key_of(i));
                }
                Step::Endpoints(i, addrs) => {
                    let ns = if i == 0 { "other" } else { "default" };
                    snapshot.insert_endpoint_slice(slice_with(ns, SERVICES[i], &addrs));
                }
                Step::Clock(now) => opts.now = Some(now),
                Step::Secret(ns, variant) => {
                    let ns = ["default", "other"][ns];
                    let key = ObjectKey::new(ns, "cert");
                    match variant {
                        0 | 1 => {
                            let (cert, key) = [certificate(), other_certificate()][usize::from(variant)];
                            snapshot.insert_secret(tls_secret(ns, "cert", cert, key));
                        }
                        2 => snapshot.insert_secret(tls_secret(ns, "cert", "not a certificate", "no key")),
                        _ => {
                            snapshot.secrets.remove(&key);
                        }
                    }
                }
            }
            let full = build(&snapshot, &opts);
            let step = incremental.build(&snapshot, &opts);
            prop_assert_eq!(
                serde_json::to_string(&step).unwrap(),
                serde_json::to_string(&full).unwrap()
            );
            prop_assert_eq!(step, full);
        }
    }
}

fn hosts(n: usize) -> Snapshot {
    let mut s = services();
    for i in 0..n {
        let host = format!("h{i}.example.com");
        s.insert_ingress(ingress_of(i, &host));
    }
    s
}

fn ingress_of(i: usize, host: &str) -> Ingress {
    super::fixtures::ingress(
        "default",
        &format!("ing-{i}"),
        Some(host),
        vec![path("/", Prefix, "svc-a", 80)],
    )
}

#[test]
fn a_new_ingress_rebuilds_only_its_host_and_keeps_the_others_shared() {
    let mut s = hosts(50);
    let opts = BuildOptions::default();
    let mut incremental = Incremental::new();
    let before = incremental.build(&s, &opts);
    assert_eq!(incremental.reuse(), Reuse::Full);
    s.insert_ingress(ingress_of(99, "new.example.com"));
    let after = incremental.build(&s, &opts);
    assert_eq!(incremental.reuse(), Reuse::Partial { ingresses: 1 });
    assert_eq!(after, build(&s, &opts));
    let shared = after
        .table
        .routes
        .virtual_hosts
        .iter()
        .filter(|v| {
            before
                .table
                .routes
                .virtual_hosts
                .iter()
                .any(|old| Arc::ptr_eq(old, v))
        })
        .count();
    assert_eq!(
        shared, 50,
        "every old virtual host is shared, only the new one is not"
    );
    assert!(after.table.virtual_host("new.example.com").is_some());
}

#[test]
fn ingresses_sharing_a_host_are_rebuilt_together() {
    let mut s = hosts(10);
    let opts = BuildOptions::default();
    let mut incremental = Incremental::new();
    incremental.build(&s, &opts);
    // A second Ingress on h3 claims the same path: the older one keeps it.
    let mut late = ingress_of(50, "h3.example.com");
    late.created = Some(i64::MAX);
    s.insert_ingress(late);
    let built = incremental.build(&s, &opts);
    assert_eq!(incremental.reuse(), Reuse::Partial { ingresses: 2 });
    assert_eq!(built, build(&s, &opts));
    assert!(
        built
            .diagnostics
            .iter()
            .any(|d| d.kind.code() == "conflict")
    );
}

#[test]
fn a_tls_ingress_is_built_alone_and_its_certificate_comes_and_goes_with_it() {
    let (cert, key) = certificate();
    let mut s = hosts(5);
    s.insert_secret(tls_secret("default", "cert", cert, key));
    let opts = BuildOptions::default();
    let mut incremental = Incremental::new();
    incremental.build(&s, &opts);
    let mut tls = ingress_of(7, "x.a.com");
    tls.tls.push(IngressTls {
        hosts: vec!["x.a.com".into()],
        secret_name: Some("cert".into()),
    });
    s.insert_ingress(tls.clone());
    let built = incremental.build(&s, &opts);
    assert_eq!(incremental.reuse(), Reuse::Partial { ingresses: 1 });
    assert_eq!(built, build(&s, &opts));
    let secret = ObjectKey::new("default", "cert");
    assert!(built.table.routes.certificates.contains_key(&secret));
    // A second host presenting the same certificate, then the first one gone: still kept.
    let mut second = ingress_of(8, "y.a.com");
    second.tls = tls.tls.clone();
    second.tls[0].hosts = vec!["y.a.com".into()];
    s.insert_ingress(second);
    assert_eq!(incremental.build(&s, &opts), build(&s, &opts));
    s.ingresses.remove(&tls.key);
    let built = incremental.build(&s, &opts);
    assert_eq!(incremental.reuse(), Reuse::Partial { ingresses: 0 });
    assert_eq!(built, build(&s, &opts));
    assert!(built.table.routes.certificates.contains_key(&secret));
    // The last host presenting it gone: the table no longer carries it.
    s.ingresses.remove(&ObjectKey::new("default", "ing-8"));
    let built = incremental.build(&s, &opts);
    assert_eq!(incremental.reuse(), Reuse::Partial { ingresses: 0 });
    assert_eq!(built, build(&s, &opts));
    assert!(built.table.routes.certificates.is_empty());
}

#[test]
fn a_rotated_certificate_rebuilds_only_the_ingresses_that_use_it() {
    let (cert, key) = certificate();
    let mut s = hosts(5);
    s.insert_secret(tls_secret("default", "cert", cert, key));
    let mut tls = ingress_of(7, "a.com");
    tls.tls.push(IngressTls {
        hosts: vec!["a.com".into()],
        secret_name: Some("cert".into()),
    });
    s.insert_ingress(tls);
    let opts = BuildOptions::default();
    let mut incremental = Incremental::new();
    let before = incremental.build(&s, &opts);
    let (cert, key) = other_certificate();
    s.insert_secret(tls_secret("default", "cert", cert, key));
    let after = incremental.build(&s, &opts);
    assert_eq!(incremental.reuse(), Reuse::Partial { ingresses: 1 });
    assert_eq!(after, build(&s, &opts));
    let secret = ObjectKey::new("default", "cert");
    assert_ne!(
        before.table.routes.certificates[&secret].not_after,
        after.table.routes.certificates[&secret].not_after
    );
    // The default certificate reaches every host: a full build.
    let opts = BuildOptions {
        default_certificate: Some(secret),
        ..BuildOptions::default()
    };
    incremental.build(&s, &opts);
    s.insert_secret(tls_secret("default", "cert", "broken", "broken"));
    assert_eq!(incremental.build(&s, &opts), build(&s, &opts));
    assert_eq!(incremental.reuse(), Reuse::Full);
}

#[test]
fn another_object_kind_rebuilds_everything() {
    let mut s = hosts(5);
    let opts = BuildOptions::default();
    let mut incremental = Incremental::new();
    incremental.build(&s, &opts);
    s.insert_service(service("default", "svc-new", 80));
    assert_eq!(incremental.build(&s, &opts), build(&s, &opts));
    assert_eq!(incremental.reuse(), Reuse::Full);
    // Nothing changed: the previous result, without building anything.
    assert_eq!(incremental.build(&s, &opts), build(&s, &opts));
    assert_eq!(incremental.reuse(), Reuse::Partial { ingresses: 0 });
}

#[test]
fn a_certificate_expiring_between_two_builds_forces_a_full_build() {
    let mut params = rcgen::CertificateParams::new(vec!["old.example.com".to_owned()]).unwrap();
    params.not_before = rcgen::date_time_ymd(2000, 1, 1);
    params.not_after = rcgen::date_time_ymd(2001, 1, 1);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    let mut s = hosts(3);
    s.insert_secret(tls_secret(
        "default",
        "cert",
        &cert.pem(),
        &key.serialize_pem(),
    ));
    let mut tls = ingress_of(9, "old.example.com");
    tls.tls.push(IngressTls {
        hosts: vec!["old.example.com".into()],
        secret_name: Some("cert".into()),
    });
    s.insert_ingress(tls);
    let mut opts = BuildOptions {
        now: Some(900_000_000),
        ..BuildOptions::default()
    };
    let mut incremental = Incremental::new();
    incremental.build(&s, &opts);
    // Later the same year: the certificate is still valid, nothing to rebuild.
    opts.now = Some(900_000_100);
    assert_eq!(incremental.build(&s, &opts), build(&s, &opts));
    assert_eq!(incremental.reuse(), Reuse::Partial { ingresses: 0 });
    // Past its notAfter: the expiry warning appears, as in a full build.
    opts.now = Some(1_800_000_000);
    let built = incremental.build(&s, &opts);
    assert_eq!(incremental.reuse(), Reuse::Full);
    assert_eq!(built, build(&s, &opts));
    assert!(
        built
            .diagnostics
            .iter()
            .any(|d| d.kind.code() == "certificate_expired")
    );
}

#[test]
fn a_certificate_first_parsed_by_a_partial_build_still_forces_a_full_build_when_it_expires() {
    let (cert, key) = certificate();
    let mut s = hosts(3);
    s.insert_secret(tls_secret("default", "cert", cert, key));
    let mut opts = BuildOptions {
        now: Some(2_000_000_000),
        ..BuildOptions::default()
    };
    let mut incremental = Incremental::new();
    incremental.build(&s, &opts);
    let mut tls = ingress_of(9, "x.a.com");
    tls.tls.push(IngressTls {
        hosts: vec!["x.a.com".into()],
        secret_name: Some("cert".into()),
    });
    s.insert_ingress(tls);
    assert_eq!(incremental.build(&s, &opts), build(&s, &opts));
    assert_eq!(incremental.reuse(), Reuse::Partial { ingresses: 1 });
    // 2103: past the certificate's notAfter (2040), which only the partial build parsed.
    opts.now = Some(4_200_000_000);
    let built = incremental.build(&s, &opts);
    assert_eq!(incremental.reuse(), Reuse::Full);
    assert_eq!(built, build(&s, &opts));
}

#[test]
fn removing_the_ingress_that_set_an_upstreams_policy_restores_the_default() {
    let mut s = hosts(2);
    let mut sticky = ingress_of(7, "sticky.example.com");
    sticky
        .annotations
        .insert(ann("affinity"), "cookie".to_owned());
    s.insert_ingress(sticky);
    let opts = BuildOptions::default();
    let mut incremental = Incremental::new();
    let before = incremental.build(&s, &opts);
    let id = UpstreamId::new("default", "svc-a", PortRef::Number(80));
    assert!(before.table.routes.upstreams[&id].policy.affinity.is_some());
    s.ingresses.remove(&ObjectKey::new("default", "ing-7"));
    let after = incremental.build(&s, &opts);
    assert_eq!(after, build(&s, &opts));
    assert!(after.table.routes.upstreams[&id].policy.affinity.is_none());
}
