//! The routes of one host while the builder collects them, and which Ingress holds each
//! (path, conditions) slot.

use std::collections::HashMap;

use crate::condition::Condition;
use crate::key::ObjectKey;
use crate::path::PathMatch;
use crate::table::Route;

/// The routes of one host while it is built. Which Ingress holds a (path, conditions) slot is
/// the route's origin; hosts with many routes index the slots, the rest (most hosts: one
/// route) are searched, since a map per host cost more memory than the routes themselves.
#[derive(Default)]
pub(super) struct HostRoutes {
    /// The routes, in the order they were added.
    pub(super) routes: Vec<Route>,
    slots: Option<HashMap<(PathMatch, Vec<Condition>), usize>>,
}

impl HostRoutes {
    /// From this many routes on, slots are looked up in a map.
    const INDEXED_FROM: usize = 16;

    /// The Ingress holding the slot of `route`, if one does.
    pub(super) fn owner(&self, route: &Route) -> Option<&ObjectKey> {
        let held = match &self.slots {
            Some(slots) => slots
                .get(&(route.path.clone(), route.conditions.clone()))
                .and_then(|&i| self.routes.get(i)),
            None => self
                .routes
                .iter()
                .find(|r| r.path == route.path && r.conditions == route.conditions),
        };
        held.and_then(|r| r.origin.as_ref()).map(|o| &o.ingress)
    }

    /// Adds a route whose slot is free.
    pub(super) fn push(&mut self, route: Route) {
        // Most hosts have one route: no room for four at first (the table keeps these lists).
        if self.routes.is_empty() {
            self.routes.reserve_exact(1);
        }
        if let Some(slots) = &mut self.slots {
            slots.insert(
                (route.path.clone(), route.conditions.clone()),
                self.routes.len(),
            );
        }
        self.routes.push(route);
        if self.slots.is_none() && self.routes.len() >= Self::INDEXED_FROM {
            let slots = self.routes.iter().enumerate();
            let slots = slots.map(|(i, r)| ((r.path.clone(), r.conditions.clone()), i));
            self.slots = Some(slots.collect());
        }
    }
}
