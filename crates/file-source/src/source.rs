//! [`FileSource`]: the files and directories to read, each file's last good objects, and the
//! fold of all of them into one [`Snapshot`] with diagnostics.
//!
//! - A directory contributes every `*.yaml`/`*.yml` entry directly inside it (not recursive;
//!   hidden entries such as kubelet's `..data` or editor files are skipped), sorted by name. A
//!   file named directly is read whatever its extension. Load order is argument order.
//! - A file that fails (I/O error, YAML error, or any document that does not convert) keeps the
//!   objects of its last successful read and reports why. On its first read, the documents that
//!   did decode are served and the rest reported.
//! - A file that is gone (deleted, or no longer listed) takes its objects with it.
//! - The same kind and `namespace/name` twice: the later one in load order wins, with a warning.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::fs;
use std::hash::{Hash, Hasher};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use std::sync::Arc;

use sluice_ingress_model::{Severity, Snapshot};

use crate::decode::{self, Located, MAX_FILE_BYTES};
use crate::diagnostic::Diagnostic;
use crate::error::Error;
use crate::fold::{Dirty, Fold, served_refs};

/// A snapshot and everything found while reading it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Loaded {
    /// Every object served. Shared: the source patches it in place for the next change when
    /// the receiver has dropped it.
    pub snapshot: Arc<Snapshot>,
    /// Errors, warnings and notes, in load order.
    pub diagnostics: Vec<Diagnostic>,
}

/// Reads Kubernetes YAML from files and directories, keeping each file's last good objects.
#[derive(Debug)]
pub struct FileSource {
    roots: Vec<PathBuf>,
    files: HashMap<PathBuf, FileState>,
    last: Option<Loaded>,
    fold: Fold,
    /// The listing's diagnostics at the last refresh.
    listing: Vec<Diagnostic>,
}

/// Which files to re-read even if their metadata looks unchanged.
#[derive(Debug)]
pub(crate) enum Force {
    /// Every file.
    All,
    /// Files whose lexically absolute path is in the set.
    Paths(HashSet<PathBuf>, PathBuf),
}

/// One file's state.
#[derive(Debug)]
pub(crate) struct FileState {
    /// Its metadata at the last read; `None` after a read error, so the next scan retries.
    fingerprint: Option<Fingerprint>,
    /// Hash of the bytes last parsed.
    hash: Option<u64>,
    /// The objects served for it.
    pub served: Vec<Located>,
    /// What its last read found.
    pub diagnostics: Vec<Diagnostic>,
}

/// What tells a changed file from an unchanged one without reading it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Fingerprint {
    len: u64,
    modified: Option<SystemTime>,
    /// Device, inode and change time: a rename-over or a symlink swap changes these.
    #[cfg(unix)]
    identity: (u64, u64, i64, i64),
}

/// The files the roots name now, and problems with the roots.
struct Listing {
    files: Vec<PathBuf>,
    diagnostics: Vec<Diagnostic>,
}

impl Loaded {
    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

impl FileSource {
    /// A source over files and directories; nothing is read until [`FileSource::load`].
    pub fn new<P: Into<PathBuf>>(paths: impl IntoIterator<Item = P>) -> Self {
        Self {
            roots: paths.into_iter().map(Into::into).collect(),
            files: HashMap::new(),
            last: None,
            fold: Fold::default(),
            listing: Vec::new(),
        }
    }

    /// The files and directories this source reads, as given.
    pub fn paths(&self) -> &[PathBuf] {
        &self.roots
    }

    /// Reads every file (a file whose bytes did not change is not parsed again).
    pub fn load(&mut self) -> Loaded {
        self.refresh(&Force::All)
    }

    /// Re-reads only files that are new or whose size, time or identity changed, and drops files
    /// that are gone. [`FileSource::watch`] calls this on every batch of file events.
    pub fn reload_changed(&mut self) -> Loaded {
        self.refresh(&Force::Paths(HashSet::new(), PathBuf::new()))
    }

    /// The last result `load`/`reload_changed` returned.
    pub(crate) fn last(&self) -> Option<&Loaded> {
        self.last.as_ref()
    }

    /// Re-reads what changed (or is forced) and folds everything into a new result.
    pub(crate) fn refresh(&mut self, force: &Force) -> Loaded {
        match self.refresh_if_changed(force) {
            Some(loaded) => loaded,
            // Unchanged: there is a last result (the first refresh always changes something).
            None => self.last.clone().unwrap_or_default(),
        }
    }

    /// Re-reads what changed (or is forced); the new result, or `None` when it would equal the
    /// last one. The objects of changed files are patched into the last snapshot when no other
    /// file defines them (see `fold.rs`); otherwise everything is folded again.
    pub(crate) fn refresh_if_changed(&mut self, force: &Force) -> Option<Loaded> {
        // Parsing needs a deep stack: the whole scan runs on one such thread (this one, when
        // it is the watch thread), rather than a thread per file read.
        if let Some(refreshed) = decode::on_parser_stack(|| self.scan(force)) {
            return refreshed;
        }
        // No thread could be started: each file read tries again, and reports it when it fails.
        self.scan(force)
    }

