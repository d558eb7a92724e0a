//! The HTTP side: routes requests by path and verb to the store, answers lists and streams
//! watches in the API server's wire format.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited, StreamBody};
use hyper::body::{Frame, Incoming};
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc, watch};

use crate::patch;
use crate::resources::{ResourceType, Target, parse_path};
use crate::select::Selector;
use crate::status::ApiError;
use crate::store::{Change, ChangeType, Key, Store, metadata};

/// Response body type.
pub type Body = BoxBody<Bytes, Infallible>;

/// One request as the server classified it (RBAC-style verb, resource, subresource).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recorded {
    /// HTTP method.
    pub method: String,
    /// `get`, `list`, `watch`, `create`, `update`, `patch` or `delete`.
    pub verb: &'static str,
    /// API group (empty for core).
    pub group: &'static str,
    /// Plural resource name.
    pub resource: &'static str,
    /// Subresource, e.g. `status`.
    pub subresource: Option<String>,
    /// Namespace in the path.
    pub namespace: Option<String>,
    /// Object name in the path.
    pub name: Option<String>,
    /// Query parameters.
    pub query: BTreeMap<String, String>,
}

/// State shared by the server tasks and the test hooks.
#[derive(Debug)]
pub struct Shared {
    /// The objects.
    pub store: Mutex<Store>,
    /// Every change, for live watches.
    pub changes: broadcast::Sender<Arc<Change>>,
    /// Bumped to end every open watch.
    pub drop_watches: watch::Sender<u64>,
    /// Bumped to close every connection (going down).
    pub kill: watch::Sender<u64>,
    /// Bumped to end every open watch with a `410 Expired` ERROR event.
    pub expire_watches: watch::Sender<u64>,
    /// Bumped to make every open watch write half an event and stop, before its connection is
    /// dropped.
    pub cut_watches: watch::Sender<u64>,
    /// How long every request waits before it is answered, in milliseconds.
    pub delay_ms: std::sync::atomic::AtomicU64,
    /// Requests received.
    pub requests: Mutex<Vec<Recorded>>,
    /// Time between BOOKMARK events on watches that allow them.
    pub bookmark_interval: Duration,
    /// Open watches.
    pub watches: AtomicUsize,
}

impl Shared {
    /// The store, even if a holder panicked.
    pub fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Publishes a change to live watches (call with the store locked, to keep order).
    pub fn publish(&self, change: Option<Arc<Change>>) {
        if let Some(change) = change {
            let _ = self.changes.send(change);
        }
    }
}

/// Answers one request (after the configured delay, if any).
pub async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Response<Body> {
    let delay = shared.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let query = parse_query(req.uri().query().unwrap_or_default());
    let content_type = req
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let Some(target) = parse_path(&path) else {
        return error(&ApiError::no_route(&path));
    };
    let watching = matches!(query.get("watch").map(String::as_str), Some("true" | "1"));
    let verb = match (&method, &target.name) {
        (&Method::GET, None) if watching => "watch",
        (&Method::GET, None) => "list",
        (&Method::GET, Some(_)) => "get",
        (&Method::POST, None) => "create",
        (&Method::PUT, Some(_)) => "update",
        (&Method::PATCH, Some(_)) => "patch",
        (&Method::DELETE, Some(_)) => "delete",
        _ => return error(&ApiError::method_not_allowed(method.as_str())),
    };
    shared
        .requests
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(Recorded {
            method: method.to_string(),
            verb,
            group: target.resource.group,
            resource: target.resource.plural,
            subresource: target.subresource.clone(),
            namespace: target.namespace.clone(),
            name: target.name.clone(),
            query: query.clone(),
        });
    let body = match Limited::new(req.into_body(), 8 * 1024 * 1024)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(_) => return error(&ApiError::bad_request("request body too large")),
    };
    let result = match verb {
        "watch" => return watch_response(&shared, &target, &query),
        "list" => list(&shared, &target, &query),
        "get" => get(&shared, &target),
        "create" => create(&shared, &target, &body),
        "update" => replace(&shared, &target, &body),
        "patch" => patch_object(&shared, &target, &content_type, &body),
        _ => delete(&shared, &target),
    };
    match result {
        Ok((status, value)) => json_response(status, &value),
        Err(e) => error(&e),
    }
}

