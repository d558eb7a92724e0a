//! Process metrics read from `/proc/self` at scrape time (nothing when it is unavailable): the
//! standard `process_*` families, and ingress-nginx's `nginx_process_*` families filled with
//! this process and its connection counters (`connections{state}` with nginx's meaning: active
//! = open client connections, writing = requests being processed, waiting = idle keep-alive
//! connections, reading = 0 because request heads are not tracked separately).

use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::metrics::MetricType;

use super::controller::{counter, gauge};
use crate::stats::ConnectionCounts;

/// `USER_HZ`: the unit of the CPU times in `/proc/<pid>/stat` (100 on every Linux target).
const CLOCK_TICKS: f64 = 100.0;

/// What `/proc/self` says.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ProcessSample {
    /// User plus system CPU seconds.
    pub cpu_seconds: f64,
    /// Resident set size in bytes.
    pub resident_bytes: u64,
    /// Virtual memory size in bytes.
    pub virtual_bytes: u64,
    /// Start time, Unix seconds.
    pub start_time: f64,
    /// Open file descriptors.
    pub open_fds: Option<u64>,
    /// The soft limit of file descriptors.
    pub max_fds: Option<u64>,
    /// Bytes read from storage.
    pub read_bytes: Option<u64>,
    /// Bytes written to storage.
    pub write_bytes: Option<u64>,
}

impl ProcessSample {
    /// Reads `/proc/self`; `None` when it is not there (not Linux, or restricted).
    pub fn read() -> Option<Self> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let boot = std::fs::read_to_string("/proc/stat").ok()?;
        let mut sample = parse(&stat, &status, &boot)?;
        sample.open_fds = std::fs::read_dir("/proc/self/fd")
            .ok()
            .map(|d| d.count() as u64);
        sample.max_fds = std::fs::read_to_string("/proc/self/limits")
            .ok()
            .and_then(|l| max_open_files(&l));
        if let Ok(io) = std::fs::read_to_string("/proc/self/io") {
            sample.read_bytes = field(&io, "read_bytes:");
            sample.write_bytes = field(&io, "write_bytes:");
        }
        Some(sample)
    }
}

/// Parses the CPU, memory and start fields.
fn parse(stat: &str, status: &str, boot: &str) -> Option<ProcessSample> {
    // Fields after the parenthesised command name, which may contain spaces.
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // `after` starts at field 3 (state); utime is field 14, stime 15, starttime 22.
    let number = |field: usize| -> Option<f64> { fields.get(field - 3)?.parse().ok() };
    let cpu_seconds = (number(14)? + number(15)?) / CLOCK_TICKS;
    let started_ticks = number(22)?;
    let btime: f64 = boot
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    Some(ProcessSample {
        cpu_seconds,
        resident_bytes: field(status, "VmRSS:")? * 1024,
        virtual_bytes: field(status, "VmSize:")? * 1024,
        start_time: btime + started_ticks / CLOCK_TICKS,
        ..ProcessSample::default()
    })
}

/// The number after `key` on its line (`VmRSS:   1234 kB` → 1234).
fn field(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(key))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn max_open_files(limits: &str) -> Option<u64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.trim_start_matches("Max open files")
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The standard `process_*` families (no prefix).
pub fn encode_standard(
    encoder: &mut DescriptorEncoder,
    sample: &ProcessSample,
) -> Result<(), std::fmt::Error> {
    encoder
        .encode_descriptor(
            "process_cpu_seconds",
            "Total user and system CPU time spent in seconds",
            None,
            MetricType::Counter,
        )?
        .encode_counter::<prometheus_client::encoding::NoLabelSet, _, f64>(
            &sample.cpu_seconds,
            None,
        )?;
    gauge(
        encoder,
        "process_resident_memory_bytes",
        "Resident memory size in bytes",
        sample.resident_bytes,
    )?;
    gauge(
        encoder,
        "process_virtual_memory_bytes",
        "Virtual memory size in bytes",
        sample.virtual_bytes,
    )?;
    gauge(
        encoder,
        "process_start_time_seconds",
        "Start time of the process since unix epoch in seconds",
        sample.start_time,
    )?;
    if let Some(open) = sample.open_fds {
        gauge(
            encoder,
            "process_open_fds",
            "Number of open file descriptors",
            open,
        )?;
    }
    if let Some(max) = sample.max_fds {
        gauge(
            encoder,
            "process_max_fds",
            "Maximum number of open file descriptors",
            max,
        )?;
    }
    Ok(())
}

