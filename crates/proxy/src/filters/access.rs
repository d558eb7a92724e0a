//! Access by client: the server-level blocks of the ConfigMap (`block-user-agents`,
//! `block-referers`: nginx `map`s, strings compared ignoring case, `~`/`~*` regexes), and the
//! location's access phase: `denylist-source-range`, then `allowlist-source-range`
//! (`whitelist-source-range`), each replacing the ConfigMap's global list, then `block-cidrs`
//! (an `http`-level `deny` that nginx inherits only into locations without lists of their own).
//! All answer 403 and all use the client address after real-IP processing. With `satisfy: any`
//! on a location that requires authentication the lists only leave their verdict for the
//! authentication step (`RequestContext::source_allowed`).

use std::net::IpAddr;

use http::StatusCode;
use http::header::{REFERER, USER_AGENT};
use ipnet::IpNet;
use regex::{Regex, RegexBuilder};
use sluice_ingress_model::Action;
use sluice_ingress_model::policy::{AccessControl, Blocking, Satisfy};

use crate::filter::{Filter, Flow, RequestContext};
use crate::filters::redirect::page;

/// `block-*` compiled once per table.
#[derive(Debug, Default)]
pub(crate) struct BlockRules {
    cidrs: Vec<IpNet>,
    user_agents: Matcher,
    referers: Matcher,
}

/// One nginx `map` of strings (case-insensitive) and regexes.
#[derive(Debug, Default)]
struct Matcher {
    exact: Vec<String>,
    regexes: Vec<Regex>,
}

impl Matcher {
    fn compile(items: &[String]) -> Self {
        let mut matcher = Self::default();
        for item in items {
            let (pattern, insensitive) = match item.strip_prefix("~*") {
                Some(p) => (p, true),
                None => match item.strip_prefix('~') {
                    Some(p) => (p, false),
                    None => {
                        matcher.exact.push(item.to_ascii_lowercase());
                        continue;
                    }
                },
            };
            match RegexBuilder::new(pattern)
                .case_insensitive(insensitive)
                .build()
            {
                Ok(regex) => matcher.regexes.push(regex),
                Err(error) => tracing::warn!(pattern, %error, "block pattern ignored"),
            }
        }
        matcher
    }

    fn is_empty(&self) -> bool {
        self.exact.is_empty() && self.regexes.is_empty()
    }

    fn matches(&self, value: &str) -> bool {
        self.exact.iter().any(|e| e.eq_ignore_ascii_case(value))
            || self.regexes.iter().any(|r| r.is_match(value))
    }
}

impl BlockRules {
    /// Compiles the ConfigMap's blocks.
    pub fn compile(blocking: &Blocking) -> Self {
        Self {
            cidrs: blocking.cidrs.clone(),
            user_agents: Matcher::compile(&blocking.user_agents),
            referers: Matcher::compile(&blocking.referers),
        }
    }
}

/// The server block's own rules: `block-user-agents` and `block-referers` (403), then the
/// host's `auth-tls-match-cn` (403), then `app-root` (302 for `/`).
#[derive(Clone, Copy, Debug, Default)]
pub struct ServerRules;

impl Filter for ServerRules {
    fn request(&self, ctx: &mut RequestContext, req: &mut http::request::Parts) -> Flow {
        if let Some(generation) = &ctx.generation {
            let rules = &generation.blocking;
            let header = |name| {
                req.headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
            };
            if (!rules.user_agents.is_empty() && rules.user_agents.matches(header(USER_AGENT)))
                || (!rules.referers.is_empty() && rules.referers.matches(header(REFERER)))
            {
                return Flow::Respond(page(StatusCode::FORBIDDEN));
            }
        }
        if let Some(flow) = crate::filters::mtls::match_cn(ctx) {
            return flow;
        }
        let app_root = ctx.vhost.as_ref().and_then(|v| v.app_root.as_deref());
        if let Some(app_root) = app_root
            && req.uri.path() == "/"
        {
            let host = req
                .headers
                .get(http::header::HOST)
                .and_then(|v| v.to_str().ok())
                .unwrap_or(&ctx.host);
            let location = format!("{}://{host}{app_root}", ctx.connection.scheme);
            return Flow::Respond(crate::filters::redirect::redirect_to(302, &location));
        }
        Flow::Continue
    }
}

/// The location's IP lists and the global `block-cidrs`.
#[derive(Clone, Copy, Debug, Default)]
pub struct AccessLists;

impl Filter for AccessLists {
    fn request(&self, ctx: &mut RequestContext, _req: &mut http::request::Parts) -> Flow {
        let Some(route) = ctx.route.as_ref() else {
            return Flow::Continue;
        };
        if !matches!(route.action, Action::Forward(_)) {
            return Flow::Continue;
        }
        let ip = ctx.client_ip();
        let access = &route.policy.access;
        let own_lists = !access.allow.is_empty() || !access.deny.is_empty();
        let denied = if own_lists {
            !lists_allow(access, ip)
        } else {
            ctx.generation
                .as_ref()
                .is_some_and(|g| g.blocking.cidrs.iter().any(|n| n.contains(&ip)))
        };
        if own_lists && access.satisfy == Satisfy::Any && crate::auth::required(ctx) {
            // `satisfy any`: authentication may still let the request in.
            ctx.source_allowed = Some(!denied);
            return Flow::Continue;
        }
        if denied {
            tracing::debug!(client = %ip, host = %ctx.host, path = %ctx.path, "access forbidden by rule");
            ctx.mark(crate::filter::Mark::AccessDenied);
            return Flow::Respond(page(StatusCode::FORBIDDEN));
        }
        Flow::Continue
    }
}

/// The location's own lists: a denied address fails; with an allow list, only listed
/// addresses pass.
fn lists_allow(access: &AccessControl, ip: IpAddr) -> bool {
    !access.deny.iter().any(|n| n.contains(&ip))
        && (access.allow.is_empty() || access.allow.iter().any(|n| n.contains(&ip)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_lists() {
        let lists = AccessControl {
            allow: vec!["10.0.0.0/8".parse().unwrap()],
            deny: vec!["10.9.0.0/16".parse().unwrap()],
            satisfy: Satisfy::All,
        };
        assert!(lists_allow(&lists, [10, 1, 2, 3].into()));
        assert!(!lists_allow(&lists, [10, 9, 2, 3].into()));
        assert!(!lists_allow(&lists, [192, 168, 0, 1].into()));
        assert!(lists_allow(&AccessControl::default(), [1, 2, 3, 4].into()));
    }

    #[test]
    fn maps_compare_strings_ignoring_case_and_regexes_as_written() {
        let m = Matcher::compile(&[
            "BadBot".into(),
            "~^curl/".into(),
            "~*python".into(),
            "~[".into(),
        ]);
        assert!(m.matches("badbot"));
        assert!(!m.matches("badbot/2"));
        assert!(m.matches("curl/8.0"));
        assert!(!m.matches("CURL/8.0"));
        assert!(m.matches("Python-urllib"));
        assert!(!m.matches("Mozilla"));
        assert_eq!(m.regexes.len(), 2);
    }
}
