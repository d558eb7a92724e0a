//! Odd hosts and methods over raw HTTP/1.1, against one Ingress for `app.example.com` (no
//! default route, so an unmatched host gets the built-in 404).
//!
//! | input                                                  | sluice                       |
//! |--------------------------------------------------------|------------------------------|
//! | HTTP/1.1 without `Host`                                | 400, as nginx                |
//! | two `Host` lines                                       | 400, as nginx                |
//! | empty `Host`; `Host` with `/`, a space or `..`          | 400, as nginx                |
//! | HTTP/1.0 without `Host`                                | 404 (no default route)       |
//! | absolute-form URI, other `Host`                        | routed by the URI's host     |
//! | absolute-form URI of an unknown host, known `Host`     | 404: the URI's host wins     |
//! | `TRACE /trace`                                         | 405, never forwarded, as nginx |
//! | `CONNECT app.example.com:443`                          | 405, never forwarded, as nginx (before the fix: forwarded as CONNECT, 200 and a tunnel) |

use super::support::*;

const APP: &str = "app.example.com";

enum Expect {
    /// This status, nothing forwarded.
    Status(u16),
    /// 200, forwarded once with this target and this `Host`.
    Forwarded(&'static str, &'static str),
}

#[tokio::test]
async fn hosts_absolute_forms_and_connect() {
    let (recorder, gw) = recorded("app", Some(APP), &[]).await;
    let close = "Connection: close\r\n\r\n";
    let cases: Vec<(&str, String, Expect)> = vec![
        (
            "plain request",
            format!("GET /plain HTTP/1.1\r\nHost: {APP}\r\n{close}"),
            Expect::Forwarded("/plain", APP),
        ),
        (
            "no Host in HTTP/1.1",
            format!("GET /no-host HTTP/1.1\r\n{close}"),
            Expect::Status(400),
        ),
        (
            "two Host lines",
            format!("GET /two HTTP/1.1\r\nHost: other.example.com\r\nHost: {APP}\r\n{close}"),
            Expect::Status(400),
        ),
        (
            "Host with a slash",
            format!("GET /slash HTTP/1.1\r\nHost: {APP}/evil\r\n{close}"),
            Expect::Status(400),
        ),
        (
            "Host with a space",
            format!("GET /space HTTP/1.1\r\nHost: app example.com\r\n{close}"),
            Expect::Status(400),
        ),
        (
            "Host with dot-dot",
            format!("GET /dots HTTP/1.1\r\nHost: app..example.com\r\n{close}"),
            Expect::Status(400),
        ),
        (
            "HTTP/1.0 without Host",
            format!("GET /old HTTP/1.0\r\n{close}"),
            Expect::Status(404),
        ),
        (
            "absolute form, other Host",
            format!("GET http://{APP}/abs HTTP/1.1\r\nHost: other.example.com\r\n{close}"),
            Expect::Forwarded("/abs", "other.example.com"),
        ),
        (
            "absolute form of an unknown host",
            format!("GET http://other.example.com/abs HTTP/1.1\r\nHost: {APP}\r\n{close}"),
            Expect::Status(404),
        ),
        (
            "empty Host",
            format!("GET /empty HTTP/1.1\r\nHost: \r\n{close}"),
            Expect::Status(400),
        ),
        (
            "TRACE",
            format!("TRACE /trace HTTP/1.1\r\nHost: {APP}\r\n{close}"),
            Expect::Status(405),
        ),
        (
            "CONNECT",
            format!("CONNECT {APP}:443 HTTP/1.1\r\nHost: {APP}:443\r\n\r\n"),
            Expect::Status(405),
        ),
    ];
    let mut failures = Vec::new();
    for (name, request, expect) in cases {
        let raw = exchange(gw.http, request.as_bytes()).await;
        let got = statuses(&raw);
        let seen = recorder.take();
        let forwarded: Vec<(String, String, String)> = seen
            .iter()
            .map(|s| {
                let host = s
                    .headers
                    .get("host")
                    .map(|h| String::from_utf8_lossy(h.as_bytes()).into_owned())
                    .unwrap_or_default();
                (s.method.clone(), s.target.clone(), host)
            })
            .collect();
        let ok = match expect {
            Expect::Status(code) => got == [code] && forwarded.is_empty(),
            Expect::Forwarded(target, host) => {
                got == [200]
                    && forwarded == [("GET".to_owned(), target.to_owned(), host.to_owned())]
            }
        };
        if !ok {
            failures.push(format!(
                "{name}: statuses {got:?}, forwarded {forwarded:?}; response {:?}",
                String::from_utf8_lossy(&raw)
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    let reply = get(gw.http, APP, "/still-serving").await;
    assert_eq!(reply.status, 200);
    assert_eq!(recorder.targets(), ["/still-serving"]);
}
