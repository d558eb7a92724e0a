//! The path index of one virtual host: its Exact and Prefix routes (paths starting with `/`) in
//! a `matchit` tree that stores small node ids; the candidates live in a `Vec`.
//!
//! Keys (braces escaped as `{{`/`}}`, inserted in sorted order, one insert per key):
//! - Exact `p` → static key `p`;
//! - Prefix `n` (not `/`) → static keys `n` and `n/`, and the catch-all `n/{*rest}`;
//! - Prefix `/` → no key: it serves every `/`-path the tree has no key for.
//!
//! A static key's node lists every route producing that key, best first (by precedence, then
//! table order). A catch-all's node is its prefix *group*: the Prefix routes with that text.
//! Each node links to the longest shorter prefix group that also matches whatever reached the
//! node, so following the links visits every remaining matching route in precedence order. The
//! links are only followed when no candidate's conditions hold (e.g. canary-by-header).
//!
//! matchit prefers a static key to a catch-all and backtracks to the deepest catch-all, which
//! yields the reference's "longest match wins"; the property tests check it on arbitrary tables.

use std::collections::{BTreeMap, HashMap};

use sluice_ingress_model::{HostPattern, PathMatch};

use crate::error::RouterError;

/// Exact and Prefix routes of one virtual host.
#[derive(Debug)]
pub(crate) struct PathIndex {
    /// Escaped keys → index into `nodes`.
    tree: matchit::Router<u32>,
    /// Candidates per key or prefix group.
    nodes: Vec<Node>,
    /// The group of Prefix `/` routes, the last resort for every `/`-path.
    root: Option<u32>,
}

/// The routes one tree hit can serve, best first, and where to look when none is accepted.
#[derive(Debug)]
struct Node {
    /// Route ids, best first.
    candidates: Box<[u32]>,
    /// The next (shorter) prefix group that matches the same paths.
    next: Option<u32>,
}

impl PathIndex {
    /// Whether a path match belongs in the tree: Exact or Prefix with a leading `/`. Others
    /// (regexes, and paths `build` never produces) are matched linearly.
    pub(crate) fn accepts(path: &PathMatch) -> bool {
        matches!(path, PathMatch::Exact(p) | PathMatch::Prefix(p) if p.starts_with('/'))
    }

    /// Indexes `routes` (id, path), given in table order; paths must satisfy [`Self::accepts`]
    /// (others are ignored).
    pub(crate) fn build(
        host: &HostPattern,
        routes: &[(u32, &PathMatch)],
    ) -> Result<Self, RouterError> {
        // Prefix text → (route ids, one of the routes for error messages).
        let mut groups: BTreeMap<&str, (Vec<u32>, &PathMatch)> = BTreeMap::new();
        let mut statics: BTreeMap<String, Vec<(u32, &PathMatch)>> = BTreeMap::new();
        for &(id, path) in routes {
            match path {
                PathMatch::Exact(p) if p.starts_with('/') => {
                    statics.entry(p.clone()).or_default().push((id, path));
                }
                PathMatch::Prefix(n) if n.starts_with('/') => {
                    groups
                        .entry(n)
                        .or_insert_with(|| (Vec::new(), path))
                        .0
                        .push(id);
                    if n != "/" {
                        statics.entry(n.clone()).or_default().push((id, path));
                        statics.entry(format!("{n}/")).or_default().push((id, path));
                    }
                }
                _ => {}
            }
        }

        let mut nodes = Vec::with_capacity(groups.len() + statics.len());
        let mut group_ids: HashMap<&str, u32> = HashMap::with_capacity(groups.len());
        for (&text, (ids, _)) in &groups {
            let id = node_id(nodes.len(), host, text)?;
            group_ids.insert(text, id);
            nodes.push(Node {
                candidates: ids.as_slice().into(),
                next: None,
            });
        }
        for (node, (&text, _)) in nodes.iter_mut().zip(&groups) {
            if text != "/" {
                node.next = longest_group(text, text.len(), &group_ids);
            }
        }

        // Escaped key → (node, a route for error messages), sorted.
        let mut keys: BTreeMap<String, (u32, &PathMatch)> = BTreeMap::new();
        for (text, mut candidates) in statics {
            candidates.sort_by(|a, b| b.1.precedence().cmp(&a.1.precedence()).then(a.0.cmp(&b.0)));
            let id = node_id(nodes.len(), host, &text)?;
            // A shorter group that matches `text` without having produced this key.
            let next = longest_group(&text, text.len().saturating_sub(1), &group_ids);
            let Some(&(_, example)) = candidates.first() else {
                continue;
            };
            keys.insert(escape(&text), (id, example));
            nodes.push(Node {
                candidates: candidates.iter().map(|c| c.0).collect(),
                next,
            });
        }
        for (&text, &(_, example)) in &groups {
            if let (false, Some(&id)) = (text == "/", group_ids.get(text)) {
                keys.insert(format!("{}/{{*rest}}", escape(text)), (id, example));
            }
        }

        let mut tree = matchit::Router::new();
        for (key, (id, example)) in keys {
            tree.insert(key, id).map_err(|e| RouterError::Index {
                host: host.to_string(),
                pattern: example.to_string(),
                reason: e.to_string(),
            })?;
        }
        let root = group_ids.get("/").copied();
        Ok(Self { tree, nodes, root })
    }

