//! The configuration-error contract every binary keeps (README, "Configuration"): a bad setting
//! ends the process with exit status 2 and one line on stderr that names the setting, no panic,
//! no hang. One assertion for every crate's tests.

use std::fs::File;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What a bounded run of a binary did.
#[derive(Debug)]
pub struct RunOutcome {
    /// Exit status; `None` when it was killed (hung, or by a signal).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// Still running after the bound: killed.
    pub hung: bool,
}

/// Runs `command` to completion, killing it after `bound`. Output goes to files, so a chatty
/// process cannot block on a full pipe and pass for a hung one.
pub fn run_bounded(command: &mut Command, bound: Duration) -> RunOutcome {
    let dir = tempfile::tempdir().expect("temp dir");
    let (out, err) = (dir.path().join("stdout"), dir.path().join("stderr"));
    let mut child = command
        .stdin(Stdio::null())
        .stdout(File::create(&out).expect("stdout file"))
        .stderr(File::create(&err).expect("stderr file"))
        .spawn()
        .expect("start the binary");
    let deadline = Instant::now() + bound;
    let (code, hung) = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break (status.code(), false);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break (None, true);
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    RunOutcome {
        code,
        stdout: std::fs::read_to_string(&out).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err).unwrap_or_default(),
        hung,
    }
}

/// What is wrong with `outcome` as a configuration error naming `setting` (`REDIS_URL`, or its
/// flag `--redis-url`: either spelling counts); empty when it keeps the contract.
pub fn config_error_problems(outcome: &RunOutcome, setting: &str) -> Vec<String> {
    let stderr = outcome.stderr.trim();
    let mut wrong = Vec::new();
    if outcome.hung {
        wrong.push("still running after its bound".to_owned());
    } else if outcome.code != Some(2) {
        wrong.push(format!("exit {:?}, want 2", outcome.code));
    }
    if stderr.contains("panicked") || outcome.stdout.contains("panicked") {
        wrong.push("panicked".into());
    }
    if stderr.lines().count() != 1 {
        wrong.push(format!("{} lines on stderr", stderr.lines().count()));
    }
    let normalize = |s: &str| s.to_ascii_lowercase().replace('_', "-");
    if !normalize(stderr).contains(&normalize(setting)) {
        wrong.push(format!("does not name {setting:?}"));
    }
    wrong
}

/// Runs `command` (at most 10 s) and asserts it ends as a configuration error naming `setting`.
/// Returns stderr for further checks (e.g. that a password is not in it).
pub fn assert_config_error(command: &mut Command, setting: &str) -> String {
    let outcome = run_bounded(command, Duration::from_secs(10));
    let problems = config_error_problems(&outcome, setting);
    assert!(
        problems.is_empty(),
        "{command:?}: {}; stderr {:?}",
        problems.join(", "),
        outcome.stderr
    );
    outcome.stderr
}
