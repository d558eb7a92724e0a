//! Routes matched by a linear scan: regex paths (ingress-nginx regex mode), plus Exact and
//! Prefix paths without a leading `/` (which `build` never produces, but the reference matches
//! as plain strings). Entries are sorted by precedence (best first), then table order, so the
//! first entry that matches and is accepted is the best; regexes are compiled once.

use regex::Regex;
use sluice_ingress_model::PathMatch;
use sluice_ingress_model::path::{Precedence, compile_regex};

/// The linearly matched routes of one virtual host.
#[derive(Debug, Default)]
pub(crate) struct Linear {
    /// Best first.
    entries: Vec<Entry>,
}

/// One linearly matched route.
#[derive(Debug)]
struct Entry {
    /// The route id.
    id: u32,
    /// The route's path match.
    path: PathMatch,
    /// The compiled regex of a `PathMatch::Regex`; `None` otherwise or when it does not compile
    /// (then it matches nothing, as in the reference).
    regex: Option<Regex>,
}

impl Linear {
    /// Compiles `routes` (id, path), given in table order.
    pub(crate) fn build(routes: &[(u32, &PathMatch)]) -> Self {
        let mut entries: Vec<Entry> = routes
            .iter()
            .map(|&(id, path)| Entry {
                id,
                path: path.clone(),
                regex: match path {
                    PathMatch::Regex(pattern) => compile_regex(pattern).ok(),
                    _ => None,
                },
            })
            .collect();
        entries.sort_by(|a, b| {
            b.path
                .precedence()
                .cmp(&a.path.precedence())
                .then(a.id.cmp(&b.id))
        });
        Self { entries }
    }

    /// Whether there is no entry.
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The best entry that matches `path` and that `accept`s, considering only entries better
    /// than `bound` (a route found elsewhere, with its precedence and id).
    pub(crate) fn lookup(
        &self,
        path: &str,
        bound: Option<(Precedence<'_>, u32)>,
        mut accept: impl FnMut(u32) -> bool,
    ) -> Option<u32> {
        for entry in &self.entries {
            if let Some((precedence, id)) = bound
                && (entry.path.precedence(), std::cmp::Reverse(entry.id))
                    <= (precedence, std::cmp::Reverse(id))
            {
                return None;
            }
            if entry.matches(path) && accept(entry.id) {
                return Some(entry.id);
            }
        }
        None
    }
}

impl Entry {
    fn matches(&self, path: &str) -> bool {
        match &self.path {
            PathMatch::Regex(_) => self.regex.as_ref().is_some_and(|re| re.is_match(path)),
            other => other.matches(path),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans_in_precedence_order_and_stops_at_the_bound() {
        let paths = [
            PathMatch::Regex("/a".into()),
            PathMatch::Regex("/a/[0-9]+".into()),
            PathMatch::Regex("/(".into()),
            PathMatch::Exact("".into()),
        ];
        let routes: Vec<(u32, &PathMatch)> = (0..).zip(&paths).collect();
        let linear = Linear::build(&routes);
        assert_eq!(linear.lookup("/A/12", None, |_| true), Some(1));
        assert_eq!(linear.lookup("/a/x", None, |_| true), Some(0));
        assert_eq!(linear.lookup("/a/1", None, |id| id != 1), Some(0));
        assert_eq!(linear.lookup("/(", None, |_| true), None);
        assert_eq!(linear.lookup("", None, |_| true), Some(3));
        let prefix = PathMatch::Prefix("/a/1/longer".into());
        assert_eq!(
            linear.lookup("/a/1", Some((prefix.precedence(), 9)), |_| true),
            None
        );
        let short = PathMatch::Prefix("/".into());
        assert_eq!(
            linear.lookup("/a/1", Some((short.precedence(), 9)), |_| true),
            Some(1)
        );
    }
}
