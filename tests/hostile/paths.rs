//! Path tricks against an allow-listed route: Ingress `admin` (`/admin`, Prefix,
//! `whitelist-source-range: 10.0.0.0/8`, so loopback clients get 403) and Ingress `public`
//! (`/`), on two recording backends. The admin backend must never receive anything, and the
//! public backend must never receive a path that a backend decoding it strictly (every `%XX`,
//! dot segments, repeated slashes) would read as `/admin` or below it.
//!
//! | input                        | status | public backend receives       | note                 |
//! |------------------------------|--------|-------------------------------|----------------------|
//! | `/public`                    | 200    | `/public`                     |                      |
//! | `/admin`, `/admin/`, `/admin/x` | 403 | —                             |                      |
//! | `/admin/../admin`            | 403    | —                             | dot segments removed |
//! | `/public/../admin`           | 403    | —                             |                      |
//! | `/public/%2e%2e/admin`       | 403    | —                             | `%2e` decoded first  |
//! | `/%61dmin`                   | 403    | —                             | unreserved decoded   |
//! | `/admin%2Fx`                 | 403    | —                             | `%2F` decoded for the lookup, as nginx |
//! | `/public%2F..%2Fadmin`       | 400    | —                             | an encoded slash that moves dot segments is ambiguous (nginx: 403) |
//! | `/admin/..%2Fpublic`         | 400    | —                             | same; a backend not decoding `%2F` would read it under `/admin` (nginx: public) |
//! | `//admin`, `/./admin`        | 403    | —                             | slashes merged       |
//! | `/ADMIN`                     | 200    | `/ADMIN`                      | paths are case-sensitive, as nginx |
//! | `/public/%c0%ae%c0%ae/admin` | 200    | as sent                       | overlong UTF-8 is not a dot |
//! | `/admin;x`, `/admin%3Bx`     | 200    | as sent                       | `admin;x` is not the segment `admin` (ingress-nginx's `location /admin/` and `= /admin` agree); a backend that strips `;` parameters sees `/admin` |
//! | `/admin%00`                  | 400    | —                             | refused (nginx would forward it) |
//! | `/admin?x=/public`           | 403    | —                             | the query is not the path |
//! | `/admin#frag`                | 403    | —                             | the fragment is dropped |
//! | `/public\..\admin`         | 200    | as sent                       | `\` is not a separator |

use super::support::*;

/// What the public backend may read in `target`: percent-decoded (all of it, `%2F` and `%00`
/// included, a NUL ending the path), repeated slashes merged, dot segments removed. Overlong
/// UTF-8 is invalid UTF-8, not a dot.
fn strictly_decoded(target: &str) -> String {
    let path = target.split('?').next().unwrap_or_default();
    let bytes = path.as_bytes();
    let mut raw = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(v) = path
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            raw.push(v);
            i += 3;
            continue;
        }
        raw.push(bytes[i]);
        i += 1;
    }
    let text = String::from_utf8_lossy(&raw);
    let text = text.split('\0').next().unwrap_or_default().to_owned();
    let mut out: Vec<&str> = Vec::new();
    for segment in text.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    format!("/{}", out.join("/"))
}

fn under_admin(path: &str) -> bool {
    path == "/admin" || path.starts_with("/admin/")
}

#[tokio::test]
async fn path_tricks_never_reach_past_the_allow_list() {
    let (public, admin) = (recorder().await, recorder().await);
    let admin_ingress = ingress("admin", Some(HOST), &[("/admin", "admin")]).replace(
        "namespace: default\n",
        "namespace: default\n  annotations:\n    \
         nginx.ingress.kubernetes.io/whitelist-source-range: 10.0.0.0/8\n",
    );
    let gw = start(
        &[],
        &[
            (
                "services.yaml",
                documents(&[
                    &service("public", 80, None, &[public.addr]),
                    &service("admin", 80, None, &[admin.addr]),
                ]),
            ),
            ("admin.yaml", admin_ingress),
            (
                "public.yaml",
                ingress("public", Some(HOST), &[("/", "public")]),
            ),
        ],
    )
    .await;
    // (input, status, what the public backend receives)
    let cases: &[(&str, u16, Option<&str>)] = &[
        ("/public", 200, Some("/public")),
        ("/admin", 403, None),
        ("/admin/", 403, None),
        ("/admin/x", 403, None),
        ("/admin/../admin", 403, None),
        ("/public/../admin", 403, None),
        ("/public/%2e%2e/admin", 403, None),
        ("/%61dmin", 403, None),
        ("/admin%2Fx", 403, None),
        ("/public%2F..%2Fadmin", 400, None),
        ("/admin/..%2Fpublic", 400, None),
        ("//admin", 403, None),
        ("/./admin", 403, None),
        ("/ADMIN", 200, Some("/ADMIN")),
        (
            "/public/%c0%ae%c0%ae/admin",
            200,
            Some("/public/%c0%ae%c0%ae/admin"),
        ),
        ("/admin;x", 200, Some("/admin;x")),
        ("/admin%00", 400, None),
        ("/admin%3Bx", 200, Some("/admin%3Bx")),
        ("/admin?x=/public", 403, None),
        ("/admin#frag", 403, None),
        ("/public\\..\\admin", 200, Some("/public\\..\\admin")),
    ];
    let mut failures = Vec::new();
    let mut observed = Vec::new();
    for (input, want_status, want_public) in cases {
        let request = format!("GET {input} HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n");
        let raw = exchange(gw.http, request.as_bytes()).await;
        let got = statuses(&raw);
        let to_public = public.take();
        let to_admin = admin.take();
        let public_targets: Vec<String> = to_public.iter().map(|s| s.target.clone()).collect();
        observed.push(format!("{input:?} → {got:?} public {public_targets:?}"));
        if !to_admin.is_empty() {
            failures.push(format!(
                "{input}: the admin backend received {:?}",
                to_admin
            ));
        }
        for target in &public_targets {
            if under_admin(&strictly_decoded(target)) {
                failures.push(format!(
                    "{input}: the public backend received {target}, read strictly as {}",
                    strictly_decoded(target)
                ));
            }
        }
        let want_public: Vec<String> = want_public.iter().map(|t| (*t).to_owned()).collect();
        if got != [*want_status] || public_targets != want_public {
            failures.push(format!(
                "{input}: statuses {got:?} (want {want_status}), public got {public_targets:?} \
                 (want {want_public:?})"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{failures:#?}\nobserved: {observed:#?}"
    );
    let reply = get(gw.http, HOST, "/still-serving").await;
    assert_eq!(reply.status, 200);
    assert_eq!(public.targets(), ["/still-serving"]);
}
