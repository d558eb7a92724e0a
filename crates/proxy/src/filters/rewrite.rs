//! `rewrite-target`: nginx's `rewrite "(?i)<path>" <target> break` — when the route's path
//! regex matches, the upstream URI becomes the target with `$1..$9` replaced by the captures;
//! the query string is appended (after `&` when the target has its own), unless the target ends
//! with `?`.

use http::Uri;

use crate::filter::{Filter, Flow, RequestContext};
use crate::variables::Vars;

/// Rewrites the request URI of routes with `rewrite-target`.
#[derive(Clone, Copy, Debug, Default)]
pub struct RewriteTarget;

impl Filter for RewriteTarget {
    fn request(&self, ctx: &mut RequestContext, req: &mut http::request::Parts) -> Flow {
        let Some(route) = ctx.route.as_ref() else {
            return Flow::Continue;
        };
        let Some(rewrite) = route.policy.rewrite.as_ref() else {
            return Flow::Continue;
        };
        let pattern = route.path.as_str();
        let captures: Vec<String> = match ctx
            .generation
            .as_ref()
            .and_then(|g| g.rewrites.get(pattern))
        {
            Some(regex) => match regex.captures(&ctx.path) {
                Some(caps) => caps
                    .iter()
                    .skip(1)
                    .map(|m| m.map_or_else(String::new, |m| m.as_str().to_owned()))
                    .collect(),
                // No match (a non-regex route): nginx leaves the URI alone.
                None => return Flow::Continue,
            },
            None if matches!(route.path, sluice_ingress_model::PathMatch::Regex(_)) => {
                return Flow::Continue;
            }
            None => Vec::new(),
        };
        let target = Vars {
            ctx,
            head: req,
            captures: &captures,
        }
        .expand(&rewrite.target);
        let query = req.uri.query().filter(|q| !q.is_empty());
        let uri = match target.strip_suffix('?') {
            Some(without) => without.to_owned(),
            None => match (target.contains('?'), query) {
                (true, Some(q)) => format!("{target}&{q}"),
                (false, Some(q)) => format!("{target}?{q}"),
                (_, None) => target,
            },
        };
        let uri = if uri.starts_with('/') {
            uri
        } else {
            format!("/{uri}")
        };
        let mut parts = req.uri.clone().into_parts();
        let rewritten = uri
            .parse()
            .map_err(|e: http::uri::InvalidUri| e.to_string())
            .and_then(|pq| {
                parts.path_and_query = Some(pq);
                Uri::from_parts(parts).map_err(|e| e.to_string())
            });
        match rewritten {
            Ok(parsed) => {
                req.uri = parsed;
                ctx.captures = captures;
            }
            Err(error) => {
                tracing::warn!(%error, target = %uri, "rewritten URI is invalid; left unchanged");
            }
        }
        Flow::Continue
    }
}
