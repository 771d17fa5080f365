//! Our semantic-convention registry, docs/semconv/registry.yaml: the attributes this project
//! defines (`attribute_group`s) and, for every span kind and the resource, each attribute it
//! carries (`ref`s to ours and to OpenTelemetry's). Tests check every span an OTLP receiver got
//! against its group ([`Registry::assert_span`]): an attribute the group does not list fails,
//! so a new attribute needs a registry entry first. docs/METRICS.md's span tables are rendered
//! from the same file ([`Registry::markdown`]); a test here fails when they drift.

use super::{EXCEPTION_EVENT, Type, upstream_type};
use crate::otlp::{AttributeValue, ExportedSpan};
use crate::process::workspace_file;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::OnceLock;

/// The registry's path from the workspace root.
pub const REGISTRY_PATH: &str = "docs/semconv/registry.yaml";

/// The file: its groups, in order.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registry {
    pub groups: Vec<Group>,
}

/// A group of the semantic-conventions YAML syntax (v1): `attribute_group` or `span`.
/// Unknown fields are refused, so a misspelt key is an error rather than a silent default.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    pub id: String,
    #[serde(rename = "type")]
    pub group_type: String,
    #[serde(default)]
    pub span_kind: Option<String>,
    #[serde(default)]
    pub stability: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub brief: String,
    #[serde(default)]
    pub note: String,
    /// The span events a span of this group may carry.
    #[serde(default)]
    pub events: Vec<String>,
    #[serde(default)]
    pub attributes: Vec<Attribute>,
}

/// An attribute: defined here (`id`, `type`, `brief`, `examples`, `stability`) or referenced
/// (`ref`, with a requirement level and a note on the values used).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attribute {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default, rename = "ref")]
    pub reference: Option<String>,
    #[serde(default, rename = "type")]
    pub attribute_type: Option<String>,
    #[serde(default)]
    pub stability: Option<String>,
    #[serde(default)]
    pub brief: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
    #[serde(default)]
    pub examples: Option<serde_yaml::Value>,
    #[serde(default)]
    pub requirement_level: Option<RequirementLevel>,
}

impl Attribute {
    /// The attribute's name, defined or referenced.
    pub fn key(&self) -> &str {
        self.id
            .as_deref()
            .or(self.reference.as_deref())
            .unwrap_or_default()
    }
}

/// `required`, `recommended`, `opt_in`, or `conditionally_required: <condition>`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum RequirementLevel {
    Plain(String),
    Conditional { conditionally_required: String },
}

impl fmt::Display for RequirementLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Plain(level) => f.write_str(&level.replace('_', "-")),
            Self::Conditional {
                conditionally_required,
            } => write!(f, "conditionally required: {conditionally_required}"),
        }
    }
}

/// The registry, read once from [`REGISTRY_PATH`]; panics naming the file when it cannot be read
/// or parsed.
pub fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let path = workspace_file(REGISTRY_PATH);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        Registry::parse(&text).unwrap_or_else(|e| panic!("{REGISTRY_PATH}: {e}"))
    })
}

