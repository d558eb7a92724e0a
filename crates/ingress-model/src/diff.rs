//! `diff`: the whole reload decision. Structure changed → rebuild the router; only endpoint
//! sets changed → swap those in place; nothing changed → do nothing.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::table::{EndpointSet, RouteTable, UpstreamId};

/// What the proxy must do to move from one table to the next.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Plan {
    /// The tables are equal.
    Unchanged,
    /// Only endpoint sets differ: replace these (an empty set means none are left).
    Endpoints(Vec<EndpointUpdate>),
    /// The routes differ: compile a new router and swap it in.
    Rebuild,
}

/// The new endpoint set of one upstream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EndpointUpdate {
    /// The upstream.
    pub upstream: UpstreamId,
    /// Its endpoints now.
    pub endpoints: EndpointSet,
}

/// Compares two tables.
pub fn diff(old: &RouteTable, new: &RouteTable) -> Plan {
    if old.routes != new.routes {
        return Plan::Rebuild;
    }
    let mut updates: Vec<EndpointUpdate> = changed_entries(&old.endpoints.0, &new.endpoints.0)
        .map(|(upstream, endpoints)| EndpointUpdate {
            upstream: upstream.clone(),
            endpoints: endpoints.cloned().unwrap_or_default(),
        })
        .collect();
    updates.sort_by(|a, b| a.upstream.cmp(&b.upstream));
    if updates.is_empty() {
        Plan::Unchanged
    } else {
        Plan::Endpoints(updates)
    }
}

/// Keys whose values differ between two maps, with the new value (`None` when removed).
fn changed_entries<'a, K: Ord, V: Eq>(
    old: &'a BTreeMap<K, V>,
    new: &'a BTreeMap<K, V>,
) -> impl Iterator<Item = (&'a K, Option<&'a V>)> {
    let removed = old
        .keys()
        .filter(|k| !new.contains_key(*k))
        .map(|k| (k, None));
    let changed = new
        .iter()
        .filter(|(k, v)| old.get(*k) != Some(*v))
        .map(|(k, v)| (k, Some(v)));
    changed.chain(removed)
}