    /// [`FileSource::refresh_if_changed`] on the current thread.
    fn scan(&mut self, force: &Force) -> Option<Loaded> {
        let listing = list(&self.roots);
        let mut listed = HashSet::new();
        let mut order = Vec::new();
        let mut dirty = Vec::new();
        for file in listing.files {
            if !listed.insert(file.clone()) {
                continue;
            }
            let fingerprint = fingerprint(&file);
            let stale = match self.files.get(&file) {
                None => true,
                Some(state) => {
                    state.fingerprint.is_none()
                        || state.fingerprint != fingerprint
                        || force.includes(&file)
                }
            };
            if stale {
                let before = served_refs(self.files.get(&file));
                if self.reread(&file, fingerprint) {
                    dirty.push(Dirty {
                        file: file.clone(),
                        before,
                    });
                }
            }
            order.push(file);
        }
        let gone: Vec<PathBuf> = self
            .files
            .keys()
            .filter(|path| !listed.contains(*path))
            .cloned()
            .collect();
        for file in gone {
            let before = served_refs(self.files.get(&file));
            self.files.remove(&file);
            dirty.push(Dirty { file, before });
        }
        let listed_diagnostics = listing.diagnostics.clone();
        let loaded = match self.last.take() {
            Some(last) if dirty.is_empty() && listing.diagnostics == self.listing => {
                self.last = Some(last);
                return None;
            }
            Some(last) => {
                match self
                    .fold
                    .patch(last, &self.files, &order, listing.diagnostics, &dirty)
                {
                    Ok(patched) => patched,
                    Err((_, listing)) => self.fold.full(&self.files, &order, listing),
                }
            }
            None => self.fold.full(&self.files, &order, listing.diagnostics),
        };
        self.listing = listed_diagnostics;
        self.last = Some(loaded.clone());
        Some(loaded)
    }

