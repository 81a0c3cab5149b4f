#!/usr/bin/env python3
"""Generates docs/c-api.md, the C API reference, from the doc comments of c-api/include/ntm.h.

  python3 tools/gen_c_api_doc.py            (re)writes docs/c-api.md
  python3 tools/gen_c_api_doc.py --check    exits 1 if docs/c-api.md is not what it would write

Every declaration of the header (macros, enums and their values, structs and their fields,
callbacks, functions) appears under the header's own section titles, with its C declaration
and its text. The header is the source: change its comments, then run this. An undocumented
declaration is an error (exit 2), so the header stays fully documented. Python 3 stdlib only.
"""

from __future__ import annotations

import argparse
import errno
import re
import sys
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in tools/
sys.path.insert(0, str(Path(__file__).resolve().parent))
import ntm_header  # noqa: E402  (this folder's parser)

ROOT = Path(__file__).resolve().parents[1]
HEADER = ROOT / "c-api/include/ntm.h"
OUTPUT = ROOT / "docs/c-api.md"

# Upper-case words that are C constants in the prose (errno names and poll bits), set in code.
CODE_WORDS = set(errno.errorcode.values()) | {
    "NULL", "POLLIN", "POLLOUT", "POLLERR", "POLLHUP", "POLLNVAL",
}
# A C-looking token: *name, name_with_underscores, NAME_*, name() or name(2).
CODE_TOKEN = re.compile(
    r"(?<![\w`])(\*?[A-Za-z_]\w*(?:\*|\(\d?\))?)(?![\w`])"
)
# A quoted value (an address, a name, ""): no spaces, and not a plain word like "Blocks".
QUOTED = re.compile(r'"(?:[^"\s]*[^"\sA-Za-z][^"\s]*)?"')
DOC_PATH = re.compile(r"\bdocs/([\w-]+\.md)\b")


def slug(title: str) -> str:
    """The anchor GitHub gives a heading."""
    text = re.sub(r"[^\w\- ]", "", title.strip().lower())
    return text.replace(" ", "-")


