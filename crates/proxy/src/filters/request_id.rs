//! `X-Request-ID` (nginx's `$req_id`): kept when the client sent one, else 32 random hex digits
//! like `$request_id` unless `generate-request-id` is off; recorded in the context for logs and
//! sent upstream by the forwarded-headers filter.

use http::header::HeaderName;

use crate::filter::{Filter, Flow, RequestContext};

const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Sets [`RequestContext::request_id`] and the upstream's `X-Request-ID`.
#[derive(Clone, Copy, Debug, Default)]
pub struct RequestId;

impl Filter for RequestId {
    fn request(&self, ctx: &mut RequestContext, req: &mut http::request::Parts) -> Flow {
        let incoming = req
            .headers
            .get(&X_REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty());
        ctx.request_id = match incoming {
            Some(id) => id.to_owned(),
            None if ctx.settings().forwarded.generate_request_id => generate(),
            None => String::new(),
        };
        Flow::Continue
    }
}

/// 16 random bytes as 32 lowercase hex digits.
pub(crate) fn generate() -> String {
    let bytes: [u8; 16] = crate::random::request_id_bytes();
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut id = String::with_capacity(32);
    for b in bytes {
        id.push(char::from(HEX[usize::from(b >> 4)]));
        id.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_32_hex_digits_and_differ() {
        let a = generate();
        let b = generate();
        assert_eq!(a.len(), 32);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(a, b);
    }
}
