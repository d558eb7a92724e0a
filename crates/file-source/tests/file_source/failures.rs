//! Failures: a bad file keeps its last good objects; errors name file, document and field; a
//! deleted file's objects go.

use sluice_file_source::{Error, FileSource};
use sluice_ingress_model::{ObjectKey, Severity};
use tempfile::tempdir;

use super::support::{config_map, config_values, ingress, lines, write};

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

#[test]
fn a_syntax_error_keeps_the_previous_objects_of_that_file() {
    let dir = tempdir().unwrap();
    let good = format!("{}---\n{}", config_map("one", "1"), config_map("two", "2"));
    let file = write(dir.path(), "cm.yaml", &good);
    write(dir.path(), "other.yaml", &config_map("other", "o"));
    let mut source = FileSource::new([dir.path()]);
    let loaded = source.load();
    assert_eq!(
        config_values(&loaded),
        pairs(&[("one", "1"), ("other", "o"), ("two", "2")])
    );

    // Document 0 changes, document 1 breaks: the whole file keeps its last good objects.
    let bad = format!(
        "{}---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: [two\n",
        config_map("one", "changed")
    );
    std::fs::write(&file, bad).unwrap();
    write(dir.path(), "other.yaml", &config_map("other", "o2"));
    let loaded = source.load();
    assert_eq!(
        config_values(&loaded),
        pairs(&[("one", "1"), ("other", "o2"), ("two", "2")])
    );
    let text = lines(&loaded.diagnostics);
    assert_eq!(loaded.diagnostics.len(), 2, "{text:#?}");
    let error = &loaded.diagnostics[0];
    assert_eq!(error.severity, Severity::Error);
    assert_eq!(error.file, file);
    assert_eq!(error.document, Some(1));
    assert!(matches!(error.problem, Error::Yaml(_)), "{error}");
    assert!(
        error.line.is_some_and(|line| line >= 8),
        "the line is counted in the file: {error}"
    );
    assert!(
        text[0].contains("cm.yaml:") && text[0].contains("document 1 (0-based)"),
        "{text:#?}"
    );
    assert_eq!(
        loaded.diagnostics[1].problem,
        Error::KeptPrevious { objects: 2 }
    );

    // Fixed: the new contents are served and the diagnostics are gone.
    std::fs::write(&file, config_map("one", "3")).unwrap();
    let loaded = source.load();
    assert_eq!(
        config_values(&loaded),
        pairs(&[("one", "3"), ("other", "o2")])
    );
    assert!(
        loaded.diagnostics.is_empty(),
        "{:#?}",
        lines(&loaded.diagnostics)
    );
}

#[test]
fn a_conversion_error_names_file_document_object_and_field() {
    let dir = tempdir().unwrap();
    let bad = ingress("web", "a.example", "web").replace("pathType: Prefix", "pathType: Foo");
    let text = format!(
        "{}---\n{}---\n{bad}",
        config_map("a", "1"),
        config_map("b", "2")
    );
    let file = write(dir.path(), "ingress.yaml", &text);
    let loaded = FileSource::new([&file]).load();
    // First read: the documents that decoded are served, the bad one is reported.
    assert_eq!(config_values(&loaded), pairs(&[("a", "1"), ("b", "2")]));
    assert!(loaded.snapshot.ingresses.is_empty());
    let [error] = loaded.diagnostics.as_slice() else {
        panic!("{:#?}", lines(&loaded.diagnostics));
    };
    assert_eq!(
        error.to_string(),
        format!(
            "error: {}:14: document 2 (0-based), Ingress default/web: \
             spec.rules[0].http.paths[0].pathType: unknown pathType \"Foo\" \
             (expected Exact, Prefix or ImplementationSpecific)",
            file.display()
        )
    );
    let json = serde_json::to_value(error).unwrap();
    assert_eq!(json["document"], 2);
    assert_eq!(json["field"], "spec.rules[0].http.paths[0].pathType");
}

#[test]
fn a_schema_error_names_the_field_and_keeps_the_previous_objects() {
    let dir = tempdir().unwrap();
    let file = write(
        dir.path(),
        "svc.yaml",
        "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  ports: [{port: 80}]\n",
    );
    let mut source = FileSource::new([&file]);
    assert_eq!(source.load().snapshot.services.len(), 1);
    std::fs::write(
        &file,
        "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  ports: [{port: eighty}]\n",
    )
    .unwrap();
    let loaded = source.load();
    assert_eq!(
        loaded.snapshot.services[&ObjectKey::new("default", "s")].ports[0].port,
        80
    );
    let error = &loaded.diagnostics[0];
    assert_eq!(error.field.as_deref(), Some("spec.ports[0].port"));
    assert!(
        error
            .to_string()
            .contains("Service default/s: spec.ports[0].port: invalid type"),
        "{error}"
    );
}

#[test]
fn a_known_kind_in_an_unsupported_api_version_is_an_error() {
    let dir = tempdir().unwrap();
    let file = write(
        dir.path(),
        "slice.yaml",
        "apiVersion: discovery.k8s.io/v1beta1\nkind: EndpointSlice\nmetadata: {name: s}\naddressType: IPv4\nendpoints: []\n",
    );
    let loaded = FileSource::new([&file]).load();
    assert!(loaded.snapshot.endpoint_slices.is_empty());
    let error = &loaded.diagnostics[0];
    assert_eq!(error.severity, Severity::Error);
    assert_eq!(
        error.problem,
        Error::UnsupportedApiVersion {
            api_version: "discovery.k8s.io/v1beta1".into(),
            kind: "EndpointSlice".into(),
            supported: "discovery.k8s.io/v1".into(),
        }
    );
}

#[test]
fn a_deleted_file_takes_its_objects_with_it() {
    let dir = tempdir().unwrap();
    let doomed = write(dir.path(), "a.yaml", &config_map("a", "1"));
    let named = write(dir.path(), "b.yaml", &config_map("b", "2"));
    let mut by_directory = FileSource::new([dir.path()]);
    let mut by_name = FileSource::new([&doomed, &named]);
    assert_eq!(by_directory.load().snapshot.config_maps.len(), 2);
    assert_eq!(by_name.load().snapshot.config_maps.len(), 2);

    std::fs::remove_file(&doomed).unwrap();
    let loaded = by_directory.reload_changed();
    assert_eq!(config_values(&loaded), pairs(&[("b", "2")]));
    assert!(
        loaded.diagnostics.is_empty(),
        "{:#?}",
        lines(&loaded.diagnostics)
    );
    // A file named explicitly is missed, and says so.
    let loaded = by_name.reload_changed();
    assert_eq!(config_values(&loaded), pairs(&[("b", "2")]));
    assert_eq!(loaded.diagnostics.len(), 1);
    assert_eq!(loaded.diagnostics[0].file, doomed);
}

#[test]
fn an_unchanged_bad_file_keeps_reporting_and_serving_the_same() {
    let dir = tempdir().unwrap();
    let file = write(dir.path(), "a.yaml", &config_map("a", "1"));
    let mut source = FileSource::new([&file]);
    source.load();
    std::fs::write(&file, "a: [\n").unwrap();
    let first = source.load();
    let second = source.load();
    assert_eq!(first, second);
    assert_eq!(config_values(&second), pairs(&[("a", "1")]));
    assert!(second.has_errors());
}
