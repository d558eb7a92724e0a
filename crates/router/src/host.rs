//! The host index: which virtual host serves a normalised request host. An exact map, a map of
//! one-label wildcards keyed by their suffix, and the host-less virtual host, consulted in that
//! order, as `Routes::virtual_host` does linearly.

use std::borrow::Cow;
use std::collections::HashMap;
use std::collections::hash_map::Entry;

use sluice_ingress_model::{HostPattern, normalize_host};

/// Host patterns to virtual host ids.
#[derive(Debug, Default)]
pub(crate) struct HostIndex {
    /// `foo.example.com` → id.
    exact: HashMap<Box<str>, u32>,
    /// `*.example.com`, keyed by `example.com` → id.
    wildcard: HashMap<Box<str>, u32>,
    /// The host-less virtual host.
    any: Option<u32>,
}

impl HostIndex {
    /// Adds a virtual host; returns false when the pattern is already taken. When a pattern
    /// appears twice the first keeps it, as with the reference (`min_by_key` keeps the first of
    /// equals).
    pub(crate) fn insert(&mut self, pattern: &HostPattern, id: u32) -> bool {
        let (map, key) = match pattern {
            HostPattern::Exact(name) => (&mut self.exact, name),
            HostPattern::Wildcard(suffix) => (&mut self.wildcard, suffix),
            HostPattern::Any => {
                let vacant = self.any.is_none();
                self.any.get_or_insert(id);
                return vacant;
            }
        };
        match map.entry(Box::from(key.as_str())) {
            Entry::Vacant(slot) => {
                slot.insert(id);
                true
            }
            Entry::Occupied(_) => false,
        }
    }

    /// The virtual host for a normalised host: exact, else a wildcard whose suffix follows the
    /// first (non-empty) label, else the host-less one.
    pub(crate) fn find(&self, host: &str) -> Option<u32> {
        if !self.exact.is_empty()
            && let Some(&id) = self.exact.get(host)
        {
            return Some(id);
        }
        if !self.wildcard.is_empty()
            && let Some((first, suffix)) = host.split_once('.')
            && !first.is_empty()
            && let Some(&id) = self.wildcard.get(suffix)
        {
            return Some(id);
        }
        self.any
    }
}

/// [`normalize_host`], skipping its work for a host that is already normal: only lowercase
/// letters, digits, `-` and `.`, and no trailing `.` (then `normalize_host` returns it as is).
pub(crate) fn normalize(host: &str) -> Cow<'_, str> {
    let bytes = host.as_bytes();
    let plain = bytes
        .iter()
        .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    if plain && bytes.last() != Some(&b'.') {
        Cow::Borrowed(host)
    } else {
        normalize_host(host)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn fast_normalisation_equals_the_model(host in "[a-zA-Z0-9.:@\\[\\] _-]{0,12}") {
            prop_assert_eq!(normalize(&host), normalize_host(&host));
        }
    }

    #[test]
    fn normal_hosts_are_borrowed() {
        assert!(matches!(
            normalize("api.example.com"),
            Cow::Borrowed("api.example.com")
        ));
        assert_eq!(normalize("Api.Example.com.:80"), "api.example.com");
        assert_eq!(normalize("example.com."), "example.com");
    }

    #[test]
    fn exact_beats_wildcard_beats_any_and_first_of_duplicates_wins() {
        let mut index = HostIndex::default();
        assert!(index.insert(&HostPattern::Any, 0));
        assert!(index.insert(&HostPattern::Wildcard("example.com".into()), 1));
        assert!(index.insert(&HostPattern::Exact("a.example.com".into()), 2));
        assert!(!index.insert(&HostPattern::Exact("a.example.com".into()), 3));
        assert!(!index.insert(&HostPattern::Any, 4));
        assert_eq!(index.find("a.example.com"), Some(2));
        assert_eq!(index.find("b.example.com"), Some(1));
        assert_eq!(index.find("c.b.example.com"), Some(0));
        assert_eq!(index.find(".example.com"), Some(0));
        assert_eq!(index.find("example.com"), Some(0));
        assert_eq!(HostIndex::default().find("x"), None);
    }
}