/// One line of YAML prose (folded scalars end with a newline; Markdown cells hold one line).
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl Registry {
    pub fn parse(text: &str) -> Result<Self, String> {
        serde_yaml::from_str(text).map_err(|e| e.to_string())
    }

    /// The group `id`; panics when the registry has none.
    pub fn group(&self, id: &str) -> &Group {
        self.groups
            .iter()
            .find(|g| g.id == id)
            .unwrap_or_else(|| panic!("{REGISTRY_PATH} has no group {id}"))
    }

    /// An attribute this registry defines (in an `attribute_group`, by `id`).
    pub fn defined(&self, key: &str) -> Option<&Attribute> {
        self.groups
            .iter()
            .filter(|g| g.group_type == "attribute_group")
            .flat_map(|g| &g.attributes)
            .find(|a| a.id.as_deref() == Some(key))
    }

    /// Everything wrong with the file as a registry: a defined attribute without its namespace,
    /// type, brief, examples or stability, or named like an upstream one; a `ref` that resolves
    /// neither to a definition here nor to an attribute of testkit's upstream tables; a group
    /// without what its type needs.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut seen = BTreeMap::new();
        for group in &self.groups {
            if seen.insert(group.id.as_str(), ()).is_some() {
                problems.push(format!("group {} appears twice", group.id));
            }
            if group.brief.trim().is_empty() {
                problems.push(format!("group {} has no brief", group.id));
            }
            match group.group_type.as_str() {
                "attribute_group" => {}
                "span" => {
                    let kinds = ["server", "client", "internal", "producer", "consumer"];
                    if !group
                        .span_kind
                        .as_deref()
                        .is_some_and(|k| kinds.contains(&k))
                    {
                        problems.push(format!("span group {} has no valid span_kind", group.id));
                    }
                    if group.stability.is_none() {
                        problems.push(format!("span group {} has no stability", group.id));
                    }
                }
                other => problems.push(format!("group {}: unknown type {other}", group.id)),
            }
            for attribute in &group.attributes {
                let key = attribute.key();
                match (&attribute.id, &attribute.reference) {
                    (Some(id), None) => {
                        let (namespace, _) = id.split_once('.').unwrap_or_default();
                        if namespace.is_empty() {
                            problems.push(format!("{id}: outside any namespace"));
                        }
                        if upstream_type(id).is_some() {
                            problems.push(format!("{id}: OpenTelemetry defines it already"));
                        }
                        if !matches!(
                            attribute.attribute_type.as_deref(),
                            Some("string" | "boolean" | "int" | "double")
                        ) {
                            problems.push(format!("{id}: type missing or not supported here"));
                        }
                        for (field, missing) in [
                            ("brief", attribute.brief.is_none()),
                            ("examples", attribute.examples.is_none()),
                            ("stability", attribute.stability.is_none()),
                        ] {
                            if missing {
                                problems.push(format!("{id}: no {field}"));
                            }
                        }
                    }
                    (None, Some(reference)) => {
                        if self.defined(reference).is_none() && upstream_type(reference).is_none() {
                            problems.push(format!(
                                "{}: ref {reference} is defined neither here nor in testkit::semconv's upstream tables",
                                group.id
                            ));
                        }
                        if attribute.requirement_level.is_none() {
                            problems.push(format!("{}: {key} has no requirement_level", group.id));
                        }
                    }
                    _ => problems.push(format!(
                        "{}: an attribute needs exactly one of id and ref",
                        group.id
                    )),
                }
            }
        }
        problems
    }

    /// Panics naming every way `span` departs from the registry's span group `group_id`: a kind
    /// other than the group's; an attribute the group does not list (in neither OpenTelemetry's
    /// tables nor this registry for this span), or of another type; a required one missing; an
    /// event the group does not list, or an `exception` event that does not follow the
    /// conventions.
    pub fn assert_span(&self, group_id: &str, span: &ExportedSpan) {
        let group = self.group(group_id);
        let mut problems = Vec::new();
        let kind = group.span_kind.as_deref().unwrap_or_default();
        let expected_kind = format!("SPAN_KIND_{}", kind.to_uppercase());
        if span.kind != expected_kind {
            problems.push(format!("kind {} (the registry says {kind})", span.kind));
        }
        problems.extend(self.attribute_problems(group, &span.attributes));
        for event in &span.events {
            if !group.events.contains(&event.name) {
                problems.push(format!(
                    "event {} is not one of the group's events {:?}",
                    event.name, group.events
                ));
            }
            if event.name == "exception" {
                for key in event.attributes.keys() {
                    if !EXCEPTION_EVENT.attributes.iter().any(|(k, ..)| k == key) {
                        problems.push(format!("exception event carries {key}"));
                    }
                }
                let text = |key: &str| event.attributes.get(key).and_then(AttributeValue::as_str);
                if text("exception.type").is_none() && text("exception.message").is_none() {
                    problems.push("exception event without exception.type or .message".into());
                }
            }
        }
        assert!(
            problems.is_empty(),
            "span {:?} does not match {REGISTRY_PATH}'s group {group_id}:\n  {}\nspan: {span:#?}",
            span.name,
            problems.join("\n  ")
        );
    }

    /// As [`assert_span`](Self::assert_span), for a resource against the group `resource.service`.
    pub fn assert_resource(&self, resource: &BTreeMap<String, AttributeValue>) {
        let problems = self.attribute_problems(self.group("resource.service"), resource);
        assert!(
            problems.is_empty(),
            "the resource does not match {REGISTRY_PATH}'s group resource.service:\n  {}\nresource: {resource:#?}",
            problems.join("\n  ")
        );
    }

    fn attribute_problems(
        &self,
        group: &Group,
        attributes: &BTreeMap<String, AttributeValue>,
    ) -> Vec<String> {
        let mut problems = Vec::new();
        for (key, value) in attributes {
            if !group.attributes.iter().any(|a| a.key() == key) {
                let known = if upstream_type(key).is_some() {
                    "an OpenTelemetry attribute, not listed for this span"
                } else if self.defined(key).is_some() {
                    "ours, not listed for this span"
                } else {
                    "in neither OpenTelemetry's tables nor the registry"
                };
                problems.push(format!("{key} = {value}: {known}"));
                continue;
            }
            let type_ok = match self.defined(key) {
                Some(ours) => matches!(
                    (ours.attribute_type.as_deref(), value),
                    (Some("string"), AttributeValue::String(_))
                        | (Some("boolean"), AttributeValue::Bool(_))
                        | (Some("int"), AttributeValue::Int(_))
                        | (Some("double"), AttributeValue::Double(_))
                ),
                None => matches!(
                    (upstream_type(key), value),
                    (Some(Type::Str), AttributeValue::String(_))
                        | (Some(Type::Int), AttributeValue::Int(_))
                ),
            };
            if !type_ok {
                problems.push(format!(
                    "{key} = {value:?}: not the type the registry gives it"
                ));
            }
        }
        for attribute in &group.attributes {
            let required =
                attribute.requirement_level == Some(RequirementLevel::Plain("required".into()));
            if required && !attributes.contains_key(attribute.key()) {
                problems.push(format!("{} missing (required)", attribute.key()));
            }
        }
        problems
    }

    /// docs/METRICS.md's span section: every span group and the resource with each attribute,
    /// its requirement level and the values we use, then the attributes we define.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let row = |out: &mut String, attribute: &Attribute| {
            let level = attribute
                .requirement_level
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default();
            let ours = if self.defined(attribute.key()).is_some() {
                " (ours)"
            } else {
                ""
            };
            let note = attribute.note.as_deref().map(one_line).unwrap_or_default();
            out.push_str(&format!(
                "| `{}`{ours} | {level} | {note} |\n",
                attribute.key()
            ));
        };
        for group in self.groups.iter().filter(|g| g.group_type == "span") {
            let kind = group.span_kind.as_deref().unwrap_or_default();
            out.push_str(&format!(
                "**{}** ({kind}; `{}`) {}",
                one_line(&group.brief),
                group.id,
                one_line(&group.note)
            ));
            out.push_str("\n\n| attribute | requirement | values |\n|---|---|---|\n");
            for attribute in &group.attributes {
                row(&mut out, attribute);
            }
            out.push('\n');
        }
        let resource = self.group("resource.service");
        out.push_str(&format!(
            "**Resource** (`{}`): {}\n\n| attribute | requirement | values |\n|---|---|---|\n",
            resource.id,
            one_line(&resource.brief)
        ));
        for attribute in &resource.attributes {
            row(&mut out, attribute);
        }
        out.push_str(
            "\nOur own attributes (in no OpenTelemetry namespace's registry):\n\n\
             | attribute | type | stability | meaning | examples | carried by |\n|---|---|---|---|---|---|\n",
        );
        for group in self
            .groups
            .iter()
            .filter(|g| g.group_type == "attribute_group")
        {
            for attribute in group.attributes.iter().filter(|a| a.id.is_some()) {
                let key = attribute.key();
                let carriers: Vec<String> = self
                    .groups
                    .iter()
                    .filter(|g| {
                        g.id != group.id
                            && g.attributes
                                .iter()
                                .any(|a| a.reference.as_deref() == Some(key))
                    })
                    .map(|g| format!("`{}`", g.id))
                    .collect();
                let examples = match &attribute.examples {
                    Some(serde_yaml::Value::Sequence(items)) => items
                        .iter()
                        .map(|v| format!("`{}`", yaml_scalar(v)))
                        .collect::<Vec<_>>()
                        .join(", "),
                    Some(other) => format!("`{}`", yaml_scalar(other)),
                    None => String::new(),
                };
                out.push_str(&format!(
                    "| `{key}` | {} | {} | {} | {examples} | {} |\n",
                    attribute.attribute_type.as_deref().unwrap_or_default(),
                    attribute.stability.as_deref().unwrap_or_default(),
                    one_line(attribute.brief.as_deref().unwrap_or_default()),
                    carriers.join(", ")
                ));
            }
        }
        out
    }
}

