//! The access log: one line per request, JSON by default, or ingress-nginx's
//! `log-format-upstream` template when the ConfigMap sets one (with `log-format-escape-json` /
//! `log-format-escape-none`). `disable-access-log`, `skip-access-log-urls` (exact request URI),
//! `enable-access-log-for-default-backend` and the per-Ingress `enable-access-log` decide what is
//! logged.
//!
//! Writing never blocks a request: lines go through a bounded channel to a writer thread (which
//! polls every 2 ms, so requests never pay for waking it), and when the channel is full (stdout
//! blocked or too slow) the line is dropped and counted (`sluice_access_log_dropped_total`).

mod clock;
mod format;
mod record;

use std::collections::HashSet;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, TrySendError, sync_channel};
use std::sync::{Arc, OnceLock};

use arc_swap::ArcSwap;
use sluice_ingress_model::Settings;

pub(crate) use clock::Clock;
pub(crate) use format::Template;
pub(crate) use record::Entry;

/// Lines that may wait for the writer before new ones are dropped.
pub const DEFAULT_CAPACITY: usize = 8192;

/// How often the writer looks for new lines.
const WRITER_POLL: std::time::Duration = std::time::Duration::from_millis(2);

/// The access log of a proxy.
pub struct AccessLog {
    config: ArcSwap<LogConfig>,
    sender: Option<SyncSender<String>>,
    counters: Arc<Counters>,
    clock: Clock,
}

#[derive(Debug, Default)]
struct Counters {
    written: AtomicU64,
    dropped: AtomicU64,
    failed: AtomicU64,
}

/// The access-log settings of the live table, compiled.
#[derive(Debug)]
pub(crate) struct LogConfig {
    /// `disable-access-log` negated.
    pub enabled: bool,
    /// `None`: the default JSON object; else the ConfigMap's template.
    pub template: Option<Template>,
    /// `skip-access-log-urls`.
    pub skip: HashSet<String>,
    /// `enable-access-log-for-default-backend`.
    pub default_backend: bool,
}

impl std::fmt::Debug for AccessLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessLog")
            .field("written", &self.written())
            .field("dropped", &self.dropped())
            .finish_non_exhaustive()
    }
}

impl AccessLog {
    /// Logs to `sink` through a channel of `capacity` lines, written by a thread of its own.
    /// Without a sink nothing is logged.
    pub fn new(sink: Option<Box<dyn Write + Send>>, capacity: usize) -> Self {
        let counters = Arc::new(Counters::default());
        let sender = sink.and_then(|sink| {
            let (sender, receiver) = sync_channel(capacity.max(1));
            let thread_counters = counters.clone();
            std::thread::Builder::new()
                .name("sluice-access-log".into())
                .spawn(move || write_lines(receiver, sink, &thread_counters))
                .map_err(|error| tracing::error!(%error, "cannot start the access-log writer"))
                .ok()
                .map(|_| sender)
        });
        Self {
            config: ArcSwap::from_pointee(LogConfig::from_settings(&Settings::default())),
            sender,
            counters,
            clock: Clock::default(),
        }
    }

    /// Logs to standard output.
    pub fn stdout(capacity: usize) -> Self {
        Self::new(Some(Box::new(std::io::stdout())), capacity)
    }

    /// Lines written so far.
    pub fn written(&self) -> u64 {
        self.counters.written.load(Ordering::Relaxed)
    }

    /// Lines dropped because the writer was behind.
    pub fn dropped(&self) -> u64 {
        self.counters.dropped.load(Ordering::Relaxed)
    }

    /// Lines the sink failed to take (write errors).
    pub fn failed(&self) -> u64 {
        self.counters.failed.load(Ordering::Relaxed)
    }

    /// Whether a sink is attached.
    pub fn is_active(&self) -> bool {
        self.sender.is_some()
    }

    /// Takes the settings of a newly applied table.
    pub(crate) fn configure(&self, settings: &Settings) {
        let next = LogConfig::from_settings(settings);
        if *self.config.load().as_ref() != next {
            self.config.store(Arc::new(next));
        }
    }

    /// The live configuration.
    pub(crate) fn config(&self) -> Arc<LogConfig> {
        self.config.load_full()
    }

    /// The wall clock, formatted.
    pub(crate) fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Formats and queues the line of a finished request, if it is to be logged.
    pub(crate) fn log(&self, entry: &Entry<'_>, config: &LogConfig) {
        let Some(sender) = &self.sender else {
            return;
        };
        if !config.logs(entry) {
            return;
        }
        let mut line = match &config.template {
            None => entry.json(),
            Some(template) => entry.render(template),
        };
        line.push('\n');
        match sender.try_send(line) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

impl LogConfig {
    /// Compiles the ConfigMap's access-log settings.
    pub fn from_settings(settings: &Settings) -> Self {
        let log = &settings.access_log;
        let template = (log.format != sluice_ingress_model::config::DEFAULT_LOG_FORMAT)
            .then(|| Template::parse(&log.format, log.escape));
        Self {
            enabled: log.enabled,
            template,
            skip: log.skip_urls.iter().cloned().collect(),
            default_backend: log.default_backend,
        }
    }

    /// Request headers the template reads (captured when requests arrive).
    pub fn captured_headers(&self) -> &[http::HeaderName] {
        self.template.as_ref().map_or(&[], |t| t.headers.as_slice())
    }

    fn logs(&self, entry: &Entry<'_>) -> bool {
        if !self.enabled {
            return false;
        }
        let ctx = entry.ctx;
        match &ctx.route {
            Some(route) if !route.policy.logging.access_log => return false,
            // ingress-nginx's catch-all server logs only with this key.
            Some(route) if route.origin.is_none() && !self.default_backend => return false,
            None if !self.default_backend => return false,
            _ => {}
        }
        if self.skip.is_empty() {
            return true;
        }
        let uri = match ctx.request_uri() {
            "" => ctx.path.as_str(),
            uri => uri,
        };
        !self.skip.contains(uri)
    }
}

impl PartialEq for LogConfig {
    fn eq(&self, other: &Self) -> bool {
        self.enabled == other.enabled
            && self.template == other.template
            && self.skip == other.skip
            && self.default_backend == other.default_backend
    }
}

/// Writes queued lines until every sender is gone. The writer polls rather than waiting on the
/// channel: a sender then never has to wake it up, which would cost a system call per request.
fn write_lines(receiver: Receiver<String>, mut sink: Box<dyn Write + Send>, counters: &Counters) {
    loop {
        let mut wrote = false;
        loop {
            match receiver.try_recv() {
                Ok(line) => {
                    match sink.write_all(line.as_bytes()) {
                        Ok(()) => counters.written.fetch_add(1, Ordering::Relaxed),
                        Err(_) => counters.failed.fetch_add(1, Ordering::Relaxed),
                    };
                    wrote = true;
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    let _ = sink.flush();
                    return;
                }
            }
        }
        if wrote && sink.flush().is_err() {
            counters.failed.fetch_add(1, Ordering::Relaxed);
        }
        std::thread::sleep(WRITER_POLL);
    }
}

/// `$hostname`: the machine's host name (the pod name in Kubernetes).
pub(crate) fn hostname() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        std::env::var("HOSTNAME")
            .ok()
            .filter(|h| !h.is_empty())
            .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
            .map(|h| h.trim().to_owned())
            .unwrap_or_else(|| "-".to_owned())
    })
}
