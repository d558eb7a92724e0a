//! Oversized request heads against `large-client-header-buffers: "4 2k"`: one buffer (2 KiB)
//! bounds the request line (414) and each header line (431); all four (8 KiB, which is also
//! the smallest read buffer hyper accepts) bound the whole head.
//!
//! | input                                  | sluice            | nginx                       |
//! |----------------------------------------|-------------------|-----------------------------|
//! | request line just under 2 KiB          | 200               | 200                         |
//! | request line of 3 KiB                  | 414               | 414                         |
//! | request line of 12 KiB (> whole head)  | 431, closed       | 414                         |
//! | one 3 KiB header line                  | 431               | 400 "Header Or Cookie Too Large" |
//! | ten 1 KiB headers (10 KiB head)        | 431, closed       | 400 "Header Or Cookie Too Large" |
//! | 120 tiny headers (< 8 KiB)             | 431, closed (hyper's 100-header cap) | 200     |

use super::support::*;

fn request_line_of(len: usize) -> String {
    // `GET ` + target + ` HTTP/1.1\r\n`
    let target = format!("/{}", "a".repeat(len - 4 - 11 - 1));
    format!("GET {target} HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n")
}

#[tokio::test]
async fn oversized_heads_get_414_or_431_per_large_client_header_buffers() {
    let (recorder, gw) = catch_all(&[("large-client-header-buffers", "4 2k")]).await;
    let header = |len: usize| format!("X-Big: {}\r\n", "h".repeat(len - 9));
    let many = |n: usize, len: usize| {
        (0..n)
            .map(|i| format!("X-H{i:03}: {}\r\n", "h".repeat(len - 10)))
            .collect::<String>()
    };
    let get_with = |headers: String| {
        format!("GET /head HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n{headers}\r\n")
    };
    let cases: Vec<(&str, String, u16, bool)> = vec![
        (
            "request line under one buffer",
            request_line_of(2000),
            200,
            true,
        ),
        (
            "request line over one buffer",
            request_line_of(3 * 1024),
            414,
            false,
        ),
        (
            "request line over all buffers",
            request_line_of(12 * 1024),
            431,
            false,
        ),
        (
            "header line over one buffer",
            get_with(header(3 * 1024)),
            431,
            false,
        ),
        (
            "head over all buffers",
            get_with(many(10, 1024)),
            431,
            false,
        ),
        (
            "more headers than hyper keeps",
            get_with(many(120, 20)),
            431,
            false,
        ),
    ];
    let mut failures = Vec::new();
    for (name, request, want, forwarded) in cases {
        let raw = exchange(gw.http, request.as_bytes()).await;
        let got = statuses(&raw);
        let seen = recorder.take();
        if got != [want] || seen.is_empty() == forwarded {
            failures.push(format!(
                "{name}: statuses {got:?} (want {want}), forwarded {:?}",
                seen.iter().map(|s| s.target.len()).collect::<Vec<_>>()
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    still_serving(&gw, &recorder).await;
}
