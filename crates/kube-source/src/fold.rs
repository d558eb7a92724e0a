//! The pure fold: watcher events of every stream in, one [`Snapshot`] out.
//!
//! It follows kube-runtime's `reflector::store::Writer::apply_watcher_event`: `Init` starts a
//! buffer, `InitApply` fills it, `InitDone` swaps it in atomically (so a relist after `410 Gone`
//! never shows a half-filled kind), `Apply`/`Delete` change the live store. Nothing is
//! published until every required stream has finished its first list ([`Folder::is_synced`]).
//!
//! Most kinds come from exactly one stream and live directly in the snapshot. Secrets and
//! ConfigMaps can come from several (TLS Secrets by field selector, plus one stream per object
//! an annotation references), so they are kept per stream and the snapshot holds their union.
//! No I/O, no clock: unit-tested with scripted event lists.

use std::collections::{BTreeMap, BTreeSet};

use kube::runtime::watcher::Event;
use sluice_ingress_model::{
    ConfigMap, Diagnostic, EndpointSlice, Ingress, IngressClass, Kind, ObjectKey, ObjectRef,
    Secret, Service, Snapshot,
};

/// Which watch an event came from.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StreamId {
    /// Ingresses (all namespaces or the watched one).
    Ingresses,
    /// IngressClasses (cluster-scoped).
    IngressClasses,
    /// Services.
    Services,
    /// EndpointSlices.
    EndpointSlices,
    /// Secrets of type `kubernetes.io/tls`.
    TlsSecrets,
    /// The controller ConfigMap (`--configmap`).
    ControllerConfig,
    /// One Secret or ConfigMap referenced by an annotation, a ConfigMap key or a flag.
    Reference(ObjectRef),
}

/// What the fold keeps of an Ingress besides its model form: what status and Events need.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IngressMeta {
    /// `metadata.uid` (Events name their object by it).
    pub uid: Option<String>,
    /// `status.loadBalancer.ingress` as written: IPs and hostnames.
    pub addresses: Vec<String>,
}

/// One object, converted into the model's plain types as soon as it arrives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Object {
    /// An Ingress and its metadata.
    Ingress(Box<Ingress>, IngressMeta),
    /// An IngressClass.
    IngressClass(IngressClass),
    /// A Service.
    Service(Service),
    /// An EndpointSlice.
    EndpointSlice(EndpointSlice),
    /// A Secret.
    Secret(Secret),
    /// A ConfigMap.
    ConfigMap(ConfigMap),
    /// An object that could not be converted: it is not served, and the diagnostic says why.
    Invalid(ObjectRef, Box<Diagnostic>),
}

/// Folds events into a snapshot. See the module doc.
#[derive(Debug, Default)]
pub struct Folder {
    snapshot: Snapshot,
    ingress_meta: BTreeMap<ObjectKey, IngressMeta>,
    streams: BTreeMap<StreamId, StreamState>,
    secrets: BTreeMap<StreamId, BTreeMap<ObjectKey, Secret>>,
    config_maps: BTreeMap<StreamId, BTreeMap<ObjectKey, ConfigMap>>,
    invalid: BTreeMap<StreamId, BTreeMap<ObjectRef, Diagnostic>>,
    changed: bool,
    meta_changed: bool,
}

#[derive(Debug, Default)]
struct StreamState {
    /// The first list finished (or, for a reference stream, failed: it counts as absent).
    synced: bool,
    /// Objects of a list in progress, swapped in at `InitDone`.
    buffer: Option<Vec<Object>>,
}

impl Folder {
    /// A folder that waits for `streams` before publishing anything.
    pub fn new(streams: impl IntoIterator<Item = StreamId>) -> Self {
        let mut folder = Self::default();
        for stream in streams {
            folder.streams.insert(stream, StreamState::default());
        }
        folder
    }

    /// The snapshot as folded so far (complete only when [`is_synced`](Self::is_synced)).
    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    /// The snapshot, for a caller that changes it temporarily (the admission webhook puts a
    /// candidate Ingress in place and restores the stored one).
    pub(crate) fn snapshot_mut(&mut self) -> &mut Snapshot {
        &mut self.snapshot
    }

    /// Uid and current status of every Ingress.
    pub fn ingress_meta(&self) -> &BTreeMap<ObjectKey, IngressMeta> {
        &self.ingress_meta
    }

    /// Objects that could not be converted, as diagnostics.
    pub fn invalid(&self) -> impl Iterator<Item = &Diagnostic> {
        self.invalid.values().flat_map(BTreeMap::values)
    }

    /// Whether every stream has finished its first list.
    pub fn is_synced(&self) -> bool {
        self.streams.values().all(|s| s.synced)
    }

    /// Whether `stream` is folded and has finished its first list.
    pub fn is_stream_synced(&self, stream: &StreamId) -> bool {
        self.streams.get(stream).is_some_and(|s| s.synced)
    }

