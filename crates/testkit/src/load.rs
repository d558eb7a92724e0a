//! A client loop for hot-update tests: worker tasks request a list of targets round and round
//! over pooled HTTP/1.1 connections until stopped, recording who answered each request and
//! every failure.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::client::{Reply, h1_client, try_request};
use crate::{empty, eventually};

/// One request target: a virtual host and a path.
pub type Target = (String, String);

/// Which answer counts as a success.
pub type Accept = fn(&Reply) -> bool;

/// Client tasks requesting targets until stopped.
pub struct Load {
    stop: Arc<AtomicBool>,
    done: Vec<Arc<AtomicUsize>>,
    tasks: Vec<tokio::task::JoinHandle<Runs>>,
    failures: Arc<Mutex<Vec<String>>>,
}

/// What one worker saw for each target, in order, as runs of equal labels.
type Runs = BTreeMap<Target, Vec<(String, usize)>>;

/// What a finished load saw.
#[derive(Debug)]
pub struct Report {
    /// Transport errors and answers `accept` refused, described.
    pub failures: Vec<String>,
    /// Per worker, per target: runs of labels (the answering backend, else the status).
    pub workers: Vec<Runs>,
}

impl Load {
    /// Starts `workers` tasks cycling through `targets` on `addr`. A request fails when the
    /// connection or body fails or `accept` refuses the answer.
    pub fn start(
        addr: SocketAddr,
        workers: usize,
        targets: &[(&str, &str)],
        accept: Accept,
    ) -> Self {
        let targets: Arc<Vec<Target>> = Arc::new(
            targets
                .iter()
                .map(|(h, p)| ((*h).to_owned(), (*p).to_owned()))
                .collect(),
        );
        let stop = Arc::new(AtomicBool::new(false));
        let failures = Arc::new(Mutex::new(Vec::new()));
        let mut done = Vec::new();
        let mut tasks = Vec::new();
        for _ in 0..workers {
            let counter = Arc::new(AtomicUsize::new(0));
            done.push(counter.clone());
            let (stop, failures, targets) = (stop.clone(), failures.clone(), targets.clone());
            tasks.push(tokio::spawn(async move {
                let client = h1_client();
                let mut runs = Runs::new();
                while !stop.load(Ordering::SeqCst) {
                    for target in targets.iter() {
                        let (host, path) = target;
                        let label =
                            match try_request(&client, addr, "GET", host, path, empty()).await {
                                Ok(reply) => {
                                    if !accept(&reply) {
                                        failures.lock().unwrap().push(format!(
                                            "{host}{path}: {} {}",
                                            reply.status,
                                            reply.text()
                                        ));
                                    }
                                    label(&reply)
                                }
                                Err(e) => {
                                    failures.lock().unwrap().push(format!("{host}{path}: {e}"));
                                    "error".to_owned()
                                }
                            };
                        let seen = runs.entry(target.clone()).or_default();
                        match seen.last_mut() {
                            Some((last, count)) if *last == label => *count += 1,
                            _ => seen.push((label, 1)),
                        }
                    }
                    counter.fetch_add(1, Ordering::SeqCst);
                }
                runs
            }));
        }
        Self {
            stop,
            done,
            tasks,
            failures,
        }
    }

    /// Waits until every worker has completed `n` rounds that started after this call.
    pub async fn settle(&self, n: usize) {
        let marks: Vec<usize> = self.done.iter().map(|d| d.load(Ordering::SeqCst)).collect();
        eventually(async || {
            self.done
                .iter()
                .zip(&marks)
                .all(|(d, mark)| d.load(Ordering::SeqCst) > mark + n)
        })
        .await;
    }

    /// The failures so far.
    pub fn failures(&self) -> Vec<String> {
        self.failures.lock().unwrap().clone()
    }

    /// Stops the workers and reports.
    pub async fn finish(self) -> Report {
        self.stop.store(true, Ordering::SeqCst);
        let mut workers = Vec::new();
        for task in self.tasks {
            workers.push(task.await.unwrap());
        }
        let failures = self.failures.lock().unwrap().clone();
        Report { failures, workers }
    }
}

impl Report {
    /// Every label seen for a target, by any worker.
    pub fn labels(&self, host: &str, path: &str) -> BTreeSet<String> {
        let target = (host.to_owned(), path.to_owned());
        self.workers
            .iter()
            .filter_map(|w| w.get(&target))
            .flatten()
            .map(|(label, _)| label.clone())
            .collect()
    }

    /// Checks that every worker saw `target` answered by `before` labels first and by `after`
    /// labels from some point on, never going back, and that some worker saw `after`.
    pub fn switched(
        &self,
        host: &str,
        path: &str,
        before: &[&str],
        after: &[&str],
    ) -> Result<(), String> {
        let target = (host.to_owned(), path.to_owned());
        let mut reached = false;
        for (i, worker) in self.workers.iter().enumerate() {
            let runs = worker.get(&target).map_or(&[][..], Vec::as_slice);
            let mut switched = false;
            for (label, _) in runs {
                if after.contains(&label.as_str()) {
                    switched = true;
                    reached = true;
                } else if switched || !before.contains(&label.as_str()) {
                    return Err(format!("worker {i} on {host}{path}: {runs:?}"));
                }
            }
        }
        if reached {
            Ok(())
        } else {
            Err(format!("no worker saw {after:?} on {host}{path}"))
        }
    }
}

/// The backend that answered, else the status code.
fn label(reply: &Reply) -> String {
    serde_json::from_slice::<Value>(&reply.body)
        .ok()
        .and_then(|json| json["backend"].as_str().map(str::to_owned))
        .unwrap_or_else(|| reply.status.as_u16().to_string())
}
