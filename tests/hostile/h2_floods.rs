//! HTTP/2 floods with hand-written frames on a raw h2c socket: a rapid reset (many HEADERS
//! each followed by RST_STREAM, CVE-2023-44487) and a CONTINUATION flood (a header block that
//! never ends, CVE-2024-27316 class). The flooding connection gets a GOAWAY and is closed,
//! other clients are still served, and the gateway's resident memory stays within a generous
//! bound of where it started (a memory bound, not a timing).

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedReadHalf;

use super::support::*;

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const HEADERS: u8 = 1;
const RST_STREAM: u8 = 3;
const SETTINGS: u8 = 4;
const PING: u8 = 6;
const GOAWAY: u8 = 7;
const CONTINUATION: u8 = 9;
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const ACK: u8 = 0x1;
/// How much the gateway's RSS may grow during a flood.
const RSS_BOUND_KIB: u64 = 64 * 1024;

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).unwrap();
    let mut out = Vec::with_capacity(9 + payload.len());
    out.extend_from_slice(&len.to_be_bytes()[1..]);
    out.push(kind);
    out.push(flags);
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// An HPACK integer with an `n`-bit prefix whose high bits are `flags`.
fn hpack_int(out: &mut Vec<u8>, flags: u8, n: u32, mut value: usize) {
    let max = (1usize << n) - 1;
    if value < max {
        out.push(flags | u8::try_from(value).unwrap());
        return;
    }
    out.push(flags | u8::try_from(max).unwrap());
    value -= max;
    while value >= 128 {
        out.push(u8::try_from(value % 128).unwrap() | 0x80);
        value /= 128;
    }
    out.push(u8::try_from(value).unwrap());
}

/// An HPACK string literal (no Huffman coding).
fn hpack_str(out: &mut Vec<u8>, s: &[u8]) {
    hpack_int(out, 0, 7, s.len());
    out.extend_from_slice(s);
}

/// The header block of `GET http://{authority}/`: static-table pseudo-headers and the
/// authority as a literal without indexing.
fn get_block(authority: &str) -> Vec<u8> {
    let mut out = vec![0x82, 0x86, 0x84]; // :method GET, :scheme http, :path /
    hpack_int(&mut out, 0x00, 4, 1); // literal without indexing, name :authority
    hpack_str(&mut out, authority.as_bytes());
    out
}

/// An h2c connection after the preface and an empty SETTINGS frame.
async fn open(addr: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut hello = PREFACE.to_vec();
    hello.extend(frame(SETTINGS, 0, 0, &[]));
    stream.write_all(&hello).await.unwrap();
    stream
}

/// Writes `bytes`; false when the gateway closed the connection or stopped reading for
/// [`PATIENCE`].
async fn write(writer: &mut tokio::net::tcp::OwnedWriteHalf, bytes: &[u8]) -> bool {
    matches!(
        tokio::time::timeout(PATIENCE, writer.write_all(bytes)).await,
        Ok(Ok(()))
    )
}

/// What the gateway sent on a flooded connection.
#[derive(Debug, Default)]
struct Seen {
    /// The error code of the first GOAWAY.
    goaway: Option<u32>,
    /// Whether our PING was acknowledged.
    ping_acked: bool,
    /// Whether the connection was closed.
    closed: bool,
}

/// Reads frames until the connection closes, or `stop_at_ping` and a PING ACK arrives; bounded
/// by [`PATIENCE`].
async fn read_frames(mut reader: OwnedReadHalf, stop_at_ping: bool) -> Seen {
    let mut seen = Seen::default();
    let read = async {
        let mut head = [0u8; 9];
        loop {
            if reader.read_exact(&mut head).await.is_err() {
                seen.closed = true;
                return;
            }
            let len = usize::from(head[0]) << 16 | usize::from(head[1]) << 8 | usize::from(head[2]);
            let mut payload = vec![0u8; len];
            if reader.read_exact(&mut payload).await.is_err() {
                seen.closed = true;
                return;
            }
            match head[3] {
                GOAWAY if seen.goaway.is_none() && len >= 8 => {
                    seen.goaway = Some(u32::from_be_bytes(payload[4..8].try_into().unwrap()));
                }
                PING if head[4] & ACK != 0 => {
                    seen.ping_acked = true;
                    if stop_at_ping {
                        return;
                    }
                }
                _ => {}
            }
        }
    };
    tokio::time::timeout(PATIENCE, read)
        .await
        .unwrap_or_else(|_| {
            panic!("the flooded connection neither closed nor answered in {PATIENCE:?}")
        });
    seen
}

