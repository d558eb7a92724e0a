//! The one place the traffic features (rate limits, auth, hashing, mirroring) read the client
//! IP from. Today it is the connection's peer address; once real-IP processing (trusted
//! proxies, forwarded headers, PROXY protocol) exposes the client IP on the request context,
//! this accessor switches to it and every feature follows.

use std::net::IpAddr;

use crate::filter::RequestContext;

/// The client IP of a request, as limits, auth and `$remote_addr` see it.
pub(crate) fn client_ip(ctx: &RequestContext) -> IpAddr {
    ctx.connection.client.ip()
}
