//! When probes run: one task per URL on a fixed-rate ticker, at most one probe in flight per URL.
//!
//! Seed 003 probed every URL in turn from one background job, so one slow URL delayed all the
//! others and the next run could start while the previous one was still going. Here each URL has
//! its own `tokio::time::interval` (missed ticks are skipped, so the schedule never drifts or
//! bursts); a tick that finds the previous probe still running is skipped and counted in
//! `probe_skipped_total`. Applying a new configuration keeps the tasks of unchanged URLs running
//! (and their results), restarts changed ones, and stops removed ones.

use crate::config::{ProberConfig, Target};
use crate::probe;
use crate::results::Registry;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

/// Aborts the task when dropped, so a stopped scheduler leaves no probe behind.
#[derive(Debug)]
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Owns the per-URL tasks. Dropping it stops every probe.
#[derive(Debug)]
pub struct Scheduler {
    client: reqwest::Client,
    registry: Registry,
    tasks: HashMap<String, (Target, Duration, AbortOnDrop)>,
}

impl Scheduler {
    pub fn new(client: reqwest::Client, registry: Registry) -> Self {
        Self {
            client,
            registry,
            tasks: HashMap::new(),
        }
    }

    /// Makes the running probes match `config`. Must be called inside a tokio runtime.
    pub fn apply(&mut self, config: &ProberConfig) {
        self.registry.set_targets(&config.targets);
        self.tasks
            .retain(|url, _| config.targets.iter().any(|t| &t.url == url));
        for target in &config.targets {
            let unchanged = self
                .tasks
                .get(&target.url)
                .is_some_and(|(old, interval, _)| old == target && *interval == config.interval);
            if unchanged {
                continue;
            }
            let task = tokio::spawn(probe_forever(
                self.client.clone(),
                self.registry.clone(),
                Arc::new(target.clone()),
                config.interval,
            ));
            // Replacing the entry drops (aborts) the old task of a changed URL.
            self.tasks.insert(
                target.url.clone(),
                (target.clone(), config.interval, AbortOnDrop(task)),
            );
        }
    }
}

async fn probe_forever(
    client: reqwest::Client,
    registry: Registry,
    target: Arc<Target>,
    interval: Duration,
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut in_flight: Option<AbortOnDrop> = None;
    loop {
        ticker.tick().await;
        if in_flight.as_ref().is_some_and(|task| !task.0.is_finished()) {
            tracing::debug!(url = %target.url, "previous probe still running; skipping this tick");
            registry.record_skip(&target.url);
            continue;
        }
        let (client, registry, target) = (client.clone(), registry.clone(), target.clone());
        in_flight = Some(AbortOnDrop(tokio::spawn(async move {
            let outcome = probe::probe(&client, &target).await;
            log_transition(&registry, &target.url, &outcome);
            registry.record(&target.url, outcome);
        })));
    }
}

/// Logs when a URL goes up or down (not every probe: that is what metrics are for).
fn log_transition(registry: &Registry, url: &str, outcome: &probe::Outcome) {
    let was_up = registry
        .reports()
        .into_iter()
        .find(|r| r.url == url)
        .and_then(|r| (r.result != "pending").then_some(r.up));
    if was_up == Some(outcome.up()) {
        return;
    }
    if outcome.up() {
        tracing::info!(url, status = outcome.status, "URL is up");
    } else {
        tracing::warn!(
            url,
            result = outcome.result.as_str(),
            status = outcome.status,
            error = outcome.error.as_deref(),
            "URL is down"
        );
    }
}
