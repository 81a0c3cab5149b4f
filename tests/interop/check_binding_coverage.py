#!/usr/bin/env python3
"""Checks that every language binding binds every function of the C API.

  check_binding_coverage.py [--root DIR] [--exceptions FILE]
  check_binding_coverage.py --self-test

Reads every `NTM_EXTERN(type) ntm_xxx(` declaration of c-api/include/ntm.h, then looks for each
function in the binding sources (comments and string literals removed first, so a mention in a
doc comment does not count):

  java    bindings/java/src/main/java/**.java  a method declared with the C function's name
                                                (JNA interface or `native` direct mapping)
  python  bindings/python/src/**                the name used in .cc/.cpp/.h/.py code
  ruby    bindings/ruby/ext/** (.c/.h), lib/**  the name used in C or Ruby code

A function a binding leaves out on purpose is listed in tests/interop/binding_exceptions.txt as
`<binding> <ntm_function> <reason...>` (# starts a comment). Prints a coverage table (function x
binding) and exits 1 when a binding leaves out a function without an exception, or when an
exception is stale (the binding now covers the function, or ntm.h no longer declares it), so the
list stays true. Exits 2 on unreadable input. Python 3 standard library only.
"""

from __future__ import annotations

import argparse
import io
import re
import sys
import tempfile
import tokenize
from dataclasses import dataclass
from pathlib import Path

HEADER = Path("c-api/include/ntm.h")
DEFAULT_EXCEPTIONS = Path("tests/interop/binding_exceptions.txt")
DECLARATION = re.compile(r"NTM_EXTERN\s*\([^)]*\)\s*(ntm_\w+)\s*\(")
JAVA_METHOD = re.compile(
    r"^\s*(?:(?:public|static|native|final|abstract|synchronized)\s+)*"
    r"(?P<type>[A-Za-z_][\w.<>\[\]]*)\s+(?P<name>ntm_\w+)\s*\(",
    re.MULTILINE,
)
JAVA_NOT_TYPES = {"return", "new", "throw", "else", "case", "yield"}


class InputError(Exception):
    """Input the check cannot read (missing header, malformed exception line)."""


@dataclass(frozen=True)
class Binding:
    name: str
    sources: tuple[tuple[str, tuple[str, ...]], ...]  # (folder, file suffixes)
    language_of: dict[str, str]  # file suffix -> how to strip comments and strings


BINDINGS = (
    Binding("java", (("bindings/java/src/main/java", (".java",)),), {".java": "c"}),
    Binding(
        "python",
        (("bindings/python/src", (".cc", ".cpp", ".h", ".py")),),
        {".cc": "c", ".cpp": "c", ".h": "c", ".py": "python"},
    ),
    Binding(
        "ruby",
        (("bindings/ruby/ext", (".c", ".h")), ("bindings/ruby/lib", (".rb",))),
        {".c": "c", ".h": "c", ".rb": "ruby"},
    ),
)


# ---- reading sources without comments and string literals ----


