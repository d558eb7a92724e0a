//! Integration tests of the proxy: real listeners on 127.0.0.1:0, in-process echo backends and
//! real HTTP/1.1, h2c, TLS and raw TCP clients.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod proxy {
    mod access_log;
    mod admin;
    mod auth;
    mod balance;
    mod canary;
    mod filters;
    mod h2;
    mod headers;
    mod limits;
    mod metrics;
    mod mirror;
    mod nginx_says;
    mod observe;
    mod real_ip;
    mod reload;
    mod routing;
    mod shutdown;
    mod streaming;
    mod support;
    mod tls;
    mod tls_compat;
    mod tracing;
    mod traffic_support;
    mod upgrade;
    mod upstreams;
}
