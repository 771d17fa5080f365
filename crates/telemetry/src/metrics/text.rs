//! Writing Prometheus text: a family's `# HELP` and `# TYPE` lines and escaped label values, for
//! the HTTP layer's own families (`http_metrics`) and the ones a service renders itself (an
//! [`Exposition`](crate::Exposition) given to `ops_router_with`).

/// Starts a family in an [`Exposition`](crate::Exposition): its `# HELP` and `# TYPE` lines (`kind`: `counter`,
/// `gauge`, ...); its samples follow.
pub fn write_family(out: &mut String, name: &str, kind: &str, help: &str) {
    use std::fmt::Write as _;
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Appends `value` with the text format's label value escapes (`\\`, `\"`, `\n`), for families a
/// service renders itself.
pub fn escape_label_value(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}