    /// Reads one file and updates its state; whether what it serves or reports may have
    /// changed (false only when its bytes are the same as last read).
    fn reread(&mut self, file: &Path, fingerprint: Option<Fingerprint>) -> bool {
        let previous = self.files.remove(file);
        let bytes = match read_file(file) {
            Ok(bytes) => bytes,
            // Gone between listing and reading: its objects go; the next scan sees the rest.
            Err(ReadError::Io(error)) if error.kind() == io::ErrorKind::NotFound => return true,
            Err(error) => {
                let problem = match error {
                    ReadError::Io(error) => Error::from(&error),
                    ReadError::TooLarge(size) => Error::TooLarge {
                        size,
                        limit: MAX_FILE_BYTES,
                    },
                };
                let (served, before) = previous
                    .map(|p| (p.served, Some(p.diagnostics)))
                    .unwrap_or_default();
                let mut diagnostics =
                    vec![Diagnostic::file(Severity::Error, file.to_owned(), problem)];
                diagnostics.extend(kept(file, &served));
                // The same failure again (the file is retried on every scan) changes nothing.
                let changed = before.as_ref() != Some(&diagnostics);
                let state = FileState {
                    fingerprint: None,
                    hash: None,
                    served,
                    diagnostics,
                };
                self.files.insert(file.to_owned(), state);
                return changed;
            }
        };
        let hash = hash_bytes(&bytes);
        let previous = match previous {
            // Same bytes (e.g. a touch, or a symlink swap that left this file as it was).
            Some(mut state) if state.hash == Some(hash) => {
                state.fingerprint = fingerprint;
                self.files.insert(file.to_owned(), state);
                return false;
            }
            other => other,
        };
        let read = decode::read_bytes_isolated(file, &bytes);
        let (served, mut diagnostics) = (read.objects, read.diagnostics);
        let state = match previous {
            Some(previous) if read.failed => {
                diagnostics.extend(kept(file, &previous.served));
                FileState {
                    fingerprint,
                    hash: Some(hash),
                    served: previous.served,
                    diagnostics,
                }
            }
            _ => FileState {
                fingerprint,
                hash: Some(hash),
                served,
                diagnostics,
            },
        };
        self.files.insert(file.to_owned(), state);
        true
    }
}

/// Reads one file's contents from memory, without touching the file system: the same
/// decoding, diagnostics and duplicate handling as [`FileSource::load`] on a file holding
/// `bytes`. `file` only names the file in diagnostics.
///
/// Unlike `load`, parsing runs on the calling thread and a panic in the parser is not
/// caught (this is the entry point the fuzz targets use, and they must see panics). The
/// YAML parser recurses once per nesting level, up to [`MAX_DEPTH`](crate::MAX_DEPTH):
/// about 20 KiB of stack per level in a debug build, more than a default 2 MiB thread has.
pub fn parse_bytes(file: &Path, bytes: &[u8]) -> Loaded {
    let read = decode::read_bytes(file, bytes);
    let state = FileState {
        fingerprint: None,
        hash: None,
        served: read.objects,
        diagnostics: read.diagnostics,
    };
    let files = HashMap::from([(file.to_owned(), state)]);
    Fold::default().full(&files, &[file.to_owned()], Vec::new())
}

impl Force {
    /// Whether `file` must be re-read.
    fn includes(&self, file: &Path) -> bool {
        match self {
            Force::All => true,
            Force::Paths(paths, cwd) => {
                !paths.is_empty() && paths.contains(&lexical_absolute(file, cwd))
            }
        }
    }
}

/// `path` made absolute against `cwd` without touching the file system, `.` segments dropped:
/// the form `notify` reports event paths in.
pub(crate) fn lexical_absolute(path: &Path, cwd: &Path) -> PathBuf {
    let joined = if path.is_absolute() {
        path.to_owned()
    } else {
        cwd.join(path)
    };
    joined
        .components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect()
}

/// The warning for a failed file whose earlier objects are still served.
fn kept(file: &Path, served: &[Located]) -> Option<Diagnostic> {
    (!served.is_empty()).then(|| {
        let problem = Error::KeptPrevious {
            objects: served.len(),
        };
        Diagnostic::file(Severity::Warning, file.to_owned(), problem)
    })
}

/// The files the roots name, in load order.
fn list(roots: &[PathBuf]) -> Listing {
    let mut listing = Listing {
        files: Vec::new(),
        diagnostics: Vec::new(),
    };
    for root in roots {
        let error =
            |error: &io::Error| Diagnostic::file(Severity::Error, root.clone(), error.into());
        match fs::metadata(root) {
            Err(e) => listing.diagnostics.push(error(&e)),
            Ok(meta) if meta.is_dir() => match fs::read_dir(root) {
                Err(e) => listing.diagnostics.push(error(&e)),
                Ok(entries) => {
                    let mut names: Vec<_> = entries
                        .filter_map(Result::ok)
                        .map(|entry| entry.file_name())
                        .filter(|name| is_manifest_name(Path::new(name)))
                        .collect();
                    names.sort();
                    let files: Vec<_> = names
                        .into_iter()
                        .map(|name| root.join(name))
                        .filter(|path| fs::metadata(path).is_ok_and(|m| m.is_file()))
                        .collect();
                    if files.is_empty() {
                        let problem = Error::EmptyDirectory;
                        listing.diagnostics.push(Diagnostic::file(
                            Severity::Warning,
                            root.clone(),
                            problem,
                        ));
                    }
                    listing.files.extend(files);
                }
            },
            Ok(_) => listing.files.push(root.clone()),
        }
    }
    listing
}

/// `*.yaml`/`*.yml` (any case), not hidden.
fn is_manifest_name(name: &Path) -> bool {
    let hidden = name.as_os_str().as_encoded_bytes().starts_with(b".");
    let yaml = name
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"));
    yaml && !hidden
}

/// Why a file could not be read.
enum ReadError {
    Io(io::Error),
    TooLarge(u64),
}

/// The file's bytes, refusing files over [`MAX_FILE_BYTES`].
fn read_file(path: &Path) -> Result<Vec<u8>, ReadError> {
    let file = fs::File::open(path).map_err(ReadError::Io)?;
    let size = file.metadata().map_err(ReadError::Io)?.len();
    if size > MAX_FILE_BYTES {
        return Err(ReadError::TooLarge(size));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    // One byte over the limit tells a file that grew while being read.
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(ReadError::Io)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(ReadError::TooLarge(bytes.len() as u64));
    }
    Ok(bytes)
}

fn hash_bytes(bytes: &[u8]) -> u64 {
    let mut hasher = DefaultHasher::new();
    bytes.hash(&mut hasher);
    hasher.finish()
}

/// The file's metadata (following symlinks), or `None` when it cannot be read.
fn fingerprint(path: &Path) -> Option<Fingerprint> {
    let meta = fs::metadata(path).ok()?;
    Some(Fingerprint {
        len: meta.len(),
        modified: meta.modified().ok(),
        #[cfg(unix)]
        identity: {
            use std::os::unix::fs::MetadataExt;
            (meta.dev(), meta.ino(), meta.ctime(), meta.ctime_nsec())
        },
    })
}

#[cfg(test)]
#[path = "source_fold_tests.rs"]
mod fold_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_names() {
        for yes in ["a.yaml", "b.yml", "C.YAML", "x.y.yaml"] {
            assert!(is_manifest_name(Path::new(yes)), "{yes}");
        }
        for no in [
            ".hidden.yaml",
            "..data",
            "a.json",
            "yaml",
            "a.yaml~",
            ".#a.yaml",
            "a.yaml.swp",
        ] {
            assert!(!is_manifest_name(Path::new(no)), "{no}");
        }
    }

    #[test]
    fn lexical_absolute_matches_notify_paths() {
        let cwd = Path::new("/srv");
        assert_eq!(
            lexical_absolute(Path::new("./m/a.yaml"), cwd),
            PathBuf::from("/srv/m/a.yaml")
        );
        assert_eq!(
            lexical_absolute(Path::new("/x/./a.yaml"), cwd),
            PathBuf::from("/x/a.yaml")
        );
    }
}
