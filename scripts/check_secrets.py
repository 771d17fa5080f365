#!/usr/bin/env python3
"""Fails when a tracked file holds something that looks like a credential.

Seed 003 committed a token; this check keeps that from happening here. It scans every file git
tracks (or the files under a directory given as argument) for private keys, cloud and forge
tokens, and password/secret/token assignments whose value is not an obvious placeholder or an
environment reference. Exit status 1 lists each finding as path:line: kind.
"""
import os
import re
import subprocess
import sys

PATTERNS = [
    ("private key", re.compile(r"-----BEGIN (?:RSA |EC |OPENSSH |DSA |PGP )?PRIVATE KEY( BLOCK)?-----")),
    ("AWS access key", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("GitHub token", re.compile(r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,}\b|\bgithub_pat_[A-Za-z0-9_]{60,}\b")),
    ("Slack token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}\b")),
    ("Google API key", re.compile(r"\bAIza[0-9A-Za-z_\-]{35}\b")),
    ("credential in URL", re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@'\"]*:([^/\s@'\"]{3,})@")),
    (
        "hard-coded secret",
        re.compile(
            r"""(?i)\b(?:password|passwd|secret|api[_-]?key|access[_-]?token|auth[_-]?token|private[_-]?key)\b"""
            r"""\s*[:=]\s*["']?([^"'\s,}#]{4,})"""
        ),
    ),
]

# Values that are obviously not secrets: environment references, placeholders, documented defaults.
PLACEHOLDER = re.compile(
    r"""(?ix)^(?:
        \$\{?[A-Z_][A-Z0-9_]*(?::?-[^}]*)?\}?   # ${VAR}, ${VAR:-default}, $VAR
      | <[^>]+>                                  # <password>
      | x{3,} | \*{3,} | \.\.\.
      | changeme | change-me | example | redacted | placeholder | dummy | none | null | true | false
      | password | passwd | pass | pw | secret | token     # the word itself, as in redis://user:password@host
      | admin                                    # Grafana's documented local default
      | [A-Za-z_][A-Za-z0-9_]*\(.*               # a function call, e.g. env("...")
      | [A-Za-z_][A-Za-z0-9_.]*(?:\.[A-Za-z_]+)+ # a field access, e.g. config.password
    )$"""
)
SKIP_SUFFIXES = (".png", ".jpg", ".ico", ".lock", ".svg")


def tracked_files(root):
    if root:
        for base, _, names in os.walk(root):
            for name in names:
                yield os.path.join(base, name)
        return
    out = subprocess.run(["git", "ls-files", "-z"], check=True, capture_output=True).stdout
    yield from (p for p in out.decode().split("\0") if p)


def scan(path):
    findings = []
    if path.endswith(SKIP_SUFFIXES) or path == "scripts/check_secrets.py" or os.path.isdir(path):
        return findings
    try:
        with open(path, encoding="utf-8", errors="ignore") as handle:
            lines = handle.readlines()
    except OSError:
        return findings
    for number, line in enumerate(lines, 1):
        if "secrets-check: allow" in line:
            continue
        for kind, pattern in PATTERNS:
            for match in pattern.finditer(line):
                value = match.group(1) if pattern.groups else match.group(0)
                if kind in ("hard-coded secret", "credential in URL") and PLACEHOLDER.match(value or ""):
                    continue
                findings.append(f"{path}:{number}: {kind}")
    return findings


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else None
    findings = [f for path in tracked_files(root) for f in scan(path)]
    if findings:
        print("possible credentials committed (mark a false positive with 'secrets-check: allow'):")
        print("\n".join(findings))
        return 1
    print("no credentials found")
    return 0


if __name__ == "__main__":
    sys.exit(main())
