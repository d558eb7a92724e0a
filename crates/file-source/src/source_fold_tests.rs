//! The patched fold equals a fold from scratch of the same file states, whatever the sequence
//! of new, rewritten, broken and deleted files, duplicates across files included.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;

use super::*;

/// The documents of one file: each bit of `pick` adds one object (the names overlap between
/// files, so duplicates come and go); `value` makes rewrites visible.
fn contents(pick: u8, value: u8) -> String {
    let mut docs = Vec::new();
    for (bit, name) in ["a", "b", "c"].iter().enumerate() {
        if pick & (1 << bit) != 0 {
            docs.push(format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: default\ndata:\n  v: \"{value}\"\n"
            ));
        }
    }
    if pick & 8 != 0 {
        docs.push(format!(
            "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: web\n  namespace: default\nspec:\n  ingressClassName: sluice\n  rules:\n  - host: h{value}.example.com\n"
        ));
    }
    docs.join("---\n")
}

/// One change to a file.
#[derive(Clone, Debug)]
enum Change {
    Write(u8, u8),
    Break,
    Delete,
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        6 => (0u8..16, 0u8..3).prop_map(|(p, v)| Change::Write(p, v)),
        1 => Just(Change::Break),
        2 => Just(Change::Delete),
    ]
}

/// Replaces a file by renaming a new one over it (a new inode, so the change is always seen).
fn replace(dir: &Path, name: &str, text: &str) {
    let tmp = dir.join(".tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, dir.join(name)).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn a_patched_fold_equals_a_fold_from_scratch(
        steps in prop::collection::vec((0usize..4, change()), 1..14),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut source = FileSource::new([dir.path()]);
        source.load();
        for (file, change) in steps {
            let name = format!("f{file}.yaml");
            match change {
                Change::Write(pick, value) => replace(dir.path(), &name, &contents(pick, value)),
                Change::Break => replace(dir.path(), &name, "kind: [unclosed\n"),
                Change::Delete => {
                    let _ = std::fs::remove_file(dir.path().join(&name));
                }
            }
            let got = source.reload_changed();
            let listing = list(&source.roots);
            let mut order: Vec<PathBuf> = Vec::new();
            for file in listing.files {
                if !order.contains(&file) {
                    order.push(file);
                }
            }
            let want = Fold::default().full(&source.files, &order, listing.diagnostics);
            prop_assert_eq!(got, want);
        }
    }
}

#[test]
fn a_new_file_of_its_own_objects_is_patched_in_and_a_duplicate_is_not() {
    let dir = tempfile::tempdir().unwrap();
    replace(dir.path(), "a.yaml", &contents(1, 0));
    let mut source = FileSource::new([dir.path()]);
    let first = source.load();
    // The receiver dropped its copy: the next change patches the same allocation.
    let address = Arc::as_ptr(&first.snapshot);
    drop(first);
    replace(dir.path(), "b.yaml", &contents(2, 0));
    let second = source.reload_changed();
    assert_eq!(Arc::as_ptr(&second.snapshot), address);
    assert_eq!(second.snapshot.config_maps.len(), 2);
    drop(second);
    // A file defining `a` again: the later file wins with a warning, as from scratch.
    replace(dir.path(), "c.yaml", &contents(1, 1));
    let third = source.reload_changed();
    let cm = &third.snapshot.config_maps[&sluice_ingress_model::ObjectKey::new("default", "a")];
    assert_eq!(cm.data["v"], "1");
    assert!(
        third
            .diagnostics
            .iter()
            .any(|d| matches!(d.problem, Error::Duplicate { .. }))
    );
    // Nothing changed: no new result.
    assert!(source.refresh_if_changed(&Force::All).is_none());
}
