"""``extframe check`` as a CI gate, on the real kernel: declarations, the lock, SARIF.

The project gates itself here: every action in actions/ must match its
declaration and extframe.lock, through the real command line.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from tests.conftest import ACTIONS, ROOT, cli
from tests.sarif_schema import validate_sarif

pytestmark = pytest.mark.kernel
PROGS = Path(__file__).parent / "progs"

#: dec_ttl's IPv4 TTL store, and the same with a write of ip.tos after it.
TTL_STORE = "\tiph->ttl = ttl - 1;\n"
TOS_STORE = TTL_STORE + "\tiph->tos = 0;\n"
DECLARED = 'EXTFRAME_EFFECTS(writes("ip.ttl", "ip.csum", "ipv6.hop_limit"));'
DECLARED_TOS = 'EXTFRAME_EFFECTS(writes("ip.ttl", "ip.csum", "ipv6.hop_limit", "ip.tos"));'


def _line_of(path: Path, text: str) -> int:
    return path.read_text().splitlines().index(text) + 1


@pytest.fixture
def dec_ttl(tmp_path: Path) -> Path:
    """A copy of dec_ttl.c in a folder of its own, where its lock will live."""
    src = tmp_path / "dec_ttl.c"
    shutil.copy(ACTIONS / "dec_ttl.c", src)
    assert TTL_STORE in src.read_text() and DECLARED in src.read_text()
    return src


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def _lock(src: Path) -> tuple[Path, str]:
    lock = src.parent / "extframe.lock"
    r = cli("lock", "--lock", str(lock), str(src))
    assert r.returncode == 0, r.stderr
    return lock, lock.read_text()


def test_the_project_gates_itself() -> None:
    """make test runs this: every bundled action matches its declaration and extframe.lock."""
    actions = sorted(f"actions/{p.name}" for p in ACTIONS.glob("*.c"))
    r = cli("check", "--locked", "--sarif", *actions)
    assert r.returncode == 0, r.stderr
    log = json.loads(r.stdout)
    validate_sarif(log)
    results = log["runs"][0]["results"]
    # Every action proven exactly as declared: not one finding, not one warning.
    assert results == []
    assert "warning" not in r.stderr, r.stderr
    assert log["runs"][0]["invocations"] == [{"executionSuccessful": True, "exitCode": 0}]


def test_a_new_write_fails_until_the_lock_takes_it(dec_ttl: Path) -> None:
    lock, before = _lock(dec_ttl)
    assert "/tmp" not in before and '"dec_ttl.c"' in before
    assert cli("check", "--lock", str(lock), str(dec_ttl)).returncode == 0

    # The action now also writes ip.tos, and says so: only the lock disagrees.
    _edit(dec_ttl, TTL_STORE, TOS_STORE)
    _edit(dec_ttl, DECLARED, DECLARED_TOS)
    line = _line_of(dec_ttl, TOS_STORE.splitlines()[1])
    r = cli("check", "--locked", "--lock", str(lock), str(dec_ttl))
    assert r.returncode == 1, r.stdout + r.stderr
    declared, error = [ln for ln in r.stdout.splitlines() if ": error: " in ln]
    # The declaration changed too: the lock records it, so the reviewer sees both.
    assert declared.startswith(f"{dec_ttl}:{_line_of(dec_ttl, DECLARED_TOS)}: error: ")
    assert 'extframe.lock says writes("ip.csum", "ip.ttl", "ipv6.hop_limit")' in declared
    assert error.startswith(f"{dec_ttl}:{line}:11: error: ")
    assert f"dec_ttl now writes ip.tos at dec_ttl.c:{line}" in error
    assert "[differs-from-lock]" in error and "extframe lock" in error
    # The C line and a caret under the store.
    assert f"    {line} | \tiph->tos = 0;" in r.stdout
    caret = r.stdout.splitlines()[r.stdout.splitlines().index(f"    {line} | \tiph->tos = 0;") + 1]
    assert caret == "       | \t         ^"

    # The same answer in JSON and SARIF, with the same exit status.
    j = cli("check", "--locked", "--lock", str(lock), "--json", str(dec_ttl))
    assert j.returncode == 1
    findings = json.loads(j.stdout)[0]["findings"]
    assert [(f["rule"], f.get("effect"), f["line"]) for f in findings] == [
        ("differs-from-lock", None, _line_of(dec_ttl, DECLARED_TOS)),
        ("differs-from-lock", "ip.tos", line),
    ]
    s = cli("check", "--locked", "--lock", str(lock), "--sarif", str(dec_ttl))
    assert s.returncode == 1
    log = json.loads(s.stdout)
    validate_sarif(log)
    result = log["runs"][0]["results"][1]
    region = result["locations"][0]["physicalLocation"]["region"]
    assert (result["ruleId"], region["startLine"], region["startColumn"]) == (
        "differs-from-lock",
        line,
        11,
    )
    assert "ip.tos" in s.stderr  # the text goes to stderr beside the log

    # Updating the lock makes it pass again, and the lock diff shows the new write.
    after = _lock(dec_ttl)[1]
    assert cli("check", "--locked", "--lock", str(lock), str(dec_ttl)).returncode == 0
    assert '"ip.tos"' in after and '"ip.tos"' not in before


def test_moving_code_keeps_the_lock_byte_identical(dec_ttl: Path) -> None:
    lock, before = _lock(dec_ttl)
    text = dec_ttl.read_text()
    # Swap the two static helpers and push everything down with comments.
    v4 = text[text.index("/* Decrements the TTL") : text.index("/* Decrements the hop limit")]
    v6 = text[text.index("/* Decrements the hop limit") : text.index("/* Entry point")]
    moved = text.replace(v4 + v6, v6 + "\n/* moved */\n\n" + v4)
    moved = moved.replace(
        '#include "extframe.h"', '/* a\n * longer\n * header */\n#include "extframe.h"'
    )
    assert moved != text and len(moved.splitlines()) > len(text.splitlines())
    dec_ttl.write_text(moved)
    r = cli("check", "--locked", "--lock", str(lock), str(dec_ttl))
    assert r.returncode == 0, r.stdout
    assert _lock(dec_ttl)[1] == before
    # Reordering the declaration's names changes nothing either.
    _edit(dec_ttl, DECLARED, 'EXTFRAME_EFFECTS(writes("ipv6.hop_limit", "ip.csum", "ip.ttl"));')
    assert _lock(dec_ttl)[1] == before


def test_a_write_beyond_the_declaration_fails(dec_ttl: Path) -> None:
    """No lock needed: an effect the declaration does not name is exit 1, named with its line."""
    _edit(dec_ttl, TTL_STORE, TOS_STORE)
    line = _line_of(dec_ttl, "\tiph->tos = 0;")
    r = cli("check", str(dec_ttl))
    assert r.returncode == 1
    assert re.search(
        rf"^{re.escape(str(dec_ttl))}:{line}:11: error: dec_ttl writes ip\.tos at "
        rf"dec_ttl\.c:{line}, which its declaration .* does not name \[exceeds-declaration\]$",
        r.stdout,
        re.M,
    ), r.stdout
    assert "check: 1 error(s)" in r.stdout


def test_an_allowance_accepts_exactly_what_it_lists(dec_ttl: Path) -> None:
    """A reviewed allowance: accepted excess warns; a new excess or a stale entry fails."""
    _edit(dec_ttl, DECLARED, 'EXTFRAME_EFFECTS(writes("ip.ttl", "ip.csum"));')
    manifest = dec_ttl.with_name("dec_ttl.effects.toml")
    allow = '[wider_than_declared]\nreason = "a test of the allowance"\neffects = [{}]\n'
    manifest.write_text(allow.format('"ipv6.hop_limit"'))
    r = cli("check", str(dec_ttl))
    assert r.returncode == 0, r.stdout
    assert "warning: dec_ttl: proven wider than" in r.stdout
    assert "ipv6.hop_limit), accepted as an analyzer limit: a test of the allowance" in r.stdout

    _edit(dec_ttl, TTL_STORE, TOS_STORE)  # a NEW excess, not in the allowance
    r = cli("check", str(dec_ttl))
    assert r.returncode == 1
    assert "dec_ttl writes ip.tos at dec_ttl.c:" in r.stdout and "[exceeds-declaration]" in r.stdout

    _edit(dec_ttl, TOS_STORE, TTL_STORE)
    manifest.write_text(allow.format('"ipv6.hop_limit", "meta.mark"'))  # more than the excess
    r = cli("check", str(dec_ttl))
    assert r.returncode == 1
    assert "wider_than_declared accepts meta.mark, which the proof no longer has" in r.stdout


def test_a_declaration_wider_than_the_proof_warns(dec_ttl: Path) -> None:
    _edit(dec_ttl, DECLARED, DECLARED_TOS)
    r = cli("check", "--json", str(dec_ttl))
    assert r.returncode == 0
    (finding,) = json.loads(r.stdout)[0]["findings"]
    assert (finding["rule"], finding["level"]) == ("declared-not-proven", "warning")
    assert finding["line"] == _line_of(dec_ttl, DECLARED_TOS)


def test_a_manifest_declares_and_both_is_an_error(tmp_path: Path) -> None:
    src = tmp_path / "port_counter.c"
    shutil.copy(ACTIONS / "port_counter.c", src)
    manifest = tmp_path / "port_counter.effects.toml"
    manifest.write_text("read_only = true\n")
    r = cli("check", str(src))
    assert r.returncode == 2
    assert r.stderr.strip().endswith("keep one (the source is the usual place)")
    assert len(r.stderr.strip().splitlines()) == 1

    _edit(src, "EXTFRAME_EFFECTS(read_only);", "")
    r = cli("check", "--json", str(src))
    assert r.returncode == 0, r.stderr
    (program,) = json.loads(r.stdout)
    assert (program["declared"], program["findings"]) == ("read_only", [])

    manifest.write_text('writes = ["meta.mark"]\n')  # the manifest is held to it like the source
    r = cli("check", "--json", str(src))
    assert r.returncode == 0
    assert [f["rule"] for f in json.loads(r.stdout)[0]["findings"]] == ["declared-not-proven"]


def test_lock_and_check_refusals(dec_ttl: Path) -> None:
    lock = dec_ttl.parent / "extframe.lock"
    r = cli("check", "--locked", "--lock", str(lock), str(dec_ttl))
    assert r.returncode == 2 and "no lock file; write it with `extframe lock" in r.stderr
    s = cli("check", "--lock", str(lock), "--sarif", str(dec_ttl))
    assert s.returncode == 2
    log = json.loads(s.stdout)
    validate_sarif(log)
    assert log["runs"][0]["invocations"][0]["executionSuccessful"] is False
    assert cli("check", "--json", "--sarif", str(dec_ttl)).returncode == 2

    # An action missing from the lock is a mismatch, not a pass.
    other = dec_ttl.with_name("other.c")
    shutil.copy(dec_ttl, other)
    _lock(other)
    r = cli("check", "--lock", str(lock), str(dec_ttl))
    assert r.returncode == 1 and "[not-locked]" in r.stdout

    # A rejected program leaves the lock as it was, exit 3.
    before = lock.read_text()
    r = cli("lock", "--lock", str(lock), str(PROGS / "reject_pkt.c"))
    assert r.returncode == 3 and lock.read_text() == before


def test_a_verifier_rejection_is_exit_3_in_every_format() -> None:
    path = str(PROGS / "reject_pkt.c")
    for fmt in ((), ("--json",), ("--sarif",)):
        r = cli("check", *fmt, path)
        assert r.returncode == 3, fmt
    log = json.loads(r.stdout)
    validate_sarif(log)
    (result,) = log["runs"][0]["results"]
    assert result["ruleId"] == "verifier-rejected"
    assert result["locations"][0]["physicalLocation"]["region"]["startLine"] == 10


def test_the_lock_is_written_only_when_it_changes(dec_ttl: Path) -> None:
    lock, _ = _lock(dec_ttl)
    r = cli("lock", "--lock", str(lock), str(dec_ttl))
    assert r.returncode == 0 and "already up to date" in r.stdout
    dec_ttl.unlink()
    other = dec_ttl.with_name("other.c")
    shutil.copy(ACTIONS / "port_counter.c", other)
    r = cli("lock", "--lock", str(lock), str(other))
    assert r.returncode == 0
    assert "removed  dec_ttl.c (the file is gone)" in r.stdout
    assert list(json.loads(lock.read_text())["actions"]) == ["other.c"]


def test_the_lock_at_the_root_is_what_lock_writes() -> None:
    """extframe.lock is committed as `extframe lock actions/*.c` writes it (no hand edits)."""
    text = (ROOT / "extframe.lock").read_text()
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"