type Answer = Result<(StatusCode, Value), ApiError>;

fn key_of(target: &Target) -> Key {
    (
        target.namespace.clone().unwrap_or_default(),
        target.name.clone().unwrap_or_default(),
    )
}

fn get(shared: &Shared, target: &Target) -> Answer {
    let store = shared.store();
    let key = key_of(target);
    let object = store
        .get(target.resource, &key)
        .cloned()
        .ok_or_else(|| ApiError::not_found(target.resource, &key.1))?;
    Ok((StatusCode::OK, subresource_view(target, object)))
}

fn subresource_view(_target: &Target, object: Value) -> Value {
    // The status subresource returns the whole object, as the API server does.
    object
}

fn list(shared: &Shared, target: &Target, query: &BTreeMap<String, String>) -> Answer {
    let resource = target.resource;
    let selector = Selector::parse(
        resource,
        query.get("labelSelector").map(String::as_str),
        query.get("fieldSelector").map(String::as_str),
    )
    .map_err(ApiError::bad_request)?;
    let limit = query
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|l| *l > 0);
    let mut store = shared.store();
    let (rv, items) = if let Some(token) = query.get("continue").filter(|t| !t.is_empty()) {
        store.continues.remove(token).ok_or_else(|| {
            ApiError::expired(
                "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
            )
        })?
    } else {
        check_list_version(&store, query)?;
        let items: Vec<Value> = store
            .objects(resource, target.namespace.as_deref())
            .into_iter()
            .filter(|o| selector.matches(o))
            .collect();
        (store.rv, items)
    };
    let mut items = items;
    let mut meta = json!({ "resourceVersion": rv.to_string() });
    if let Some(limit) = limit
        && items.len() > limit
    {
        let rest = items.split_off(limit);
        meta["remainingItemCount"] = json!(rest.len());
        meta["continue"] = json!(store.save_continue(rv, rest));
    }
    for item in &mut items {
        if let Value::Object(map) = item {
            map.remove("kind");
            map.remove("apiVersion");
        }
    }
    Ok((
        StatusCode::OK,
        json!({
            "kind": format!("{}List", resource.kind),
            "apiVersion": resource.api_version(),
            "metadata": meta,
            "items": items,
        }),
    ))
}

fn check_list_version(store: &Store, query: &BTreeMap<String, String>) -> Result<(), ApiError> {
    let Some(rv) = query
        .get("resourceVersion")
        .filter(|r| !r.is_empty() && *r != "0")
    else {
        return Ok(());
    };
    let wanted: u64 = rv
        .parse()
        .map_err(|_| ApiError::bad_request(format!("invalid resource version: {rv}")))?;
    match query.get("resourceVersionMatch").map(String::as_str) {
        Some("Exact") if wanted != store.rv => Err(ApiError::expired(format!(
            "too old resource version: {wanted} ({})",
            store.rv
        ))),
        _ if wanted > store.rv => Err(ApiError {
            code: 504,
            reason: "Timeout",
            message: format!(
                "Timeout: Too large resource version: {wanted}, current: {}",
                store.rv
            ),
            details: None,
        }),
        _ => Ok(()),
    }
}

fn parse_body(body: &Bytes) -> Result<Value, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("unable to decode the request body: {e}")))
}

