//! Parsers of the value syntaxes ingress-nginx annotations and ConfigMap keys share: Go booleans,
//! integers, nginx sizes and durations, CIDR lists, header names, URLs with variables. Each
//! returns the reason as a string; callers turn it into a diagnostic.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::template::{Allow, Template};

/// Go `strconv.ParseBool`: `1 t T TRUE true True` and `0 f F FALSE false False`.
pub fn boolean(value: &str) -> Result<bool, String> {
    match value.trim() {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err("expected a boolean (\"true\" or \"false\")".into()),
    }
}

/// nginx `on`/`off` (case-insensitive); Go booleans are accepted too.
pub fn on_off(value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => boolean(value).map_err(|_| "expected \"on\" or \"off\"".into()),
    }
}

/// A non-negative integer (Go `strconv.Atoi` syntax: an optional `+`, digits).
pub fn uint(value: &str) -> Result<u64, String> {
    let text = value.trim();
    let digits = text.strip_prefix('+').unwrap_or(text);
    if text.starts_with('-') && digits.trim_start_matches(['-', '0']).is_empty() && text.len() > 1 {
        return Ok(0);
    }
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(if text.starts_with('-') {
            "must not be negative".into()
        } else {
            "expected a whole number".into()
        });
    }
    digits
        .parse::<u64>()
        .map_err(|_| "number is too large".into())
}

/// A non-negative integer that fits a `u32`.
pub fn uint32(value: &str) -> Result<u32, String> {
    u32::try_from(uint(value)?).map_err(|_| "number is too large".into())
}

/// An integer within `min..=max`.
pub fn ranged(value: &str, min: u64, max: u64) -> Result<u64, String> {
    let n = uint(value)?;
    if (min..=max).contains(&n) {
        Ok(n)
    } else {
        Err(format!("must be between {min} and {max}"))
    }
}

/// Whole seconds (ingress-nginx timeouts) → milliseconds.
pub fn seconds_ms(value: &str) -> Result<u64, String> {
    uint(value)?
        .checked_mul(1000)
        .ok_or_else(|| "number is too large".into())
}

/// An nginx size: digits with an optional `b`, `k`, `m` or `g` suffix (case-insensitive).
pub fn size(value: &str) -> Result<u64, String> {
    let text = value.trim();
    let (digits, unit) = match text.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&text[..i], c.to_ascii_lowercase()),
        _ => (text, 'b'),
    };
    let shift = match unit {
        'b' => 0,
        'k' => 10,
        'm' => 20,
        'g' => 30,
        _ => return Err("expected a size such as 512, 8k, 1m or 1g".into()),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err("expected a size such as 512, 8k, 1m or 1g".into());
    }
    let n: u64 = digits.parse().map_err(|_| "size is too large".to_owned())?;
    n.checked_mul(1 << shift)
        .ok_or_else(|| "size is too large".into())
}

/// An nginx or Go duration: one or more `<number><unit>` with units `ms s m h d w y` (Go's `ns`
/// and `us` too, fractions allowed); a bare number is seconds. Returns milliseconds.
pub fn duration_ms(value: &str) -> Result<u64, String> {
    let text = value.trim();
    let err = || format!("expected a duration such as 60s, 5m or 1h (got {text:?})");
    if text.is_empty() {
        return Err(err());
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return seconds_ms(text);
    }
    let mut total: f64 = 0.0;
    let mut rest = text;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(err)?;
        let number: f64 = rest[..num_end].parse().map_err(|_| err())?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let factor = match &rest[..unit_end] {
            "ns" => 1e-6,
            "us" | "µs" => 1e-3,
            "ms" => 1.0,
            "s" => 1e3,
            "m" => 60e3,
            "h" => 3_600e3,
            "d" => 86_400e3,
            "w" => 604_800e3,
            "M" => 2_592_000e3,
            "y" => 31_536_000e3,
            _ => return Err(err()),
        };
        total += number * factor;
        rest = &rest[unit_end..];
    }
    if !total.is_finite() || total > 1e15 {
        return Err("duration is too large".into());
    }
    // Truncation to whole milliseconds is intended.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Ok(total as u64)
}

/// Comma-separated items, trimmed, empty ones dropped.
pub fn list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Comma-separated IP addresses or CIDR ranges (an address is a /32 or /128).
pub fn cidrs(value: &str) -> Result<Vec<IpNet>, String> {
    list(value)
        .iter()
        .map(|item| {
            item.parse::<IpNet>()
                .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("{item:?} is not an IP address or CIDR range"))
        })
        .collect()
}

/// An HTTP header name (RFC 9110 token).
pub fn header_name(value: &str) -> Result<String, String> {
    let name = value.trim();
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() || !name.bytes().all(token) {
        return Err(format!("{name:?} is not a valid header name"));
    }
    Ok(name.to_owned())
}

/// Comma-separated header names.
pub fn header_names(value: &str) -> Result<Vec<String>, String> {
    list(value).iter().map(|h| header_name(h)).collect()
}

/// HTTP status codes, comma-separated, each 100..=599.
pub fn status_codes(value: &str) -> Result<Vec<u16>, String> {
    list(value)
        .iter()
        .map(|c| {
            let n = ranged(c, 100, 599).map_err(|e| format!("status {c:?}: {e}"))?;
            u16::try_from(n).map_err(|_| format!("status {c:?} is out of range"))
        })
        .collect()
}

