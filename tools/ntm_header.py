"""Parses c-api/include/ntm.h into its documented declarations (used by gen_c_api_doc.py).

The header follows a fixed shape, which this parser relies on and enforces:
- a leading /* ... */ comment describing the API;
- sections introduced by a banner: a /* ---- */ line, /* Title */, another /* ---- */ line;
- every public declaration preceded by a /** ... */ doc comment: #define macros, typedef enum
  (each value with a trailing /**< ... */), typedef struct (each field with a trailing
  /**< ... */), function-pointer typedefs and NTM_EXTERN(type) functions.
A declaration without its doc comment is an error (HeaderError), so "every declaration is
documented" stays true. Python 3 standard library only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Preprocessor lines that are plumbing, not API: the include guard and includes.
SKIPPED_DIRECTIVES = re.compile(r"#\s*(ifndef NTM_H|define NTM_H\b|include|endif|else|if\b)")
BANNER = re.compile(r"/\*\s*-{10,}\s*\*/\s*/\*\s*(?P<title>.*?)\s*\*/\s*/\*\s*-{10,}\s*\*/")
DOC = re.compile(r"/\*\*(?!<)(?P<text>.*?)\*/", re.DOTALL)
PREAMBLE_TITLE = "Export macro"  # declarations before the first banner
CPLUSPLUS_BLOCK = re.compile(r"#ifdef __cplusplus\b.*?#endif", re.DOTALL)
DEFINE = re.compile(r"#define[ \t]+(?P<name>\w+)(?P<params>\([^)]*\))?[ \t]*(?P<value>[^\n]*)")
TYPEDEF_BODY = re.compile(
    r"typedef\s+(?P<kind>enum|struct)\s+(?P<tag>\w+)\s*\{(?P<body>.*?)\}\s*(?P<name>\w+)\s*;",
    re.DOTALL,
)
TYPEDEF_FUNCTION = re.compile(r"typedef[^;{]*\(\s*\*\s*(?P<name>\w+)\s*\)[^;{]*;", re.DOTALL)
FUNCTION = re.compile(
    r"NTM_EXTERN\s*\((?P<type>[^)]*)\)\s*(?P<name>ntm_\w+)\s*\((?P<params>[^)]*)\)\s*;",
    re.DOTALL,
)
MEMBER_PART = re.compile(
    r"/\*\*<(?P<doc>.*?)\*/|/\*(?P<note>.*?)\*/|(?P<decl>[^;/]+;)|(?P<last>[^/]+)", re.DOTALL
)


class HeaderError(Exception):
    """The header does not have the shape described above (e.g. an undocumented declaration)."""


@dataclass
class Member:
    """An enum value or a struct field; `group` is a plain comment above it (a new version)."""

    declaration: str
    doc: str
    group: str = ""


@dataclass
class Declaration:
    kind: str  # "macro", "enum", "struct", "callback", "function"
    name: str
    code: str  # the declaration as C, without comments
    doc: str
    members: list[Member] = field(default_factory=list)


@dataclass
class Section:
    title: str
    declarations: list[Declaration] = field(default_factory=list)


@dataclass
class Header:
    intro: str
    sections: list[Section]


def doc_text(raw: str) -> str:
    """The text of a comment body: leading ` * ` removed from each line, outer blank lines off."""
    lines = [re.sub(r"^\s*\*?[ ]?", "", line).rstrip() for line in raw.splitlines()]
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(lines)


def squeeze(code: str) -> str:
    """C code on one line with single spaces."""
    code = re.sub(r"\s+", " ", code).strip()
    return code.replace("( ", "(").replace(" )", ")")


def parse_members(body: str, kind: str, where: str) -> list[Member]:
    members: list[Member] = []
    group = ""
    for match in MEMBER_PART.finditer(body):
        if match.group("doc") is not None:
            if not members or members[-1].doc:
                raise HeaderError(f"{where}: a /**< */ comment follows no {kind} member")
            members[-1].doc = doc_text(match.group("doc")).replace("\n", " ")
        elif match.group("note") is not None:
            group = squeeze(match.group("note")).strip("- ")
        else:
            text = match.group("decl") or match.group("last")
            for part in text.split(",") if kind == "enum" else [text]:
                part = squeeze(part.rstrip(";"))
                if part:
                    members.append(Member(part, "", group))
                    group = ""
    for member in members:
        if not member.doc:
            raise HeaderError(f"{where}: member '{member.declaration}' has no /**< */ comment")
    return members


def function_code(match: re.Match) -> str:
    return_type = squeeze(match.group("type"))
    separator = "" if return_type.endswith("*") else " "
    return f"{return_type}{separator}{match.group('name')}({squeeze(match.group('params'))});"


def struct_code(tag: str, name: str, members: list[Member]) -> str:
    lines = [f"typedef struct {tag} {{"]
    for member in members:
        if member.group:
            lines.append(f"  /* {member.group} */")
        lines.append(f"  {member.declaration};")
    lines.append(f"}} {name};")
    return "\n".join(lines)


def parse_declaration(text: str, pos: int, doc: str, line: int) -> tuple[Declaration, int]:
    """The declaration starting at text[pos] (after its doc comment), and where it ends."""
    where = f"ntm.h:{line}"
    if text.startswith("#if", pos):
        # A macro defined per platform (#if ... #define X ... #else ... #endif): named after its
        # first definition, shown whole.
        end = text.find("#endif", pos)
        define = DEFINE.search(text, pos, end)
        if end < 0 or not define:
            raise HeaderError(f"{where}: a documented #if block defines no macro")
        end += len("#endif")
        code = "\n".join(line.rstrip() for line in text[pos:end].splitlines())
        return Declaration("macro", define.group("name"), code, doc), end
    for kind, pattern in (("macro", DEFINE), ("function", FUNCTION), ("callback", TYPEDEF_FUNCTION)):
        match = pattern.match(text, pos)
        if match:
            if kind == "macro":
                code = f"#define {match.group('name')}{match.group('params') or ''} {match.group('value')}"
            elif kind == "function":
                code = function_code(match)
            else:
                code = squeeze(match.group(0))
            return Declaration(kind, match.group("name"), code.strip(), doc), match.end()
    match = TYPEDEF_BODY.match(text, pos)
    if match:
        kind, name = match.group("kind"), match.group("name")
        members = parse_members(match.group("body"), kind, f"{where} ({name})")
        if kind == "enum":
            code = f"typedef enum {match.group('tag')} {{ ... }} {name};"
        else:
            code = struct_code(match.group("tag"), name, members)
        return Declaration(kind, name, code, doc, members), match.end()
    snippet = text[pos : pos + 60].split("\n")[0]
    raise HeaderError(f"{where}: cannot parse the declaration after a doc comment: {snippet!r}")


def parse(text: str) -> Header:
    """The header's intro and its sections with their documented declarations."""
    intro_match = re.match(r"\s*/\*(?!\*)(.*?)\*/", text, re.DOTALL)
    if not intro_match:
        raise HeaderError("ntm.h: expected a leading /* ... */ comment describing the API")
    intro = doc_text(intro_match.group(1))
    # Blank out the C++ linkage blocks (keeping line numbers): they declare nothing.
    text = CPLUSPLUS_BLOCK.sub(lambda m: "\n" * m.group(0).count("\n"), text)
    pos = intro_match.end()
    sections: list[Section] = []
    pending_doc: str | None = None
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            break
        line = text.count("\n", 0, pos) + 1
        if pending_doc is None and (banner := BANNER.match(text, pos)):
            sections.append(Section(banner.group("title")))
            pos = banner.end()
        elif doc := DOC.match(text, pos):
            if pending_doc is not None:
                raise HeaderError(f"ntm.h:{line}: two doc comments in a row")
            pending_doc = doc_text(doc.group("text"))
            pos = doc.end()
        elif pending_doc is None and SKIPPED_DIRECTIVES.match(text, pos):
            end = text.find("\n", pos)
            pos = len(text) if end < 0 else end
        elif pending_doc is None:
            snippet = text[pos : pos + 60].split("\n")[0]
            raise HeaderError(f"ntm.h:{line}: declaration without a /** */ doc comment: {snippet!r}")
        else:
            declaration, pos = parse_declaration(text, pos, pending_doc, line)
            if not sections:  # the export macro comes before the first banner
                sections.append(Section(PREAMBLE_TITLE))
            sections[-1].declarations.append(declaration)
            pending_doc = None
    if pending_doc is not None:
        raise HeaderError("ntm.h: the last doc comment documents nothing")
    sections = [s for s in sections if s.declarations]
    return Header(intro, sections)
