"""Grafana's interpolation of provisioned files, done as Grafana 13.1 does it, so that the checks of
datasources.yml and the dashboard provider see the strings Grafana will use (an unescaped `$__tags`
becomes "" at load time; `$$` is the escape)."""

from __future__ import annotations

import re
from pathlib import Path

from .common import compose, load_yaml


# Grafana 13.1 puts every string of a provisioning file (datasources, dashboard providers: every field,
# nested jsonData included) through values.interpolateValue (pkg/services/provisioning/values/values.go):
# split on "$$" (the escape for a literal "$"); in each part apply setting.ExpandVar, the
# `$__env{NAME}`, `${NAME}` and `$__file{path}` expanders (pkg/setting/expanders.go), then Go's
# os.ExpandEnv (src/os/env.go: `$NAME` and `${NAME}`, unset = empty); join the parts with "$".
# The functions below do exactly that, so the checks see the strings Grafana will use.

GRAFANA_EXPANDER = re.compile(r"\$(|__\w+)\{([^}]+)\}", re.ASCII)
# Environment of the grafana/grafana image besides what docker-compose.yml sets (its Dockerfile's ENV).
GRAFANA_IMAGE_ENV = {"PATH": "/usr/share/grafana/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                     "GF_PATHS_CONFIG": "/etc/grafana/grafana.ini", "GF_PATHS_DATA": "/var/lib/grafana",
                     "GF_PATHS_HOME": "/usr/share/grafana", "GF_PATHS_LOGS": "/var/log/grafana",
                     "GF_PATHS_PLUGINS": "/var/lib/grafana/plugins", "GF_PATHS_PROVISIONING": "/etc/grafana/provisioning"}


def _go_shell_name(s: str) -> tuple[str, int]:
    """Go's os.getShellName: the variable name after a `$` and how many bytes it takes."""
    special = "*#$@!?-0123456789"
    if s[0] == "{":
        if len(s) > 2 and s[1] in special and s[2] == "}":
            return s[1:2], 3
        for i in range(1, len(s)):
            if s[i] == "}":
                return ("", 2) if i == 1 else (s[1:i], i + 1)  # "${}" is eaten
        return "", 1  # "${" without "}" is eaten
    if s[0] in special:
        return s[0:1], 1
    i = 0
    while i < len(s) and (s[i] == "_" or s[i].isascii() and s[i].isalnum()):
        i += 1
    return s[:i], i


def go_expand(s: str, mapping) -> str:
    """Go's os.Expand(s, mapping)."""
    out, i, j = [], 0, 0
    while j < len(s):
        if s[j] == "$" and j + 1 < len(s):
            out.append(s[i:j])
            name, width = _go_shell_name(s[j + 1:])
            if name == "" and width > 0:
                pass  # invalid syntax: eaten
            elif name == "":
                out.append("$")  # "$" not followed by a name stays
            else:
                out.append(mapping(name))
            j += width
            i = j + 1
        j += 1
    return "".join(out) + s[i:]


def grafana_interpolate(value: str, env: dict, unset: set) -> str:
    """values.interpolateValue; names of variables read but not set in `env` are added to `unset`."""
    def getenv(name: str) -> str:
        if name not in env:
            unset.add(name)
        return env.get(name, "")

    def expand_var(part: str) -> str:  # setting.ExpandVar: env (priority -10), then file (-5)
        for expander in ("env", "file"):
            for prefix, argument in GRAFANA_EXPANDER.findall(part):
                if prefix == "__" + expander or (prefix == "" and expander == "env"):
                    if expander == "file":
                        unset.add(f"$__file{{{argument}}} (a file inside the container)")
                        replacement = ""
                    else:
                        replacement = getenv(argument)
                    part = part.replace(f"${prefix}{{{argument}}}", replacement, 1)
        return part

    return "$".join(go_expand(expand_var(part), getenv) for part in value.split("$$"))


def grafana_env() -> dict:
    """The Grafana container's environment: the image's ENV plus docker-compose.yml's grafana environment."""
    env = dict(GRAFANA_IMAGE_ENV)
    env.update({k: str(v) for k, v in (compose()["services"]["grafana"].get("environment") or {}).items()})
    return env


def provisioned(path: Path, unset: set):
    """A provisioning file as Grafana sees it: every string interpolated (apiVersion is read before)."""
    env = grafana_env()

    def walk(node, key=None):
        if isinstance(node, dict):
            return {k: (v if k == "apiVersion" else walk(v, k)) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        if isinstance(node, str):
            return grafana_interpolate(node, env, unset)
        return node

    return walk(load_yaml(path))
