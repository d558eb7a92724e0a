//! Watching: create, in-place modify, truncate+write, rename-over, symlink swap, delete and
//! failures are picked up; dropping the handle stops the callbacks. Each wait is a liveness
//! bound ([`PATIENCE`](super::support::PATIENCE)), not a timing assertion.

use std::os::unix::fs::symlink;
use std::path::Path;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};

use sluice_file_source::{Error, FileSource, Loaded, WatchHandle};
use tempfile::tempdir;

use super::support::{PATIENCE, config_map, config_values, wait_for, write};

fn value(loaded: &Loaded, name: &str) -> Option<String> {
    config_values(loaded)
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
}

fn start(source: FileSource) -> (WatchHandle, Receiver<Loaded>) {
    let (sender, receiver) = mpsc::channel();
    let handle = source
        .watch(move |loaded| {
            let _ = sender.send(loaded);
        })
        .unwrap();
    (handle, receiver)
}

#[test]
fn a_watched_directory_sees_create_modify_rename_over_and_delete() {
    let dir = tempdir().unwrap();
    write(dir.path(), "a.yaml", &config_map("a", "1"));
    let (_handle, changes) = start(FileSource::new([dir.path()]));
    wait_for(&changes, "the initial state", |l| {
        value(l, "a").as_deref() == Some("1")
    });

    write(dir.path(), "b.yaml", &config_map("b", "1"));
    wait_for(&changes, "b created", |l| {
        value(l, "b").as_deref() == Some("1")
    });

    // In place: the same inode, written through an open file.
    std::fs::write(dir.path().join("a.yaml"), config_map("a", "2")).unwrap();
    wait_for(&changes, "a modified in place", |l| {
        value(l, "a").as_deref() == Some("2")
    });

    // An editor's save: write a temporary file, rename it over the original.
    write(dir.path(), ".a.yaml.tmp", &config_map("a", "3"));
    std::fs::rename(dir.path().join(".a.yaml.tmp"), dir.path().join("a.yaml")).unwrap();
    wait_for(&changes, "a renamed over", |l| {
        value(l, "a").as_deref() == Some("3")
    });

    std::fs::remove_file(dir.path().join("b.yaml")).unwrap();
    wait_for(&changes, "b deleted", |l| {
        value(l, "b").is_none() && value(l, "a").is_some()
    });
}

#[test]
fn a_watched_file_sees_truncate_and_write_and_rename_over() {
    let dir = tempdir().unwrap();
    let file = write(dir.path(), "cm.yaml", &config_map("c", "1"));
    write(dir.path(), "unrelated.yaml", &config_map("unrelated", "x"));
    let mut source = FileSource::new([&file]);
    source.load();
    let (_handle, changes) = start(source);

    {
        use std::io::Write;
        let mut open = std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&file)
            .unwrap();
        open.write_all(config_map("c", "2").as_bytes()).unwrap();
    }
    let loaded = wait_for(&changes, "truncate and write", |l| {
        value(l, "c").as_deref() == Some("2")
    });
    assert_eq!(
        value(&loaded, "unrelated"),
        None,
        "only the named file is read"
    );

    write(dir.path(), "cm.yaml.new", &config_map("c", "3"));
    std::fs::rename(dir.path().join("cm.yaml.new"), &file).unwrap();
    wait_for(&changes, "rename over", |l| {
        value(l, "c").as_deref() == Some("3")
    });
}

/// Lays out a directory the way kubelet projects a ConfigMap: `cm.yaml -> ..data/cm.yaml`,
/// `..data -> ..<version>`.
fn project(dir: &Path, version: &str, text: &str) {
    let versioned = dir.join(format!("..{version}"));
    std::fs::create_dir(&versioned).unwrap();
    write(&versioned, "cm.yaml", text);
    let temporary = dir.join("..data_tmp");
    symlink(format!("..{version}"), &temporary).unwrap();
    std::fs::rename(&temporary, dir.join("..data")).unwrap();
}

#[test]
fn a_kubelet_style_symlink_swap_is_seen() {
    let dir = tempdir().unwrap();
    project(dir.path(), "2024_01_01", &config_map("projected", "1"));
    symlink("..data/cm.yaml", dir.path().join("cm.yaml")).unwrap();
    let (_handle, changes) = start(FileSource::new([dir.path()]));
    wait_for(&changes, "the projected file", |l| {
        value(l, "projected").as_deref() == Some("1")
    });

    project(dir.path(), "2024_01_02", &config_map("projected", "2"));
    wait_for(&changes, "the swapped projection", |l| {
        value(l, "projected").as_deref() == Some("2")
    });
}

#[test]
fn a_broken_save_keeps_the_last_good_objects_while_watching() {
    let dir = tempdir().unwrap();
    let file = write(dir.path(), "cm.yaml", &config_map("c", "1"));
    let (_handle, changes) = start(FileSource::new([dir.path()]));
    wait_for(&changes, "the initial state", |l| {
        value(l, "c").as_deref() == Some("1")
    });

    std::fs::write(
        &file,
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c\n",
    )
    .unwrap();
    let loaded = wait_for(&changes, "the syntax error", Loaded::has_errors);
    assert_eq!(value(&loaded, "c").as_deref(), Some("1"));
    assert!(
        loaded
            .diagnostics
            .iter()
            .any(|d| d.file == file && d.document == Some(0))
    );
    assert!(
        loaded
            .diagnostics
            .iter()
            .any(|d| d.problem == Error::KeptPrevious { objects: 1 })
    );

    std::fs::write(&file, config_map("c", "2")).unwrap();
    wait_for(&changes, "the fix", |l| {
        !l.has_errors() && value(l, "c").as_deref() == Some("2")
    });
}

#[test]
fn dropping_the_handle_stops_the_callbacks() {
    let dir = tempdir().unwrap();
    let file = write(dir.path(), "cm.yaml", &config_map("c", "1"));
    let (handle, changes) = start(FileSource::new([dir.path()]));
    wait_for(&changes, "the initial state", |l| {
        value(l, "c").as_deref() == Some("1")
    });
    drop(handle);
    std::fs::write(&file, config_map("c", "2")).unwrap();
    // The thread has ended and dropped the callback (and its sender) before `drop` returned.
    loop {
        match changes.recv_timeout(PATIENCE) {
            Ok(loaded) => assert_ne!(value(&loaded, "c").as_deref(), Some("2")),
            Err(error) => {
                assert_eq!(error, RecvTimeoutError::Disconnected);
                break;
            }
        }
    }
}

#[test]
fn watching_a_missing_directory_is_an_error() {
    let dir = tempdir().unwrap();
    let result = FileSource::new([dir.path().join("missing").join("deeper")]).watch(|_| {});
    assert!(matches!(result, Err(Error::Watch(_))), "{result:?}");
}