/// ingress-nginx's `nginx_process_*` families (under `nginx_ingress_controller_`).
pub fn encode_nginx(
    encoder: &mut DescriptorEncoder,
    sample: Option<&ProcessSample>,
    connections: ConnectionCounts,
) -> Result<(), std::fmt::Error> {
    let waiting = connections.active.saturating_sub(connections.in_flight);
    let mut metric = encoder.encode_descriptor(
        "nginx_process_connections",
        "current number of client connections with state {active, reading, writing, waiting}",
        None,
        MetricType::Gauge,
    )?;
    for (state, value) in [
        ("active", connections.active),
        ("reading", 0),
        ("writing", connections.in_flight),
        ("waiting", waiting),
    ] {
        metric
            .encode_family(&[("state", state)])?
            .encode_gauge(&value)?;
    }
    let mut metric = encoder.encode_descriptor(
        "nginx_process_connections",
        "total number of connections with state {accepted, handled}",
        None,
        MetricType::Counter,
    )?;
    for state in ["accepted", "handled"] {
        metric
            .encode_family(&[("state", state)])?
            .encode_counter::<prometheus_client::encoding::NoLabelSet, _, u64>(
                &connections.accepted,
                None,
            )?;
    }
    counter(
        encoder,
        "nginx_process_requests",
        "total number of client requests",
        connections.requests,
    )?;
    let Some(sample) = sample else {
        return Ok(());
    };
    encoder
        .encode_descriptor(
            "nginx_process_cpu_seconds",
            "Cpu usage in seconds",
            None,
            MetricType::Counter,
        )?
        .encode_counter::<prometheus_client::encoding::NoLabelSet, _, f64>(
            &sample.cpu_seconds,
            None,
        )?;
    gauge(
        encoder,
        "nginx_process_num_procs",
        "number of processes",
        1u64,
    )?;
    gauge(
        encoder,
        "nginx_process_oldest_start_time_seconds",
        "start time in seconds since 1970/01/01",
        sample.start_time,
    )?;
    if let Some(read) = sample.read_bytes {
        counter(
            encoder,
            "nginx_process_read_bytes",
            "number of bytes read",
            read,
        )?;
    }
    if let Some(write) = sample.write_bytes {
        counter(
            encoder,
            "nginx_process_write_bytes",
            "number of bytes written",
            write,
        )?;
    }
    gauge(
        encoder,
        "nginx_process_resident_memory_bytes",
        "number of bytes of memory in use",
        sample.resident_bytes,
    )?;
    gauge(
        encoder,
        "nginx_process_virtual_memory_bytes",
        "number of bytes of memory in use",
        sample.virtual_bytes,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_files() {
        let stat = "4242 (sluice (x)) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 \
                    8 0 12345 1000000 500 18446744073709551615";
        let status = "Name:\tsluice\nVmSize:\t  2048 kB\nVmRSS:\t   1024 kB\n";
        let boot = "cpu  1 2 3\nbtime 1700000000\n";
        let sample = parse(stat, status, boot).unwrap();
        assert!((sample.cpu_seconds - 3.0).abs() < 1e-9);
        assert_eq!(sample.resident_bytes, 1024 * 1024);
        assert_eq!(sample.virtual_bytes, 2048 * 1024);
        assert!((sample.start_time - 1_700_000_123.45).abs() < 1e-6);
        let limits = "Limit  Soft Limit  Hard Limit  Units\nMax open files  1024  4096  files\n";
        assert_eq!(max_open_files(limits), Some(1024));
        if cfg!(target_os = "linux") {
            let live = ProcessSample::read().unwrap();
            assert!(live.resident_bytes > 0 && live.start_time > 0.0);
        }
    }
}
