//! Watching: a `notify` watcher on the roots, a std thread that batches its events briefly and
//! re-reads what changed, and a [`WatchHandle`] whose drop stops both.
//!
//! What is watched: a directory root itself, and the parent directory of a file root (so a
//! rename over the file, or a swap of a symlink such as kubelet's `..data`, is seen). Both are
//! watched non-recursively. Each batch of events leads to [`FileSource`]'s metadata scan, which
//! re-reads files named by an event and files whose size, time, inode or device changed (a
//! symlink swap changes the inode behind an unchanged name).
//!
//! Batching: after the first event the thread waits until no event came for [`QUIET`], and while
//! a file written to has not been closed, up to [`MAX_DELAY`] after the first event; so a burst
//! (truncate then write, temp file then rename) is read once. When the last event completed a
//! change (a file written to was closed, a file was renamed into place, or one was removed) and no
//! file is open for writing, [`SETTLED_QUIET`] is enough: the events of one write arrive together, and events
//! that come while a batch is read form the next batch. So a finished write is read within about
//! a quarter of a millisecond, anything else within about 2–80 ms. Events of reading (open,
//! close without write) are ignored, which keeps the source's own reads from waking it.
//!
//! Limitation: a root directory that is deleted and created again is watched again only if a
//! later event in a watched directory leads to a scan.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use notify::event::{AccessKind, AccessMode, ModifyKind, RenameMode};
use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};

use crate::decode;
use crate::error::Error;
use crate::source::{FileSource, Force, Loaded, lexical_absolute};

/// How long the event stream must be quiet before a batch is read.
pub const QUIET: Duration = Duration::from_millis(2);

/// How long the event stream must be quiet before a batch whose last event completed a change
/// (closed after writing, renamed into place, or removed) is read, when no file is open for
/// writing.
pub const SETTLED_QUIET: Duration = Duration::from_micros(250);

/// The longest a batch waits after its first event.
pub const MAX_DELAY: Duration = Duration::from_millis(80);

/// Stops watching when dropped: the watcher is closed and the thread joined (unless dropped on
/// the watch thread itself, from the callback), so no callback runs after the drop returns.
#[derive(Debug)]
pub struct WatchHandle {
    sender: Sender<Message>,
    thread: Option<JoinHandle<()>>,
}

/// What the watch thread receives.
enum Message {
    /// A file event (or watcher error) from notify.
    Event(notify::Result<notify::Event>),
    /// The handle was dropped.
    Stop,
}

/// The events of one batch.
#[derive(Default)]
struct Batch {
    /// Paths named by relevant events.
    paths: HashSet<PathBuf>,
    /// Files written to and not yet closed.
    open_writes: HashSet<PathBuf>,
    /// Whether any event may mean a change.
    relevant: bool,
    /// Whether the last relevant event completed a write: closed after writing, or renamed
    /// into place.
    settled: bool,
    /// Whether the watcher lost events or failed: re-read everything.
    rescan: bool,
}

impl FileSource {
    /// Watches the files and directories and calls `on_change` with the new snapshot and the
    /// current diagnostics whenever what they hold changes, on a thread of its own.
    ///
    /// The first call delivers the current state, unless [`FileSource::load`] was called before
    /// and nothing changed since. Returns an error when the watcher cannot be set up (e.g. a
    /// root's directory does not exist).
    pub fn watch(
        self,
        on_change: impl FnMut(Loaded) + Send + 'static,
    ) -> Result<WatchHandle, Error> {
        let cwd = std::env::current_dir().map_err(|e| Error::from(&e))?;
        let (sender, receiver) = mpsc::channel();
        let events = sender.clone();
        let mut watcher = notify::recommended_watcher(move |event| {
            // The receiver is gone only when the thread has stopped.
            let _ = events.send(Message::Event(event));
        })?;
        let mut watched = HashSet::new();
        for target in targets(self.paths()) {
            watcher.watch(&target, RecursiveMode::NonRecursive)?;
            watched.insert(target);
        }
        // Started with a parser's stack, so each batch's files are parsed right here.
        let thread = decode::parser_thread("sluice-file-source")
            .spawn(move || {
                decode::mark_parser_stack();
                run(self, watcher, watched, receiver, cwd, on_change)
            })
            .map_err(|e| Error::Watch(e.to_string()))?;
        Ok(WatchHandle {
            sender,
            thread: Some(thread),
        })
    }
}

