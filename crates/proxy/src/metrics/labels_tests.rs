//! The label index shares the sets of unchanged virtual hosts across rebuilds.

use std::sync::Arc;

use sluice_ingress_model::{
    Action, Forward, HostPattern, ObjectKey, PathMatch, PortRef, Route, RouteOrigin, Routes,
    UpstreamId, VirtualHost,
};

use super::{Interner, LabelIndex};

fn vhost(host: &str, service: &str) -> VirtualHost {
    VirtualHost {
        host: HostPattern::Exact(host.to_owned()),
        tls: None,
        routes: vec![Route {
            path: PathMatch::Prefix("/".into()),
            conditions: Vec::new(),
            action: Action::Forward(Forward::to(upstream(service))),
            policy: Arc::default(),
            origin: Some(RouteOrigin {
                ingress: ObjectKey::new("default", host),
                path: "/".into(),
            }),
        }],
        policy: Default::default(),
    }
}

fn upstream(service: &str) -> UpstreamId {
    UpstreamId::new("default", service, PortRef::Number(80))
}

fn routes(hosts: Vec<VirtualHost>) -> Routes {
    Routes {
        virtual_hosts: hosts.into_iter().map(Arc::new).collect(),
        ..Routes::default()
    }
}

fn labels<'a>(
    index: &'a LabelIndex,
    interner: &Interner,
    routes: &Routes,
    host: &str,
) -> &'a Arc<super::RouteLabels> {
    let vhost = routes
        .virtual_hosts
        .iter()
        .find(|v| v.host == HostPattern::Exact(host.to_owned()))
        .unwrap();
    let route = &vhost.routes[0];
    let Action::Forward(forward) = &route.action else {
        panic!("a forward route")
    };
    let (label, labels) = index.get(
        host,
        route.origin.as_ref(),
        Some(&forward.backends[0].upstream),
        interner,
    );
    assert_eq!(label.as_ref(), index.hosts().label(host).as_ref());
    labels.unwrap()
}

#[test]
fn unchanged_hosts_share_their_sets_and_changed_ones_do_not() {
    let interner = Interner::default();
    let old = routes(vec![
        vhost("a.example", "svc-a"),
        vhost("b.example", "svc-b"),
    ]);
    let first = LabelIndex::build(&old, &interner, None);
    let new = routes(vec![
        vhost("a.example", "svc-a"),
        vhost("b.example", "svc-b2"),
        vhost("c.example", "svc-c"),
    ]);
    let second = LabelIndex::build(&new, &interner, Some((&old, &first)));

    assert!(Arc::ptr_eq(
        &second.by_host["a.example"],
        &first.by_host["a.example"]
    ));
    assert!(!Arc::ptr_eq(
        &second.by_host["b.example"],
        &first.by_host["b.example"]
    ));
    assert_eq!(
        labels(&second, &interner, &new, "b.example").values.service,
        "svc-b2"
    );
    assert_eq!(
        labels(&second, &interner, &new, "c.example").values.service,
        "svc-c"
    );
    // A fresh build resolves the same label sets (interned, so the same objects).
    let fresh = LabelIndex::build(&new, &interner, None);
    for host in ["a.example", "b.example", "c.example"] {
        assert!(Arc::ptr_eq(
            labels(&second, &interner, &new, host),
            labels(&fresh, &interner, &new, host)
        ));
    }
    assert_eq!(second.label_sets().count(), fresh.label_sets().count());
}

#[test]
fn a_changed_default_route_rebuilds_every_host() {
    let interner = Interner::default();
    let old = routes(vec![vhost("a.example", "svc-a")]);
    let first = LabelIndex::build(&old, &interner, None);
    resolve_all(&first, &interner);
    let mut new = old.clone();
    new.default_route = Some(vhost("default", "fallback").routes.remove(0));
    let second = LabelIndex::build(&new, &interner, Some((&old, &first)));
    assert!(!Arc::ptr_eq(
        &second.by_host["a.example"],
        &first.by_host["a.example"]
    ));
    assert!(second.label_sets().count() > first.label_sets().count());
}

/// Resolves every host's sets, as if each host had had a request.
fn resolve_all(index: &LabelIndex, interner: &Interner) {
    for sets in index.by_host.values() {
        sets.resolved(interner);
    }
}