def strip_c_like(text: str) -> str:
    """Removes // and /* */ comments and string/char literals (C, C++, Java)."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
            out.append(" ")
        elif c in "\"'":
            i += 1
            while i < n and text[i] != c and text[i] != "\n":
                i += 2 if text[i] == "\\" else 1
            i += 1
            out.append(c + c)
        else:
            out.append(c)
            i += 1
    return "".join(out)


def strip_python(text: str) -> str:
    """Keeps only Python code tokens (no comments, no strings or docstrings)."""
    kept = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type not in (tokenize.COMMENT, tokenize.STRING):
                kept.append(token.string)
    except (tokenize.TokenError, SyntaxError) as error:
        raise InputError(f"cannot tokenize Python source: {error}") from error
    return " ".join(kept)


def strip_ruby(text: str) -> str:
    """Removes Ruby comments (# to the end of line outside quotes, =begin/=end blocks)."""
    out, in_block = [], False
    for line in text.splitlines():
        if line.startswith("=begin"):
            in_block = True
        if in_block:
            in_block = not line.startswith("=end")
            continue
        quote = None
        for index, char in enumerate(line):
            if quote:
                quote = None if char == quote and line[index - 1] != "\\" else quote
            elif char in "\"'":
                quote = char
            elif char == "#":
                line = line[:index]
                break
        out.append(line)
    return "\n".join(out)


STRIPPERS = {"c": strip_c_like, "python": strip_python, "ruby": strip_ruby}


# ---- what the header declares and what each binding binds ----


def declared_functions(root: Path) -> list[str]:
    header = root / HEADER
    if not header.is_file():
        raise InputError(f"{header} not found")
    names = DECLARATION.findall(strip_c_like(header.read_text()))
    if not names:
        raise InputError(f"{header} declares no NTM_EXTERN(...) ntm_* function")
    return list(dict.fromkeys(names))


def binding_code(root: Path, binding: Binding) -> str:
    """All of a binding's source files, comments and strings removed, concatenated."""
    parts = []
    for folder, suffixes in binding.sources:
        base = root / folder
        if not base.is_dir():
            raise InputError(f"{base} not found (the {binding.name} binding's sources)")
        for path in sorted(base.rglob("*")):
            if path.is_file() and path.suffix in suffixes:
                strip = STRIPPERS[binding.language_of[path.suffix]]
                try:
                    parts.append(strip(path.read_text()))
                except InputError as error:
                    raise InputError(f"{path}: {error}") from error
    return "\n".join(parts)


def covered_functions(binding: Binding, code: str, functions: list[str]) -> set[str]:
    if binding.name == "java":
        # A Java binding must declare the C function as a method to be able to call it.
        declared = {
            m.group("name")
            for m in JAVA_METHOD.finditer(code)
            if m.group("type") not in JAVA_NOT_TYPES
        }
        return {f for f in functions if f in declared}
    return {f for f in functions if re.search(rf"\b{re.escape(f)}\b", code)}


def read_exceptions(path: Path, binding_names: set[str]) -> dict[tuple[str, str], str]:
    """(binding, function) -> reason, from `<binding> <ntm_function> <reason...>` lines."""
    if not path.is_file():
        raise InputError(f"{path} not found")
    exceptions: dict[tuple[str, str], str] = {}
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        fields = line.split(None, 2)
        where = f"{path}:{number}"
        if len(fields) < 3:
            raise InputError(f"{where}: expected '<binding> <ntm_function> <reason...>'")
        binding, function, reason = fields
        if binding not in binding_names:
            raise InputError(f"{where}: unknown binding '{binding}' ({', '.join(sorted(binding_names))})")
        if not function.startswith("ntm_"):
            raise InputError(f"{where}: '{function}' is not an ntm_ function")
        if (binding, function) in exceptions:
            raise InputError(f"{where}: {binding} {function} is listed twice")
        exceptions[(binding, function)] = reason
    return exceptions


# ---- the check ----


def check(root: Path, exceptions_file: Path, out=sys.stdout) -> list[str]:
    """Prints the coverage table; returns the problems (empty when the bindings are complete)."""
    functions = declared_functions(root)
    exceptions = read_exceptions(exceptions_file, {b.name for b in BINDINGS})
    covered = {b.name: covered_functions(b, binding_code(root, b), functions) for b in BINDINGS}

    width = max(len(f) for f in functions)
    names = [b.name for b in BINDINGS]
    print(f"{'function':<{width}}  " + "  ".join(f"{n:<9}" for n in names), file=out)
    problems = []
    for function in functions:
        cells = []
        for name in names:
            if function in covered[name]:
                cell = "stale-exc" if (name, function) in exceptions else "yes"
            elif (name, function) in exceptions:
                cell = "exception"
            else:
                cell = "MISSING"
                problems.append(f"{name}: {function} is not bound (bind it, or add an exception)")
            if cell == "stale-exc":
                problems.append(f"{name}: {function} is bound now; remove its exception")
            cells.append(f"{cell:<9}")
        print(f"{function:<{width}}  " + "  ".join(cells), file=out)
    for (name, function) in sorted(exceptions):
        if function not in functions:
            problems.append(f"{name}: exception for {function}, which ntm.h no longer declares")
    problems.sort(key=lambda problem: problem.split(":", 1)[0])  # grouped per binding (stable)
    total = len(functions)
    summary = ", ".join(
        f"{n} {len(covered[n])}/{total} bound + "
        f"{sum(1 for (b, f) in exceptions if b == n and f in functions and f not in covered[n])} exceptions"
        for n in names
    )
    print(f"\n{total} functions in ntm.h; {summary}", file=out)
    return problems


def main_check(root: Path, exceptions_file: Path) -> int:
    try:
        problems = check(root, exceptions_file)
    except InputError as error:
        print(f"check_binding_coverage: {error}", file=sys.stderr)
        return 2
    if problems:
        print("\nbinding coverage FAILED:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    print("binding coverage: ok")
    return 0


# ---- self-test: the check on a synthetic header and bindings ----


SELF_TEST_FILES = {
    "c-api/include/ntm.h": (
        "/** doc */\nNTM_EXTERN(int) ntm_alpha(void);\nNTM_EXTERN(const char *) ntm_beta(int x);\n"
        "NTM_EXTERN(void) ntm_gamma(void);\n/* NTM_EXTERN(int) ntm_commented(void); */\n"
    ),
    "bindings/java/src/main/java/Api.java": (
        "interface Api {\n  int ntm_alpha();\n  String ntm_beta(int x);\n"
        "  // void ntm_gamma();\n}\nclass Use { int f() { return Api.ntm_gamma(); } }\n"
    ),
    "bindings/python/src/native/m.cc": (
        "int a = ntm_alpha();\n// ntm_beta( in a comment\n"
        'const char *s = "ntm_gamma";\nstd::unique_ptr<int, void(*)(int*)> p(x, ntm_gamma);\n'
    ),
    "bindings/python/src/pkg/x.py": '"""ntm_beta in a docstring"""\n# ntm_beta\n',
    "bindings/ruby/ext/ntm/e.c": "static int f(void) { return ntm_alpha() + (ntm_beta(1) != 0); }\n",
    "bindings/ruby/lib/ntm.rb": 'x = "#{y}" # ntm_gamma in a comment\n',
}
SELF_TEST_CASES = (
    # (exceptions file, expected problems: substrings, one per problem)
    (
        "java ntm_gamma only in a comment here\npython ntm_beta a reason\n"
        "ruby ntm_gamma another reason\n",
        [],
    ),
    ("python ntm_beta r\nruby ntm_gamma r\n", ["java: ntm_gamma is not bound"]),
    (
        "java ntm_gamma r\npython ntm_beta r\nruby ntm_gamma r\npython ntm_alpha r\n",
        ["python: ntm_alpha is bound now"],
    ),
    (
        "java ntm_gamma r\npython ntm_beta r\nruby ntm_gamma r\nruby ntm_removed r\n",
        ["ntm_removed, which ntm.h no longer declares"],
    ),
)


def self_test() -> int:
    failures = []
    with tempfile.TemporaryDirectory(prefix="ntm-coverage-selftest-") as tmp:
        root = Path(tmp)
        for relative, text in SELF_TEST_FILES.items():
            (root / relative).parent.mkdir(parents=True, exist_ok=True)
            (root / relative).write_text(text)
        exceptions_file = root / "exceptions.txt"
        for number, (exceptions, expected) in enumerate(SELF_TEST_CASES, start=1):
            exceptions_file.write_text(exceptions)
            problems = check(root, exceptions_file, out=io.StringIO())
            matched = len(problems) == len(expected) and all(
                any(e in p for p in problems) for e in expected
            )
            if not matched:
                failures.append(f"case {number}: expected {expected}, got {problems}")
        for bad in ("java ntm_alpha\n", "perl ntm_alpha r\n", "java ntm_alpha r\njava ntm_alpha r\n"):
            exceptions_file.write_text(bad)
            try:
                check(root, exceptions_file, out=io.StringIO())
                failures.append(f"malformed exceptions {bad!r} were accepted")
            except InputError:
                pass
    for failure in failures:
        print(f"self-test FAILED: {failure}", file=sys.stderr)
    if not failures:
        print(f"check_binding_coverage self-test: {len(SELF_TEST_CASES) + 3} cases passed")
    return 1 if failures else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[2],
                        help="repository root (default: this file's repository)")
    parser.add_argument("--exceptions", type=Path,
                        help=f"exceptions file (default: ROOT/{DEFAULT_EXCEPTIONS})")
    parser.add_argument("--self-test", action="store_true",
                        help="run the check on a synthetic header and bindings in a temp dir")
    args = parser.parse_args()
    if args.self_test:
        return self_test()
    return main_check(args.root, args.exceptions or args.root / DEFAULT_EXCEPTIONS)


if __name__ == "__main__":
    sys.exit(main())
