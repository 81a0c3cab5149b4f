"""The README's "first program" in each language, taken from README.md itself and run against a
real ntm-server: alice logs in, finds bob.example by name, gets "hello" echoed by bob's echo
server (examples/python/echo_server.py, control-plane mode); the Java, Python and Ruby ones then
print the tunnel table, which must have bob's row.

The snippets are used as the README prints them, with three substitutions only: the server's
address, its certificate and alice's password (the README's fixed values), and - where the
node's options are written - real UDP addresses on loopback (the README leaves the default,
every address of the host). The C snippet is wrapped in main() and the Java one in a class; both
are compiled against the build."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from launch import REPO, build_dir, java_jar
from processes import ProcessGroup
from scenarios import READY_TIMEOUT, RUN_TIMEOUT

README = REPO / "README.md"
README_SERVER = "127.0.0.1:7800"
README_CERT = "/tmp/ntm-state/as-tls.pem"
README_PASSWORD = "secret-1"
COMPILE_TIMEOUT = 120

# Where each snippet sets alice's password: the loopback-only listen options go right after it.
LISTEN_AFTER_PASSWORD = {
    "c": ('o.password = "secret-1";', 'o.password = "secret-1"; o.listen_ipv4 = "127.0.0.1:0"; o.listen_ipv6 = "";'),
    "java": ('.password("secret-1")', '.password("secret-1").listen("127.0.0.1:0")'),
    "python": ('password="secret-1")', 'password="secret-1", listen_ipv4="127.0.0.1:0", listen_ipv6="")'),
    "ruby": ('password: "secret-1")', 'password: "secret-1", listen_ipv4: "127.0.0.1:0", listen_ipv6: "")'),
}
FENCE = {"c": "c", "java": "java", "python": "python", "ruby": "ruby"}


def readme_snippet(language: str) -> str:
    """The code block under the README's "**<Language>**" paragraph."""
    text = README.read_text()
    title = {"c": "C", "java": "Java", "python": "Python", "ruby": "Ruby"}[language]
    match = re.search(rf"^\*\*{title}\*\*.*?\n```{FENCE[language]}\n(.*?)\n```", text,
                      re.MULTILINE | re.DOTALL)
    assert match, f"README.md has no {title} example block"
    return match.group(1)


def adapted(language: str, server: str, certificate: str, password: str) -> str:
    code = readme_snippet(language)
    old, new = LISTEN_AFTER_PASSWORD[language]
    assert code.count(old) == 1, f"README {language} example: expected one {old!r}"
    for fixed in (README_SERVER, README_CERT):
        assert fixed in code, f"README {language} example no longer uses {fixed}"
    code = code.replace(old, new)
    return (code.replace(README_SERVER, server).replace(README_CERT, certificate)
            .replace(README_PASSWORD, password))


def program(language: str, code: str, workdir: Path) -> list[str]:
    """The argv that runs `code` (compiling it first where the language needs that)."""
    if language == "python":
        path = workdir / "first.py"
        path.write_text(code + "\n")
        return [sys.executable, str(path)]
    if language == "ruby":
        path = workdir / "first.rb"
        path.write_text(code + "\n")
        binding = REPO / "bindings" / "ruby"
        return ["ruby", "-I", str(binding / "lib"), "-I", str(binding / "tmp" / "lib"), str(path)]
    if language == "java":
        path = workdir / "First.java"
        path.write_text("import java.io.*;\nimport java.net.*;\nimport org.ntmobile.*;\n\n"
                        "public class First {\n  public static void main(String[] args) "
                        "throws Exception {\n" + code + "\n  }\n}\n")
        compiled = subprocess.run(["javac", "-cp", str(java_jar()), "-d", str(workdir), str(path)],
                                  capture_output=True, text=True, timeout=COMPILE_TIMEOUT)
        assert compiled.returncode == 0, f"README Java example does not compile:\n{compiled.stderr}"
        return ["java", "-cp", f"{java_jar()}:{workdir}", "First"]
    path = workdir / "first.c"
    path.write_text("#include <ntm.h>\n#include <netdb.h>\n#include <stdio.h>\n\n"
                    "int main(void) {\n" + code + "\n  return 0;\n}\n")
    binary = workdir / "first"
    build = build_dir()
    compiled = subprocess.run(
        ["cc", "-std=c11", "-Wall", "-Werror", "-D_POSIX_C_SOURCE=200809L",
         f"-I{REPO / 'c-api' / 'include'}", str(path), "-o", str(binary),
         f"-L{build / 'c-api'}", "-lntm", f"-Wl,-rpath,{build / 'c-api'}"],
        capture_output=True, text=True, timeout=COMPILE_TIMEOUT)
    assert compiled.returncode == 0, f"README C example does not compile:\n{compiled.stderr}"
    return [str(binary)]


@pytest.fixture(scope="module")
def bob(control_plane):
    """bob.example: the Python echo server in control-plane mode, on loopback, for the whole
    module (the per-test `procs` group would stop it after the first test)."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    group = ProcessGroup(env, str(REPO))
    node = control_plane["srv"]
    server = group.start("python echo server (srv)", [
        sys.executable, str(REPO / "examples" / "python" / "echo_server.py"), *node.options,
        "--port", "7000"])
    try:
        server.wait_for_line(r"listening|echoing", READY_TIMEOUT)
        yield node.fqdn
    finally:
        group.stop_all()


@pytest.mark.parametrize("language", ["c", "java", "python", "ruby"])
def test_readme_first_program(procs, control_plane, bob, workdir, language):
    alice = control_plane["alice"]
    options = dict(zip(alice.options[::2], alice.options[1::2]))
    code = adapted(language, options["--server"], options["--server-cert"], options["--password"])
    code = code.replace("bob.example", bob)
    proc = procs.start(f"README {language} example", program(language, code, workdir))
    assert proc.finish(RUN_TIMEOUT) == 0, proc.describe()
    assert "hello" in proc.stdout, proc.describe()
    if language != "c":  # the others also print the tunnel table; bob's row must be in it
        assert any(bob in line for line in proc.stdout if line != "hello"), \
            "no tunnel row for bob:\n" + proc.describe()
