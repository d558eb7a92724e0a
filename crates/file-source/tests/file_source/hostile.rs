//! Hostile and large input: alias bombs and deep nesting are rejected quickly, arbitrary bytes
//! never panic, and a 10k-Ingress file loads.

use std::time::Instant;

use sluice_file_source::{Error, FileSource};
use tempfile::tempdir;

use super::support::{config_map, ingress, lines, write};

/// A "billion laughs" document: nine levels of ten aliases each (10^9 leaves if expanded).
fn alias_bomb() -> String {
    let mut text = String::from(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb}\nl0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n",
    );
    for level in 1..9 {
        let refs = vec![format!("*l{}", level - 1); 10].join(", ");
        text.push_str(&format!("l{level}: &l{level} [{refs}]\n"));
    }
    text
}

#[test]
fn an_alias_bomb_is_rejected_and_the_other_documents_still_load() {
    let dir = tempdir().unwrap();
    let text = format!("{}---\n{}", config_map("fine", "1"), alias_bomb());
    let file = write(dir.path(), "bomb.yaml", &text);
    let loaded = FileSource::new([&file]).load();
    assert_eq!(loaded.snapshot.config_maps.len(), 1);
    let [error] = loaded.diagnostics.as_slice() else {
        panic!("{:#?}", lines(&loaded.diagnostics));
    };
    assert_eq!(error.document, Some(1));
    assert!(
        matches!(&error.problem, Error::Yaml(m) if m.contains("budget")),
        "{error}"
    );
}

#[test]
fn absurd_nesting_is_rejected() {
    let dir = tempdir().unwrap();
    let deep = format!("a: {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
    let block: String = (0..1_000)
        .map(|i| format!("{}k{i}:\n", "  ".repeat(i)))
        .collect();
    let flow = write(dir.path(), "flow.yaml", &deep);
    let nested = write(dir.path(), "block.yaml", &block);
    let loaded = FileSource::new([&flow, &nested]).load();
    assert_eq!(
        loaded.diagnostics.len(),
        2,
        "{:#?}",
        lines(&loaded.diagnostics)
    );
    assert!(
        loaded
            .diagnostics
            .iter()
            .all(|d| matches!(d.problem, Error::Yaml(_)))
    );
}

#[test]
fn arbitrary_bytes_never_panic() {
    let dir = tempdir().unwrap();
    let file = dir.path().join("fuzz.yaml");
    let seed = format!(
        "{}---\n{}",
        ingress("web", "a.example", "web"),
        config_map("c", "v")
    );
    let seed = seed.as_bytes();
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let alphabet = b"-:[]{}&*!|>'\"#%@`,?\n\t \\ax01.\xff\xc3";
    for round in 0..300 {
        let mut bytes = seed.to_vec();
        for _ in 0..(1 + round % 8) {
            let at = (next() as usize) % bytes.len();
            let byte = alphabet[(next() as usize) % alphabet.len()];
            match next() % 3 {
                0 => bytes[at] = byte,
                1 => bytes.insert(at, byte),
                _ => {
                    bytes.remove(at);
                }
            }
        }
        std::fs::write(&file, &bytes).unwrap();
        let _ = FileSource::new([&file]).load();
    }
}

#[test]
fn a_ten_thousand_ingress_file_loads() {
    let dir = tempdir().unwrap();
    let mut text = String::new();
    for i in 0..10_000 {
        text.push_str("---\n");
        text.push_str(&ingress(
            &format!("web-{i}"),
            &format!("h{i}.example"),
            &format!("svc-{i}"),
        ));
    }
    let file = write(dir.path(), "many.yaml", &text);
    let started = Instant::now();
    let loaded = FileSource::new([&file]).load();
    eprintln!(
        "{} bytes, 10000 Ingresses loaded in {:?} (debug build)",
        text.len(),
        started.elapsed()
    );
    assert!(
        loaded.diagnostics.is_empty(),
        "{:#?}",
        lines(&loaded.diagnostics)
            .iter()
            .take(3)
            .collect::<Vec<_>>()
    );
    assert_eq!(loaded.snapshot.ingresses.len(), 10_000);
}

#[test]
fn a_ten_thousand_item_list_document_loads() {
    let dir = tempdir().unwrap();
    let mut text = String::from("apiVersion: v1\nkind: List\nitems:\n");
    for i in 0..10_000 {
        let item = ingress(
            &format!("web-{i}"),
            &format!("h{i}.example"),
            &format!("svc-{i}"),
        );
        for (n, line) in item.lines().enumerate() {
            text.push_str(if n == 0 { "- " } else { "  " });
            text.push_str(line);
            text.push('\n');
        }
    }
    let file = write(dir.path(), "list.yaml", &text);
    let loaded = FileSource::new([&file]).load();
    assert!(
        loaded.diagnostics.is_empty(),
        "{:#?}",
        &lines(&loaded.diagnostics)
    );
    assert_eq!(loaded.snapshot.ingresses.len(), 10_000);
}
