#!/usr/bin/env python3
"""One version for everything: the VERSION file at the repository root.

Checks that ntm.h's NTM_VERSION_* macros, the Java POM, and the files the Python package and the
Ruby gem read their version from (bindings/*/VERSION) all say VERSION's version, and that the
built library's SONAME follows docs/api-stability.md: libntm.so.MAJOR.MINOR before 1.0,
libntm.so.MAJOR from 1.0 on. tools/set-version.sh changes them all at once.

usage: check_versions.py --root REPO --library libntm.so [--readelf READELF]
"""
import argparse
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", required=True, type=Path)
    parser.add_argument("--library", required=True)
    parser.add_argument("--readelf", default="readelf")
    args = parser.parse_args()
    root = args.root
    problems = []

    version = (root / "VERSION").read_text().strip()
    match = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)", version)
    if not match:
        sys.exit(f"VERSION holds {version!r}, not MAJOR.MINOR.PATCH")
    major, minor, patch = match.groups()

    header = (root / "c-api/include/ntm.h").read_text()
    for part, want in (("MAJOR", major), ("MINOR", minor), ("PATCH", patch)):
        found = re.search(rf"^#define NTM_VERSION_{part} (\d+)", header, re.M)
        if not found or found.group(1) != want:
            problems.append(f"ntm.h NTM_VERSION_{part} is {found and found.group(1)}, VERSION says {want}")

    pom = ET.parse(root / "bindings/java/pom.xml").getroot()
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    pom_version = pom.find("m:version", ns).text
    if pom_version != version:
        problems.append(f"bindings/java/pom.xml version is {pom_version}, VERSION says {version}")

    for binding in ("python", "ruby"):
        path = root / "bindings" / binding / "VERSION"
        if not path.exists() or path.read_text().strip() != version:
            problems.append(f"{path} does not hold VERSION's {version} (it should link to ../../VERSION)")
    pyproject = (root / "bindings/python/pyproject.toml").read_text()
    if 'input = "VERSION"' not in pyproject or re.search(r'^version\s*=', pyproject, re.M):
        problems.append("bindings/python/pyproject.toml must take its version from VERSION")
    ruby_version = (root / "bindings/ruby/lib/ntm/version.rb").read_text()
    if '"../../VERSION"' not in ruby_version:
        problems.append("bindings/ruby/lib/ntm/version.rb must read VERSION")

    dynamic = subprocess.run([args.readelf, "-d", args.library], check=True, capture_output=True,
                             text=True).stdout
    soname = re.search(r"\(SONAME\).*\[(.*)\]", dynamic)
    want_soname = f"libntm.so.{major}.{minor}" if major == "0" else f"libntm.so.{major}"
    if not soname or soname.group(1) != want_soname:
        problems.append(f"SONAME is {soname and soname.group(1)}, docs/api-stability.md says {want_soname}")

    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        return 1
    print(f"version {version} everywhere; SONAME {want_soname}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
