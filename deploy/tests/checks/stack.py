"""One set of releases everywhere (`stack`): deploy/tools/stack.tsv names the release of each upstream
program; its tools module's go.mod must pin the module version of that release, and every Compose
image and Kubernetes manifest that runs the program must name the same release. The tests run what
stack.tsv pins (scripts/stack-programs.sh builds it), so a Compose tag that drifted away from the
table would run a program no test has seen."""

from __future__ import annotations

import re

import yaml

from .common import ROOT, Problems, compose

TABLE = ROOT / "deploy/tools/stack.tsv"


def pinned() -> list[dict]:
    rows = []
    for line in TABLE.read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        program, release, image, module, _flag = line.split("\t")
        rows.append({"program": program, "release": release, "image": image, "module": module})
    return rows


def release_of_module_version(module: str, version: str) -> str:
    """The release a module version is (deploy/tools/stack.tsv's header): Jaeger's module v1.N.P is
    2.(N-63).P, Prometheus's v0.3MM.P is 3.MM.P, the others' are their release."""
    major, minor, patch = (int(n) for n in re.fullmatch(r"v(\d+)\.(\d+)\.(\d+)", version).groups())
    if module == "github.com/jaegertracing/jaeger" and major == 1:
        return f"2.{minor - 63}.{patch}"
    if module == "github.com/prometheus/prometheus" and major == 0:
        return f"3.{minor - 300}.{patch}"
    return f"{major}.{minor}.{patch}"


def required_version(go_mod: str, module: str) -> str | None:
    match = re.search(rf"^\s*(?:require\s+)?{re.escape(module)} (v\S+)", go_mod, re.M)
    return match.group(1) if match else None


def image_tags(text_documents: list, image: str) -> list[str]:
    """Every tag given to `image` in these YAML documents (any `image:` value, at any depth)."""
    tags = []

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "image" and isinstance(value, str) and value.rsplit(":", 1)[0] == image:
                    tags.append(value.rsplit(":", 1)[1])
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for document in text_documents:
        walk(document)
    return tags


def tag_release(tag: str) -> str:
    """v1.9.1 -> 1.9.1; v1.97.0-alpine -> 1.97.0; 2.12.0 -> 2.12.0."""
    return re.sub(r"-.*$", "", tag.removeprefix("v"))


def check_stack(problems: Problems) -> str:
    compose_documents = [compose()]
    k8s_documents = [d for path in sorted((ROOT / "deploy/k8s").rglob("*.yaml"))
                     for d in yaml.safe_load_all(path.read_text()) if d]
    for row in pinned():
        go_mod = (ROOT / "deploy/tools" / row["program"] / "go.mod").read_text()
        version = required_version(go_mod, row["module"])
        problems.check(version is not None, f"deploy/tools/{row['program']}/go.mod does not require {row['module']}")
        if version:
            problems.check(release_of_module_version(row["module"], version) == row["release"],
                           f"deploy/tools/{row['program']}/go.mod pins {row['module']} {version}, which is release "
                           f"{release_of_module_version(row['module'], version)}, not stack.tsv's {row['release']}")
        in_compose = image_tags(compose_documents, row["image"])
        problems.check(bool(in_compose), f"docker-compose.yml runs no {row['image']}")
        for where, tags in (("docker-compose.yml", in_compose), ("deploy/k8s", image_tags(k8s_documents, row["image"]))):
            for tag in tags:
                problems.check(tag_release(tag) == row["release"],
                               f"{where}: {row['image']}:{tag} is not release {row['release']} (deploy/tools/stack.tsv)")
    return f"{len(pinned())} programs pinned, Compose and Kubernetes agree"
