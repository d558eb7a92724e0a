//! Churn, drain and failure under load, through the real `sluice gateway` binary: a thousand
//! route changes with endpoint churn, SIGTERM with long WebSocket and h2c streams in flight,
//! and a backend killed under load. Every test sends traffic only to 127.0.0.1, is bounded in
//! requests and time, and stops exactly the processes and tasks it started.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod churn {
    mod backend_kill;
    mod drain;
    mod routes;
    mod support;
}