    /// The streams currently folded.
    pub fn streams(&self) -> impl Iterator<Item = &StreamId> {
        self.streams.keys()
    }

    /// Whether the snapshot changed since the flag was last taken (without taking it).
    pub fn is_changed(&self) -> bool {
        self.changed
    }

    /// Whether the snapshot changed since the last call; resets the flag.
    pub fn take_changed(&mut self) -> bool {
        std::mem::take(&mut self.changed)
    }

    /// Whether Ingress metadata (uid, status) changed since the last call; resets the flag.
    pub fn take_meta_changed(&mut self) -> bool {
        std::mem::take(&mut self.meta_changed)
    }

    /// Adds a stream; the folder is not synced again until it finishes its first list.
    pub fn add_stream(&mut self, stream: StreamId) {
        self.streams.entry(stream).or_default();
    }

    /// Removes a stream and everything it contributed.
    pub fn remove_stream(&mut self, stream: &StreamId) {
        if self.streams.remove(stream).is_none() {
            return;
        }
        self.replace_all(stream, Vec::new());
        self.invalid.remove(stream);
    }

    /// Marks a reference stream whose first list failed as synced: the object counts as absent
    /// (the model reports it missing) rather than holding every other change back. Required
    /// kinds are never given up on: the last good snapshot keeps serving instead.
    pub fn stream_failed(&mut self, stream: &StreamId) {
        if let StreamId::Reference(_) = stream
            && let Some(state) = self.streams.get_mut(stream)
            && !state.synced
        {
            state.synced = true;
            self.changed = true;
        }
    }

    /// Folds one watcher event. Events of streams not registered are ignored (a reference
    /// stream removed while its last events were in flight).
    pub fn apply(&mut self, stream: &StreamId, event: Event<Object>) {
        let Some(state) = self.streams.get_mut(stream) else {
            return;
        };
        match event {
            Event::Init => state.buffer = Some(Vec::new()),
            Event::InitApply(object) => match &mut state.buffer {
                Some(buffer) => buffer.push(object),
                // InitApply without Init does not happen; treat it as a live change.
                None => self.upsert(stream, object),
            },
            Event::InitDone => {
                let objects = state.buffer.take().unwrap_or_default();
                let first = !state.synced;
                state.synced = true;
                self.replace_all(stream, objects);
                if first {
                    self.changed = true;
                }
            }
            Event::Apply(object) => self.upsert(stream, object),
            Event::Delete(object) => {
                let target = object_ref(&object);
                self.remove(stream, &target);
            }
        }
    }

    /// Replaces everything `stream` holds with `objects` (a finished list).
    fn replace_all(&mut self, stream: &StreamId, objects: Vec<Object>) {
        let listed: BTreeSet<ObjectRef> = objects.iter().map(object_ref).collect();
        for old in self.held_by(stream) {
            if !listed.contains(&old) {
                self.remove(stream, &old);
            }
        }
        for object in objects {
            self.upsert(stream, object);
        }
    }

    /// Every object `stream` currently contributes.
    fn held_by(&self, stream: &StreamId) -> Vec<ObjectRef> {
        let keys = |kind: Kind, keys: Vec<ObjectKey>| -> Vec<ObjectRef> {
            keys.into_iter().map(|k| ObjectRef::new(kind, k)).collect()
        };
        let mut held = match stream {
            StreamId::Ingresses => keys(
                Kind::Ingress,
                self.snapshot.ingresses.keys().cloned().collect(),
            ),
            StreamId::IngressClasses => keys(
                Kind::IngressClass,
                self.snapshot
                    .ingress_classes
                    .keys()
                    .map(|n| ObjectKey::new("", n.clone()))
                    .collect(),
            ),
            StreamId::Services => keys(
                Kind::Service,
                self.snapshot.services.keys().cloned().collect(),
            ),
            StreamId::EndpointSlices => keys(
                Kind::EndpointSlice,
                self.snapshot.endpoint_slices.keys().cloned().collect(),
            ),
            StreamId::TlsSecrets | StreamId::ControllerConfig | StreamId::Reference(_) => {
                let mut held = keys(
                    Kind::Secret,
                    self.secrets
                        .get(stream)
                        .map(|m| m.keys().cloned().collect())
                        .unwrap_or_default(),
                );
                held.extend(keys(
                    Kind::ConfigMap,
                    self.config_maps
                        .get(stream)
                        .map(|m| m.keys().cloned().collect())
                        .unwrap_or_default(),
                ));
                held
            }
        };
        if let Some(invalid) = self.invalid.get(stream) {
            held.extend(invalid.keys().cloned());
        }
        held
    }