/// A DNS host name (labels of letters, digits, `-` and `_`; `*.` allowed as first label).
pub fn hostname(value: &str) -> Result<String, String> {
    let host = value.trim().trim_end_matches('.').to_ascii_lowercase();
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    let body = host.strip_prefix("*.").unwrap_or(&host);
    if host.is_empty() || host.len() > 253 || !body.split('.').all(label_ok) {
        return Err(format!("{value:?} is not a valid host name"));
    }
    Ok(host)
}

/// Characters that never appear in a URL value and could break out of a configuration context.
fn has_unsafe_chars(text: &str) -> bool {
    text.chars().any(|c| {
        c.is_whitespace()
            || c.is_control()
            || matches!(c, '"' | '\'' | ';' | '\\' | '`' | '<' | '>')
    })
}

/// An absolute `http(s)://` URL, possibly with whitelisted variables.
pub fn url_template(value: &str, allow: Allow) -> Result<Template, String> {
    let text = value.trim();
    if has_unsafe_chars(text) {
        return Err("URL contains whitespace, quotes or ';'".into());
    }
    let template = Template::parse(text, allow)?;
    let prefix = template.literal_prefix().to_ascii_lowercase();
    let scheme_var = text.starts_with("$scheme://") || text.starts_with("${scheme}://");
    let literal_scheme = prefix.starts_with("http://") || prefix.starts_with("https://");
    if !(scheme_var || literal_scheme) {
        return Err("expected an absolute http:// or https:// URL".into());
    }
    if literal_scheme {
        let after = prefix.split_once("://").map_or("", |(_, rest)| rest);
        let host_has_var = template.parts.len() > 1 && !after.contains('/');
        if after.is_empty() && !host_has_var {
            return Err("the URL has no host".into());
        }
        if after.starts_with('/') {
            return Err("the URL has no host".into());
        }
    }
    Ok(template)
}

/// A path or URL value with whitelisted variables (no whitespace, quotes or `;`).
pub fn path_template(value: &str, allow: Allow) -> Result<Template, String> {
    let text = value.trim();
    if text.is_empty() {
        return Err("must not be empty".into());
    }
    if has_unsafe_chars(text) {
        return Err("contains whitespace, quotes or ';'".into());
    }
    Template::parse(text, allow)
}

/// Plain text without quotes, `;`, braces or control characters (realm, names, paths).
pub fn safe_text(value: &str) -> Result<String, String> {
    if value
        .chars()
        .any(|c| c.is_control() || matches!(c, '"' | ';' | '{' | '}' | '\\' | '`' | '$'))
    {
        return Err("contains quotes, ';', '$', braces or control characters".into());
    }
    Ok(value.trim().to_owned())
}

/// A URL path: starts with `/`, no whitespace or quotes.
pub fn url_path(value: &str) -> Result<String, String> {
    let text = value.trim();
    if !text.starts_with('/') || has_unsafe_chars(text) || text.contains(['{', '}', '$']) {
        return Err("expected a path starting with '/' without spaces, quotes or '$'".into());
    }
    Ok(text.to_owned())
}

/// One of `options`, compared case-sensitively; returns its index.
pub fn one_of(value: &str, options: &[&str]) -> Result<usize, String> {
    let text = value.trim();
    options
        .iter()
        .position(|o| *o == text)
        .ok_or_else(|| format!("expected one of {}", options.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations() {
        assert_eq!(size("1m"), Ok(1 << 20));
        assert_eq!(size("8K"), Ok(8 << 10));
        assert_eq!(size("0"), Ok(0));
        assert_eq!(size("512"), Ok(512));
        assert_eq!(size("2g"), Ok(2 << 30));
        assert!(size("1.5m").is_err());
        assert!(size("m").is_err());
        assert!(size("99999999999999999999g").is_err());
        assert_eq!(duration_ms("240s"), Ok(240_000));
        assert_eq!(duration_ms("1h"), Ok(3_600_000));
        assert_eq!(duration_ms("1h30m"), Ok(5_400_000));
        assert_eq!(duration_ms("500ms"), Ok(500));
        assert_eq!(duration_ms("60"), Ok(60_000));
        assert!(duration_ms("soon").is_err());
        assert!(duration_ms("5x").is_err());
    }

    #[test]
    fn booleans_ints_and_lists() {
        assert_eq!(boolean("True"), Ok(true));
        assert_eq!(boolean("0"), Ok(false));
        assert!(boolean("yes").is_err());
        assert_eq!(uint("+5"), Ok(5));
        assert!(uint("-5").is_err());
        assert!(uint("5s").is_err());
        assert_eq!(cidrs("10.0.0.0/8, 192.168.1.1,::1").unwrap().len(), 3);
        assert!(cidrs("10.0.0.0/33").is_err());
        assert_eq!(status_codes("404, 503"), Ok(vec![404, 503]));
        assert!(status_codes("99").is_err());
        assert!(header_name("X Bad").is_err());
    }

    #[test]
    fn urls_need_a_scheme_and_host() {
        assert!(url_template("https://auth.example.com/oauth2/auth", Allow::VARS).is_ok());
        assert!(
            url_template(
                "https://$host/oauth2/start?rd=$escaped_request_uri",
                Allow::VARS
            )
            .is_ok()
        );
        assert!(url_template("$scheme://$host/x", Allow::VARS).is_ok());
        assert!(url_template("/relative", Allow::VARS).is_err());
        assert!(url_template("ftp://x", Allow::VARS).is_err());
        assert!(url_template("https://x/;return", Allow::VARS).is_err());
        assert!(url_template("https:///path", Allow::VARS).is_err());
        assert!(url_template("https://x/$document_root", Allow::VARS).is_err());
    }
}