impl Drop for WatchHandle {
    fn drop(&mut self) {
        let _ = self.sender.send(Message::Stop);
        if let Some(thread) = self.thread.take()
            && thread.thread().id() != std::thread::current().id()
        {
            // A panic in the user's callback ended the thread already; nothing to report here.
            let _ = thread.join();
        }
    }
}

impl Batch {
    /// Adds one notify result.
    fn add(&mut self, event: notify::Result<notify::Event>, cwd: &Path) {
        let event = match event {
            Ok(event) => event,
            Err(_) => {
                self.rescan = true;
                self.relevant = true;
                self.settled = false;
                return;
            }
        };
        if event.need_rescan() {
            self.rescan = true;
        }
        self.settled = matches!(
            event.kind,
            EventKind::Access(AccessKind::Close(AccessMode::Write))
                | EventKind::Modify(ModifyKind::Name(RenameMode::To | RenameMode::Both))
                | EventKind::Remove(_)
        ) || (self.settled && matches!(event.kind, EventKind::Access(_)));
        let paths = event.paths.iter().map(|p| lexical_absolute(p, cwd));
        match event.kind {
            EventKind::Access(AccessKind::Close(AccessMode::Write)) => {
                for path in paths {
                    self.open_writes.remove(&path);
                    self.paths.insert(path);
                }
            }
            EventKind::Access(_) => return,
            EventKind::Modify(ModifyKind::Data(_) | ModifyKind::Any) => {
                for path in paths {
                    self.open_writes.insert(path.clone());
                    self.paths.insert(path);
                }
            }
            _ => {
                for path in paths {
                    self.open_writes.remove(&path);
                    self.paths.insert(path);
                }
            }
        }
        self.relevant = true;
    }
}

impl Batch {
    /// How long the event stream must be quiet before this batch is read.
    fn quiet(&self) -> Duration {
        match self.settled && self.open_writes.is_empty() {
            true => SETTLED_QUIET,
            false => QUIET,
        }
    }
}

/// What to watch for the roots: directories themselves, the parent directory of anything else.
fn targets(roots: &[PathBuf]) -> Vec<PathBuf> {
    let mut targets: Vec<PathBuf> = Vec::new();
    for root in roots {
        let target = if root.is_dir() {
            root.clone()
        } else {
            match root.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
                _ => PathBuf::from("."),
            }
        };
        if !targets.contains(&target) {
            targets.push(target);
        }
    }
    targets
}

/// The watch thread: deliver the initial state, then one refresh per batch of events.
fn run(
    mut source: FileSource,
    mut watcher: RecommendedWatcher,
    mut watched: HashSet<PathBuf>,
    receiver: Receiver<Message>,
    cwd: PathBuf,
    mut on_change: impl FnMut(Loaded),
) {
    let initial = match source.last() {
        Some(_) => source.refresh_if_changed(&Force::Paths(HashSet::new(), PathBuf::new())),
        None => Some(source.load()),
    };
    if let Some(initial) = initial {
        on_change(initial);
    }
    while let Some(batch) = next_batch(&receiver, &cwd) {
        if !batch.relevant {
            continue;
        }
        let force = if batch.rescan {
            Force::All
        } else {
            Force::Paths(batch.paths, cwd.clone())
        };
        let loaded = source.refresh_if_changed(&force);
        // Roots that appeared since (a directory created, a parent made) get their watch now.
        for target in targets(source.paths()) {
            if !watched.contains(&target)
                && watcher.watch(&target, RecursiveMode::NonRecursive).is_ok()
            {
                watched.insert(target);
            }
        }
        if let Some(loaded) = loaded {
            on_change(loaded);
        }
    }
}