    fn upsert(&mut self, stream: &StreamId, object: Object) {
        let target = object_ref(&object);
        if let Some(invalid) = self.invalid.get_mut(stream)
            && invalid.remove(&target).is_some()
        {
            self.changed = true;
        }
        match object {
            Object::Ingress(ingress, meta) => {
                let key = ingress.key.clone();
                if self.snapshot.ingresses.get(&key).map(|i| &**i) != Some(&*ingress) {
                    self.snapshot
                        .ingresses
                        .insert(key.clone(), std::sync::Arc::from(ingress));
                    self.changed = true;
                }
                if self.ingress_meta.get(&key) != Some(&meta) {
                    self.ingress_meta.insert(key, meta);
                    self.meta_changed = true;
                }
            }
            Object::IngressClass(class) => {
                if self.snapshot.ingress_classes.get(&class.name) != Some(&class) {
                    self.snapshot.insert_ingress_class(class);
                    self.changed = true;
                }
            }
            Object::Service(service) => {
                if self.snapshot.services.get(&service.key) != Some(&service) {
                    self.snapshot.insert_service(service);
                    self.changed = true;
                }
            }
            Object::EndpointSlice(slice) => {
                if self.snapshot.endpoint_slices.get(&slice.key) != Some(&slice) {
                    self.snapshot.insert_endpoint_slice(slice);
                    self.changed = true;
                }
            }
            Object::Secret(secret) => {
                let key = secret.key.clone();
                self.secrets
                    .entry(stream.clone())
                    .or_default()
                    .insert(key.clone(), secret);
                self.refresh_secret(&key);
            }
            Object::ConfigMap(config_map) => {
                let key = config_map.key.clone();
                self.config_maps
                    .entry(stream.clone())
                    .or_default()
                    .insert(key.clone(), config_map);
                self.refresh_config_map(&key);
            }
            Object::Invalid(target, diagnostic) => {
                // A valid version held before is no longer served as it was.
                self.remove_valid(stream, &target);
                self.invalid
                    .entry(stream.clone())
                    .or_default()
                    .insert(target, *diagnostic);
                self.changed = true;
            }
        }
    }

    fn remove(&mut self, stream: &StreamId, target: &ObjectRef) {
        if let Some(invalid) = self.invalid.get_mut(stream)
            && invalid.remove(target).is_some()
        {
            self.changed = true;
        }
        self.remove_valid(stream, target);
    }

    fn remove_valid(&mut self, stream: &StreamId, target: &ObjectRef) {
        let key = &target.key;
        let removed = match target.kind {
            Kind::Ingress => {
                if self.ingress_meta.remove(key).is_some() {
                    self.meta_changed = true;
                }
                self.snapshot.ingresses.remove(key).is_some()
            }
            Kind::IngressClass => self.snapshot.ingress_classes.remove(&key.name).is_some(),
            Kind::Service => self.snapshot.services.remove(key).is_some(),
            Kind::EndpointSlice => self.snapshot.endpoint_slices.remove(key).is_some(),
            Kind::Secret => {
                if let Some(map) = self.secrets.get_mut(stream) {
                    map.remove(key);
                }
                self.refresh_secret(key);
                false
            }
            Kind::ConfigMap => {
                if let Some(map) = self.config_maps.get_mut(stream) {
                    map.remove(key);
                }
                self.refresh_config_map(key);
                false
            }
            _ => false,
        };
        if removed {
            self.changed = true;
        }
    }

    /// Sets the snapshot's Secret `key` to the first stream's version that holds it.
    fn refresh_secret(&mut self, key: &ObjectKey) {
        let current = self.secrets.values().find_map(|m| m.get(key));
        if self.snapshot.secrets.get(key) != current {
            match current {
                Some(secret) => self.snapshot.secrets.insert(key.clone(), secret.clone()),
                None => self.snapshot.secrets.remove(key),
            };
            self.changed = true;
        }
    }

    /// Sets the snapshot's ConfigMap `key` to the first stream's version that holds it.
    fn refresh_config_map(&mut self, key: &ObjectKey) {
        let current = self.config_maps.values().find_map(|m| m.get(key));
        if self.snapshot.config_maps.get(key) != current {
            match current {
                Some(map) => self.snapshot.config_maps.insert(key.clone(), map.clone()),
                None => self.snapshot.config_maps.remove(key),
            };
            self.changed = true;
        }
    }
}

/// The kind and key of an object.
pub fn object_ref(object: &Object) -> ObjectRef {
    match object {
        Object::Ingress(i, _) => ObjectRef::new(Kind::Ingress, i.key.clone()),
        Object::IngressClass(c) => ObjectRef::new(Kind::IngressClass, ObjectKey::new("", &c.name)),
        Object::Service(s) => ObjectRef::new(Kind::Service, s.key.clone()),
        Object::EndpointSlice(s) => ObjectRef::new(Kind::EndpointSlice, s.key.clone()),
        Object::Secret(s) => ObjectRef::new(Kind::Secret, s.key.clone()),
        Object::ConfigMap(c) => ObjectRef::new(Kind::ConfigMap, c.key.clone()),
        Object::Invalid(r, _) => r.clone(),
    }
}

#[cfg(test)]
#[path = "fold_tests.rs"]
mod tests;
