//! `parse_bytes`: the in-memory entry point (the fuzz targets use it) reads exactly what a
//! file with the same bytes gives.

use sluice_file_source::{FileSource, parse_bytes};

use super::support::{config_map, ingress, write};

#[test]
fn parse_bytes_equals_loading_the_same_file() {
    let dir = tempfile::tempdir().unwrap();
    let text = [
        ingress("web", "a.example.com", "svc"),
        config_map("settings", "1m"),
        "kind: Deployment\napiVersion: apps/v1\nmetadata:\n  name: d\n".to_owned(),
        "apiVersion: v1\nkind: [oops\n".to_owned(),
        ingress("web", "b.example.com", "svc"),
    ]
    .join("\n---\n");
    let file = write(dir.path(), "all.yaml", &text);
    let from_disk = FileSource::new([&file]).load();
    let in_memory = parse_bytes(&file, text.as_bytes());
    assert_eq!(in_memory, from_disk);
    assert_eq!(in_memory.snapshot.ingresses.len(), 1);
    let codes: Vec<_> = in_memory
        .diagnostics
        .iter()
        .map(|d| d.problem.code())
        .collect();
    for code in ["unused_kind", "invalid_yaml", "duplicate_object"] {
        assert!(codes.contains(&code), "{code} missing from {codes:?}");
    }
}

#[test]
fn parse_bytes_reports_bytes_that_are_not_text() {
    let loaded = parse_bytes("x.yaml".as_ref(), b"a: \xff\n");
    assert_eq!(loaded.snapshot, Default::default());
    assert_eq!(loaded.diagnostics.len(), 1);
    assert_eq!(loaded.diagnostics[0].problem.code(), "not_utf8");
}
