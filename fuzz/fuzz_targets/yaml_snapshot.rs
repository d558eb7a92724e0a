//! The file source on arbitrary bytes: never panics, reads the same bytes the same way, and
//! whatever it reads builds (the result compared with a second build).
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use sluice_file_source::parse_bytes;
use sluice_ingress_model::{BuildOptions, build};

fuzz_target!(|bytes: &[u8]| {
    let file = Path::new("fuzz.yaml");
    let loaded = parse_bytes(file, bytes);
    assert_eq!(parse_bytes(file, bytes), loaded);
    for diagnostic in &loaded.diagnostics {
        let _ = (diagnostic.to_string(), diagnostic.to_model());
    }
    let opts = BuildOptions { watch_ingress_without_class: true, ..BuildOptions::default() };
    let built = build(&loaded.snapshot, &opts);
    assert_eq!(build(&loaded.snapshot, &opts), built);
});
