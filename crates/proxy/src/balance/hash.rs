//! Consistent hashing (`upstream-hash-by`): a ketama ring with [`POINTS_PER_NODE`] virtual
//! nodes per endpoint, from MD5 digests of `"<address>-<i>"`, so an endpoint's points depend on
//! its address only. Removing one of N endpoints moves only the keys that were on it (about
//! 1/N); adding one takes about 1/(N+1) from the others.
//!
//! `upstream-hash-by-subset` (ingress-nginx `chashsubset`): the sorted endpoints are cut into
//! subsets of the configured size (the last one topped up from the start), the key is hashed
//! onto a ring of subsets, and an endpoint of that subset is picked at random.
//!
//! Rings are cached per endpoint list and rebuilt from the endpoints' cached points (a sort of
//! `N × 160` numbers) only when the list changes.

use std::sync::Arc;

use arc_swap::ArcSwapOption;
use md5::{Digest, Md5};

use crate::upstream::Endpoint;

/// Virtual nodes per endpoint (40 MD5 digests × 4 points, as in ketama).
pub const POINTS_PER_NODE: usize = 160;

/// The points of one ring member, computed once per endpoint.
pub(crate) fn points_of(label: &str) -> Box<[u32]> {
    let mut points = Vec::with_capacity(POINTS_PER_NODE);
    for i in 0..POINTS_PER_NODE / 4 {
        let digest = Md5::digest(format!("{label}-{i}").as_bytes());
        for chunk in digest.chunks_exact(4) {
            points.push(u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]));
        }
    }
    points.into_boxed_slice()
}

/// The ring position of a key.
pub fn key_hash(key: &str) -> u32 {
    let digest = Md5::digest(key.as_bytes());
    u32::from_le_bytes([digest[0], digest[1], digest[2], digest[3]])
}

/// A ring: sorted points, each naming a member by index.
#[derive(Debug, Default)]
pub struct Ring {
    points: Vec<(u32, u32)>,
}

impl Ring {
    /// A ring over members given by their points.
    pub fn new<'a>(members: impl IntoIterator<Item = &'a [u32]>) -> Self {
        let mut points: Vec<(u32, u32)> = members
            .into_iter()
            .enumerate()
            .flat_map(|(i, pts)| {
                let index = u32::try_from(i).unwrap_or(u32::MAX);
                pts.iter().map(move |p| (*p, index))
            })
            .collect();
        points.sort_unstable();
        Self { points }
    }

    /// Members clockwise from the key's position, each once.
    pub fn walk(&self, hash: u32) -> impl Iterator<Item = usize> + '_ {
        let start = self.points.partition_point(|(p, _)| *p < hash);
        let (before, after) = self.points.split_at(start.min(self.points.len()));
        let mut seen = std::collections::HashSet::new();
        after
            .iter()
            .chain(before)
            .map(|(_, i)| *i as usize)
            .filter(move |i| seen.insert(*i))
    }

    /// The member owning the key's position.
    #[cfg(test)]
    pub fn owner(&self, hash: u32) -> Option<usize> {
        self.walk(hash).next()
    }
}

/// A ring (of endpoints, or of subsets) built for one endpoint list.
struct Built {
    list: Arc<Vec<Arc<Endpoint>>>,
    ring: Ring,
    subsets: Vec<Vec<usize>>,
}

/// The consistent-hash state of one upstream.
#[derive(Default)]
pub struct HashRing {
    subset: Option<usize>,
    built: ArcSwapOption<Built>,
}

impl std::fmt::Debug for HashRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HashRing")
            .field("subset", &self.subset)
            .finish_non_exhaustive()
    }
}

impl HashRing {
    /// A ring for whole endpoints, or for subsets of `subset` endpoints.
    pub fn new(subset: Option<u32>) -> Self {
        Self {
            subset: subset
                .and_then(|s| usize::try_from(s).ok())
                .filter(|s| *s > 0),
            built: ArcSwapOption::empty(),
        }
    }