fn create(shared: &Shared, target: &Target, body: &Bytes) -> Answer {
    let resource = target.resource;
    if resource.namespaced && target.namespace.is_none() {
        return Err(ApiError::method_not_allowed("POST"));
    }
    let mut object = parse_body(body)?;
    check_type(resource, &object)?;
    let namespace = target.namespace.clone().unwrap_or_default();
    let meta = metadata(&mut object);
    if let Some(ns) = meta.get("namespace").and_then(Value::as_str)
        && !ns.is_empty()
        && ns != namespace
    {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    if resource.namespaced {
        meta.insert("namespace".into(), json!(namespace));
    }
    let mut store = shared.store();
    let name = match meta.get("name").and_then(Value::as_str) {
        Some(name) if !name.is_empty() => name.to_owned(),
        _ => match meta.get("generateName").and_then(Value::as_str) {
            Some(prefix) => format!("{prefix}{}", suffix(store.rv)),
            None => {
                return Err(ApiError {
                    code: 422,
                    reason: "Invalid",
                    message: format!(
                        "{} \"\" is invalid: metadata.name: Required value: name or generateName is required",
                        resource.kind
                    ),
                    details: None,
                });
            }
        },
    };
    meta.insert("name".into(), json!(name));
    if resource.status
        && let Value::Object(map) = &mut object
    {
        // Status is not settable on create.
        map.remove("status");
    }
    set_type(resource, &mut object);
    let (stored, change) = store.create(resource, (namespace, name), object)?;
    shared.publish(change);
    Ok((StatusCode::CREATED, stored))
}

fn suffix(seed: u64) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut n = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (0..5)
        .map(|_| {
            let i = usize::try_from(n % 27).unwrap_or(0);
            n /= 27;
            char::from(ALPHABET.get(i).copied().unwrap_or(b'x'))
        })
        .collect()
}

fn replace(shared: &Shared, target: &Target, body: &Bytes) -> Answer {
    let object = parse_body(body)?;
    check_type(target.resource, &object)?;
    write(shared, target, |_| Ok(object))
}

fn patch_object(shared: &Shared, target: &Target, content_type: &str, body: &Bytes) -> Answer {
    let media = content_type.split(';').next().unwrap_or_default().trim();
    if !matches!(
        media,
        "application/merge-patch+json" | "application/strategic-merge-patch+json"
    ) {
        return Err(ApiError::unsupported_media(media));
    }
    let patch_body = parse_body(body)?;
    write(shared, target, |old| {
        let mut patched = old.clone();
        patch::merge(&mut patched, &patch_body);
        if patch_body.pointer("/metadata/resourceVersion").is_none()
            && let Some(rv) = old.pointer("/metadata/resourceVersion")
        {
            // Without a precondition a patch applies to whatever is current.
            metadata(&mut patched).insert("resourceVersion".into(), rv.clone());
        }
        Ok(patched)
    })
}

/// Replaces an object (or its status) with what `update` makes of the stored version, with the
/// status subresource rules.
fn write(
    shared: &Shared,
    target: &Target,
    update: impl FnOnce(&Value) -> Result<Value, ApiError>,
) -> Answer {
    let resource = target.resource;
    let key = key_of(target);
    let mut store = shared.store();
    let old = store
        .get(resource, &key)
        .cloned()
        .ok_or_else(|| ApiError::not_found(resource, &key.1))?;
    let mut new = update(&old)?;
    match target.subresource.as_deref() {
        Some("status") if resource.status => {
            // Only the status changes; everything else is the stored object's.
            let status = new.get("status").cloned();
            let rv = new.pointer("/metadata/resourceVersion").cloned();
            new = old.clone();
            if let Value::Object(map) = &mut new {
                match status {
                    Some(s) => map.insert("status".into(), s),
                    None => map.remove("status"),
                };
            }
            match rv {
                Some(rv) => metadata(&mut new).insert("resourceVersion".into(), rv),
                None => metadata(&mut new).remove("resourceVersion"),
            };
        }
        Some(other) => return Err(ApiError::no_route(other)),
        None if resource.status => {
            // The main resource keeps the stored status.
            if let Value::Object(map) = &mut new {
                match old.get("status") {
                    Some(s) => map.insert("status".into(), s.clone()),
                    None => map.remove("status"),
                };
            }
        }
        None => {}
    }
    let meta = metadata(&mut new);
    meta.insert("name".into(), json!(key.1));
    if resource.namespaced {
        meta.insert("namespace".into(), json!(key.0));
    }
    set_type(resource, &mut new);
    let (stored, change) = store.replace(resource, key, new)?;
    shared.publish(change);
    Ok((StatusCode::OK, stored))
}

