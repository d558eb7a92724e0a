//! What the two floor proxies share: their command line, their runtime, and request ids.
//! Measuring sticks for the end-to-end bench, never used by sluice.

use std::future::Future;
use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};

/// The `--http-port` to listen on and the origin (`--origin-port` on 127.0.0.1); exits with a
/// usage line when either is missing or not a port.
pub fn ports(program: &str) -> (u16, SocketAddr) {
    let args: Vec<String> = std::env::args().collect();
    let port = |flag: &str| -> u16 {
        let value = args
            .iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1));
        match value.and_then(|v| v.parse().ok()) {
            Some(port) => port,
            None => {
                eprintln!("usage: {program} --http-port PORT --origin-port PORT");
                std::process::exit(2);
            }
        }
    };
    let origin = SocketAddr::from(([127, 0, 0, 1], port("--origin-port")));
    (port("--http-port"), origin)
}

/// Runs `serve` (an accept loop on `port`) on one current-thread runtime, its tasks local to
/// it; exits the process when the runtime or the listener cannot be set up.
pub fn run(port: u16, serve: impl Future<Output = std::io::Result<()>>) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("runtime: {error}");
            std::process::exit(1);
        }
    };
    let local = tokio::task::LocalSet::new();
    if let Err(error) = local.block_on(&runtime, serve) {
        eprintln!("listen on 127.0.0.1:{port}: {error}");
        std::process::exit(1);
    }
}

/// Accepts connections on 127.0.0.1:`port` with `TCP_NODELAY` and hands each to `serve` with
/// its peer and a seed for request ids.
pub async fn accept_each(
    port: u16,
    mut serve: impl FnMut(TcpStream, SocketAddr, u64),
) -> std::io::Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    loop {
        let Ok((client, peer)) = listener.accept().await else {
            continue;
        };
        let _ = client.set_nodelay(true);
        seed = next_id(seed);
        serve(client, peer, seed);
    }
}

/// A 64-bit LCG step: request ids need to differ, not to be unpredictable, in a bench.
pub fn next_id(seed: u64) -> u64 {
    seed.wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407)
}
