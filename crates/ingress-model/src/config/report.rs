//! What each ConfigMap key is set to: the raw value, whether it changes anything compared with
//! ingress-nginx's default, whether it was accepted, and sluice's status. `/debug/config` and
//! operators read this to see which keys of a migrated ConfigMap actually do something.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Config, KeyGroup, keys, parse_config};
use crate::annotations::Status;
use crate::diagnostic::{DiagnosticKind, Severity};
use crate::key::ObjectKey;

/// One ConfigMap key: known keys always appear (with `value: None` when unset), unknown keys
/// only when set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KeyReport {
    /// The key.
    pub key: String,
    /// Its section; `None` for a key sluice does not know.
    pub group: Option<KeyGroup>,
    /// sluice's status; `None` for an unknown key.
    #[serde(flatten)]
    pub status: Option<Status>,
    /// The raw value as written in the ConfigMap, if set.
    pub value: Option<String>,
    /// Whether the effective configuration equals the default one with respect to this key:
    /// unset, set to the default value, invalid (the default is kept), or without effect.
    pub default: bool,
    /// Whether the value was accepted (`false` when it was invalid and the default is kept).
    pub valid: bool,
}

/// Reports every known key, and every unknown key present in `data`, in documentation order
/// (unknown keys last, sorted).
pub fn report(data: &BTreeMap<String, String>) -> Vec<KeyReport> {
    let key = ObjectKey::new("", "");
    let baseline = parse_config(&key, &BTreeMap::new(), &mut Vec::new());
    let mut out: Vec<KeyReport> = keys()
        .map(|spec| {
            let value = data.get(spec.name).cloned();
            let (default, valid) = match &value {
                None => (true, true),
                Some(value) => judge(&key, spec.name, value, &baseline),
            };
            KeyReport {
                key: spec.name.to_owned(),
                group: Some(spec.group),
                status: Some(spec.status),
                value,
                default,
                valid,
            }
        })
        .collect();
    out.extend(
        data.iter()
            .filter(|(name, _)| super::key_spec(name).is_none())
            .map(|(name, value)| KeyReport {
                key: name.clone(),
                group: None,
                status: None,
                value: Some(value.clone()),
                default: true,
                valid: true,
            }),
    );
    out
}

/// Parses `name: value` alone and compares the result with the defaults.
fn judge(key: &ObjectKey, name: &str, value: &str, baseline: &Config) -> (bool, bool) {
    let mut diagnostics = Vec::new();
    let one = BTreeMap::from([(name.to_owned(), value.to_owned())]);
    let parsed = parse_config(key, &one, &mut diagnostics);
    let valid = !diagnostics.iter().any(|d| {
        d.severity != Severity::Info && matches!(d.kind, DiagnosticKind::InvalidSetting { .. })
    });
    let default = parsed.settings == baseline.settings
        && parsed.base == baseline.base
        && parsed.proxy_set_headers == baseline.proxy_set_headers
        && parsed.add_headers == baseline.add_headers;
    (default, valid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find<'a>(reports: &'a [KeyReport], key: &str) -> &'a KeyReport {
        reports.iter().find(|r| r.key == key).unwrap()
    }

    #[test]
    fn reports_value_default_and_validity() {
        let data = BTreeMap::from([
            ("proxy-body-size".to_owned(), "8m".to_owned()),
            ("use-gzip".to_owned(), "false".to_owned()),
            ("keep-alive".to_owned(), "soon".to_owned()),
            ("no-such-key".to_owned(), "1".to_owned()),
        ]);
        let reports = report(&data);
        let body = find(&reports, "proxy-body-size");
        assert_eq!(body.value.as_deref(), Some("8m"));
        assert!(!body.default && body.valid);
        let gzip = find(&reports, "use-gzip");
        assert!(gzip.default && gzip.valid, "false is gzip's default");
        let keep_alive = find(&reports, "keep-alive");
        assert!(keep_alive.default && !keep_alive.valid);
        let unset = find(&reports, "log-format-upstream");
        assert_eq!(unset.value, None);
        assert!(unset.default);
        let unknown = reports.last().unwrap();
        assert_eq!(
            (unknown.key.as_str(), unknown.status),
            ("no-such-key", None)
        );
        assert_eq!(reports.len(), keys().count() + 1);
    }
}