class Renderer:
    def __init__(self, header: ntm_header.Header):
        self.header = header
        self.anchors: dict[str, str] = {}  # declared name or enum value -> anchor
        for section in header.sections:
            for declaration in section.declarations:
                anchor = slug(declaration.name)
                if anchor in self.anchors.values():
                    raise ntm_header.HeaderError(f"two declarations share the anchor #{anchor}")
                self.anchors[declaration.name] = anchor
                if declaration.kind == "enum":
                    for member in declaration.members:
                        self.anchors[member.declaration.split("=")[0].strip()] = anchor

    # ---- prose ----

    def code_span(self, token: str, current: str) -> str:
        name = token.lstrip("*").split("(")[0]
        if name in self.anchors and name != current and not token.startswith("*"):
            return f"[`{token}`](#{self.anchors[name]})"
        return f"`{token}`"

    def inline(self, text: str, current: str) -> str:
        """Sets identifiers in code (linking declared ones) outside existing `code` spans."""
        parts = re.split(r"(`[^`]*`)", text)
        for index in range(0, len(parts), 2):
            plain = QUOTED.sub(lambda m: f"\0{m.group(0)}\0", parts[index])
            pieces = plain.split("\0")
            for j in range(0, len(pieces), 2):
                pieces[j] = CODE_TOKEN.sub(
                    lambda m: self.code_token(m.group(1), current), pieces[j]
                ).replace("<", "&lt;")
            for j in range(1, len(pieces), 2):
                pieces[j] = f"`{pieces[j]}`"
            parts[index] = DOC_PATH.sub(r"[docs/\1](\1)", "".join(pieces))
        return "".join(parts)

    def code_token(self, token: str, current: str) -> str:
        looks_like_code = (
            "_" in token or token.startswith("*") or token.endswith(")") or token in CODE_WORDS
        )
        return self.code_span(token, current) if looks_like_code else token

    def prose(self, doc: str, current: str) -> str:
        """Doc-comment text as Markdown paragraphs and lists; @return becomes "Returns:"."""
        blocks: list[str] = []
        for line in doc.splitlines():
            stripped = line.strip()
            if not stripped:
                blocks.append("")
            elif stripped.startswith("- "):
                blocks.append(stripped)
            elif stripped.startswith("@return"):
                blocks.append(stripped)
            elif blocks and blocks[-1]:
                blocks[-1] += " " + stripped
            else:
                blocks.append(stripped)
        out: list[str] = []
        for block in blocks:
            if not block:
                continue
            is_item = block.startswith("- ")
            if out and not (is_item and out[-1].startswith("- ")):
                out.append("")
            if block.startswith("@return"):
                out.append("**Returns:** " + self.inline(block[len("@return"):].strip(), current))
            else:
                out.append(self.inline(block, current))
        return "\n".join(out)

    def cell(self, text: str, current: str) -> str:
        return self.inline(text, current).replace("|", "\\|")

    # ---- declarations ----

    def declaration(self, d: ntm_header.Declaration) -> list[str]:
        lines = [f"### {d.name}", ""]
        if d.kind == "enum":
            lines += [self.prose(d.doc, d.name), "", "| name | value | meaning |", "|---|---|---|"]
            for member in d.members:
                name, _, value = (p.strip() for p in member.declaration.partition("="))
                lines.append(f"| `{name}` | {value} | {self.cell(member.doc, d.name)} |")
            return lines + [""]
        lines += ["```c", d.code, "```", "", self.prose(d.doc, d.name), ""]
        if d.kind == "struct":
            lines += ["| field | meaning |", "|---|---|"]
            for member in d.members:
                if member.group:
                    lines.append(f"| *{member.group}* | |")
                lines.append(f"| `{member.declaration}` | {self.cell(member.doc, d.name)} |")
            lines.append("")
        return lines

    def document(self) -> str:
        lines = [
            "# C API reference (`ntm.h`)",
            "",
            "<!-- Generated from c-api/include/ntm.h by tools/gen_c_api_doc.py: do not edit. -->",
            "",
            "Generated from the doc comments of [c-api/include/ntm.h](../c-api/include/ntm.h) by "
            "`python3 tools/gen_c_api_doc.py`. What the ABI promises across versions: "
            "[api-stability.md](api-stability.md). First steps: "
            "[getting-started-c.md](getting-started-c.md).",
            "",
            "## Overview",
            "",
            self.prose(self.header.intro.split("\n", 1)[1].strip(), ""),
            "",
            "## Contents",
            "",
        ]
        for section in self.header.sections:
            names = ", ".join(f"[{d.name}](#{self.anchors[d.name]})" for d in section.declarations)
            lines.append(f"- [{section.title}](#{slug(section.title)}): {names}")
        lines.append("")
        for section in self.header.sections:
            lines += [f"## {section.title}", ""]
            for declaration in section.declarations:
                lines += self.declaration(declaration)
        return "\n".join(lines).rstrip() + "\n"


def render(header_text: str) -> str:
    return Renderer(ntm_header.parse(header_text)).document()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help=f"exit 1 if {OUTPUT.relative_to(ROOT)} is out of date")
    args = parser.parse_args()
    try:
        text = render(HEADER.read_text())
    except (OSError, ntm_header.HeaderError) as error:
        print(f"gen_c_api_doc: {error}", file=sys.stderr)
        return 2
    relative = OUTPUT.relative_to(ROOT)
    if args.check:
        if not OUTPUT.is_file() or OUTPUT.read_text() != text:
            print(f"gen_c_api_doc: {relative} is out of date with c-api/include/ntm.h; "
                  "run: python3 tools/gen_c_api_doc.py", file=sys.stderr)
            return 1
        print(f"gen_c_api_doc: {relative} is up to date")
        return 0
    OUTPUT.write_text(text)
    print(f"gen_c_api_doc: wrote {relative}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
