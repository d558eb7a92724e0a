//! Global settings from the controller ConfigMap.

use std::collections::BTreeMap;

use crate::diagnostic::{Diagnostic, DiagnosticKind, Severity};
use crate::key::{Kind, ObjectKey};
use crate::policy::Settings;

/// Reads the keys sluice understands so far; invalid values keep the default and are reported.
pub fn settings(
    key: &ObjectKey,
    data: &BTreeMap<String, String>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Settings {
    let mut settings = Settings::default();
    if let Some(value) = data.get("worker-processes") {
        match value.trim() {
            "auto" | "" => {}
            text => match text.parse::<usize>() {
                Ok(n) if n > 0 => settings.worker_processes = Some(n),
                _ => diagnostics.push(Diagnostic::new(
                    Severity::Warning,
                    Kind::ConfigMap,
                    key,
                    "data.worker-processes",
                    DiagnosticKind::InvalidSetting {
                        setting: "worker-processes".into(),
                        value: value.clone(),
                        reason: "expected \"auto\" or a positive integer".into(),
                    },
                )),
            },
        }
    }
    settings
}
