"""The Dockerfile and .dockerignore: one runtime target per service of ours, non-root, a health
check, pinned builder, locked builds (`dockerfile`)."""

from __future__ import annotations

import re

from .common import OUR_SERVICES, ROOT, Problems


def check_dockerfile(problems: Problems) -> str:
    text = (ROOT / "Dockerfile").read_text()
    targets = {stage: base for base, stage in re.findall(r"^FROM\s+(\S+)\s+AS\s+(\S+)", text, re.M | re.I)}
    for name in OUR_SERVICES:
        problems.check(targets.get(name) == "runtime", f"Dockerfile: no `FROM runtime AS {name}` target")
        problems.check(f'ENTRYPOINT ["/usr/local/bin/{name}"]' in text, f"Dockerfile: {name} has no ENTRYPOINT")
    problems.check("ARG RUST_IMAGE=rust:1.95-slim-bookworm" in text, "Dockerfile: builder is not rust:1.95-slim-bookworm")
    problems.check(re.search(r"^USER\s+65532", text, re.M) is not None, "Dockerfile: runtime does not run as non-root 65532")
    problems.check(re.search(r"^HEALTHCHECK\s", text, re.M) is not None, "Dockerfile: no HEALTHCHECK")
    problems.check("--locked" in text, "Dockerfile: cargo builds must be --locked")
    ignore = (ROOT / ".dockerignore").read_text()
    problems.check("target/" in ignore and ".git" in ignore, ".dockerignore: target/ and .git must be ignored")
    return f"{len(targets)} Dockerfile stages"
