//! [`KubeSource`]: the watchers, the fold, and the loop a consumer drives to get snapshots.
//!
//! Watcher tasks send converted events over one channel. [`KubeSource::next_blocking`] (for a
//! dedicated config thread) or [`KubeSource::next`] waits for one event, then folds everything
//! already queued before returning: a single change is published as soon as it is folded (no
//! timer), and a burst that arrives while the consumer is still building the previous table
//! is folded into one snapshot. The snapshot is lent, not cloned: the consumer builds from it
//! in place.
//!
//! Admission reviews go through the same channel, so the webhook judges a candidate against
//! exactly the snapshot being served without copying it.

use std::collections::{BTreeMap, BTreeSet};

use kube::Client;
use kube::runtime::watcher::Event;
use sluice_ingress_model::{Diagnostic, ObjectKey, Snapshot};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::config::SourceConfig;
use crate::error::Error;
use crate::fold::{Folder, IngressMeta, Object, StreamId};
use crate::{refs, watch, webhook};

/// Messages to the source loop.
#[derive(Debug)]
pub(crate) enum Input {
    /// A converted watcher event.
    Event(StreamId, Event<Object>),
    /// A watcher reported an error (it retries by itself).
    Failed(StreamId),
    /// An admission review to answer against the current snapshot.
    Review(Review),
    /// Stop the loop.
    Stop,
}

/// An AdmissionReview request body and where to send the response body.
#[derive(Debug)]
pub(crate) struct Review {
    pub body: bytes::Bytes,
    pub now: i64,
    pub reply: oneshot::Sender<Vec<u8>>,
}

/// The Kubernetes source: watches the API and folds what it sees. See the module doc.
pub struct KubeSource {
    client: Client,
    config: SourceConfig,
    folder: Folder,
    tx: mpsc::UnboundedSender<Input>,
    rx: mpsc::UnboundedReceiver<Input>,
    tasks: BTreeMap<StreamId, JoinHandle<()>>,
    runtime: tokio::runtime::Handle,
    published: bool,
    changed: bool,
}

/// A cheap, cloneable handle to a running source: answers admission reviews, stops it.
#[derive(Clone, Debug)]
pub struct SourceHandle {
    tx: mpsc::UnboundedSender<Input>,
}

/// What [`KubeSource::next`] hands out: the synced snapshot and what the status and Event
/// writers need.
#[derive(Debug)]
pub struct Published<'a> {
    /// Every object seen, complete for every kind.
    pub snapshot: &'a Snapshot,
    /// Whether the snapshot differs from the last one handed out (always true the first
    /// time). When false only Ingress metadata changed, and the table need not be rebuilt.
    pub changed: bool,
    /// Uid and current status addresses of every Ingress.
    pub ingresses: &'a BTreeMap<ObjectKey, IngressMeta>,
    /// Objects that could not be converted (they are not served), as diagnostics.
    pub invalid: Vec<Diagnostic>,
}

