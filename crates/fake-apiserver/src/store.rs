//! The in-memory object store: one global, monotonically increasing resourceVersion (as etcd's
//! revision), per-type object maps, and a bounded history of changes for watches to resume
//! from. Writes are checked like the API server does: optimistic concurrency on
//! `metadata.resourceVersion`, `AlreadyExists`, `NotFound`, and no-op writes that change
//! nothing keep the resourceVersion and emit no event.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::resources::ResourceType;
use crate::status::ApiError;

/// What happened to an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeType {
    /// Created.
    Added,
    /// Updated.
    Modified,
    /// Deleted.
    Deleted,
}

/// One change, kept in the history and sent to live watches.
#[derive(Debug)]
pub struct Change {
    /// The resourceVersion the change produced.
    pub rv: u64,
    /// The resource type.
    pub resource: &'static ResourceType,
    /// What happened.
    pub change: ChangeType,
    /// The object before (None when added).
    pub old: Option<Value>,
    /// The object after (for a deletion: the last state, with the deletion's resourceVersion).
    pub new: Value,
}

/// (namespace, name); the namespace is empty for cluster-scoped objects.
pub type Key = (String, String);

/// The store. Guarded by one mutex in the server.
#[derive(Debug, Default)]
pub struct Store {
    /// The current resourceVersion.
    pub rv: u64,
    objects: BTreeMap<&'static str, BTreeMap<Key, Value>>,
    /// Changes newer than `compacted`, oldest first.
    pub history: VecDeque<Arc<Change>>,
    /// Watches from a resourceVersion below this get `410 Gone`.
    pub compacted: u64,
    /// How many changes the history keeps.
    pub history_limit: usize,
    /// Pages of lists in progress, by continue token: the rest of the items and the list's rv.
    pub continues: HashMap<String, (u64, Vec<Value>)>,
    uid_counter: u64,
    continue_counter: u64,
}

impl Store {
    /// An empty store keeping `history_limit` changes.
    pub fn new(history_limit: usize) -> Self {
        Self {
            history_limit,
            rv: 1,
            ..Self::default()
        }
    }

    /// Objects of a type, optionally in one namespace, in key order.
    pub fn objects(&self, resource: &ResourceType, namespace: Option<&str>) -> Vec<Value> {
        self.objects
            .get(resource.plural)
            .into_iter()
            .flatten()
            .filter(|((ns, _), _)| namespace.is_none_or(|want| want == ns))
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// One object.
    pub fn get(&self, resource: &ResourceType, key: &Key) -> Option<&Value> {
        self.objects.get(resource.plural)?.get(key)
    }

    /// A continue token for the rest of a list.
    pub fn save_continue(&mut self, rv: u64, rest: Vec<Value>) -> String {
        self.continue_counter += 1;
        let token = format!("c{}-{}", rv, self.continue_counter);
        self.continues.insert(token.clone(), (rv, rest));
        token
    }

    /// Creates an object; fills uid, creationTimestamp and resourceVersion.
    pub fn create(
        &mut self,
        resource: &'static ResourceType,
        key: Key,
        mut object: Value,
    ) -> Result<(Value, Option<Arc<Change>>), ApiError> {
        if self.get(resource, &key).is_some() {
            return Err(ApiError::already_exists(resource, &key.1));
        }
        self.uid_counter += 1;
        let uid = format!("00000000-0000-4000-8000-{:012x}", self.uid_counter);
        let meta = metadata(&mut object);
        meta.insert("uid".into(), json!(uid));
        meta.insert(
            "creationTimestamp".into(),
            json!(crate::time::now_rfc3339()),
        );
        meta.remove("resourceVersion");
        Ok(self.commit(resource, key, None, object))
    }

    /// Replaces an object. A non-empty `metadata.resourceVersion` must equal the stored one.
    pub fn replace(
        &mut self,
        resource: &'static ResourceType,
        key: Key,
        mut object: Value,
    ) -> Result<(Value, Option<Arc<Change>>), ApiError> {
        let Some(old) = self.get(resource, &key).cloned() else {
            return Err(ApiError::not_found(resource, &key.1));
        };
        let sent = object
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let current = old
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !sent.is_empty() && sent != current {
            return Err(ApiError::conflict(resource, &key.1));
        }
        // Immutable metadata carries over.
        for field in ["uid", "creationTimestamp"] {
            if let Some(v) = old.pointer(&format!("/metadata/{field}")) {
                metadata(&mut object).insert(field.into(), v.clone());
            }
        }
        Ok(self.commit(resource, key, Some(old), object))
    }

    /// Deletes an object.
    pub fn delete(
        &mut self,
        resource: &'static ResourceType,
        key: &Key,
    ) -> Result<(Value, Arc<Change>), ApiError> {
        let removed = self
            .objects
            .get_mut(resource.plural)
            .and_then(|m| m.remove(key))
            .ok_or_else(|| ApiError::not_found(resource, &key.1))?;
        self.rv += 1;
        let mut last = removed.clone();
        metadata(&mut last).insert("resourceVersion".into(), json!(self.rv.to_string()));
        let change = Arc::new(Change {
            rv: self.rv,
            resource,
            change: ChangeType::Deleted,
            old: Some(removed),
            new: last.clone(),
        });
        self.record(change.clone());
        Ok((last, change))
    }

    /// Stores `object` under a new resourceVersion, unless it equals `old` (then nothing
    /// happens and no event is produced, as in the API server).
    fn commit(
        &mut self,
        resource: &'static ResourceType,
        key: Key,
        old: Option<Value>,
        mut object: Value,
    ) -> (Value, Option<Arc<Change>>) {
        if let Some(old) = &old {
            let mut same = object.clone();
            if let Some(rv) = old.pointer("/metadata/resourceVersion") {
                metadata(&mut same).insert("resourceVersion".into(), rv.clone());
            }
            if same == *old {
                return (old.clone(), None);
            }
        }
        self.rv += 1;
        metadata(&mut object).insert("resourceVersion".into(), json!(self.rv.to_string()));
        let change = Arc::new(Change {
            rv: self.rv,
            resource,
            change: if old.is_some() {
                ChangeType::Modified
            } else {
                ChangeType::Added
            },
            old,
            new: object.clone(),
        });
        self.objects
            .entry(resource.plural)
            .or_default()
            .insert(key, object.clone());
        self.record(change.clone());
        (object, Some(change))
    }

    fn record(&mut self, change: Arc<Change>) {
        self.history.push_back(change);
        while self.history.len() > self.history_limit {
            if let Some(dropped) = self.history.pop_front() {
                self.compacted = dropped.rv;
            }
        }
    }

    /// Forgets all history (as etcd compaction): watches from any older resourceVersion get
    /// `410 Gone`, and list continue tokens expire.
    pub fn compact(&mut self) {
        self.history.clear();
        self.compacted = self.rv;
        self.continues.clear();
    }
}

/// The `metadata` map of an object, created when missing.
pub fn metadata(object: &mut Value) -> &mut Map<String, Value> {
    if !object.is_object() {
        *object = json!({});
    }
    let Value::Object(map) = object else {
        unreachable!("made an object above")
    };
    let meta = map.entry("metadata").or_insert_with(|| json!({}));
    if !meta.is_object() {
        *meta = json!({});
    }
    match meta {
        Value::Object(m) => m,
        _ => unreachable!("made an object above"),
    }
}
