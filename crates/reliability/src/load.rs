//! Bounded load: a count of GETs at a concurrency, tallied by status and transport error.

use crate::HANG_GUARD;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Status counts of a load run.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub statuses: BTreeMap<u16, u64>,
    /// Transport errors (no response), by a short description.
    pub errors: BTreeMap<String, u64>,
    pub elapsed: Duration,
}

impl Tally {
    pub fn total(&self) -> u64 {
        self.statuses.values().sum::<u64>() + self.errors.values().sum::<u64>()
    }

    pub fn count(&self, status: u16) -> u64 {
        self.statuses.get(&status).copied().unwrap_or(0)
    }

    /// Requests answered with a 2xx.
    pub fn ok(&self) -> u64 {
        self.statuses
            .iter()
            .filter(|(s, _)| (200..300).contains(*s))
            .map(|(_, n)| n)
            .sum()
    }

    pub fn per_second(&self) -> f64 {
        self.total() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// `count` GETs of `url`, `concurrency` at a time, each under the hang guard.
pub async fn load(client: &reqwest::Client, url: &str, count: u64, concurrency: u64) -> Tally {
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, url, next) = (client.clone(), url.to_owned(), next.clone());
            tokio::spawn(async move {
                let mut tally = Tally::default();
                while next.fetch_add(1, Ordering::Relaxed) < count {
                    match client.get(&url).timeout(HANG_GUARD).send().await {
                        Ok(response) => {
                            let status = response.status().as_u16();
                            let complete = response.bytes().await.is_ok();
                            if complete {
                                *tally.statuses.entry(status).or_default() += 1;
                            } else {
                                *tally.errors.entry("truncated body".into()).or_default() += 1;
                            }
                        }
                        Err(e) => *tally.errors.entry(describe(&e)).or_default() += 1,
                    }
                }
                tally
            })
        })
        .collect();
    let mut total = Tally::default();
    for worker in workers {
        let tally = worker.await.expect("load worker");
        for (s, n) in tally.statuses {
            *total.statuses.entry(s).or_default() += n;
        }
        for (e, n) in tally.errors {
            *total.errors.entry(e).or_default() += n;
        }
    }
    total.elapsed = started.elapsed();
    total
}

/// A short, stable description of a reqwest error.
pub fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "timeout (hang guard)".into()
    } else if error.is_connect() {
        "connect".into()
    } else {
        "no response".into()
    }
}
