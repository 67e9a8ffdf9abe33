"""ovs_patches/build.sh: the cache key, and a patch that does not apply."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.ovs.conftest import BUILD_SCRIPT, ovs_build

TARBALL = Path("/usr/src/openvswitch/openvswitch.tar.gz")


def run(script: Path, cache: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, EXTFRAME_OVS_CACHE=str(cache))
    return subprocess.run(
        ["bash", str(script), *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def test_series_lists_every_patch_and_nothing_else() -> None:
    folder = BUILD_SCRIPT.parent
    listed = [ln.strip() for ln in (folder / "series").read_text().splitlines() if ln.strip()]
    assert listed == sorted(p.name for p in folder.glob("*.patch"))


def test_where_fails_when_nothing_is_built(tmp_path: Path) -> None:
    done = run(BUILD_SCRIPT, tmp_path / "cache", "--where")
    assert done.returncode == 1 and done.stdout == ""


@pytest.mark.ovs
@pytest.mark.skipif(not TARBALL.exists(), reason="Debian's openvswitch-source is not installed")
def test_a_patch_that_does_not_apply_is_named(tmp_path: Path) -> None:
    folder = tmp_path / "ovs_patches"
    shutil.copytree(BUILD_SCRIPT.parent, folder)
    bad = folder / "0003-bad.patch"
    bad.write_text(
        "--- a/NEWS\n+++ b/NEWS\n@@ -1,1 +1,1 @@\n-This line is not in NEWS.\n+Nor this.\n"
    )
    with (folder / "series").open("a") as series:
        series.write("0003-bad.patch\n")
    done = run(folder / "build.sh", tmp_path / "cache")
    assert done.returncode == 2
    assert "patch 0003-bad.patch does not apply" in done.stderr
    assert "[3/5]" not in done.stderr
    # Nothing half-built is taken for a build.
    assert run(folder / "build.sh", tmp_path / "cache", "--where").returncode == 1


@pytest.mark.ovs
def test_a_change_to_the_series_changes_the_key(tmp_path: Path) -> None:
    folder = tmp_path / "ovs_patches"
    shutil.copytree(BUILD_SCRIPT.parent, folder)
    built = ovs_build()
    if built is None:
        pytest.skip("the patched OVS is not built")
    # The same series in another folder is the same build...
    assert run(folder / "build.sh", built.parent, "--where").stdout == f"{built}\n"
    # ...and one changed byte in a patch is another.
    patch = sorted(folder.glob("*.patch"))[0]
    patch.write_text(patch.read_text() + "\n")
    assert run(folder / "build.sh", built.parent, "--where").returncode == 1