fn yaml_scalar(value: &serde_yaml::Value) -> String {
    match value {
        serde_yaml::Value::String(s) => s.clone(),
        serde_yaml::Value::Bool(b) => b.to_string(),
        serde_yaml::Value::Number(n) => n.to_string(),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEGIN: &str = "<!-- BEGIN spans: generated from docs/semconv/registry.yaml";
    const END: &str = "<!-- END spans -->";

    #[test]
    fn the_registry_parses_and_every_ref_resolves() {
        let problems = registry().problems();
        assert!(problems.is_empty(), "{REGISTRY_PATH}: {problems:#?}");
    }

    #[test]
    fn the_registry_problems_are_found() {
        // Each kind of mistake the check above guards against, in a registry of its own.
        let bad = Registry::parse(
            "groups:\n\
             - id: registry.bad\n  type: attribute_group\n  brief: b\n  attributes:\n\
             \x20   - id: nonamespace\n      type: string\n      brief: b\n      examples: [x]\n      stability: development\n\
             \x20   - id: url.path\n      type: string\n      brief: b\n      examples: [x]\n      stability: development\n\
             \x20   - id: bad.thing\n      type: string\n\
             - id: span.bad\n  type: span\n  span_kind: sideways\n  brief: b\n  attributes:\n\
             \x20   - ref: not.anywhere\n      requirement_level: required\n",
        )
        .unwrap();
        let problems = bad.problems().join("\n");
        for expected in [
            "nonamespace: outside any namespace",
            "url.path: OpenTelemetry defines it already",
            "bad.thing: no brief",
            "bad.thing: no examples",
            "span.bad has no valid span_kind",
            "ref not.anywhere is defined neither here",
        ] {
            assert!(
                problems.contains(expected),
                "{expected} not found in {problems}"
            );
        }
        assert!(
            Registry::parse("groups:\n- id: x\n  type: span\n  requirment_level: required\n")
                .is_err(),
            "a misspelt key is refused"
        );
    }

    fn eye_span(attributes: &[(&str, AttributeValue)]) -> ExportedSpan {
        ExportedSpan {
            trace_id: "1".repeat(32),
            span_id: "2".repeat(16),
            parent_span_id: String::new(),
            name: "linus-eye".into(),
            kind: "SPAN_KIND_INTERNAL".into(),
            start_time_unix_nano: 0,
            end_time_unix_nano: 0,
            attributes: attributes
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
            dropped_attributes_count: 0,
            events: Vec::new(),
            status: None,
            resource: BTreeMap::new(),
            scope: String::new(),
        }
    }

    #[test]
    fn a_registered_span_passes() {
        registry().assert_span(
            "span.robot.eye.internal",
            &eye_span(&[
                ("robot.name", AttributeValue::String("linus".into())),
                ("robot.eye.on", AttributeValue::Bool(true)),
            ]),
        );
    }

    #[test]
    #[should_panic(
        expected = "target = robot_control::control: in neither OpenTelemetry's tables nor the registry"
    )]
    fn an_attribute_without_a_registry_entry_fails() {
        registry().assert_span(
            "span.robot.eye.internal",
            &eye_span(&[
                ("robot.name", AttributeValue::String("linus".into())),
                ("robot.eye.on", AttributeValue::Bool(true)),
                (
                    "target",
                    AttributeValue::String("robot_control::control".into()),
                ),
            ]),
        );
    }

    #[test]
    #[should_panic(
        expected = "robot.eye.on = String(\"true\"): not the type the registry gives it"
    )]
    fn an_attribute_of_another_type_fails() {
        registry().assert_span(
            "span.robot.eye.internal",
            &eye_span(&[
                ("robot.name", AttributeValue::String("linus".into())),
                ("robot.eye.on", AttributeValue::String("true".into())),
            ]),
        );
    }

    /// docs/METRICS.md shows the registry: the part between the markers is what [`Registry::markdown`]
    /// renders. With `SEMCONV_BLESS=1` the test rewrites it instead of failing.
    #[test]
    fn metrics_md_shows_the_registry() {
        let path = workspace_file("docs/METRICS.md");
        let doc = std::fs::read_to_string(&path).unwrap();
        let start = doc
            .find(BEGIN)
            .expect("docs/METRICS.md has the BEGIN spans marker");
        let body_start = start + doc[start..].find("-->\n").expect("marker ends") + 4;
        let end = doc
            .find(END)
            .expect("docs/METRICS.md has the END spans marker");
        let expected = registry().markdown();
        if doc[body_start..end] == expected {
            return;
        }
        if std::env::var_os("SEMCONV_BLESS").is_some() {
            let updated = format!("{}{expected}{}", &doc[..body_start], &doc[end..]);
            std::fs::write(&path, updated).unwrap();
            return;
        }
        panic!(
            "docs/METRICS.md's span tables differ from {REGISTRY_PATH}; edit the registry, then run \
             `SEMCONV_BLESS=1 cargo test -p testkit` to render them. Expected:\n{expected}"
        );
    }
}
