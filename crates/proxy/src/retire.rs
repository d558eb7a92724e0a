//! Dropping large values off the caller's path: a rebuild replaces a whole generation (router,
//! table, label index), and freeing the old one of a 10k-Ingress table takes tens of
//! milliseconds. [`retire`] hands such a value to one long-lived background thread instead.
//!
//! Once a batch of retired values is dropped, the hook set with [`on_retired`] runs on the same
//! thread: the binary uses it to hand the freed pages (the old table and the builder's
//! temporaries) back to the operating system at once, instead of on the allocator's own decay
//! schedule seconds later.

use std::sync::Mutex;
use std::sync::OnceLock;
use std::sync::mpsc::{Sender, channel};

type Retired = Box<dyn Send>;

static QUEUE: OnceLock<Option<Mutex<Sender<Retired>>>> = OnceLock::new();

static AFTER_DROP: OnceLock<fn()> = OnceLock::new();

/// Sets the function that runs on the retire thread after each batch of retired values
/// (old tables) is dropped; only the first call sets it. Meant for returning freed memory to
/// the operating system; it must not block for long.
pub fn on_retired(hook: fn()) {
    let _ = AFTER_DROP.set(hook);
}

fn queue() -> Option<&'static Mutex<Sender<Retired>>> {
    QUEUE
        .get_or_init(|| {
            let (sender, receiver) = channel::<Retired>();
            std::thread::Builder::new()
                .name("sluice-retire".into())
                .spawn(move || {
                    // Values are dropped as they arrive, the hook runs once the queue is
                    // empty; the loop ends when the process does.
                    while let Ok(value) = receiver.recv() {
                        drop(value);
                        while let Ok(value) = receiver.try_recv() {
                            drop(value);
                        }
                        if let Some(hook) = AFTER_DROP.get() {
                            hook();
                        }
                    }
                })
                .ok()
                .map(|_| Mutex::new(sender))
        })
        .as_ref()
}

/// Drops `value` on the background thread (here, when that thread could not be started).
pub(crate) fn retire<T: Send + 'static>(value: T) {
    let value: Retired = Box::new(value);
    let Some(queue) = queue() else {
        return;
    };
    let sender = queue
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // A send fails only when the thread is gone; the value then drops here.
    let _ = sender.send(value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn retired_values_are_dropped_on_another_thread() {
        struct Probe(Arc<Mutex<Option<std::thread::ThreadId>>>);
        impl Drop for Probe {
            fn drop(&mut self) {
                *self.0.lock().unwrap() = Some(std::thread::current().id());
            }
        }
        let seen = Arc::new(Mutex::new(None));
        retire(Probe(seen.clone()));
        let mut dropped_on = None;
        for _ in 0..500 {
            dropped_on = *seen.lock().unwrap();
            if dropped_on.is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let dropped_on = dropped_on.expect("the value was dropped");
        assert_ne!(dropped_on, std::thread::current().id());
    }

    #[test]
    fn the_hook_runs_after_a_retired_value_is_dropped() {
        static DROPPED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
        static SEEN_DROPPED: std::sync::atomic::AtomicBool =
            std::sync::atomic::AtomicBool::new(false);
        struct Probe;
        impl Drop for Probe {
            fn drop(&mut self) {
                DROPPED.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        }
        fn hook() {
            if DROPPED.load(std::sync::atomic::Ordering::SeqCst) {
                SEEN_DROPPED.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        }
        on_retired(hook);
        retire(Probe);
        for _ in 0..500 {
            if SEEN_DROPPED.load(std::sync::atomic::Ordering::SeqCst) {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("the hook did not run after the retired value was dropped");
    }
}
