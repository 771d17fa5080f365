//! The pinned upstream programs (Jaeger, Prometheus, promtool, Alertmanager, amtool,
//! node_exporter, redis_exporter) as `scripts/stack-programs.sh` builds them from
//! `deploy/tools/`, at the releases `deploy/tools/stack.tsv` names: the same releases Compose and
//! Kubernetes run.
//!
//! A binary that is missing, or built at another release than the table names (a bump not yet
//! rebuilt), fails the test with the command that builds it: a test never runs against a program
//! other than the one it claims to check.

use crate::process::workspace_file;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

const BUILD: &str = "just setup   (or: bash scripts/stack-programs.sh build; needs Go)";

/// The folder `scripts/stack-programs.sh` links the built programs from: `$STACK_CACHE/bin`,
/// where `STACK_CACHE` defaults to `${XDG_CACHE_HOME:-~/.cache}/observable-rust-services/stack`.
pub fn stack_bin_dir() -> PathBuf {
    let cache = std::env::var_os("STACK_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| {
                    PathBuf::from(std::env::var_os("HOME").expect("HOME is not set")).join(".cache")
                })
                .join("observable-rust-services/stack")
        });
    cache.join("bin")
}

/// One row of `deploy/tools/stack.tsv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinnedProgram {
    /// The tools module's folder under deploy/tools, e.g. `prometheus`.
    pub program: String,
    /// The release Compose and Kubernetes run, e.g. `3.13.1`.
    pub release: String,
    /// The container image without its tag, e.g. `prom/prometheus`.
    pub image: String,
}

/// Every program `deploy/tools/stack.tsv` pins.
pub fn pinned_programs() -> Vec<PinnedProgram> {
    let path = workspace_file("deploy/tools/stack.tsv");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            assert!(fields.len() >= 3, "{}: bad row {line:?}", path.display());
            PinnedProgram {
                program: fields[0].to_owned(),
                release: fields[1].to_owned(),
                image: fields[2].to_owned(),
            }
        })
        .collect()
}

/// The pinned release of `program` (a folder of deploy/tools, e.g. `jaeger`).
pub fn pinned_release(program: &str) -> String {
    pinned_programs()
        .into_iter()
        .find(|p| p.program == program)
        .unwrap_or_else(|| panic!("deploy/tools/stack.tsv pins no {program}"))
        .release
}

/// The path of `binary` (e.g. `promtool`) as built from deploy/tools, after checking that it
/// reports the release stack.tsv pins; panics with the command that builds it otherwise.
pub fn stack_program(binary: &str) -> PathBuf {
    static CHECKED: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let path = stack_bin_dir().join(binary);
    assert!(
        path.is_file(),
        "`{binary}` (pinned in deploy/tools/stack.tsv) is not built at {}: run `{BUILD}`",
        path.display()
    );
    let mut checked = CHECKED.lock().unwrap_or_else(|e| e.into_inner());
    if !checked.iter().any(|b| b == binary) {
        let (program, version_args): (&str, &[&str]) = match binary {
            "promtool" => ("prometheus", &["--version"]),
            "amtool" => ("alertmanager", &["--version"]),
            "jaeger" => ("jaeger", &["version"]),
            other => (other, &["--version"]),
        };
        let release = pinned_release(program);
        let version = version_output(&path, version_args);
        assert!(
            version.contains(&release),
            "{} is not release {release} (deploy/tools/stack.tsv): it says {version:?}; rebuild: `{BUILD}`",
            path.display()
        );
        checked.push(binary.to_owned());
    }
    path
}

fn version_output(path: &Path, args: &[&str]) -> String {
    let output = Command::new(path)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", path.display()));
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_pins_every_program_the_tests_run() {
        let programs: Vec<String> = pinned_programs().into_iter().map(|p| p.program).collect();
        for program in [
            "jaeger",
            "prometheus",
            "alertmanager",
            "node_exporter",
            "redis_exporter",
        ] {
            assert!(
                programs.iter().any(|p| p == program),
                "{program} not in stack.tsv"
            );
        }
        assert!(
            pinned_programs()
                .iter()
                .all(|p| p.release.split('.').count() == 3
                    && p.release.split('.').all(|n| n.parse::<u32>().is_ok())),
            "releases are plain x.y.z"
        );
    }
}
