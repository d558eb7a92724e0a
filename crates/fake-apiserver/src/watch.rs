//! Watches: `{"type":"ADDED","object":{...}}` lines over a chunked 200 response.
//!
//! - `resourceVersion` unset or `"0"`: synthetic `ADDED` for every current object, then changes.
//! - `resourceVersion=N`: every change after N from the history, then live changes; when N is
//!   older than the history (compacted), a single `ERROR` event carrying a `410 Expired`
//!   Status ("too old resource version"), then the stream ends, as the API server does.
//! - `sendInitialEvents=true`: the current objects, then a `BOOKMARK` annotated
//!   `k8s.io/initial-events-end: "true"` (streaming lists).
//! - `allowWatchBookmarks=true`: a `BOOKMARK` with the current resourceVersion every bookmark
//!   interval and when the watch times out.
//! - `timeoutSeconds`: the stream ends cleanly after it.
//! - An object that starts or stops matching the selectors is `ADDED` or `DELETED`.
//! - Test faults: an `ERROR` event with `410 Expired` on every open watch, or half an event
//!   and then a dropped connection.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;

use crate::resources::{ResourceType, Target};
use crate::select::Selector;
use crate::server::{Shared, WatchGuard, event_for};
use crate::status::ApiError;

/// Starts a watch; the receiver yields the response body's chunks.
pub fn start(
    shared: &Arc<Shared>,
    target: &Target,
    query: &BTreeMap<String, String>,
) -> Result<mpsc::Receiver<Bytes>, ApiError> {
    let resource = target.resource;
    let selector = Selector::parse(
        resource,
        query.get("labelSelector").map(String::as_str),
        query.get("fieldSelector").map(String::as_str),
    )
    .map_err(ApiError::bad_request)?;
    let namespace = target.namespace.clone();
    let bookmarks = query
        .get("allowWatchBookmarks")
        .is_some_and(|v| v == "true");
    let initial_events = query.get("sendInitialEvents").is_some_and(|v| v == "true");
    let timeout = query
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .filter(|t| *t > 0)
        .map_or(Duration::from_secs(1800), Duration::from_secs);
    let rv = query.get("resourceVersion").cloned().unwrap_or_default();

    let (tx, rx) = mpsc::channel::<Bytes>(1024);
    let mut frames = Vec::new();
    let mut live;
    let mut last_rv;
    {
        let store = shared.store();
        live = shared.changes.subscribe();
        last_rv = store.rv;
        if initial_events || rv.is_empty() || rv == "0" {
            for object in store.objects(resource, namespace.as_deref()) {
                if selector.matches(&object) {
                    frames.push(line("ADDED", &object));
                }
            }
            if initial_events && bookmarks {
                frames.push(line("BOOKMARK", &bookmark(resource, store.rv, true)));
            }
        } else {
            let from: u64 = rv
                .parse()
                .map_err(|_| ApiError::bad_request(format!("invalid resource version: {rv}")))?;
            if from < store.compacted {
                let gone = ApiError::expired(format!(
                    "too old resource version: {from} ({})",
                    store.compacted + 1
                ));
                frames.push(line("ERROR", &gone.to_status()));
                let _ = tx.try_send(Bytes::from(frames.concat()));
                return Ok(rx);
            }
            for change in store.history.iter().filter(|c| c.rv > from) {
                if std::ptr::eq(change.resource, resource)
                    && let Some((kind, object)) = event_for(change, namespace.as_deref(), &selector)
                {
                    frames.push(line(kind, &object));
                }
            }
            last_rv = store.rv.max(from);
        }
    }
    let shared = shared.clone();
    let mut dropped = shared.drop_watches.subscribe();
    let mut expired = shared.expire_watches.subscribe();
    let mut cut = shared.cut_watches.subscribe();
    tokio::spawn(async move {
        let _guard = WatchGuard::new(shared.clone());
        for frame in frames {
            if tx.send(Bytes::from(frame)).await.is_err() {
                return;
            }
        }
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut ticks = tokio::time::interval(shared.bookmark_interval);
        ticks.tick().await;
        loop {
            let frame = tokio::select! {
                change = live.recv() => match change {
                    Ok(change) => {
                        if change.rv <= last_rv || !std::ptr::eq(change.resource, resource) {
                            continue;
                        }
                        last_rv = change.rv;
                        match event_for(&change, namespace.as_deref(), &selector) {
                            Some((kind, object)) => line(kind, &object),
                            None => continue,
                        }
                    }
                    Err(RecvError::Lagged(_)) => {
                        // Too far behind: the client must relist, as after compaction.
                        let gone = ApiError::expired("too old resource version: watch fell behind");
                        let _ = tx.send(Bytes::from(line("ERROR", &gone.to_status()))).await;
                        return;
                    }
                    Err(RecvError::Closed) => return,
                },
                _ = ticks.tick(), if bookmarks => {
                    let rv = shared.store().rv;
                    line("BOOKMARK", &bookmark(resource, rv, false))
                }
                () = &mut deadline => {
                    if bookmarks {
                        let rv = shared.store().rv;
                        let _ = tx.send(Bytes::from(line("BOOKMARK", &bookmark(resource, rv, false)))).await;
                    }
                    return;
                }
                _ = dropped.changed() => return,
                _ = expired.changed() => {
                    let gone = ApiError::expired(format!(
                        "The resourceVersion for the provided watch is too old: {last_rv}"
                    ));
                    let _ = tx.send(Bytes::from(line("ERROR", &gone.to_status()))).await;
                    return;
                }
                _ = cut.changed() => {
                    // Half an event, then nothing until the connection is dropped: the
                    // response never ends properly.
                    let _ = tx.send(Bytes::from_static(b"{\"type\":\"MODIFIED\",\"object\":{\"kind\":")).await;
                    tx.closed().await;
                    return;
                }
                () = tx.closed() => return,
            };
            if tx.send(Bytes::from(frame)).await.is_err() {
                return;
            }
        }
    });
    Ok(rx)
}

fn bookmark(resource: &ResourceType, rv: u64, initial_end: bool) -> Value {
    let mut object = json!({
        "kind": resource.kind,
        "apiVersion": resource.api_version(),
        "metadata": { "resourceVersion": rv.to_string(), "creationTimestamp": null },
    });
    if initial_end {
        object["metadata"]["annotations"] = json!({ "k8s.io/initial-events-end": "true" });
    }
    object
}

fn line(kind: &str, object: &Value) -> String {
    let mut text = json!({ "type": kind, "object": object }).to_string();
    text.push('\n');
    text
}
