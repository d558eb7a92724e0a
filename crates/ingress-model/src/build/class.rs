//! Which Ingresses are ours (DESIGN §4, ingress-nginx `GetIngressClass`).

use crate::objects::Ingress;
use crate::snapshot::{BuildOptions, Snapshot};

/// The legacy class annotation.
pub const CLASS_ANNOTATION: &str = "kubernetes.io/ingress.class";

/// Whether `ingress` belongs to this controller. Returns the class it named when it does not.
///
/// 1. `spec.ingressClassName` set: ours iff that IngressClass is ours (its controller is ours, or
///    by name with `ingress_class_by_name`); with `class_name_without_object`, a name equal to
///    `ingress_class` with no IngressClass object also counts. The annotation is not consulted.
/// 2. Else the `kubernetes.io/ingress.class` annotation: ours iff it equals `ingress_class`.
/// 3. Else ours iff `watch_ingress_without_class`, or one of our IngressClasses is the default.
pub fn ownership(
    ingress: &Ingress,
    snapshot: &Snapshot,
    opts: &BuildOptions,
) -> Result<(), String> {
    if let Some(name) = ingress.class_name.as_deref().filter(|n| !n.is_empty()) {
        let ours = match snapshot.ingress_classes.get(name) {
            Some(_) => class_is_ours(name, snapshot, opts),
            None => opts.class_name_without_object && name == opts.ingress_class,
        };
        return if ours { Ok(()) } else { Err(name.to_owned()) };
    }
    if let Some(value) = ingress.annotations.get(CLASS_ANNOTATION) {
        return if *value == opts.ingress_class {
            Ok(())
        } else {
            Err(value.clone())
        };
    }
    let default_is_ours = snapshot
        .ingress_classes
        .values()
        .any(|c| c.is_default && class_is_ours(&c.name, snapshot, opts));
    if opts.watch_ingress_without_class || default_is_ours {
        Ok(())
    } else {
        Err(String::new())
    }
}

/// Whether `ingress` belongs to this controller under the options (the rule of [`ownership`]).
pub fn is_ours(ingress: &Ingress, snapshot: &Snapshot, opts: &BuildOptions) -> bool {
    ownership(ingress, snapshot, opts).is_ok()
}

fn class_is_ours(name: &str, snapshot: &Snapshot, opts: &BuildOptions) -> bool {
    snapshot.ingress_classes.get(name).is_some_and(|class| {
        class.controller == opts.controller_class
            || (opts.ingress_class_by_name && class.name == opts.ingress_class)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objects::IngressClass;

    fn ingress(class: Option<&str>, annotation: Option<&str>) -> Ingress {
        let mut ing = Ingress {
            class_name: class.map(Into::into),
            ..Ingress::default()
        };
        if let Some(a) = annotation {
            ing.annotations.insert(CLASS_ANNOTATION.into(), a.into());
        }
        ing
    }

    fn snapshot() -> Snapshot {
        let mut s = Snapshot::default();
        s.insert_ingress_class(IngressClass {
            name: "mine".into(),
            controller: "sluice.dev/ingress-controller".into(),
            is_default: false,
        });
        s.insert_ingress_class(IngressClass {
            name: "nginx".into(),
            controller: "k8s.io/ingress-nginx".into(),
            is_default: false,
        });
        s
    }

    #[test]
    fn class_name_resolves_through_ingress_class_objects() {
        let opts = BuildOptions {
            ingress_class: "nginx".into(),
            ..BuildOptions::default()
        };
        let s = snapshot();
        assert!(ownership(&ingress(Some("mine"), None), &s, &opts).is_ok());
        assert!(ownership(&ingress(Some("nginx"), None), &s, &opts).is_err());
        // The annotation is not a fallback when the name is set.
        assert!(ownership(&ingress(Some("nginx"), Some("nginx")), &s, &opts).is_err());
        let by_name = BuildOptions {
            ingress_class_by_name: true,
            ..opts.clone()
        };
        assert!(ownership(&ingress(Some("nginx"), None), &s, &by_name).is_ok());
        assert!(ownership(&ingress(Some("missing"), None), &s, &opts).is_err());
    }

    #[test]
    fn gateway_mode_accepts_class_name_without_object() {
        let opts = BuildOptions {
            class_name_without_object: true,
            ..BuildOptions::default()
        };
        let s = Snapshot::default();
        assert!(ownership(&ingress(Some("sluice"), None), &s, &opts).is_ok());
        assert!(ownership(&ingress(Some("other"), None), &s, &opts).is_err());
    }

    #[test]
    fn annotation_then_classless() {
        let opts = BuildOptions::default();
        let s = snapshot();
        assert!(ownership(&ingress(None, Some("sluice")), &s, &opts).is_ok());
        assert!(ownership(&ingress(None, Some("nginx")), &s, &opts).is_err());
        assert!(ownership(&ingress(None, None), &s, &opts).is_err());
        let without = BuildOptions {
            watch_ingress_without_class: true,
            ..opts.clone()
        };
        assert!(ownership(&ingress(None, None), &s, &without).is_ok());
        let mut with_default = snapshot();
        with_default.insert_ingress_class(IngressClass {
            name: "mine".into(),
            controller: "sluice.dev/ingress-controller".into(),
            is_default: true,
        });
        assert!(ownership(&ingress(None, None), &with_default, &opts).is_ok());
    }
}