fn delete(shared: &Shared, target: &Target) -> Answer {
    let mut store = shared.store();
    let (last, change) = store.delete(target.resource, &key_of(target))?;
    shared.publish(Some(change));
    Ok((StatusCode::OK, last))
}

fn check_type(resource: &ResourceType, object: &Value) -> Result<(), ApiError> {
    let kind = object.get("kind").and_then(Value::as_str);
    let api_version = object.get("apiVersion").and_then(Value::as_str);
    if kind.is_some_and(|k| k != resource.kind)
        || api_version.is_some_and(|v| v != resource.api_version())
    {
        return Err(ApiError::bad_request(format!(
            "the object provided is unrecognized (must be of type {})",
            resource.kind
        )));
    }
    Ok(())
}

/// Sets `kind` and `apiVersion` (stored objects and watch events carry them).
pub fn set_type(resource: &ResourceType, object: &mut Value) {
    if let Value::Object(map) = object {
        map.insert("kind".into(), json!(resource.kind));
        map.insert("apiVersion".into(), json!(resource.api_version()));
    }
}

fn watch_response(
    shared: &Arc<Shared>,
    target: &Target,
    query: &BTreeMap<String, String>,
) -> Response<Body> {
    match crate::watch::start(shared, target, query) {
        Ok(rx) => {
            let stream = futures::stream::unfold(rx, |mut rx: mpsc::Receiver<Bytes>| async move {
                rx.recv()
                    .await
                    .map(|bytes| (Ok::<_, Infallible>(Frame::data(bytes)), rx))
            });
            Response::builder()
                .status(StatusCode::OK)
                .header(http::header::CONTENT_TYPE, "application/json")
                .body(BodyExt::boxed(StreamBody::new(stream)))
                .unwrap_or_else(|_| plain_error())
        }
        Err(e) => error(&e),
    }
}

fn json_response(status: StatusCode, value: &Value) -> Response<Body> {
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(bytes)).boxed())
        .unwrap_or_else(|_| plain_error())
}

/// A Status failure response.
pub fn error(e: &ApiError) -> Response<Body> {
    let status = StatusCode::from_u16(e.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json_response(status, &e.to_status())
}

fn plain_error() -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::new()).boxed());
    *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    r
}

fn parse_query(query: &str) -> BTreeMap<String, String> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes.get(i) {
            Some(b'+') => out.push(b' '),
            Some(b'%') => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            Some(b) => out.push(*b),
            None => {}
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Counts open watches while alive.
pub struct WatchGuard(pub Arc<Shared>);

impl WatchGuard {
    /// Counts one more watch.
    pub fn new(shared: Arc<Shared>) -> Self {
        shared.watches.fetch_add(1, Ordering::SeqCst);
        Self(shared)
    }
}

impl Drop for WatchGuard {
    fn drop(&mut self) {
        self.0.watches.fetch_sub(1, Ordering::SeqCst);
    }
}

/// How an object's change looks through a watch's filter.
pub fn event_for(
    change: &Change,
    namespace: Option<&str>,
    selector: &Selector,
) -> Option<(&'static str, Value)> {
    let visible = |o: &Value| {
        namespace
            .is_none_or(|ns| o.pointer("/metadata/namespace").and_then(Value::as_str) == Some(ns))
            && selector.matches(o)
    };
    let was = change.old.as_ref().is_some_and(visible);
    let is = visible(&change.new);
    let kind = match (change.change, was, is) {
        (ChangeType::Added, _, true) => "ADDED",
        (ChangeType::Modified, true, true) => "MODIFIED",
        (ChangeType::Modified, false, true) => "ADDED",
        (ChangeType::Modified, true, false) => "DELETED",
        (ChangeType::Deleted, true, _) => "DELETED",
        _ => return None,
    };
    Some((kind, change.new.clone()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn query_decoding() {
        let q = super::parse_query("fieldSelector=metadata.name%3Dweb&watch=true&x=a+b");
        assert_eq!(q["fieldSelector"], "metadata.name=web");
        assert_eq!(q["watch"], "true");
        assert_eq!(q["x"], "a b");
    }
}
