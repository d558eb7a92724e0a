//! Every ConfigMap key of the registry on arbitrary values: never panics, never rejects (an
//! invalid value keeps the default with a warning naming `data.<key>`), and a build with that
//! ConfigMap still serves.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use sluice_fuzz::text::{Text, VALUES};
use sluice_fuzz::world::{Key, config_key};
use sluice_ingress_model::config::parse_config;
use sluice_ingress_model::{ObjectKey, Severity};

fuzz_target!(|input: Vec<(Key, Text)>| {
    let data: BTreeMap<String, String> =
        input.iter().map(|(k, v)| (config_key(k), v.get(VALUES))).collect();
    let key = ObjectKey::new("default", "sluice");
    let mut diagnostics = Vec::new();
    let first = parse_config(&key, &data, &mut diagnostics);
    assert!(diagnostics.iter().all(|d| d.severity != Severity::Error), "{diagnostics:?}");
    assert!(diagnostics.iter().all(|d| d.field.starts_with("data.")), "{diagnostics:?}");
    let mut again = Vec::new();
    let second = parse_config(&key, &data, &mut again);
    assert_eq!((first.settings, first.base), (second.settings, second.base));
    assert_eq!(diagnostics, again);
});
