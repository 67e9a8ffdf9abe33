"""Compiling actions: C source to a BPF ELF object with BTF, by clang."""

from __future__ import annotations

import os
import shutil
import subprocess
import sysconfig
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from extframe.errors import BuildError
from extframe.inputs import check_input
from extframe.owned import new_file_in

#: The folder of the action ABI header, ``extframe.h``.
ABI_INCLUDE = Path(__file__).resolve().parent.parent / "actions" / "include"


@dataclass(frozen=True, kw_only=True)
class BuildOptions:
    """How to compile an action.

    ``clang``: the compiler to run (``$CLANG`` or ``clang``).
    ``include_dirs``: extra ``-I`` folders, searched before the ABI header.
    ``defines``: extra ``-D`` macros (``NAME`` or ``NAME=VALUE``).
    ``cpu``: the ``-mcpu`` BPF ISA level (``v3`` is what the kernel of
    Debian 12 and later accepts everywhere).
    ``werror``: turn warnings into errors, as the bundled actions require.
    """

    clang: str = os.environ.get("CLANG", "clang")
    include_dirs: tuple[Path, ...] = ()
    defines: tuple[str, ...] = ()
    cpu: str = "v3"
    werror: bool = False


def default_output(source: Path) -> Path:
    """The object path for ``source`` when none is given: beside it, ``.o``."""
    return source.with_suffix(".o")


def clang_command(source: Path, output: Path, options: BuildOptions) -> list[str]:
    """The clang command line that builds ``source`` into ``output``."""
    multiarch = sysconfig.get_config_var("MULTIARCH") or "x86_64-linux-gnu"
    cmd = [
        options.clang,
        "-O2",
        "-g",  # BTF and line info: the verifier log and the analyzer cite C lines
        "-target",
        "bpf",
        f"-mcpu={options.cpu}",
        "-Wall",
    ]
    if options.werror:
        cmd.append("-Werror")
    for d in options.include_dirs:
        cmd.append(f"-I{d}")
    # asm/types.h lives in the multiarch folder on Debian; -target bpf does
    # not look there on its own.
    cmd += [f"-I{ABI_INCLUDE}", f"-I/usr/include/{multiarch}"]
    cmd += [f"-D{d}" for d in options.defines]
    cmd += ["-c", str(source), "-o", str(output)]
    return cmd


def build(source: Path, output: Path | None = None, options: BuildOptions | None = None) -> Path:
    """Compile ``source`` and return the object's path.

    Raises ``BuildError`` with clang's own diagnostics when it fails; no
    partial object is left behind.
    """
    options = options or BuildOptions()
    output = output or default_output(source)
    if output.is_dir():
        output = output / (source.stem + ".o")
    check_input(source, BuildError)
    if shutil.which(options.clang) is None:
        raise BuildError(f"{options.clang}: compiler not found; run `make setup` (installs clang)")
    with new_file_in(output.parent, output.name) as tmp:
        cmd = clang_command(source, tmp, options)
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            diagnostics = proc.stderr.strip()
            first = next(
                (ln for ln in diagnostics.splitlines() if "error:" in ln),
                diagnostics.splitlines()[0] if diagnostics else "clang failed",
            )
            raise BuildError(f"{source}: compile failed: {first}", output=diagnostics)
        os.chmod(tmp, 0o644)
        tmp.replace(output)
    return output


@contextmanager
def object_for(path: Path, build_dir: Path | None = None) -> Iterator[Path]:
    """An object file for ``path``: built into a temporary folder if it is C."""
    if path.suffix == ".c":
        with tempfile.TemporaryDirectory(prefix="extframe-") as tmp:
            yield build(path, Path(build_dir or tmp) / (path.stem + ".o"))
    else:
        yield path
