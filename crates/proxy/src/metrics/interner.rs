//! The interner: the one shared label set per distinct label values, so series survive a
//! rebuild that resolves the same labels again, and are dropped with the last table using them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use arc_swap::ArcSwap;

use super::labels::{LabelIndex, LatencyLabels, RouteLabelValues, RouteLabels};

/// Every label set in use; series live as long as their label set is interned.
#[derive(Debug, Default)]
pub struct Interner {
    sets: Mutex<HashMap<RouteLabelValues, Arc<RouteLabels>>>,
    latency: Mutex<HashMap<[String; 4], Arc<LatencyLabels>>>,
    /// Sets made outside the live index: for a request that met a table change half applied
    /// (routed by the new table, counted with the old index, or the other way round), or
    /// resolved in an index entry a change had already removed. The next change forgets those
    /// its index does not hold, so routes that are gone leave no series behind.
    strays: Mutex<Vec<Arc<RouteLabels>>>,
}

impl Interner {
    /// The one label set with these values.
    pub fn intern(&self, values: RouteLabelValues) -> Arc<RouteLabels> {
        self.intern_new(values).0
    }

    /// As [`Interner::intern`] for a set the live index may not hold; a new one is forgotten
    /// at the next change unless that change's index holds it.
    pub fn intern_stray(&self, values: RouteLabelValues) -> Arc<RouteLabels> {
        let (labels, new) = self.intern_new(values);
        if new {
            self.strays_lock().push(labels.clone());
        }
        labels
    }

    /// Sets resolved in an index entry that a change had already removed.
    pub fn orphaned<'a>(&self, sets: impl Iterator<Item = &'a Arc<RouteLabels>>) {
        self.strays_lock().extend(sets.cloned());
    }

    /// Forgets the strays `live` does not hold (called with each new index).
    pub fn sweep_strays(&self, live: &LabelIndex) {
        let strays = std::mem::take(&mut *self.strays_lock());
        let gone: Vec<Arc<RouteLabels>> = strays.into_iter().filter(|s| !live.holds(s)).collect();
        self.forget(&gone);
    }

    fn strays_lock(&self) -> MutexGuard<'_, Vec<Arc<RouteLabels>>> {
        self.strays.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The one label set with these values, and whether it was made now.
    fn intern_new(&self, values: RouteLabelValues) -> (Arc<RouteLabels>, bool) {
        let mut sets = self.sets.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(existing) = sets.get(&values) {
            return (existing.clone(), false);
        }
        let latency = self.intern_latency(&values);
        let labels = Arc::new(RouteLabels {
            values: values.clone(),
            latency,
            series: ArcSwap::default(),
        });
        sets.insert(values, labels.clone());
        (labels, true)
    }

    fn intern_latency(&self, values: &RouteLabelValues) -> Arc<LatencyLabels> {
        let key = [
            values.namespace.clone(),
            values.ingress.clone(),
            values.service.clone(),
            values.canary.clone(),
        ];
        let mut latency = self.latency.lock().unwrap_or_else(PoisonError::into_inner);
        latency
            .entry(key)
            .or_insert_with_key(|[namespace, ingress, service, canary]| {
                Arc::new(LatencyLabels {
                    namespace: namespace.clone(),
                    ingress: ingress.clone(),
                    service: service.clone(),
                    canary: canary.clone(),
                    histogram: super::histogram::AtomicHistogram::new(
                        super::histogram::TIME_BUCKETS,
                        super::histogram::NANOSECOND,
                    ),
                })
            })
            .clone()
    }

    /// Keeps only the label sets `keep` holds (plus those still referenced elsewhere, e.g. by
    /// a request in flight, which are dropped from the exposition all the same).
    pub fn retain(&self, keep: &LabelIndex, also: &Arc<RouteLabels>) {
        let live: std::collections::HashSet<*const RouteLabels> = keep
            .label_sets()
            .chain(std::iter::once(also))
            .map(Arc::as_ptr)
            .collect();
        let mut sets = self.sets.lock().unwrap_or_else(PoisonError::into_inner);
        sets.retain(|_, labels| live.contains(&Arc::as_ptr(labels)));
        self.keep_latency_of(sets);
    }

    /// Forgets `dropped` label sets (no longer in the live index), and the latency label sets
    /// only they used.
    pub fn forget(&self, dropped: &[Arc<RouteLabels>]) {
        if dropped.is_empty() {
            return;
        }
        let mut sets = self.sets.lock().unwrap_or_else(PoisonError::into_inner);
        for set in dropped {
            if sets.get(&set.values).is_some_and(|s| Arc::ptr_eq(s, set)) {
                sets.remove(&set.values);
            }
        }
        self.keep_latency_of(sets);
    }

    /// Drops the latency label sets no remaining route label set uses.
    fn keep_latency_of(&self, sets: MutexGuard<'_, HashMap<RouteLabelValues, Arc<RouteLabels>>>) {
        let live: std::collections::HashSet<*const LatencyLabels> =
            sets.values().map(|l| Arc::as_ptr(&l.latency)).collect();
        drop(sets);
        self.latency
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|_, l| live.contains(&Arc::as_ptr(l)));
    }

    /// A snapshot of every interned label set.
    pub fn all(&self) -> Vec<Arc<RouteLabels>> {
        let sets = self.sets.lock().unwrap_or_else(PoisonError::into_inner);
        let mut all: Vec<Arc<RouteLabels>> = sets.values().cloned().collect();
        all.sort_by(|a, b| {
            let key = |l: &RouteLabels| {
                let v = &l.values;
                (
                    v.namespace.clone(),
                    v.ingress.clone(),
                    v.path.clone(),
                    v.host.to_string(),
                    v.service.clone(),
                    v.canary.clone(),
                )
            };
            key(a).cmp(&key(b))
        });
        all
    }

    /// A snapshot of every latency label set.
    pub fn all_latency(&self) -> Vec<Arc<LatencyLabels>> {
        let latency = self.latency.lock().unwrap_or_else(PoisonError::into_inner);
        let mut all: Vec<(&[String; 4], Arc<LatencyLabels>)> =
            latency.iter().map(|(k, v)| (k, v.clone())).collect();
        all.sort_by(|a, b| a.0.cmp(b.0));
        all.into_iter().map(|(_, v)| v).collect()
    }
}
