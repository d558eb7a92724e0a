//! Value templates (redirect, rewrite, auth and upstream URLs): never panic; a parsed template
//! keeps its text, and its literal parts and variables add up to it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice_ingress_model::template::{Allow, Part, Template};
use sluice_ingress_model::values::{path_template, url_template};

fuzz_target!(|text: &str| {
    for allow in [Allow::VARS, Allow::CAPTURES, Allow::LOCATION] {
        if let Ok(t) = Template::parse(text, allow) {
            assert_eq!(t.text, text);
            let literal: String = t.parts.iter().filter_map(|p| match p { Part::Literal(l) => Some(l.as_str()), _ => None }).collect();
            assert!(literal.len() <= text.len());
            assert_eq!(t.is_literal(), !text.contains('$'), "{text:?}");
            assert!(allow.captures || t.max_capture() == 0);
            assert!(!t.parts.iter().any(|p| matches!(p, Part::Literal(l) if l.is_empty())));
        }
        let _ = url_template(text, allow).map(|t| t.literal_prefix().len());
        let _ = path_template(text, allow);
    }
});
