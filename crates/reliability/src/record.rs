//! One row of RELIABILITY.md per scenario and service: what was tried, what was lost, the figure.
//! `scripts/reliability_report.py` renders the records.

use crate::{soak, target_dir};

/// One row of RELIABILITY.md.
#[derive(Debug, Clone)]
pub struct Record {
    /// Scenario id, e.g. `redis-kill-restart`.
    pub scenario: &'static str,
    pub service: &'static str,
    /// What was tried (requests, inputs, cases).
    pub tried: u64,
    /// What was lost: must be 0 for the test to pass.
    pub lost: u64,
    /// The measured figure (time, ratio, bytes...).
    pub figure: f64,
    pub unit: &'static str,
    pub notes: String,
}

impl Record {
    /// Writes `target/reliability/<scenario>.<service>[.soak].json`.
    pub fn write(&self) {
        let dir = target_dir().join("reliability");
        std::fs::create_dir_all(&dir).expect("create target/reliability");
        let soak = soak();
        let name = format!(
            "{}.{}{}.json",
            self.scenario,
            self.service,
            if soak { ".soak" } else { "" }
        );
        let recorded_at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        let figure = if self.figure.is_finite() {
            (self.figure * 1000.0).round() / 1000.0
        } else {
            -1.0
        };
        let json = serde_json::json!({
            "scenario": self.scenario,
            "service": self.service,
            "tried": self.tried,
            "lost": self.lost,
            "figure": figure,
            "unit": self.unit,
            "notes": self.notes,
            "soak": soak,
            "recorded_at": recorded_at,
        });
        std::fs::write(
            dir.join(name),
            serde_json::to_string_pretty(&json).expect("json") + "\n",
        )
        .expect("write reliability record");
    }
}