async fn h2_gateway() -> (Recorder, Gateway) {
    recorded("h2", Some(HOST), &[]).await
}

/// Another client is served over h2c on a new connection.
async fn h2_still_serving(gw: &Gateway, recorder: &Recorder) {
    let mut sender = h2c(gw.http).await;
    let reply = h2_request(&mut sender, "GET", HOST, "/h2-still-serving", empty()).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    still_serving(gw, recorder).await;
}

#[tokio::test]
async fn rapid_reset_gets_goaway_and_memory_stays_bounded() {
    let (recorder, gw) = h2_gateway().await;
    h2_still_serving(&gw, &recorder).await;
    let before = rss_kib(&gw);
    let (reader, mut writer) = open(gw.http).await.into_split();
    let frames = tokio::spawn(read_frames(reader, true));
    // 20 000 streams, each opened (unrouted authority: the built-in 404) and cancelled at once.
    let mut batch = Vec::new();
    for i in 0..20_000u32 {
        let stream = 2 * i + 1;
        batch.extend(frame(
            HEADERS,
            END_STREAM | END_HEADERS,
            stream,
            &get_block("flood.test"),
        ));
        batch.extend(frame(RST_STREAM, 0, stream, &8u32.to_be_bytes())); // CANCEL
        if batch.len() > 64 * 1024 {
            if !write(&mut writer, &batch).await {
                break;
            }
            batch.clear();
        }
    }
    let _ = write(&mut writer, &batch).await;
    let _ = write(&mut writer, &frame(PING, 0, 0, b"flooded!")).await;
    let seen = frames.await.unwrap();
    // hyper's `max_pending_accept_reset_streams` ends the connection with
    // ENHANCE_YOUR_CALM (0xb) long before 20 000 resets.
    assert_eq!(seen.goaway, Some(0xb), "{seen:?}");
    assert!(
        !seen.ping_acked,
        "the flood was served to the end: {seen:?}"
    );
    assert!(recorder.seen().is_empty(), "{:?}", recorder.targets().len());
    let after = rss_kib(&gw);
    assert!(
        after <= before + RSS_BOUND_KIB,
        "RSS grew from {before} KiB to {after} KiB"
    );
    h2_still_serving(&gw, &recorder).await;
}

#[tokio::test]
async fn continuation_flood_gets_goaway_and_memory_stays_bounded() {
    let (recorder, gw) = h2_gateway().await;
    h2_still_serving(&gw, &recorder).await;
    let before = rss_kib(&gw);
    let (reader, mut writer) = open(gw.http).await.into_split();
    let frames = tokio::spawn(read_frames(reader, false));
    // A header block that never ends: HEADERS without END_HEADERS, then CONTINUATION frames of
    // 1 KiB literal headers, up to 64 MiB or until the gateway stops reading.
    let mut sent = write(
        &mut writer,
        &frame(HEADERS, END_STREAM, 1, &get_block(HOST)),
    )
    .await;
    let mut field = Vec::new();
    hpack_int(&mut field, 0x00, 4, 0); // literal without indexing, new name
    hpack_str(&mut field, b"x-flood");
    hpack_str(&mut field, &[b'f'; 1000]);
    let mut batch = Vec::new();
    for _ in 0..64 * 1024 {
        if !sent {
            break;
        }
        batch.extend(frame(CONTINUATION, 0, 1, &field));
        if batch.len() > 64 * 1024 {
            sent = write(&mut writer, &batch).await;
            batch.clear();
        }
    }
    assert!(!sent, "the gateway read a 64 MiB header block to the end");
    let seen = frames.await.unwrap();
    assert!(seen.closed, "{seen:?}");
    assert!(seen.goaway.is_some(), "closed without a GOAWAY: {seen:?}");
    assert!(recorder.seen().is_empty(), "{:?}", recorder.targets());
    let after = rss_kib(&gw);
    assert!(
        after <= before + RSS_BOUND_KIB,
        "RSS grew from {before} KiB to {after} KiB"
    );
    h2_still_serving(&gw, &recorder).await;
}
