//! prometheus-client writes the OpenMetrics text format; `/metrics` serves the Prometheus text
//! format 0.0.4 that ingress-nginx serves, which every Prometheus and `promtool check metrics`
//! read. The differences that matter are fixed line by line:
//! - a counter family's `# HELP`/`# TYPE` lines name it with its `_total` suffix, as its samples;
//! - the `unknown` type is spelled `untyped`;
//! - there is no `# EOF` marker.

/// The Prometheus text format 0.0.4 content type.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Converts prometheus-client's OpenMetrics text into Prometheus text format 0.0.4.
pub fn to_prometheus_text(openmetrics: &str) -> String {
    let mut out = String::with_capacity(openmetrics.len() + 256);
    let mut pending_help: Option<&str> = None;
    for line in openmetrics.lines() {
        if line == "# EOF" {
            continue;
        }
        if line.starts_with("# HELP ") {
            if let Some(help) = pending_help.replace(line) {
                push_line(&mut out, help);
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.rsplit_once(' ').unwrap_or((rest, ""));
            let (name, kind) = match kind {
                "counter" => (format!("{name}_total"), "counter"),
                "unknown" => (name.to_owned(), "untyped"),
                other => (name.to_owned(), other),
            };
            if let Some(help) = pending_help.take() {
                let text = help
                    .strip_prefix("# HELP ")
                    .and_then(|h| h.split_once(' '))
                    .map_or("", |(_, text)| text);
                out.push_str("# HELP ");
                out.push_str(&name);
                out.push(' ');
                out.push_str(text);
                out.push('\n');
            }
            out.push_str("# TYPE ");
            out.push_str(&name);
            out.push(' ');
            out.push_str(kind);
            out.push('\n');
            continue;
        }
        if let Some(help) = pending_help.take() {
            push_line(&mut out, help);
        }
        push_line(&mut out, line);
    }
    if let Some(help) = pending_help {
        push_line(&mut out, help);
    }
    out
}

fn push_line(out: &mut String, line: &str) {
    out.push_str(line);
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_counters_unknown_and_eof() {
        let input = "# HELP a_requests The total.\n# TYPE a_requests unknown\na_requests{x=\"1\"} 3\n\
                     # HELP a_done Done things.\n# TYPE a_done counter\na_done_total 2\n\
                     # HELP a_h Hist.\n# TYPE a_h histogram\na_h_sum 1.0\n# EOF\n";
        let expected = "# HELP a_requests The total.\n# TYPE a_requests untyped\na_requests{x=\"1\"} 3\n\
                        # HELP a_done_total Done things.\n# TYPE a_done_total counter\na_done_total 2\n\
                        # HELP a_h Hist.\n# TYPE a_h histogram\na_h_sum 1.0\n";
        assert_eq!(to_prometheus_text(input), expected);
    }
}
