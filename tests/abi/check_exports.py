#!/usr/bin/env python3
"""Checks the shared library's dynamic symbol table against ntm.h.

Fails when the library exports a symbol that is not a public ntm_ function of the header
(leaked internals: C++ symbols, OpenSSL or lwIP functions, ntm_ helpers not in ntm.h), or when a
function the header declares with NTM_EXTERN is not exported.

usage: check_exports.py --nm NM --library libntm.so --header ntm.h
"""
import argparse
import re
import subprocess
import sys

# Symbols the linker itself may define in any shared object.
LINKER_SYMBOLS = {"_init", "_fini", "_edata", "_end", "__bss_start"}


def header_functions(path):
    text = open(path, encoding="utf-8").read()
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)  # comments mention names too
    names = re.findall(r"NTM_EXTERN\s*\([^;{]*?\)\s*(ntm_\w+)\s*\(", text)
    if not names:
        sys.exit(f"no NTM_EXTERN declarations found in {path}")
    return set(names)


def exported_symbols(nm, library):
    out = subprocess.run([nm, "-D", "--defined-only", library], check=True,
                         capture_output=True, text=True).stdout
    symbols = {}
    for line in out.splitlines():
        fields = line.split()
        if len(fields) < 2:
            continue
        kind, name = fields[-2], fields[-1]
        if kind == "A":  # version-script node names such as NTM_0.1
            continue
        symbols[name.split("@")[0]] = kind
    return symbols


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--nm", default="nm")
    parser.add_argument("--library", required=True)
    parser.add_argument("--header", required=True)
    args = parser.parse_args()

    declared = header_functions(args.header)
    exported = exported_symbols(args.nm, args.library)
    problems = []
    for name, kind in sorted(exported.items()):
        if name in LINKER_SYMBOLS:
            continue
        if name not in declared:
            problems.append(f"exported but not an NTM_EXTERN function of ntm.h: {name} ({kind})")
        elif kind not in ("T", "t", "W", "i"):
            problems.append(f"{name} is exported as '{kind}', not as a function")
    for name in sorted(declared - exported.keys()):
        problems.append(f"declared in ntm.h but not exported: {name}")

    print(f"{len(declared)} functions declared, {len(exported)} symbols exported by {args.library}")
    for problem in problems:
        print("FAIL", problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