#[test]
fn sets_are_resolved_at_a_hosts_first_request_and_carried_over_a_rebuild() {
    let interner = Interner::default();
    let old = routes(vec![
        vhost("a.example", "svc-a"),
        vhost("b.example", "svc-b"),
    ]);
    let first = LabelIndex::build(&old, &interner, None);
    assert_eq!(first.label_sets().count(), 0);
    assert!(interner.all().is_empty());
    let a = labels(&first, &interner, &old, "a.example").clone();
    let resolved: Vec<&str> = first.label_sets().map(|s| s.values.host.as_ref()).collect();
    assert!(!resolved.is_empty() && resolved.iter().all(|h| *h == "a.example"));

    // A rebuild that shares nothing (another default route) resolves a.example again at once,
    // to the same interned sets, so its series carry on; b.example had no request and waits.
    let mut new = old.clone();
    new.default_route = Some(vhost("default", "fallback").routes.remove(0));
    let second = LabelIndex::build(&new, &interner, Some((&old, &first)));
    assert!(second.by_host["a.example"].routes.get().is_some());
    assert!(second.by_host["b.example"].routes.get().is_none());
    interner.retain(&second, &a);
    assert!(Arc::ptr_eq(
        &a,
        labels(&second, &interner, &new, "a.example")
    ));
}

/// Every label set of an index, as `(host label, values)` pairs, sorted.
fn all_sets(index: &LabelIndex) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = index
        .by_host
        .iter()
        .flat_map(|(host, sets)| {
            sets.label_sets()
                .map(move |set| (host.to_string(), format!("{:?}", set.values)))
        })
        .collect();
    out.sort();
    out
}

#[test]
fn an_update_equals_a_fresh_build_and_drops_only_what_went() {
    let interner = Interner::default();
    let old = routes(vec![
        vhost("a.example", "svc-a"),
        vhost("b.example", "svc-b"),
        vhost("c.example", "svc-c"),
    ]);
    let first = LabelIndex::build(&old, &interner, None);
    resolve_all(&first, &interner);
    let mut new = old.clone();
    new.virtual_hosts.remove(2);
    new.virtual_hosts[1] = Arc::new(vhost("b.example", "svc-b2"));
    new.virtual_hosts
        .push(Arc::new(vhost("d.example", "svc-d")));
    let (updated, dropped) = LabelIndex::update(&new, &interner, &old, &first).unwrap();
    interner.forget(&dropped);
    let fresh = LabelIndex::build(&new, &interner, None);
    resolve_all(&updated, &interner);
    resolve_all(&fresh, &interner);
    assert_eq!(all_sets(&updated), all_sets(&fresh));
    assert!(Arc::ptr_eq(
        &updated.by_host["a.example"],
        &first.by_host["a.example"]
    ));
    assert!(!updated.by_host.contains_key("c.example"));
    assert_eq!(updated.hosts().label("c.example").as_ref(), "-");
    // The sets of c.example and the old b.example route are gone from the interner; the
    // fallback set of b.example (same values before and after) is not.
    let services: Vec<&str> = dropped.iter().map(|s| s.values.service.as_str()).collect();
    assert!(services.contains(&"svc-c") && services.contains(&"svc-b"));
    assert!(
        dropped
            .iter()
            .all(|s| s.values.host.as_ref() != "a.example")
    );
    let interned: Vec<String> = interner
        .all()
        .iter()
        .map(|s| s.values.service.clone())
        .collect();
    assert!(!interned.iter().any(|s| s == "svc-c" || s == "svc-b"));
    assert!(interned.iter().any(|s| s == "svc-b2") && interned.iter().any(|s| s == "svc-d"));
    // A host-less virtual host or a new default route is left to a full build.
    let mut any = new.clone();
    any.virtual_hosts.push(Arc::new(VirtualHost {
        host: HostPattern::Any,
        ..vhost("x", "svc-x")
    }));
    assert!(LabelIndex::update(&any, &interner, &new, &updated).is_none());
}

/// The hosts of every interned label set, sorted and deduplicated.
fn interned_hosts(interner: &Interner) -> Vec<String> {
    let mut hosts: Vec<String> = interner
        .all()
        .iter()
        .map(|s| s.values.host.to_string())
        .collect();
    hosts.sort();
    hosts.dedup();
    hosts
}

#[test]
fn sets_resolved_in_an_entry_a_change_removed_are_forgotten_at_the_next_change() {
    let interner = Interner::default();
    let old = routes(vec![
        vhost("a.example", "svc-a"),
        vhost("b.example", "svc-b"),
    ]);
    let first = LabelIndex::build(&old, &interner, None);
    let new = routes(vec![vhost("a.example", "svc-a")]);
    let (second, dropped) = LabelIndex::update(&new, &interner, &old, &first).unwrap();
    interner.forget(&dropped);
    interner.sweep_strays(&second);
    // A request counted with the old index, after the change removed b.example.
    labels(&first, &interner, &old, "b.example");
    assert_eq!(interned_hosts(&interner), ["b.example"]);
    labels(&second, &interner, &new, "a.example");
    interner.sweep_strays(&second);
    assert_eq!(interned_hosts(&interner), ["a.example"]);
}

