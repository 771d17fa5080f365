//! The stack's real configuration, adapted to loopback: prometheus.yml with every Compose host
//! replaced by the process playing it (and the jobs of what cannot run here dropped), and the real
//! rule files with only what makes a short test possible changed.

use crate::repo;
use serde_yaml::Value as Yaml;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

/// Compose services that have no binary here; the scrape jobs that target them are dropped.
pub const NOT_RUNNABLE_HERE: [&str; 2] = ["cadvisor", "grafana"];

/// deploy/prometheus/prometheus.yml with a 1 s scrape, every Compose target (`host:port`) replaced
/// by the loopback address of the process playing it, and the jobs of what cannot run here removed.
/// Returns the YAML and the job names kept.
pub fn native_prometheus_config(hosts: &BTreeMap<&str, SocketAddr>) -> (String, BTreeSet<String>) {
    let text = std::fs::read_to_string(repo("deploy/prometheus/prometheus.yml")).unwrap();
    let mut config: Yaml = serde_yaml::from_str(&text).unwrap();
    config["global"]["scrape_interval"] = Yaml::from("1s");
    config["global"]["scrape_timeout"] = Yaml::from("1s");
    config["global"]["evaluation_interval"] = Yaml::from("1s");
    let rewrite = |targets: &mut Yaml, job: &str| {
        for target in targets.as_sequence_mut().into_iter().flatten() {
            let compose_target = target.as_str().unwrap().to_owned();
            let addr = hosts.get(compose_target.as_str()).unwrap_or_else(|| {
                panic!(
                    "prometheus.yml job {job} scrapes {compose_target}, which the stack test does not start"
                )
            });
            *target = Yaml::from(addr.to_string());
        }
    };
    let mut kept = BTreeSet::new();
    let scrape_configs = config["scrape_configs"].as_sequence_mut().unwrap();
    // By target, not job name.
    let runnable = |job: &Yaml| {
        job["static_configs"]
            .as_sequence()
            .into_iter()
            .flatten()
            .flat_map(|c| c["targets"].as_sequence().into_iter().flatten())
            .filter_map(Yaml::as_str)
            .all(|t| {
                let authority = t.parse::<http::uri::Authority>();
                !NOT_RUNNABLE_HERE.contains(&authority.as_ref().map_or(t, |a| a.host()))
            })
    };
    scrape_configs.retain(runnable);
    for job in scrape_configs.iter_mut() {
        let name = job["job_name"].as_str().unwrap().to_owned();
        job.as_mapping_mut().unwrap().remove("scrape_interval");
        job.as_mapping_mut().unwrap().remove("scrape_timeout");
        for static_config in job["static_configs"].as_sequence_mut().unwrap() {
            rewrite(&mut static_config["targets"], &name);
        }
        kept.insert(name);
    }
    for manager in config["alerting"]["alertmanagers"]
        .as_sequence_mut()
        .unwrap()
    {
        for static_config in manager["static_configs"].as_sequence_mut().unwrap() {
            rewrite(&mut static_config["targets"], "alerting");
        }
    }
    (serde_yaml::to_string(&config).unwrap(), kept)
}

/// The real rule files, as `rules/<name>` (the path prometheus.yml loads), with RedisDown's
/// `for` shortened in the copy so the test sees it fire within seconds, and group intervals
/// (the SLO groups' 30s) removed so every group runs at the test's 1 s evaluation interval.
pub fn rule_files_with_short_redis_down() -> Vec<(String, String)> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(repo("deploy/prometheus/rules")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yml") {
            continue;
        }
        let mut rules: Yaml =
            serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for group in rules["groups"].as_sequence_mut().unwrap() {
            group.as_mapping_mut().unwrap().remove("interval");
            for rule in group["rules"].as_sequence_mut().unwrap() {
                if rule["alert"] == "RedisDown" {
                    rule["for"] = Yaml::from("1s");
                }
            }
        }
        let name = format!("rules/{}", path.file_name().unwrap().to_string_lossy());
        files.push((name, serde_yaml::to_string(&rules).unwrap()));
    }
    files
}

pub fn count_rules(yaml: &str) -> usize {
    let rules: Yaml = serde_yaml::from_str(yaml).unwrap();
    rules["groups"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|g| g["rules"].as_sequence().map_or(0, Vec::len))
        .sum()
}
