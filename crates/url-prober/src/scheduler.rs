//! When probes run: one task per URL on a fixed-rate ticker, at most one probe in flight per URL.
//!
//! Seed 003 probed every URL in turn from one background job, so one slow URL delayed all the
//! others and the next run could start while the previous one was still going. Here each URL has
//! its own `tokio::time::interval` (missed ticks are skipped, so the schedule never drifts or
//! bursts); a tick that finds the previous probe still running is skipped and counted in
//! `probe_skipped_total`. Applying a new configuration keeps the tasks of unchanged URLs running
//! (and their results), restarts changed ones, and stops removed ones. The tests below check
//! those claims in paused time, with probes of known duration.

use crate::config::{ProberConfig, Target};
use crate::probe;
use crate::results::Registry;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::MissedTickBehavior;
// A task handle that aborts the task when dropped: a stopped scheduler leaves no probe behind.
use tokio_util::task::AbortOnDropHandle;

/// Owns the per-URL tasks. Dropping it stops every probe.
#[derive(Debug)]
pub struct Scheduler {
    client: reqwest::Client,
    registry: Registry,
    tasks: HashMap<String, (Target, Duration, AbortOnDropHandle<()>)>,
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
            let client = self.client.clone();
            let task = tokio::spawn(probe_forever(
                self.registry.clone(),
                Arc::new(target.clone()),
                config.interval,
                move |target| {
                    let client = client.clone();
                    async move { probe::probe(&client, &target).await }
                },
            ));
            // Replacing the entry drops (aborts) the old task of a changed URL.
            self.tasks.insert(
                target.url.clone(),
                (
                    target.clone(),
                    config.interval,
                    AbortOnDropHandle::new(task),
                ),
            );
        }
    }
}

/// Probes `target` with `probe` at every multiple of `interval` from now, one probe at a time.
/// `probe` is a parameter so the schedule can be tested in paused time with probes of known
/// duration.
async fn probe_forever<P, F>(registry: Registry, target: Arc<Target>, interval: Duration, probe: P)
where
    P: Fn(Arc<Target>) -> F,
    F: Future<Output = probe::Outcome> + Send + 'static,
{
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut in_flight: Option<AbortOnDropHandle<()>> = None;
    loop {
        ticker.tick().await;
        if in_flight.as_ref().is_some_and(|task| !task.is_finished()) {
            tracing::debug!(url = %target.url, "previous probe still running; skipping this tick");
            registry.record_skip(&target.url);
            continue;
        }
        let probing = probe(target.clone());
        let (registry, target) = (registry.clone(), target.clone());
        in_flight = Some(AbortOnDropHandle::new(tokio::spawn(async move {
            let outcome = probing.await;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProberConfig;
    use crate::probe::{Outcome, ResultKind};
    use std::sync::Mutex;
    use std::time::SystemTime;
    use tokio::time::Instant;

    const INTERVAL: Duration = Duration::from_secs(10);
    const URL: &str = "http://a.test/";

    /// One URL on the real ticker with probes that take `probe_time` of (paused) time. Returns
    /// the registry and the probes' start times, in seconds from the start.
    fn schedule(probe_time: Duration) -> (Registry, Arc<Mutex<Vec<f64>>>, AbortOnDropHandle<()>) {
        let config = ProberConfig::parse(&format!("urls: [{URL}]"), "test").expect("config");
        let registry = Registry::new();
        registry.set_targets(&config.targets);
        let starts = Arc::new(Mutex::new(Vec::new()));
        let (recorded, t0) = (starts.clone(), Instant::now());
        let probe = move |_target: Arc<Target>| {
            recorded
                .lock()
                .expect("lock")
                .push((Instant::now() - t0).as_secs_f64());
            async move {
                tokio::time::sleep(probe_time).await;
                Outcome {
                    result: ResultKind::Up,
                    status: Some(200),
                    elapsed: probe_time,
                    checked_at: SystemTime::now(),
                    error: None,
                }
            }
        };
        let target = Arc::new(config.targets[0].clone());
        let task = tokio::spawn(probe_forever(registry.clone(), target, INTERVAL, probe));
        (registry, starts, AbortOnDropHandle::new(task))
    }

    fn counter(registry: &Registry, name: &str) -> f64 {
        let series = format!("{name}{{url=\"{URL}\"}}");
        testkit::metric_value(&registry.render(), &series).expect("series")
    }

    fn starts(recorded: &Mutex<Vec<f64>>) -> Vec<f64> {
        recorded.lock().expect("lock").clone()
    }

    #[tokio::test(start_paused = true)]
    async fn probes_start_at_exact_multiples_of_the_interval() {
        let (registry, recorded, _task) = schedule(Duration::from_millis(3_700));
        tokio::time::sleep(Duration::from_secs(995)).await;
        let expected: Vec<f64> = (0..100).map(|k| f64::from(k) * 10.0).collect();
        assert_eq!(starts(&recorded), expected, "no drift over 100 intervals");
        assert_eq!(counter(&registry, "probe_duration_seconds_count"), 100.0);
        assert_eq!(counter(&registry, "probe_skipped_total"), 0.0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_probe_skips_ticks_and_counts_them_instead_of_bursting() {
        let (registry, recorded, _task) = schedule(Duration::from_secs(25));
        tokio::time::sleep(Duration::from_secs(95)).await;
        // 0 runs until 25: the ticks at 10 and 20 are skipped, and the probe that ended at 25
        // is not followed by a catch-up probe: the next starts on the grid, at 30.
        assert_eq!(starts(&recorded), [0.0, 30.0, 60.0, 90.0]);
        assert_eq!(counter(&registry, "probe_skipped_total"), 6.0);
        assert_eq!(counter(&registry, "probe_duration_seconds_count"), 3.0);
    }

    #[tokio::test(start_paused = true)]
    async fn after_a_stall_one_late_probe_runs_then_the_original_grid_resumes() {
        let (registry, recorded, _task) = schedule(Duration::from_secs(1));
        tokio::time::sleep(Duration::from_secs(15)).await;
        // The scheduler is not polled for 37 s (a starved runtime): the ticks at 20, 30, 40 and
        // 50 are missed. One probe runs late, at 52, and the next ones are back on the grid.
        tokio::time::advance(Duration::from_secs(37)).await;
        tokio::time::sleep(Duration::from_secs(33)).await;
        assert_eq!(starts(&recorded), [0.0, 10.0, 52.0, 60.0, 70.0, 80.0]);
        assert_eq!(
            counter(&registry, "probe_skipped_total"),
            0.0,
            "missed ticks are dropped, not fired in a burst"
        );
    }
}
