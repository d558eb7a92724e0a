//! Every annotation parser of the registry on arbitrary values: never panics, is deterministic,
//! says why it refuses; the processing rules over them reject only with an error finding.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice_fuzz::text::{Text, VALUES};
use sluice_fuzz::world::{Key, annotation_name};
use sluice_ingress_model::annotations::{self, Context, Draft, parse_ingress};
use sluice_ingress_model::policy::Admission;
use sluice_ingress_model::{DEFAULT_ANNOTATION_PREFIX, Ingress, Severity, SnippetPolicy};

fuzz_target!(|input: Vec<(Key, Text)>| {
    let pairs: Vec<(String, String)> =
        input.iter().map(|(k, v)| (annotation_name(k), v.get(VALUES))).collect();
    let mut all = Draft::default();
    for (name, value) in &pairs {
        let Some(parse) = annotations::spec(name).and_then(|s| s.parse) else { continue };
        let (mut first, mut second) = (Draft::default(), Draft::default());
        let result = parse(value, &mut first);
        assert_eq!(parse(value, &mut second), result, "{name}: {value:?}");
        assert_eq!(first, second, "{name}: {value:?}");
        assert!(result.as_ref().err().is_none_or(|why| !why.is_empty()), "{name}");
        let _ = parse(value, &mut all);
    }
    let annotations = pairs
        .into_iter()
        .map(|(name, value)| (format!("{DEFAULT_ANNOTATION_PREFIX}/{name}"), value))
        .collect();
    let ingress = Ingress { annotations, ..Ingress::default() };
    let (admission, base) = (Admission::default(), Draft::default());
    for snippets in [SnippetPolicy::Reject, SnippetPolicy::Ignore] {
        let ctx = Context { prefix: DEFAULT_ANNOTATION_PREFIX, snippets, admission: &admission, base: &base };
        let parsed = parse_ingress(&ingress, &ctx);
        let errors = parsed.findings.iter().any(|f| f.severity == Severity::Error);
        assert_eq!(parsed.rejected, errors, "{:?}", parsed.findings);
        assert!(parsed.findings.iter().all(|f| f.field.starts_with("metadata.annotations")));
    }
});
