//! Reading a service's answers and /metrics under the hang guard.

use crate::HANG_GUARD;
use std::collections::BTreeSet;

/// GET `url` (a hang guard applies) and return the body text.
pub async fn get_text(client: &reqwest::Client, url: &str) -> String {
    client
        .get(url)
        .timeout(HANG_GUARD)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
        .text()
        .await
        .unwrap_or_else(|e| panic!("GET {url} body: {e}"))
}

/// The set of series (name and labels, no value) of a Prometheus exposition.
pub fn series_set(exposition: &str) -> BTreeSet<String> {
    testkit::parse_metrics(exposition)
        .into_iter()
        .map(|(series, _)| series)
        .collect()
}

/// Sum of every series of metric `name` (any labels); 0 when absent (shared with other crates'
/// tests, so it lives in testkit).
pub use testkit::metric_sum;
