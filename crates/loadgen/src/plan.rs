//! What to send: the request catalogue per group and the weighted order in which groups take turns.
//!
//! Groups (`web`, `redis`, `robot`, `prober`, `errors`) take turns by smooth weighted
//! round-robin rather than at random, so a run of N requests sends exactly the configured
//! proportions (tests and benchmarks can check the server's counts against the summary), and
//! the interleaving is even (no burst of one group). Inside a group, requests rotate.

use crate::robot_auth::Credential;
use std::fmt;
use std::str::FromStr;

/// The group names `--mix` accepts.
pub const GROUPS: [&str; 5] = ["web", "redis", "robot", "prober", "errors"];

/// The default mix: every service gets traffic, and a little of it fails on purpose (4xx).
pub const DEFAULT_MIX: &str = "web=5,redis=3,robot=2,prober=1,errors=1";

/// Weights per group, parsed from `web=5,redis=3,...` (missing groups get 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mix {
    /// In [`GROUPS`] order.
    pub weights: [u32; 5],
}

impl FromStr for Mix {
    type Err = String;
    fn from_str(raw: &str) -> Result<Self, String> {
        let mut weights = [0u32; 5];
        for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, weight) = part
                .split_once('=')
                .ok_or_else(|| format!("{part:?} is not group=weight"))?;
            let index = GROUPS
                .iter()
                .position(|g| *g == name.trim())
                .ok_or_else(|| {
                    format!(
                        "unknown group {:?}; expected one of {}",
                        name.trim(),
                        GROUPS.join(", ")
                    )
                })?;
            weights[index] = weight
                .trim()
                .parse()
                .map_err(|_| format!("weight of {} must be a whole number >= 0", name.trim()))?;
        }
        if weights.iter().all(|w| *w == 0) {
            return Err("at least one group needs a weight > 0".to_owned());
        }
        Ok(Self { weights })
    }
}

impl fmt::Display for Mix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = GROUPS
            .iter()
            .zip(self.weights)
            .filter(|(_, w)| *w > 0)
            .map(|(g, w)| format!("{g}={w}"))
            .collect();
        f.write_str(&parts.join(","))
    }
}

/// Base URLs of the services (no trailing slash).
#[derive(Debug, Clone)]
pub struct Targets {
    pub web: String,
    pub redis: String,
    pub robot: String,
    pub prober: String,
    /// What robot-control's commands carry: `ROBOT_TOKEN`, or its UI's key.
    pub robot_credential: Credential,
}

/// One request to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedRequest {
    /// The service's crate name: the `target` label.
    pub target: &'static str,
    pub method: reqwest::Method,
    /// Base URL plus path.
    pub url: String,
    /// The path alone, for the summary (`GET /status`).
    pub path: &'static str,
    /// A JSON body, for POSTs.
    pub body: Option<&'static str>,
    /// For robot-control's commands: what proves they may move a robot.
    pub credential: Option<Credential>,
}

impl PlannedRequest {
    /// `GET robot-control /status`: the summary's per-request key.
    pub fn key(&self) -> String {
        format!("{} {} {}", self.method, self.target, self.path)
    }
}

fn get(target: &'static str, base: &str, path: &'static str) -> PlannedRequest {
    PlannedRequest {
        target,
        method: reqwest::Method::GET,
        url: format!("{}{path}", base.trim_end_matches('/')),
        path,
        body: None,
        credential: None,
    }
}