#[test]
fn sets_a_full_build_left_behind_are_forgotten_when_resolved_late() {
    let interner = Interner::default();
    let old = routes(vec![vhost("a.example", "svc-a")]);
    let first = LabelIndex::build(&old, &interner, None);
    let mut new = routes(vec![vhost("b.example", "svc-b")]);
    new.default_route = Some(vhost("default", "fallback").routes.remove(0));
    let second = LabelIndex::build(&new, &interner, Some((&old, &first)));
    second.retire_unshared(&first);
    labels(&first, &interner, &old, "a.example");
    interner.sweep_strays(&second);
    assert!(interned_hosts(&interner).is_empty());
}

#[test]
fn stray_sets_live_until_a_change_whose_index_does_not_hold_them() {
    let interner = Interner::default();
    let table = routes(vec![vhost("a.example", "svc-a")]);
    let index = LabelIndex::build(&table, &interner, None);
    let held = labels(&index, &interner, &table, "a.example").clone();
    // Made by a request the index has no set for (a route of a table not indexed yet).
    let stray = interner.intern_stray(super::values(
        &Arc::from("-"),
        None,
        Some(&upstream("svc-gone")),
        None,
    ));
    // The same values as a set the index holds: the interned one, not a stray.
    let same = interner.intern_stray(held.values.clone());
    assert!(Arc::ptr_eq(&same, &held));
    assert_eq!(interner.all().len(), 4);
    interner.sweep_strays(&index);
    assert!(!interner.all().iter().any(|s| Arc::ptr_eq(s, &stray)));
    assert!(interner.all().iter().any(|s| Arc::ptr_eq(s, &held)));
}

#[test]
fn a_request_host_finds_the_label_the_host_labels_give_it() {
    let interner = Interner::default();
    let mut wildcard = vhost("wild", "svc-wild");
    wildcard.host = HostPattern::Wildcard("example.com".into());
    let table = routes(vec![vhost("a.example.com", "svc-a"), wildcard]);
    let index = LabelIndex::build(&table, &interner, None);
    for (host, label) in [
        ("a.example.com", "a.example.com"),
        ("b.example.com", "*.example.com"),
        ("*.example.com", "*.example.com"),
        ("c.b.example.com", "-"),
        ("example.com", "-"),
        ("-", "-"),
        ("other.test", "-"),
    ] {
        let (found, _) = index.get(host, None, None, &interner);
        assert_eq!(found.as_ref(), label, "{host}");
        assert_eq!(found.as_ref(), index.hosts().label(host).as_ref(), "{host}");
    }
    // The route of the exact host and the wildcard's own route resolve to their label sets.
    let a = labels(&index, &interner, &table, "a.example.com");
    assert_eq!(a.values.service, "svc-a");
    let wild = &table.virtual_hosts[1].routes[0];
    let (label, sets) = index.get(
        "b.example.com",
        wild.origin.as_ref(),
        Some(&upstream("svc-wild")),
        &interner,
    );
    assert_eq!(label.as_ref(), "*.example.com");
    let sets = sets.expect("the wildcard's label set");
    assert_eq!(sets.values.host.as_ref(), "*.example.com");
    assert_eq!(sets.values.service, "svc-wild");
}

#[test]
fn sets_of_one_path_are_told_apart_by_upstream_and_ingress() {
    let interner = Interner::default();
    let mut host = vhost("a.example", "svc-a");
    let mut second = host.routes[0].clone();
    if let Action::Forward(forward) = &mut host.routes[0].action {
        let mut other = forward.backends[0].clone();
        other.upstream = upstream("svc-b");
        forward.backends.push(other);
    }
    // Another Ingress with the same path on the same host (a later rule of the merge).
    second.origin = Some(RouteOrigin {
        ingress: ObjectKey::new("default", "other"),
        path: "/".into(),
    });
    second.action = Action::Forward(Forward::to(upstream("svc-c")));
    host.routes.push(second);
    let table = routes(vec![host]);
    let index = LabelIndex::build(&table, &interner, None);
    let routes = &table.virtual_hosts[0].routes;
    let found = |route: usize, service: Option<&str>| {
        let upstream = service.map(upstream);
        let (_, labels) = index.get(
            "a.example",
            routes[route].origin.as_ref(),
            upstream.as_ref(),
            &interner,
        );
        labels.map(|l| (l.values.ingress.clone(), l.values.service.clone()))
    };
    let pair = |ingress: &str, service: &str| Some((ingress.to_owned(), service.to_owned()));
    assert_eq!(found(0, Some("svc-a")), pair("a.example", "svc-a"));
    assert_eq!(found(0, Some("svc-b")), pair("a.example", "svc-b"));
    assert_eq!(found(0, None), pair("a.example", ""));
    assert_eq!(found(1, Some("svc-c")), pair("other", "svc-c"));
    assert_eq!(found(1, None), pair("other", ""));
    // An upstream the route does not have is no set of the index (the request path interns
    // a stray one).
    assert_eq!(found(1, Some("svc-a")), None);
}
