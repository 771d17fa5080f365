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

/// A symbolic link git tracks must stay inside the repository: one to an absolute path or out of the
/// tree (a scratch worktree's `.venv -> /work/main/.venv` was once committed) dangles in every fresh
/// clone, and the setup then fails on it.
#[test]
fn no_committed_link_points_out_of_the_repository() {
    let listing = Command::new("git")
        .current_dir(repo())
        .args(["ls-files", "-s", "-z"])
        .output()
        .expect("git ls-files runs");
    assert!(listing.status.success(), "git ls-files failed");
    let mut outside = Vec::new();
    for entry in listing.stdout.split(|b| *b == 0).filter(|e| !e.is_empty()) {
        let entry = String::from_utf8_lossy(entry);
        // "<mode> <object> <stage>\t<path>"; links have mode 120000.
        let Some((meta, path)) = entry.split_once('\t') else {
            continue;
        };
        if !meta.starts_with("120000 ") {
            continue;
        }
        let target = std::fs::read_link(repo().join(path))
            .map(|t| t.to_string_lossy().into_owned())
            .unwrap_or_default();
        let depth = Path::new(path).components().count() - 1;
        let climbs = Path::new(&target)
            .components()
            .filter(|c| matches!(c, std::path::Component::ParentDir))
            .count();
        if Path::new(&target).is_absolute() || climbs > depth {
            outside.push(format!("{path} -> {target}"));
        }
    }
    assert!(
        outside.is_empty(),
        "links out of the repository: {outside:?}"
    );
}
