//! Scripted event lists through the fold.

use sluice_ingress_model::{DiagnosticKind, Severity};

use super::*;

fn ingress(ns: &str, name: &str, host: &str) -> Object {
    Object::Ingress(
        Box::new(Ingress {
            key: ObjectKey::new(ns, name),
            rules: vec![sluice_ingress_model::IngressRule {
                host: Some(host.into()),
                paths: Vec::new(),
            }],
            ..Ingress::default()
        }),
        IngressMeta {
            uid: Some(format!("uid-{name}")),
            addresses: Vec::new(),
        },
    )
}

fn secret(ns: &str, name: &str, kind: &str) -> Object {
    Object::Secret(Secret {
        key: ObjectKey::new(ns, name),
        secret_type: kind.into(),
        data: BTreeMap::new(),
    })
}

fn class(name: &str) -> Object {
    Object::IngressClass(IngressClass {
        name: name.into(),
        controller: "sluice.dev/ingress-controller".into(),
        is_default: false,
    })
}

fn synced_folder() -> Folder {
    let mut folder = Folder::new([
        StreamId::Ingresses,
        StreamId::IngressClasses,
        StreamId::TlsSecrets,
    ]);
    for stream in [
        StreamId::Ingresses,
        StreamId::IngressClasses,
        StreamId::TlsSecrets,
    ] {
        folder.apply(&stream, Event::Init);
        folder.apply(&stream, Event::InitDone);
    }
    assert!(folder.is_synced());
    folder.take_changed();
    folder.take_meta_changed();
    folder
}

#[test]
fn publishes_only_after_every_stream_listed() {
    let mut folder = Folder::new([StreamId::Ingresses, StreamId::IngressClasses]);
    folder.apply(&StreamId::Ingresses, Event::Init);
    folder.apply(
        &StreamId::Ingresses,
        Event::InitApply(ingress("a", "web", "a.test")),
    );
    assert!(!folder.is_synced());
    assert!(
        folder.snapshot().ingresses.is_empty(),
        "buffered until InitDone"
    );
    folder.apply(&StreamId::Ingresses, Event::InitDone);
    assert_eq!(folder.snapshot().ingresses.len(), 1);
    assert!(!folder.is_synced(), "IngressClasses have not listed yet");
    folder.apply(&StreamId::IngressClasses, Event::Init);
    folder.apply(&StreamId::IngressClasses, Event::InitDone);
    assert!(folder.is_synced());
    assert!(folder.take_changed());
    assert!(!folder.take_changed());
}

#[test]
fn relist_swaps_atomically_and_drops_vanished_objects() {
    let mut folder = synced_folder();
    let s = StreamId::Ingresses;
    folder.apply(&s, Event::Apply(ingress("a", "one", "one.test")));
    folder.apply(&s, Event::Apply(ingress("a", "two", "two.test")));
    assert!(folder.take_changed());
    // A 410 relist: while it runs, the old store stays in place.
    folder.apply(&s, Event::Init);
    folder.apply(&s, Event::InitApply(ingress("a", "two", "two.test")));
    assert_eq!(folder.snapshot().ingresses.len(), 2);
    assert!(!folder.take_changed());
    folder.apply(&s, Event::InitApply(ingress("a", "three", "three.test")));
    folder.apply(&s, Event::InitDone);
    let keys: Vec<_> = folder.snapshot().ingresses.keys().cloned().collect();
    assert_eq!(
        keys,
        vec![ObjectKey::new("a", "three"), ObjectKey::new("a", "two")]
    );
    assert!(folder.take_changed());
    assert!(
        !folder
            .ingress_meta()
            .contains_key(&ObjectKey::new("a", "one"))
    );
}

#[test]
fn identical_apply_is_not_a_change_but_status_is_meta() {
    let mut folder = synced_folder();
    let s = StreamId::Ingresses;
    folder.apply(&s, Event::Apply(ingress("a", "web", "a.test")));
    assert!(folder.take_changed());
    assert!(folder.take_meta_changed());
    folder.apply(&s, Event::Apply(ingress("a", "web", "a.test")));
    assert!(!folder.take_changed());
    assert!(!folder.take_meta_changed());
    let Object::Ingress(body, mut meta) = ingress("a", "web", "a.test") else {
        unreachable!()
    };
    meta.addresses = vec!["192.0.2.1".into()];
    folder.apply(&s, Event::Apply(Object::Ingress(body, meta)));
    assert!(!folder.take_changed(), "a status write does not rebuild");
    assert!(folder.take_meta_changed());
    folder.apply(&s, Event::Delete(ingress("a", "web", "ignored")));
    assert!(folder.take_changed());
    assert!(folder.snapshot().ingresses.is_empty());
}