    /// The endpoint for `key`, skipping `tried` ones; `pick_in_subset` chooses within a subset.
    pub fn pick(
        &self,
        list: &Arc<Vec<Arc<Endpoint>>>,
        key: &str,
        usable: impl Fn(&Endpoint) -> bool,
        pick_in_subset: impl Fn(usize) -> usize,
    ) -> Option<Arc<Endpoint>> {
        let built = self.built_for(list);
        let hash = key_hash(key);
        for member in built.ring.walk(hash) {
            match self.subset {
                None => {
                    let endpoint = list.get(member)?;
                    if usable(endpoint) {
                        return Some(Arc::clone(endpoint));
                    }
                }
                Some(_) => {
                    let subset = built.subsets.get(member)?;
                    let candidates: Vec<&Arc<Endpoint>> = subset
                        .iter()
                        .filter_map(|i| list.get(*i))
                        .filter(|e| usable(e))
                        .collect();
                    if !candidates.is_empty() {
                        let chosen = candidates.get(pick_in_subset(candidates.len()))?;
                        return Some(Arc::clone(chosen));
                    }
                }
            }
        }
        None
    }

    fn built_for(&self, list: &Arc<Vec<Arc<Endpoint>>>) -> Arc<Built> {
        if let Some(built) = self.built.load_full()
            && Arc::ptr_eq(&built.list, list)
        {
            return built;
        }
        let built = Arc::new(self.build(list));
        self.built.store(Some(Arc::clone(&built)));
        built
    }

    fn build(&self, list: &Arc<Vec<Arc<Endpoint>>>) -> Built {
        match self.subset {
            None => Built {
                list: Arc::clone(list),
                ring: Ring::new(list.iter().map(|e| e.state.ring_points(e.addr))),
                subsets: Vec::new(),
            },
            Some(size) => {
                let subsets = subsets(list.len(), size);
                let labels: Vec<Box<[u32]>> = (0..subsets.len())
                    .map(|i| points_of(&format!("subset-{i}")))
                    .collect();
                Built {
                    list: Arc::clone(list),
                    ring: Ring::new(labels.iter().map(|p| &p[..])),
                    subsets,
                }
            }
        }
    }
}

/// Indices `0..n` cut into subsets of `size`, the last one topped up from the start.
pub fn subsets(n: usize, size: usize) -> Vec<Vec<usize>> {
    if n == 0 || size == 0 {
        return Vec::new();
    }
    let size = size.min(n);
    let count = n.div_ceil(size);
    (0..count)
        .map(|s| (0..size).map(|j| (s * size + j) % n).collect())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(labels: &[String]) -> Ring {
        let points: Vec<Box<[u32]>> = labels.iter().map(|l| points_of(l)).collect();
        Ring::new(points.iter().map(|p| &p[..]))
    }

    #[test]
    fn removing_one_of_n_moves_only_its_keys_about_one_nth() {
        let n = 10;
        let labels: Vec<String> = (0..n).map(|i| format!("10.0.0.{i}:8080")).collect();
        let full = ring(&labels);
        let removed = 3;
        let rest: Vec<String> = labels
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != removed)
            .map(|(_, l)| l.clone())
            .collect();
        let smaller = ring(&rest);
        let keys = 20_000;
        let mut moved = 0;
        for k in 0..keys {
            let h = key_hash(&format!("/user/{k}"));
            let before = &labels[full.owner(h).unwrap()];
            let after = &rest[smaller.owner(h).unwrap()];
            if before != after {
                moved += 1;
                assert_eq!(
                    before, &labels[removed],
                    "only keys of the removed endpoint move"
                );
            }
        }
        // Each endpoint owns 1/N of the ring give or take the spread of V virtual nodes
        // (relative standard deviation about 1/sqrt(V)); allow four of those, plus the
        // sampling error of the keys.
        let expected = 1.0 / n as f64;
        let spread = 4.0 * expected / (POINTS_PER_NODE as f64).sqrt()
            + 4.0 * (expected * (1.0 - expected) / keys as f64).sqrt();
        let fraction = moved as f64 / keys as f64;
        assert!(
            (fraction - expected).abs() <= spread,
            "moved {fraction:.4}, expected {expected} ± {spread:.4}"
        );
    }

    #[test]
    fn walking_visits_every_member_once() {
        let labels: Vec<String> = (0..5).map(|i| format!("m{i}")).collect();
        let r = ring(&labels);
        let mut seen: Vec<usize> = r.walk(key_hash("x")).collect();
        assert_eq!(seen.len(), 5);
        seen.sort_unstable();
        assert_eq!(seen, [0, 1, 2, 3, 4]);
        assert!(Ring::default().owner(7).is_none());
    }

    #[test]
    fn subsets_cover_every_endpoint_and_top_up_the_last() {
        assert_eq!(
            subsets(7, 3),
            vec![vec![0, 1, 2], vec![3, 4, 5], vec![6, 0, 1]]
        );
        assert_eq!(subsets(2, 3), vec![vec![0, 1]]);
        assert!(subsets(0, 3).is_empty());
    }
}
