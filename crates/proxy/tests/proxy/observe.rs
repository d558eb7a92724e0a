//! Helpers for the telemetry tests: an in-memory access-log sink, a sink that blocks, telemetry
//! labelled like a controller, and metrics-page lines.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex};

use serde_json::Value;
use sluice_proxy::Telemetry;
use sluice_proxy::metrics::MetricsOptions;

use super::support::*;

/// Access-log lines, collected in memory.
#[derive(Clone, Default)]
pub struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogBuffer {
    /// Every line so far.
    pub fn lines(&self) -> Vec<String> {
        String::from_utf8(self.0.lock().unwrap().clone())
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Every line, parsed as JSON.
    pub fn json(&self) -> Vec<Value> {
        self.lines()
            .iter()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }
}

/// A sink whose first write blocks until [`Gate::open`].
#[derive(Clone, Default)]
pub struct Gate(Arc<(Mutex<bool>, Condvar)>);

impl Gate {
    /// Lets writes through.
    pub fn open(&self) {
        *self.0.0.lock().unwrap() = true;
        self.0.1.notify_all();
    }
}

impl Write for Gate {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut open = self.0.0.lock().unwrap();
        while !*open {
            open = self.0.1.wait(open).unwrap();
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Telemetry writing its log into `sink`, labelled like a controller in namespace `ingress`.
pub fn telemetry(sink: impl Write + Send + 'static, capacity: usize) -> Telemetry {
    Telemetry::builder()
        .metrics_options(MetricsOptions {
            namespace: "ingress".into(),
            class: "k8s.io/ingress-nginx".into(),
            pod: "sluice-0".into(),
            ..MetricsOptions::default()
        })
        .build_info("1.2.3", "abc123", "https://example.com/sluice")
        .access_log_sink(Some(Box::new(sink)))
        .access_log_capacity(capacity)
        .build()
}

/// Waits until the log has written `n` lines.
pub async fn logged(telemetry: &Telemetry, n: u64) {
    eventually(async || telemetry.access_log().written() >= n).await;
}

/// The sample lines of a metrics page whose name is `name` (labels included).
pub fn samples<'a>(page: &'a str, name: &str) -> Vec<&'a str> {
    page.lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .collect()
}
