#!/usr/bin/env python3
"""Checks the links and repository paths in the documentation.

  python3 tools/check_doc_links.py [--build-dir DIR] [FILE.md ...]

Default files: README.md, docs/*.md, examples/**/README.md. For each file:
- every relative Markdown link [text](target) points to an existing file or folder, and a
  #fragment into a Markdown file names one of its headings;
- every path starting with build/, examples/, ci/ or bindings/ written in `code` or in a code
  block exists in the repository, or is a build output: build/... (CMake's build folder, checked
  in --build-dir when given), bindings/java/target[/...], bindings/ruby/tmp[/...],
  bindings/python/build[/...]: these need only their binding's folder, so a clean checkout with
  nothing built passes. Braces and globs ({c,java}, *) are expanded.
Prints each problem as FILE:LINE: message and exits 1 if there is any. Python 3 stdlib only.

  python3 tools/check_doc_links.py --self-test   checks the path rules on fixed examples
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r"(?<!!)\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
IMAGE = re.compile(r"!\[[^\]]*\]\(\s*([^)\s]+)\s*\)")
FENCE = re.compile(r"^\s*(```|~~~)")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
REPO_PATH = re.compile(r"(?<![\w./$~-])((?:build|examples|ci|bindings)/[\w./*{},@+-]*)")
# Build outputs of the bindings: they exist only after a build, so only the binding's own folder
# is checked (the output folder itself, e.g. `bindings/ruby/tmp`, is one of them too).
BUILD_OUTPUTS = ("bindings/java/target", "bindings/ruby/tmp", "bindings/python/build")


def build_output(path: str) -> str | None:
    """The build-output folder `path` is or lies in, if any."""
    return next((out for out in BUILD_OUTPUTS if path == out or path.startswith(out + "/")), None)


def default_files() -> list[Path]:
    files = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    return files + sorted((ROOT / "examples").rglob("README.md"))


def heading_anchors(markdown: Path) -> set[str]:
    """The anchors GitHub gives the headings of a Markdown file (duplicates get -1, -2...)."""
    anchors: set[str] = set()
    in_fence = False
    for line in markdown.read_text().splitlines():
        if FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence and (m := re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)):
            text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", m.group(1)).replace("`", "")
            base = re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")
            anchor, n = base, 0
            while anchor in anchors:
                n += 1
                anchor = f"{base}-{n}"
            anchors.add(anchor)
    return anchors


def expand_braces(path: str) -> list[str]:
    m = re.search(r"\{([^{}]*)\}", path)
    if not m:
        return [path]
    return [
        expanded
        for option in m.group(1).split(",")
        for expanded in expand_braces(path[: m.start()] + option + path[m.end():])
    ]


class Checker:
    def __init__(self, build_dir: Path | None):
        self.build_dir = build_dir
        self.problems: list[str] = []
        self.anchor_cache: dict[Path, set[str]] = {}

    def problem(self, file: Path, line: int, message: str) -> None:
        self.problems.append(f"{file.relative_to(ROOT)}:{line}: {message}")

    def check_link(self, file: Path, line: int, target: str) -> None:
        if re.match(r"[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):
            return  # http:, https:, mailto: ...
        path_part, _, fragment = target.partition("#")
        resolved = (file.parent / path_part).resolve() if path_part else file
        if not resolved.exists():
            self.problem(file, line, f"link to a missing file: {target}")
            return
        if fragment and resolved.suffix == ".md":
            if resolved not in self.anchor_cache:
                self.anchor_cache[resolved] = heading_anchors(resolved)
            if fragment not in self.anchor_cache[resolved]:
                self.problem(file, line, f"link to a missing heading: {target}")

    def path_exists(self, path: str) -> bool:
        path = path.rstrip(".,;:")
        if path.startswith("build/"):
            if self.build_dir is None:
                return True  # a build output; checked when a build folder is given
            base, relative = self.build_dir, path[len("build/"):]
        elif (output := build_output(path)) is not None:
            return (ROOT / output).parent.is_dir()
        else:
            base, relative = ROOT, path
        if not relative:
            return base.exists()
        if "*" in relative:
            return any(base.glob(relative))
        return (base / relative).exists()

    def check_paths(self, file: Path, line: int, code: str) -> None:
        for match in REPO_PATH.finditer(code):
            for path in expand_braces(match.group(1)):
                if not self.path_exists(path):
                    where = f" (in {self.build_dir})" if path.startswith("build/") else ""
                    self.problem(file, line, f"path does not exist{where}: {path}")

    def check_file(self, file: Path) -> None:
        in_fence = False
        for number, line in enumerate(file.read_text().splitlines(), start=1):
            if FENCE.match(line):
                in_fence = not in_fence
                continue
            if in_fence:
                self.check_paths(file, number, line)
                continue
            for span in CODE_SPAN.finditer(line):
                self.check_paths(file, number, span.group(2))
            prose = CODE_SPAN.sub("", line)
            for link in (*LINK.finditer(prose), *IMAGE.finditer(prose)):
                self.check_link(file, number, link.group(1))


# (path, exists in a clean checkout with nothing built)
SELF_TEST_PATHS = [
    ("bindings/ruby/tmp", True),  # the output folder itself, as docs/getting-started-ruby.md says
    ("bindings/ruby/tmp/", True),
    ("bindings/ruby/tmp/lib", True),
    ("bindings/java/target/ntm.jar", True),
    ("bindings/python/build", True),
    ("bindings/ruby/tmpfiles", False),  # only the output folder's name, not every name it starts
    ("bindings/nosuch/tmp", False),
    ("examples/c", True),
    ("examples/nosuch.c", False),
    ("ci/suites/docs.sh", True),
    ("build/c-api/libntm.so", True),  # without --build-dir: not checked
]


def self_test() -> int:
    checker = Checker(None)
    failures = [f"{path}: exists={not want}, expected {want}"
                for path, want in SELF_TEST_PATHS if checker.path_exists(path) != want]
    for failure in failures:
        print(f"check_doc_links self-test FAILED: {failure}", file=sys.stderr)
    if not failures:
        print(f"check_doc_links self-test: {len(SELF_TEST_PATHS)} cases passed")
    return 1 if failures else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", type=Path, help="Markdown files (default: see above)")
    parser.add_argument("--build-dir", type=Path,
                        help="a finished CMake build: build/... paths must exist in it")
    parser.add_argument("--self-test", action="store_true",
                        help="check the path rules on fixed examples, then exit")
    args = parser.parse_args()
    if args.self_test:
        return self_test()
    files = [f.resolve() for f in args.files] or default_files()
    if args.build_dir and not args.build_dir.is_dir():
        print(f"check_doc_links: build folder {args.build_dir} not found", file=sys.stderr)
        return 2
    checker = Checker(args.build_dir.resolve() if args.build_dir else None)
    for file in files:
        if not file.is_file():
            print(f"check_doc_links: {file} not found", file=sys.stderr)
            return 2
        checker.check_file(file)
    for problem in checker.problems:
        print(problem)
    print(f"check_doc_links: {len(files)} files, {len(checker.problems)} problems")
    return 1 if checker.problems else 0


if __name__ == "__main__":
    sys.exit(main())
