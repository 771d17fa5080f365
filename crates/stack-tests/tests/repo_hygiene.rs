//! Repository hygiene that users rely on: no committed credentials (seed 003 committed one).

use std::path::Path;
use std::process::Command;

fn repo() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn check_secrets(dir: Option<&Path>) -> std::process::Output {
    let mut command = Command::new("python3");
    command.current_dir(repo()).arg("scripts/check_secrets.py");
    if let Some(dir) = dir {
        command.arg(dir);
    }
    command
        .output()
        .expect("python3 runs scripts/check_secrets.py")
}

#[test]
fn no_credentials_are_committed() {
    let output = check_secrets(None);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
}

#[test]
fn the_check_catches_planted_credentials() {
    let dir = tempfile::tempdir().unwrap();
    // Assembled at run time so this file does not trip the check itself.
    let token = ["ghp_", &"a1B2c3D4e5".repeat(4)].concat();
    let url = ["redis://:", "s3cretpass", "@redis:6379"].concat();
    std::fs::write(
        dir.path().join("leak.env"),
        format!("GH_TOKEN={token}\nREDIS_URL={url}\nGRAFANA_PASSWORD=${{GRAFANA_ADMIN_PASSWORD:-admin}}\n"),
    )
    .unwrap();
    let output = check_secrets(Some(dir.path()));
    let report = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{report}");
    assert!(report.contains("leak.env:1: GitHub token"), "{report}");
    assert!(report.contains("leak.env:2: credential in URL"), "{report}");
    assert!(
        !report.contains("leak.env:3"),
        "an environment reference is fine: {report}"
    );
}
