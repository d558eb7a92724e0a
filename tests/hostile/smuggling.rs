//! Request smuggling over raw HTTP/1.1: every request hides `GET /smuggled` after an ambiguous
//! body, and the recording backend proves what was forwarded. A request whose framing is
//! ambiguous is refused with 400 and the connection closed; where hyper resolves the framing
//! as RFC 9112 §6.3 allows (Transfer-Encoding wins over Content-Length), the body is
//! re-framed for the upstream, the connection is closed after the answer, and the hidden
//! request never reaches the backend.
//!
//! | input                                          | sluice                           | nginx |
//! |------------------------------------------------|----------------------------------|-------|
//! | `Content-Length` + `Transfer-Encoding: chunked`| chunked body forwarded, closed   | 400   |
//! | `Transfer-Encoding: chunked` + `Content-Length`| chunked body forwarded, closed   | 400   |
//! | two different `Content-Length`                 | 400, closed                      | 400   |
//! | two equal `Content-Length`                     | forwarded once                   | 400   |
//! | `Content-Length: +5` / `-1` / `0x5` / `5 5`    | 400, closed                      | 400   |
//! | `Transfer-Encoding: chunked ` / `\tchunked`    | chunked (whitespace is OWS)      | same  |
//! | `Transfer-Encoding: xchunked`                  | 400, closed                      | 501   |
//! | `Transfer-Encoding: chunked, identity`         | 400, closed                      | 501   |
//! | `Transfer-Encoding` on two lines, last not chunked | 400, closed                  | 501   |
//! | `Transfer-Encoding` in HTTP/1.0                | 400, closed                      | 400   |
//! | `Transfer-Encoding : chunked` (space before :) | 400, closed                      | 400   |
//! | folded ` Transfer-Encoding` line               | 400, closed                      | 400   |
//! | bare LF line ends in the head                  | accepted (as nginx)              | same  |
//! | chunk size `zz` / `-1` / over 2^64             | 400, closed                      | 400   |
//! | chunk lines ending in bare LF                  | 400, closed                      | 400   |
//! | chunk longer than its size                     | 400, closed                      | 400   |

use super::support::*;