#[test]
fn secrets_are_the_union_of_their_streams() {
    let mut folder = synced_folder();
    let reference =
        StreamId::Reference(ObjectRef::new(Kind::Secret, ObjectKey::new("a", "shared")));
    folder.add_stream(reference.clone());
    assert!(!folder.is_synced(), "a new reference holds publication");
    folder.apply(&reference, Event::Init);
    folder.apply(
        &reference,
        Event::InitApply(secret("a", "shared", "kubernetes.io/tls")),
    );
    folder.apply(&reference, Event::InitDone);
    assert!(folder.is_synced());
    folder.apply(
        &StreamId::TlsSecrets,
        Event::Apply(secret("a", "shared", "kubernetes.io/tls")),
    );
    folder.take_changed();
    folder.remove_stream(&reference);
    assert!(
        folder
            .snapshot()
            .secrets
            .contains_key(&ObjectKey::new("a", "shared")),
        "still held by the TLS stream"
    );
    assert!(!folder.take_changed());
    folder.apply(
        &StreamId::TlsSecrets,
        Event::Delete(secret("a", "shared", "kubernetes.io/tls")),
    );
    assert!(folder.snapshot().secrets.is_empty());
    assert!(folder.take_changed());
}

#[test]
fn a_failed_reference_stream_stops_holding_publication_but_a_kind_does_not() {
    let mut folder = synced_folder();
    let reference = StreamId::Reference(ObjectRef::new(
        Kind::ConfigMap,
        ObjectKey::new("a", "headers"),
    ));
    folder.add_stream(reference.clone());
    assert!(!folder.is_synced());
    folder.stream_failed(&reference);
    assert!(folder.is_synced());

    let mut fresh = Folder::new([StreamId::Ingresses]);
    fresh.stream_failed(&StreamId::Ingresses);
    assert!(!fresh.is_synced());
}

#[test]
fn an_invalid_object_replaces_its_valid_version_with_a_diagnostic() {
    let mut folder = synced_folder();
    let s = StreamId::Ingresses;
    folder.apply(&s, Event::Apply(ingress("a", "web", "a.test")));
    folder.take_changed();
    let target = ObjectRef::new(Kind::Ingress, ObjectKey::new("a", "web"));
    let diagnostic = Diagnostic::new(
        Severity::Error,
        Kind::Ingress,
        &target.key,
        "spec.rules[0].http.paths[0].pathType",
        DiagnosticKind::UnknownPathType("Foo".into()),
    );
    folder.apply(
        &s,
        Event::Apply(Object::Invalid(target.clone(), Box::new(diagnostic))),
    );
    assert!(folder.take_changed());
    assert!(folder.snapshot().ingresses.is_empty());
    assert_eq!(folder.invalid().count(), 1);
    folder.apply(&s, Event::Apply(ingress("a", "web", "a.test")));
    assert_eq!(folder.invalid().count(), 0);
    assert_eq!(folder.snapshot().ingresses.len(), 1);
    // A relist without it drops the diagnostic too.
    let again = Diagnostic::new(
        Severity::Error,
        Kind::Ingress,
        &ObjectKey::new("a", "web"),
        "",
        DiagnosticKind::Malformed("bad".into()),
    );
    folder.apply(&s, Event::Apply(Object::Invalid(target, Box::new(again))));
    assert_eq!(folder.invalid().count(), 1);
    folder.apply(&s, Event::Init);
    folder.apply(&s, Event::InitDone);
    assert_eq!(folder.invalid().count(), 0);
}

#[test]
fn classes_and_unknown_streams() {
    let mut folder = synced_folder();
    folder.apply(&StreamId::IngressClasses, Event::Apply(class("sluice")));
    assert!(folder.snapshot().ingress_classes.contains_key("sluice"));
    // Events of a stream that is not (or no longer) registered are ignored.
    folder.take_changed();
    folder.apply(&StreamId::Services, Event::Apply(class("other")));
    assert!(!folder.take_changed());
    folder.apply(&StreamId::IngressClasses, Event::Delete(class("sluice")));
    assert!(folder.snapshot().ingress_classes.is_empty());
}
