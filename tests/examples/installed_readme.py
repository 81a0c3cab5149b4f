"""The README's first programs again, each run from an *installed* package, from a folder
outside this repository, and - when running as root - with the repository and the build folder
hidden from the program (a private mount namespace with an empty tmpfs over them): what a user
who installed ntmobile gets, with nothing reaching back into a source or build tree.

ci/suites/packaging.sh installs the packages into a temporary folder and runs this file
explicitly (its name keeps it out of the examples suite):
  NTM_INSTALLED_LANGUAGES  e.g. "c python ruby java": the languages to run (each must have its
                           variable below; a missing one fails, it is not skipped)
  NTM_INSTALLED_PREFIX     C: the `cmake --install` prefix (pkg-config finds ntm.pc there)
  NTM_INSTALLED_PYTHON     Python: the interpreter of a fresh venv holding the repaired wheel
  NTM_INSTALLED_GEM_HOME   Ruby: the GEM_HOME the gem was installed into
  NTM_INSTALLED_MAVEN      Java: a copy of tests/packaging/consumer-maven (depends on the
                           installed org.ntmobile:ntmobile artifact); the program runs on the
                           class path
  NTM_INSTALLED_MAVEN_MODULE  "java-module": another copy; the program becomes the module
                           `first` (requires org.ntmobile) and runs on the module path, so
                           the jar's module-info (exports, JNA's opens) is what it gets
The server and bob (examples/python/echo_server.py) are those of test_readme.py."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from launch import REPO, build_dir
from processes import ProcessGroup
from scenarios import RUN_TIMEOUT
from test_readme import adapted, bob  # noqa: F401 (bob is a fixture)

LANGUAGES = os.environ.get("NTM_INSTALLED_LANGUAGES", "").split()
VARIABLE = {"c": "NTM_INSTALLED_PREFIX", "python": "NTM_INSTALLED_PYTHON",
            "ruby": "NTM_INSTALLED_GEM_HOME", "java": "NTM_INSTALLED_MAVEN",
            "java-module": "NTM_INSTALLED_MAVEN_MODULE"}
BUILD_TIMEOUT = 300
# What the programs must not see: anything that would let them use the repository's files.
LEAKY_VARIABLES = ("NTM_LIBRARY", "NTM_BUILD_DIR", "NTM_ROOT", "PYTHONPATH", "RUBYLIB",
                   "LD_LIBRARY_PATH", "CLASSPATH", "GEM_HOME", "GEM_PATH", "PKG_CONFIG_PATH")


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in LEAKY_VARIABLES}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def hidden_repository(argv: list[str]) -> list[str]:
    """argv run with the repository (and an outside build folder) under an empty tmpfs, when
    this process may make a mount namespace (root); unchanged otherwise."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return argv
    hide = [str(REPO)]
    if not build_dir().is_relative_to(REPO):
        hide.append(str(build_dir()))
    mounts = " && ".join(f"mount -t tmpfs ntm-hidden '{path}'" for path in hide)
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c",
            f'{mounts} && exec "$@"', "sh", *argv]


def run(argv: list[str], env: dict[str, str], cwd: Path, what: str) -> None:
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=BUILD_TIMEOUT)
    assert done.returncode == 0, f"{what} failed:\n{done.stdout}\n{done.stderr}"


def installed_program(language: str, code: str, workdir: Path, env: dict[str, str]) -> list[str]:
    """The argv that runs `code` with the installed package (building it first for C, Java)."""
    where = os.environ.get(VARIABLE[language], "")
    assert where, f"{VARIABLE[language]} is not set: ci/suites/packaging.sh sets it"
    if language == "python":
        (workdir / "first.py").write_text(code + "\n")
        return [where, str(workdir / "first.py")]
    if language == "ruby":
        env["GEM_HOME"] = env["GEM_PATH"] = where
        (workdir / "first.rb").write_text(code + "\n")
        return ["ruby", str(workdir / "first.rb")]
    if language in ("java", "java-module"):
        project = Path(where)
        sources = project / "src" / "main" / "java"
        modular = language == "java-module"
        source = sources / "first" / "First.java" if modular else sources / "First.java"
        source.parent.mkdir(parents=True, exist_ok=True)
        source.write_text(("package first;\n\n" if modular else "")
                          + "import java.io.*;\nimport java.net.*;\nimport org.ntmobile.*;\n\n"
                          "public class First {\n  public static void main(String[] args) "
                          "throws Exception {\n" + code + "\n  }\n}\n")
        if modular:  # Maven then compiles against the module path
            (sources / "module-info.java").write_text("module first {\n  requires org.ntmobile;\n}\n")
        version = (REPO / "VERSION").read_text().strip()
        run(["mvn", "-q", "-B", "-ntp", f"-Dntm.version={version}", "compile"], env, project,
            "mvn compile of the Java consumer")
        classes, lib = project / "target" / "classes", project / "target" / "lib"
        if modular:
            return ["java", "--module-path", f"{classes}:{lib}", "--module", "first/first.First"]
        return ["java", "-cp", f"{classes}:{lib}/*", "First"]
    pc = str(Path(where) / "lib" / "pkgconfig")
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "ntm"], capture_output=True,
                           text=True, env=dict(env, PKG_CONFIG_PATH=pc), check=True).stdout.split()
    libdir = subprocess.run(["pkg-config", "--variable=libdir", "ntm"], capture_output=True,
                            text=True, env=dict(env, PKG_CONFIG_PATH=pc), check=True).stdout.strip()
    (workdir / "first.c").write_text("#include <ntm.h>\n#include <netdb.h>\n#include <stdio.h>\n\n"
                                     "int main(void) {\n" + code + "\n  return 0;\n}\n")
    run(["cc", "-std=c11", "-Wall", "-Werror", "-D_POSIX_C_SOURCE=200809L", "first.c", "-o",
         "first", *flags, f"-Wl,-rpath,{libdir}"], env, workdir, "cc of the README C program")
    return [str(workdir / "first")]


def test_some_language_is_installed():
    assert LANGUAGES, "NTM_INSTALLED_LANGUAGES names no language: nothing would be tested"
    assert set(LANGUAGES) <= set(VARIABLE), f"unknown language in {LANGUAGES}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_readme_program_runs_from_the_installed_package(control_plane, bob, workdir, language):  # noqa: F811
    alice = control_plane["alice"]
    options = dict(zip(alice.options[::2], alice.options[1::2]))
    code = adapted("java" if language == "java-module" else language, options["--server"], options["--server-cert"], options["--password"])
    code = code.replace("bob.example", bob)
    env = clean_env()
    argv = hidden_repository(installed_program(language, code, workdir, env))
    group = ProcessGroup(env, str(workdir))
    try:
        proc = group.start(f"installed README {language} example", argv)
        assert proc.finish(RUN_TIMEOUT) == 0, proc.describe()
        assert "hello" in proc.stdout, proc.describe()
        if language != "c":
            assert any(bob in line for line in proc.stdout if line != "hello"), \
                "no tunnel row for bob:\n" + proc.describe()
    finally:
        group.stop_all()