/// Waits for the next batch of events; `None` when the handle was dropped.
fn next_batch(receiver: &Receiver<Message>, cwd: &Path) -> Option<Batch> {
    let mut batch = Batch::default();
    match receiver.recv() {
        Ok(Message::Event(event)) => batch.add(event, cwd),
        Ok(Message::Stop) | Err(_) => return None,
    }
    let started = Instant::now();
    loop {
        let left = MAX_DELAY.saturating_sub(started.elapsed());
        if left.is_zero() {
            return Some(batch);
        }
        match receiver.recv_timeout(batch.quiet().min(left)) {
            Ok(Message::Event(event)) => batch.add(event, cwd),
            Ok(Message::Stop) | Err(RecvTimeoutError::Disconnected) => return None,
            Err(RecvTimeoutError::Timeout) if batch.open_writes.is_empty() => return Some(batch),
            Err(RecvTimeoutError::Timeout) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use notify::event::{AccessKind, AccessMode, CreateKind, DataChange, ModifyKind, RenameMode};
    use notify::{Event, EventKind};

    use super::*;

    fn event(kind: EventKind, path: &str) -> notify::Result<Event> {
        Ok(Event::new(kind).add_path(PathBuf::from(path)))
    }

    fn batch(events: Vec<notify::Result<Event>>) -> Batch {
        let mut batch = Batch::default();
        for e in events {
            batch.add(e, Path::new("/"));
        }
        batch
    }

    const WRITE: EventKind = EventKind::Modify(ModifyKind::Data(DataChange::Any));
    const CLOSE_WRITE: EventKind = EventKind::Access(AccessKind::Close(AccessMode::Write));
    const OPEN: EventKind = EventKind::Access(AccessKind::Open(AccessMode::Any));

    #[test]
    fn a_completed_write_or_removal_is_read_after_the_short_quiet() {
        let written = batch(vec![
            event(WRITE, "/d/a.yaml"),
            event(CLOSE_WRITE, "/d/a.yaml"),
        ]);
        assert_eq!(written.quiet(), SETTLED_QUIET);
        let renamed = batch(vec![
            event(
                EventKind::Modify(ModifyKind::Name(RenameMode::From)),
                "/d/.a.tmp",
            ),
            event(
                EventKind::Modify(ModifyKind::Name(RenameMode::To)),
                "/d/a.yaml",
            ),
        ]);
        assert_eq!(renamed.quiet(), SETTLED_QUIET);
        // The source's own read of the file changes nothing.
        let read_after = batch(vec![
            event(CLOSE_WRITE, "/d/a.yaml"),
            event(OPEN, "/d/a.yaml"),
        ]);
        assert_eq!(read_after.quiet(), SETTLED_QUIET);
        // An unlink is complete at once.
        let removed = batch(vec![event(
            EventKind::Remove(notify::event::RemoveKind::File),
            "/d/a.yaml",
        )]);
        assert_eq!(removed.quiet(), SETTLED_QUIET);
        // Removed while another file is still open for writing.
        let other_open = batch(vec![
            event(WRITE, "/d/b.yaml"),
            event(
                EventKind::Remove(notify::event::RemoveKind::File),
                "/d/a.yaml",
            ),
        ]);
        assert_eq!(other_open.quiet(), QUIET);
    }

    #[test]
    fn anything_else_waits_the_full_quiet() {
        let created = batch(vec![event(
            EventKind::Create(CreateKind::File),
            "/d/a.yaml",
        )]);
        assert_eq!(created.quiet(), QUIET);
        let writing = batch(vec![event(WRITE, "/d/a.yaml")]);
        assert_eq!(writing.quiet(), QUIET);
        // One file closed while another is still open for writing.
        let other_open = batch(vec![
            event(WRITE, "/d/b.yaml"),
            event(WRITE, "/d/a.yaml"),
            event(CLOSE_WRITE, "/d/a.yaml"),
        ]);
        assert_eq!(other_open.quiet(), QUIET);
        let then_created = batch(vec![
            event(CLOSE_WRITE, "/d/a.yaml"),
            event(EventKind::Create(CreateKind::File), "/d/b.yaml"),
        ]);
        assert_eq!(then_created.quiet(), QUIET);
        let failed = batch(vec![
            event(CLOSE_WRITE, "/d/a.yaml"),
            Err(notify::Error::generic("lost events")),
        ]);
        assert_eq!(failed.quiet(), QUIET);
    }
}