    /// The best route for `path` among those `accept` (their conditions hold): the first
    /// accepted candidate of the tree hit, else of the linked shorter prefix groups.
    pub(crate) fn lookup(&self, path: &str, mut accept: impl FnMut(u32) -> bool) -> Option<u32> {
        let mut node = match self.tree.at(path) {
            Ok(hit) => Some(*hit.value),
            Err(_) if path.starts_with('/') => self.root,
            Err(_) => None,
        };
        while let Some(current) = node.and_then(|n| self.nodes.get(n as usize)) {
            if let Some(&id) = current.candidates.iter().find(|&&id| accept(id)) {
                return Some(id);
            }
            node = current.next;
        }
        None
    }
}

/// A node id for the next node, or an error naming the host and path.
fn node_id(len: usize, host: &HostPattern, text: &str) -> Result<u32, RouterError> {
    u32::try_from(len).map_err(|_| RouterError::TooManyRoutes {
        host: host.to_string(),
        pattern: text.to_owned(),
    })
}

/// The longest prefix group `m` with `text` starting with `m/` where that `/` is before byte
/// `end`, else the `/` group. For a group `n` (`end = n.len()`) this is its parent; for a static
/// key `k` (`end = k.len() - 1`) it is the longest group matching `k` that did not produce `k`.
fn longest_group(text: &str, end: usize, groups: &HashMap<&str, u32>) -> Option<u32> {
    text.rmatch_indices('/')
        .filter(|&(i, _)| (1..end).contains(&i))
        .find_map(|(i, _)| text.get(..i).and_then(|m| groups.get(m)).copied())
        .or_else(|| groups.get("/").copied())
}

/// Escapes matchit's parameter syntax so the text matches literally.
fn escape(text: &str) -> String {
    text.replace('{', "{{").replace('}', "}}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(paths: &[PathMatch]) -> PathIndex {
        let routes: Vec<(u32, &PathMatch)> = (0..).zip(paths).collect();
        PathIndex::build(&HostPattern::Any, &routes).unwrap()
    }

    #[test]
    fn longest_match_wins_and_conditions_fall_back_to_shorter_prefixes() {
        let paths = [
            PathMatch::Prefix("/".into()),
            PathMatch::Prefix("/a".into()),
            PathMatch::Prefix("/a/b".into()),
            PathMatch::Exact("/a/b".into()),
            PathMatch::Prefix("/a/b".into()),
        ];
        let index = index(&paths);
        assert_eq!(index.lookup("/a/b", |_| true), Some(3));
        assert_eq!(index.lookup("/a/b/c", |_| true), Some(2));
        assert_eq!(index.lookup("/a/b/c", |id| id != 2), Some(4));
        assert_eq!(index.lookup("/a/b/c", |id| !(2..=4).contains(&id)), Some(1));
        assert_eq!(index.lookup("/a/b", |id| id < 2), Some(1));
        assert_eq!(index.lookup("/a/bc", |_| true), Some(1));
        assert_eq!(index.lookup("/x", |_| true), Some(0));
        assert_eq!(index.lookup("/", |_| true), Some(0));
        assert_eq!(index.lookup("x", |_| true), None);
        assert_eq!(index.lookup("", |_| true), None);
        assert_eq!(index.lookup("/a/b/c", |_| false), None);
    }

    #[test]
    fn braces_are_literal() {
        let index = index(&[
            PathMatch::Prefix("/{id}".into()),
            PathMatch::Exact("/a/{*x}".into()),
        ]);
        assert_eq!(index.lookup("/{id}/x", |_| true), Some(0));
        assert_eq!(index.lookup("/7/x", |_| true), None);
        assert_eq!(index.lookup("/a/{*x}", |_| true), Some(1));
        assert_eq!(index.lookup("/a/b", |_| true), None);
    }

    #[test]
    fn group_links_skip_keys_the_group_produced() {
        let groups: HashMap<&str, u32> = [("/", 0), ("/a", 1), ("/a/b", 2)].into_iter().collect();
        assert_eq!(longest_group("/a/b/c", 6, &groups), Some(2));
        assert_eq!(longest_group("/a/b", 4, &groups), Some(1));
        assert_eq!(longest_group("/a/b/", 4, &groups), Some(1));
        assert_eq!(longest_group("/a", 2, &groups), Some(0));
        assert_eq!(longest_group("/é/", 3, &groups), Some(0));
    }
}
