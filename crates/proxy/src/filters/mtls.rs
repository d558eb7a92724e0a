//! Client certificates at request time (see `client_cert` for the handshake side): on HTTPS
//! requests to a host with `auth-tls-secret`, `auth-tls-verify-client: on` answers 400 without
//! a valid certificate and `optional` 400 with an invalid one (nginx's 496/495, shown as 400),
//! or a 302 to `auth-tls-error-page`; `auth-tls-match-cn` answers 403 when the subject does not
//! match; and the `ssl-client-*` headers go upstream.

use std::sync::Arc;

use http::{HeaderName, HeaderValue, StatusCode};
use sluice_ingress_model::Template;
use sluice_ingress_model::policy::VerifyClient;
use sluice_ingress_model::template::Allow;

use crate::client_cert::{CertCheck, ClientAuthRuntime, Verification, no_certificate};
use crate::filter::{Filter, Flow, RequestContext};
use crate::filters::redirect::{page, redirect_to};
use crate::variables::Vars;

const SSL_CLIENT_CERT: HeaderName = HeaderName::from_static("ssl-client-cert");
const SSL_CLIENT_VERIFY: HeaderName = HeaderName::from_static("ssl-client-verify");
const SSL_CLIENT_SUBJECT_DN: HeaderName = HeaderName::from_static("ssl-client-subject-dn");
const SSL_CLIENT_ISSUER_DN: HeaderName = HeaderName::from_static("ssl-client-issuer-dn");

/// `auth-tls-*` at request time.
#[derive(Clone, Copy, Debug, Default)]
pub struct ClientCertificates;

/// The host's settings and the connection's certificate judged by them (`None` for plain-HTTP
/// requests, where nginx checks nothing).
fn judged(ctx: &RequestContext) -> Option<(Arc<ClientAuthRuntime>, Arc<CertCheck>)> {
    let auth = ctx.vhost.as_ref()?.client_auth.clone()?;
    let check = ctx.tls.as_ref()?.check(&auth);
    Some((auth, check))
}

impl Filter for ClientCertificates {
    fn request(&self, ctx: &mut RequestContext, req: &mut http::request::Parts) -> Flow {
        let Some((auth, check)) = judged(ctx) else {
            return Flow::Continue;
        };
        let failed = match (&auth.policy.verify, &check.verification) {
            (VerifyClient::On, Verification::None) => Some("No required SSL certificate was sent"),
            (VerifyClient::On | VerifyClient::Optional, Verification::Failed(_)) => {
                Some("The SSL certificate error")
            }
            _ => None,
        };
        let Some(reason) = failed else {
            return Flow::Continue;
        };
        tracing::debug!(host = %ctx.host, verify = %check.verification.as_header(), "client certificate refused");
        if let Some(error_page) = &auth.policy.error_page {
            let template = Template::parse(error_page, Allow::VARS)
                .unwrap_or_else(|_| Template::literal(error_page));
            let vars = Vars {
                ctx,
                head: req,
                captures: &[],
            };
            return Flow::Respond(redirect_to(302, &vars.expand(&template)));
        }
        let mut response = page(StatusCode::BAD_REQUEST);
        *response.body_mut() = crate::body::Body::full(format!(
            "<html>\r\n<head><title>400 {reason}</title></head>\r\n<body>\r\n<center><h1>400 Bad Request</h1></center>\r\n<center>{reason}</center>\r\n<hr><center>sluice</center>\r\n</body>\r\n</html>\r\n"
        ));
        Flow::Respond(response)
    }

    fn upstream_request(&self, ctx: &mut RequestContext, req: &mut http::request::Parts) {
        let Some(auth) = ctx.vhost.as_ref().and_then(|v| v.client_auth.clone()) else {
            return;
        };
        let check = match ctx.tls.as_ref() {
            Some(tls) => tls.check(&auth),
            None => Arc::new(no_certificate()),
        };
        let headers = &mut req.headers;
        let mut set = |name: HeaderName, value: &str| match HeaderValue::from_str(value) {
            Ok(value) if !value.is_empty() => {
                headers.insert(name, value);
            }
            _ => {
                headers.remove(name);
            }
        };
        // Plain-HTTP requests have no TLS variables at all; nginx sends empty values, i.e.
        // nothing.
        let verify = if ctx.tls.is_some() {
            check.verification.as_header()
        } else {
            String::new()
        };
        if auth.policy.pass_certificate {
            set(SSL_CLIENT_CERT, &check.escaped_pem);
        }
        set(SSL_CLIENT_VERIFY, &verify);
        set(SSL_CLIENT_SUBJECT_DN, &check.subject_dn);
        set(SSL_CLIENT_ISSUER_DN, &check.issuer_dn);
    }
}

/// `auth-tls-match-cn`: nginx's `if ($ssl_client_s_dn !~ CN=<pattern>) { return 403; }`.
pub(crate) fn match_cn(ctx: &RequestContext) -> Option<Flow> {
    let auth = ctx.vhost.as_ref()?.client_auth.as_ref()?;
    let regex = auth.match_cn.as_ref()?;
    let subject = judged(ctx)
        .map(|(_, c)| c.subject_dn.clone())
        .unwrap_or_default();
    if regex.is_match(&subject) {
        return None;
    }
    let mut response =
        http::Response::new(crate::body::Body::full("client certificate unauthorized"));
    *response.status_mut() = StatusCode::FORBIDDEN;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/html"),
    );
    Some(Flow::Respond(response))
}
