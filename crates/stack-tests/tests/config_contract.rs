//! The deployment files and the binaries agree: every variable and flag that docker-compose.yml
//! and the Kubernetes manifests pass to one of our services is one that service understands.
//! (A misspelt variable is silently ignored by a container, and the service runs on defaults.)

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use serde::Deserialize as _;
use serde_yaml::Value as Yaml;
use std::path::Path;
use std::process::Command;
use testkit::{ServiceProcess, workspace_binary};

const SERVICES: [&str; 5] = [
    "web-flask-equivalent",
    "redis-counter",
    "robot-control",
    "url-prober",
    "loadgen",
];
/// Read by the telemetry crate (standard OpenTelemetry names), not by clap.
const TELEMETRY_VARIABLES: [&str; 3] = ["OTEL_", "RUST_LOG", "LOG_FORMAT"];

fn repo(path: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(path),
    )
    .unwrap()
}

fn help(service: &str) -> String {
    let output = Command::new(workspace_binary(service))
        .arg("--help")
        .output()
        .unwrap();
    assert!(output.status.success(), "{service} --help failed");
    String::from_utf8(output.stdout).unwrap()
}

fn check(service: &str, variables: &[String], args: &[String], source: &str) {
    let help = help(service);
    for variable in variables {
        if TELEMETRY_VARIABLES.iter().any(|t| variable.starts_with(t)) {
            continue;
        }
        assert!(
            // `[env: NAME=value]`, or `[env: NAME]` for settings whose values are hidden (secrets).
            help.contains(&format!("[env: {variable}="))
                || help.contains(&format!("[env: {variable}]")),
            "{source}: {service} is given {variable}, which it does not read:\n{help}"
        );
    }
    for flag in args.iter().filter(|a| a.starts_with("--")) {
        let name = flag.split('=').next().unwrap();
        assert!(
            help.contains(name),
            "{source}: {service} is given {name}, which it does not accept"
        );
    }
}

#[test]
fn compose_passes_only_settings_the_services_read() {
    let mut compose: Yaml = serde_yaml::from_str(&repo("docker-compose.yml")).unwrap();
    compose.apply_merge().unwrap(); // resolve the `<<: *anchor` blocks shared by the services
    for service in SERVICES {
        let definition = &compose["services"][service];
        assert!(
            definition.is_mapping(),
            "docker-compose.yml has no service {service}"
        );
        let variables: Vec<String> = match &definition["environment"] {
            Yaml::Mapping(map) => map.keys().map(|k| k.as_str().unwrap().to_owned()).collect(),
            Yaml::Sequence(list) => list
                .iter()
                .map(|e| e.as_str().unwrap().split('=').next().unwrap().to_owned())
                .collect(),
            _ => Vec::new(),
        };
        let args: Vec<String> = definition["command"]
            .as_sequence()
            .map(|c| {
                c.iter()
                    .filter_map(|a| a.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        check(service, &variables, &args, "docker-compose.yml");
    }
}

/// `NAME: ${NAME:-}` in docker-compose.yml passes an optional variable the user did not set as an
/// empty string: the service must take that as unset and start, not stop on an invalid value
/// (robot-control once refused an empty `ROBOT_TOKEN`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compose_variables_left_empty_are_accepted_empty() {
    let mut compose: Yaml = serde_yaml::from_str(&repo("docker-compose.yml")).unwrap();
    compose.apply_merge().unwrap();
    let mut checked = Vec::new();
    for service in SERVICES {
        let Some(environment) = compose["services"][service]["environment"].as_mapping() else {
            continue;
        };
        for (name, value) in environment {
            let (Some(name), Some(value)) = (name.as_str(), value.as_str()) else {
                continue;
            };
            if !(value.starts_with("${") && value.ends_with(":-}")) {
                continue;
            }
            // Nothing to drive: loadgen's targets are a closed port.
            let mut env = vec![(name.to_owned(), String::new())];
            if service == "loadgen" {
                for target in ["WEB", "REDIS", "ROBOT", "PROBER"] {
                    env.push((
                        format!("LOADGEN_{target}_URL"),
                        "http://127.0.0.1:1".to_owned(),
                    ));
                }
            }
            let env: Vec<(&str, &str)> =
                env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            // Panics with the service's output if it exits instead of serving /healthz.
            let process = ServiceProcess::start(&workspace_binary(service), &env).await;
            drop(process);
            checked.push(format!("{service} {name}"));
        }
    }
    assert!(
        checked.len() >= 2,
        "expected at least robot-control's and loadgen's ROBOT_TOKEN: {checked:?}"
    );
}

#[test]
fn kubernetes_passes_only_settings_the_services_read() {
    let mut checked = 0;
    for entry in
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/k8s/services"))
            .unwrap()
    {
        let path = entry.unwrap().path();
        for document in serde_yaml::Deserializer::from_str(&std::fs::read_to_string(&path).unwrap())
        {
            let object = Yaml::deserialize(document).unwrap();
            if object["kind"] != "Deployment" {
                continue;
            }
            for container in object["spec"]["template"]["spec"]["containers"]
                .as_sequence()
                .unwrap()
            {
                let name = container["name"].as_str().unwrap();
                if !SERVICES.contains(&name) {
                    continue;
                }
                let env: Vec<&Yaml> = container["env"]
                    .as_sequence()
                    .into_iter()
                    .flatten()
                    .collect();
                // Variables only there to be interpolated into others, like $(POD_NAME), are fine.
                let referenced = |name: &str| {
                    env.iter().any(|e| {
                        e["value"]
                            .as_str()
                            .is_some_and(|v| v.contains(&format!("$({name})")))
                    })
                };
                let variables: Vec<String> = env
                    .iter()
                    .map(|e| e["name"].as_str().unwrap().to_owned())
                    .filter(|name| !referenced(name))
                    .collect();
                let args: Vec<String> = container["args"]
                    .as_sequence()
                    .map(|c| {
                        c.iter()
                            .filter_map(|a| a.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default();
                check(name, &variables, &args, &path.display().to_string());
                checked += 1;
            }
        }
    }
    assert_eq!(
        checked,
        SERVICES.len(),
        "one Deployment per service in deploy/k8s/services"
    );
}
