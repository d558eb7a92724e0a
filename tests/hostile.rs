//! Hostile clients and upstreams against the real `sluice gateway` binary: request smuggling,
//! oversized heads, slow clients, HTTP/2 floods, odd hosts and methods, path tricks against an
//! allow-listed route, and upstreams that break HTTP. Malformed bytes go over raw
//! `tokio::net::TcpStream` sockets on 127.0.0.1; every test starts its own gateway process,
//! checks the exact outcome, and checks the gateway still serves afterwards.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod hostile {
    mod h2_floods;
    mod hosts;
    mod limits;
    mod paths;
    mod slow;
    mod smuggling;
    mod support;
    mod upstreams;
}
