//! Folding every file's objects into one snapshot: from scratch, or by patching the last
//! snapshot with the objects of the files that changed. Patching is only done when none of
//! those objects is defined anywhere else (duplicates are decided by load order, which only a
//! fold from scratch sees), so both give the same result; a change to one file among 10k then
//! costs that file, not the 10k.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sluice_ingress_model::{Kind, ObjectRef, Severity, Snapshot};

use crate::diagnostic::Diagnostic;
use crate::error::Error;
use crate::source::{FileState, Loaded};

/// What the fold remembers between refreshes.
#[derive(Debug, Default)]
pub(crate) struct Fold {
    /// How many served objects (in all files) have each kind and name.
    defined: HashMap<ObjectRef, usize>,
    /// The duplicate warnings of each file.
    duplicates: HashMap<PathBuf, Vec<Diagnostic>>,
}

/// A file whose objects may have changed, with the objects it served before.
#[derive(Debug)]
pub(crate) struct Dirty {
    /// The file.
    pub file: PathBuf,
    /// What it served before (empty for a new file).
    pub before: Vec<ObjectRef>,
}

impl Fold {
    /// Folds the files' objects in load order into one snapshot; later duplicates win.
    pub fn full(
        &mut self,
        files: &HashMap<PathBuf, FileState>,
        order: &[PathBuf],
        listing: Vec<Diagnostic>,
    ) -> Loaded {
        self.defined.clear();
        self.duplicates.clear();
        let mut snapshot = Snapshot::default();
        let mut seen: HashMap<ObjectRef, (&Path, usize)> = HashMap::new();
        for file in order {
            let Some(state) = files.get(file) else {
                continue;
            };
            for located in &state.served {
                let object = located.object.object_ref();
                *self.defined.entry(object.clone()).or_default() += 1;
                if let Some((earlier, document)) = seen.insert(object, (file, located.document)) {
                    self.duplicates
                        .entry(file.clone())
                        .or_default()
                        .push(Diagnostic {
                            severity: Severity::Warning,
                            file: file.clone(),
                            document: Some(located.document),
                            line: Some(located.line),
                            object: Some(located.object.id()),
                            field: None,
                            problem: Error::Duplicate {
                                file: earlier.display().to_string(),
                                document,
                            },
                        });
                }
                located.object.clone().insert_into(&mut snapshot);
            }
        }
        Loaded {
            snapshot: Arc::new(snapshot),
            diagnostics: self.diagnostics(files, order, listing),
        }
    }

    /// Patches `last` with the objects of the `dirty` files; gives `last` back untouched when
    /// one of their objects (before or now) is also defined elsewhere, or twice in one file.
    pub fn patch(
        &mut self,
        mut last: Loaded,
        files: &HashMap<PathBuf, FileState>,
        order: &[PathBuf],
        listing: Vec<Diagnostic>,
        dirty: &[Dirty],
    ) -> Result<Loaded, (Loaded, Vec<Diagnostic>)> {
        let mut added: HashSet<ObjectRef> = HashSet::new();
        for change in dirty {
            let mut before: HashMap<&ObjectRef, usize> = HashMap::new();
            for object in &change.before {
                *before.entry(object).or_default() += 1;
            }
            let now = served_refs(files.get(&change.file));
            let mut counted_now: HashSet<&ObjectRef> = HashSet::new();
            for object in &now {
                let alone = self.defined.get(object).copied().unwrap_or(0)
                    == before.get(object).copied().unwrap_or(0);
                if !alone || !counted_now.insert(object) || !added.insert(object.clone()) {
                    return Err((last, listing));
                }
            }
            for (object, count) in &before {
                if self.defined.get(*object).copied().unwrap_or(0) != *count {
                    return Err((last, listing));
                }
            }
        }
        let snapshot = Arc::make_mut(&mut last.snapshot);
        for change in dirty {
            for object in &change.before {
                remove(snapshot, object);
                if let Some(n) = self.defined.get_mut(object) {
                    *n -= 1;
                    if *n == 0 {
                        self.defined.remove(object);
                    }
                }
            }
            self.duplicates.remove(&change.file);
            if let Some(state) = files.get(&change.file) {
                for located in &state.served {
                    *self.defined.entry(located.object.object_ref()).or_default() += 1;
                    located.object.clone().insert_into(snapshot);
                }
            }
        }
        // Files that are gone have no state; their duplicate warnings go with them.
        self.duplicates.retain(|file, _| files.contains_key(file));
        last.diagnostics = self.diagnostics(files, order, listing);
        Ok(last)
    }

    /// The listing's diagnostics, then each file's own and its duplicate warnings, in order.
    fn diagnostics(
        &self,
        files: &HashMap<PathBuf, FileState>,
        order: &[PathBuf],
        mut out: Vec<Diagnostic>,
    ) -> Vec<Diagnostic> {
        for file in order {
            if let Some(state) = files.get(file) {
                out.extend(state.diagnostics.iter().cloned());
            }
            if let Some(duplicates) = self.duplicates.get(file) {
                out.extend(duplicates.iter().cloned());
            }
        }
        out
    }
}

/// The kinds and names a file's state serves.
pub(crate) fn served_refs(state: Option<&FileState>) -> Vec<ObjectRef> {
    state
        .map(|s| s.served.iter().map(|l| l.object.object_ref()).collect())
        .unwrap_or_default()
}

/// Takes an object out of a snapshot.
fn remove(snapshot: &mut Snapshot, object: &ObjectRef) {
    let key = &object.key;
    match object.kind {
        Kind::Ingress => {
            snapshot.ingresses.remove(key);
        }
        Kind::IngressClass => {
            snapshot.ingress_classes.remove(&key.name);
        }
        Kind::Service => {
            snapshot.services.remove(key);
        }
        Kind::EndpointSlice => {
            snapshot.endpoint_slices.remove(key);
        }
        Kind::Secret => {
            snapshot.secrets.remove(key);
        }
        Kind::ConfigMap => {
            snapshot.config_maps.remove(key);
        }
        _ => {}
    }
}