/// The request catalogue of each group, in [`GROUPS`] order.
pub fn catalogue(targets: &Targets) -> [Vec<PlannedRequest>; 5] {
    let web = "web-flask-equivalent";
    let redis = "redis-counter";
    let robot = "robot-control";
    let prober = "url-prober";
    [
        vec![get(web, &targets.web, "/")],
        vec![get(redis, &targets.redis, "/")],
        // Every kind of robot command, so each robot-control panel (servo, speed, eyes of both
        // robots) has data; stops follow drives so the robots do not run into the deadman.
        [
            "/status",
            "/forward",
            "/stop",
            "/linuson",
            "/linusoff",
            "/servomid",
            "/north",
            "/stoptwo",
            "/fifty",
            "/servomin2",
            "/torvaldson",
            "/torvaldsoff",
        ]
        .into_iter()
        .map(|path| PlannedRequest {
            // Only the commands: the state is readable without a secret.
            credential: (path != "/status").then(|| targets.robot_credential.clone()),
            ..get(robot, &targets.robot, path)
        })
        .collect(),
        vec![get(prober, &targets.prober, "/queryurl")],
        vec![
            get(web, &targets.web, "/does-not-exist"),
            PlannedRequest {
                target: robot,
                method: reqwest::Method::POST,
                url: format!("{}/servoarm", targets.robot.trim_end_matches('/')),
                path: "/servoarm",
                // Out of the -90..90 range: robot-control answers 4xx.
                body: Some(r#"{"degree": 500}"#),
                credential: Some(targets.robot_credential.clone()),
            },
        ],
    ]
}

/// Hands out requests in mix proportions, evenly interleaved.
#[derive(Debug, Clone)]
pub struct Plan {
    groups: [Vec<PlannedRequest>; 5],
    weights: [i64; 5],
    current: [i64; 5],
    cursor: [usize; 5],
}

impl Plan {
    pub fn new(mix: &Mix, targets: &Targets) -> Self {
        Self {
            groups: catalogue(targets),
            weights: mix.weights.map(i64::from),
            current: [0; 5],
            cursor: [0; 5],
        }
    }

    /// The next request (smooth weighted round-robin over groups, rotation inside a group).
    pub fn next_request(&mut self) -> PlannedRequest {
        let total: i64 = self.weights.iter().sum();
        let mut best = 0;
        for i in 0..self.weights.len() {
            self.current[i] += self.weights[i];
            if self.current[i] > self.current[best] {
                best = i;
            }
        }
        self.current[best] -= total;
        let group = &self.groups[best];
        let request = group[self.cursor[best] % group.len()].clone();
        self.cursor[best] += 1;
        request
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::robot_auth::Bearer;
    use std::collections::HashMap;

    fn targets() -> Targets {
        Targets {
            web: "http://w".into(),
            redis: "http://r/".into(),
            robot: "http://b".into(),
            prober: "http://p".into(),
            robot_credential: Credential::Bearer(Bearer::new("robot-token")),
        }
    }

    #[test]
    fn only_robot_controls_commands_get_the_credential() {
        let targets = targets();
        let mut commands = 0;
        for group in catalogue(&targets) {
            for request in group {
                let command = request.target == "robot-control" && request.path != "/status";
                let expected = command.then(|| targets.robot_credential.clone());
                assert_eq!(request.credential, expected, "{}", request.key());
                commands += usize::from(command);
            }
        }
        assert_eq!(commands, 12);
        assert!(!format!("{targets:?}").contains("robot-token"));
    }

    #[test]
    fn a_run_of_one_cycle_has_the_exact_proportions() {
        let mix: Mix = "web=5,redis=3,robot=2,prober=1,errors=1".parse().unwrap();
        let mut plan = Plan::new(&mix, &targets());
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for _ in 0..24 {
            *counts.entry(plan.next_request().target).or_default() += 1;
        }
        // errors split between web (404) and robot (servoarm).
        assert_eq!(counts["web-flask-equivalent"], 10 + 1);
        assert_eq!(counts["redis-counter"], 6);
        assert_eq!(counts["robot-control"], 4 + 1);
        assert_eq!(counts["url-prober"], 2);
    }

    #[test]
    fn groups_rotate_their_requests_and_urls_are_joined() {
        let mix: Mix = "robot=1".parse().unwrap();
        let mut plan = Plan::new(&mix, &targets());
        let paths: Vec<_> = (0..6).map(|_| plan.next_request().path).collect();
        assert_eq!(
            paths,
            [
                "/status",
                "/forward",
                "/stop",
                "/linuson",
                "/linusoff",
                "/servomid"
            ]
        );
        let mix: Mix = "redis=1".parse().unwrap();
        assert_eq!(Plan::new(&mix, &targets()).next_request().url, "http://r/");
    }

    #[test]
    fn bad_mixes_say_what_is_wrong() {
        assert!(
            "web=x"
                .parse::<Mix>()
                .unwrap_err()
                .contains("weight of web")
        );
        assert!(
            "db=1"
                .parse::<Mix>()
                .unwrap_err()
                .contains("unknown group \"db\"")
        );
        assert!("web=0".parse::<Mix>().unwrap_err().contains("at least one"));
        assert!("web".parse::<Mix>().unwrap_err().contains("group=weight"));
        assert_eq!(DEFAULT_MIX.parse::<Mix>().unwrap().to_string(), DEFAULT_MIX);
    }
}
