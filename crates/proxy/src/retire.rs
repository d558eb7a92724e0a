//! Dropping large values off the caller's path: a rebuild replaces a whole generation (router,
//! table, label index), and freeing the old one of a 10k-Ingress table takes tens of
//! milliseconds. [`retire`] hands such a value to one long-lived background thread instead.

use std::sync::Mutex;
use std::sync::OnceLock;
use std::sync::mpsc::{Sender, channel};

type Retired = Box<dyn Send>;

static QUEUE: OnceLock<Option<Mutex<Sender<Retired>>>> = OnceLock::new();

fn queue() -> Option<&'static Mutex<Sender<Retired>>> {
    QUEUE
        .get_or_init(|| {
            let (sender, receiver) = channel::<Retired>();
            std::thread::Builder::new()
                .name("sluice-retire".into())
                .spawn(move || {
                    // Each value is dropped as it arrives; the loop ends when the process does.
                    for value in receiver {
                        drop(value);
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
}