impl KubeSource {
    /// Starts the watchers on the current tokio runtime. Nothing is published until every
    /// kind (and every referenced object) has been listed.
    ///
    /// Must be called from inside a tokio runtime.
    pub fn start(client: Client, config: SourceConfig) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut streams = vec![
            StreamId::Ingresses,
            StreamId::IngressClasses,
            StreamId::Services,
            StreamId::EndpointSlices,
            StreamId::TlsSecrets,
        ];
        if config.options.controller_config.is_some() {
            streams.push(StreamId::ControllerConfig);
        }
        let mut source = Self {
            client,
            folder: Folder::new(streams.iter().cloned()),
            config,
            tx,
            rx,
            tasks: BTreeMap::new(),
            runtime: tokio::runtime::Handle::current(),
            published: false,
            changed: false,
        };
        for stream in streams {
            source.spawn(stream);
        }
        source
    }

    /// A handle for the webhook and for stopping the source.
    pub fn handle(&self) -> SourceHandle {
        SourceHandle {
            tx: self.tx.clone(),
        }
    }

    /// Blocks until the next snapshot is ready (see the module doc); `None` once stopped.
    /// For a dedicated thread, outside the runtime.
    pub fn next_blocking(&mut self) -> Option<Published<'_>> {
        loop {
            let input = self.rx.blocking_recv()?;
            if self.drain(input) {
                return None;
            }
            if self.ready() {
                return Some(self.published());
            }
        }
    }

    /// Waits for the next snapshot (see the module doc); `None` once stopped.
    pub async fn next(&mut self) -> Option<Published<'_>> {
        loop {
            let input = self.rx.recv().await?;
            if self.drain(input) {
                return None;
            }
            if self.ready() {
                return Some(self.published());
            }
        }
    }

    /// Folds `first` and everything queued behind it; true when asked to stop.
    fn drain(&mut self, first: Input) -> bool {
        let mut next = Some(first);
        while let Some(input) = next {
            match input {
                Input::Event(stream, event) => self.folder.apply(&stream, event),
                Input::Failed(stream) => self.folder.stream_failed(&stream),
                Input::Review(review) => {
                    let opts = &self.config.options;
                    let answer =
                        webhook::review(self.folder.snapshot_mut(), opts, &review.body, review.now);
                    let _ = review.reply.send(answer);
                }
                Input::Stop => return true,
            }
            next = self.rx.try_recv().ok();
        }
        if self.folder.is_changed() {
            self.sync_references();
        }
        false
    }

    /// Whether to hand out a snapshot now: synced, and new or changed.
    fn ready(&mut self) -> bool {
        if !self.folder.is_synced() {
            return false;
        }
        let changed = self.folder.take_changed();
        let meta = self.folder.take_meta_changed();
        if !self.published || changed {
            self.published = true;
            self.changed = true;
            return true;
        }
        if meta {
            self.changed = false;
            return true;
        }
        false
    }

    fn published(&self) -> Published<'_> {
        Published {
            snapshot: self.folder.snapshot(),
            changed: self.changed,
            ingresses: self.folder.ingress_meta(),
            invalid: self.folder.invalid().cloned().collect(),
        }
    }

    /// Starts watches for newly referenced objects and stops those no longer referenced.
    fn sync_references(&mut self) {
        let snapshot = self.folder.snapshot();
        let mut wanted = refs::references(snapshot, &self.config);
        if self.folder.is_stream_synced(&StreamId::TlsSecrets) {
            wanted.extend(refs::tls_references(snapshot, &self.config));
        }
        let wanted: BTreeSet<StreamId> = wanted.into_iter().map(StreamId::Reference).collect();
        let current: Vec<StreamId> = self
            .folder
            .streams()
            .filter(|s| matches!(s, StreamId::Reference(_)))
            .cloned()
            .collect();
        for stream in current {
            if !wanted.contains(&stream) {
                self.folder.remove_stream(&stream);
                if let Some(task) = self.tasks.remove(&stream) {
                    task.abort();
                }
            }
        }
        for stream in wanted {
            if !self.tasks.contains_key(&stream) {
                self.folder.add_stream(stream.clone());
                self.spawn(stream);
            }
        }
    }

    fn spawn(&mut self, stream: StreamId) {
        let _guard = self.runtime.enter();
        let task = watch::spawn(&self.client, &self.config, stream.clone(), self.tx.clone());
        self.tasks.insert(stream, task);
    }
}

impl Drop for KubeSource {
    fn drop(&mut self) {
        for task in self.tasks.values() {
            task.abort();
        }
    }
}

impl SourceHandle {
    /// Answers an AdmissionReview request body against the served snapshot (see
    /// [`webhook::review`]). `now` is Unix seconds, given to a candidate that has no
    /// `creationTimestamp` yet so that it is the newest Ingress.
    pub async fn review(&self, body: bytes::Bytes, now: i64) -> Result<Vec<u8>, Error> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Input::Review(Review { body, now, reply }))
            .map_err(|_| Error::Stopped)?;
        answer.await.map_err(|_| Error::Stopped)
    }

    /// Makes the source's `next` return `None`.
    pub fn stop(&self) {
        let _ = self.tx.send(Input::Stop);
    }
}