/// What a case must do.
enum Expect {
    /// Answered with this status only, the connection closed, nothing forwarded.
    Refused(u16),
    /// Answered 200 for each forwarded request, which are exactly these (target, body), and the
    /// connection closed.
    Forwarded(&'static [(&'static str, &'static str)]),
}

const SMUGGLED: &str = "GET /smuggled HTTP/1.1\r\nHost: hostile.test\r\n\r\n";

fn cases() -> Vec<(&'static str, String, Expect)> {
    let post = "POST /first HTTP/1.1\r\nHost: hostile.test\r\n";
    vec![
        (
            "CL then TE",
            format!(
                "{post}Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n{SMUGGLED}"
            ),
            Expect::Forwarded(&[("/first", "")]),
        ),
        (
            "TE then CL",
            format!(
                "{post}Transfer-Encoding: chunked\r\nContent-Length: 60\r\n\r\n\
                 5\r\nhello\r\n0\r\n\r\n{SMUGGLED}"
            ),
            Expect::Forwarded(&[("/first", "hello")]),
        ),
        (
            "conflicting CL",
            format!("{post}Content-Length: 5\r\nContent-Length: 51\r\n\r\nhello{SMUGGLED}"),
            Expect::Refused(400),
        ),
        (
            "equal duplicate CL",
            format!(
                "{post}Content-Length: 5\r\nContent-Length: 5\r\nConnection: close\r\n\r\n\
                 hello{SMUGGLED}"
            ),
            Expect::Forwarded(&[("/first", "hello")]),
        ),
        (
            "CL with a sign",
            format!("{post}Content-Length: +5\r\n\r\nhello{SMUGGLED}"),
            Expect::Refused(400),
        ),
        (
            "negative CL",
            format!("{post}Content-Length: -1\r\n\r\nhello{SMUGGLED}"),
            Expect::Refused(400),
        ),
        (
            "hex CL",
            format!("{post}Content-Length: 0x5\r\n\r\nhello{SMUGGLED}"),
            Expect::Refused(400),
        ),
        (
            "CL with two numbers",
            format!("{post}Content-Length: 5 5\r\n\r\nhello{SMUGGLED}"),
            Expect::Refused(400),
        ),
        (
            "TE with a trailing space",
            format!(
                "{post}Transfer-Encoding: chunked \r\nConnection: close\r\n\r\n\
                 5\r\nhello\r\n0\r\n\r\n{SMUGGLED}"
            ),
            Expect::Forwarded(&[("/first", "hello")]),
        ),
        (
            "TE after a tab",
            format!(
                "{post}Transfer-Encoding:\tchunked\r\nConnection: close\r\n\r\n\
                 5\r\nhello\r\n0\r\n\r\n{SMUGGLED}"
            ),
            Expect::Forwarded(&[("/first", "hello")]),
        ),
        (
            "TE xchunked",
            format!("{post}Transfer-Encoding: xchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n{SMUGGLED}"),
            Expect::Refused(400),
        ),
        (
            "TE chunked, identity",
            format!(
                "{post}Transfer-Encoding: chunked, identity\r\n\r\n5\r\nhello\r\n0\r\n\r\n\
                 {SMUGGLED}"
            ),
            Expect::Refused(400),
        ),
        (
            "TE on two lines",
            format!(
                "{post}Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n\
                 5\r\nhello\r\n0\r\n\r\n{SMUGGLED}"
            ),
            Expect::Refused(400),
        ),
        (
            "TE in HTTP/1.0",
            format!(
                "POST /first HTTP/1.0\r\nHost: hostile.test\r\nTransfer-Encoding: chunked\r\n\r\n\
                 5\r\nhello\r\n0\r\n\r\n{SMUGGLED}"
            ),
            Expect::Refused(400),
        ),
        (
            "space before the colon",
            format!(
                "{post}Transfer-Encoding : chunked\r\nContent-Length: 5\r\n\r\nhello{SMUGGLED}"
            ),
            Expect::Refused(400),
        ),
        (
            "folded TE line",
            format!(
                "{post}X-Fold: a\r\n Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n\
                 hello{SMUGGLED}"
            ),
            Expect::Refused(400),
        ),
        (
            "bare LF head",
            "POST /first HTTP/1.1\nHost: hostile.test\nContent-Length: 5\nConnection: close\n\n\
             hello"
                .to_owned()
                + SMUGGLED,
            Expect::Forwarded(&[("/first", "hello")]),
        ),
        (
            "chunk size not hex",
            format!("{post}Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n{SMUGGLED}"),
            Expect::Refused(400),
        ),
        (
            "negative chunk size",
            format!("{post}Transfer-Encoding: chunked\r\n\r\n-1\r\nhello\r\n0\r\n\r\n{SMUGGLED}"),
            Expect::Refused(400),
        ),
        (
            "chunk size over 2^64",
            format!(
                "{post}Transfer-Encoding: chunked\r\n\r\n1ffffffffffffffff\r\nhello\r\n0\r\n\r\n\
                 {SMUGGLED}"
            ),
            Expect::Refused(400),
        ),
        (
            "chunk lines with bare LF",
            format!("{post}Transfer-Encoding: chunked\r\n\r\n5\nhello\n0\n\n{SMUGGLED}"),
            Expect::Refused(400),
        ),
        (
            "chunk longer than its size",
            format!("{post}Transfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n{SMUGGLED}"),
            Expect::Refused(400),
        ),
    ]
}

#[tokio::test]
async fn ambiguous_framing_is_refused_or_reframed_and_nothing_is_smuggled() {
    let (recorder, gw) = catch_all(&[]).await;
    let mut failures = Vec::new();
    for (name, request, expect) in cases() {
        let raw = exchange(gw.http, request.as_bytes()).await;
        let got = statuses(&raw);
        let seen = recorder.take();
        let forwarded: Vec<(String, String)> = seen
            .iter()
            .map(|s| {
                let body = s.body.clone().map_or_else(
                    |e| format!("<error {e}>"),
                    |b| String::from_utf8_lossy(&b).into_owned(),
                );
                (s.target.clone(), body)
            })
            .collect();
        // Whatever was forwarded carries one framing only.
        for s in &seen {
            let framings = usize::from(s.headers.contains_key("content-length"))
                + usize::from(s.headers.contains_key("transfer-encoding"));
            if framings > 1 {
                failures.push(format!(
                    "{name}: forwarded with two framings: {:?}",
                    s.headers
                ));
            }
        }
        let ok = match &expect {
            Expect::Refused(code) => got == [*code] && forwarded.is_empty(),
            Expect::Forwarded(want) => {
                let want: Vec<(String, String)> = want
                    .iter()
                    .map(|(t, b)| ((*t).to_owned(), (*b).to_owned()))
                    .collect();
                got == vec![200; want.len()] && forwarded == want
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
    still_serving(&gw, &recorder).await;
}
