"""The gate's pure parts: manifests, the lock file, the caret, SARIF against its schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from analyzer.effects import ProgramEffects
from extframe.cli import parser
from extframe.errors import LockError, ManifestError
from extframe.gate import RULES, Finding, Location, caret_lines, text_findings
from extframe.lockfile import Lock, action_key, compare, program_entry
from extframe.manifest import DeclaredEffects, declaration_of
from extframe.sarif import sarif_log
from tests.conftest import ROOT
from tests.sarif_schema import SCHEMA, validate_sarif


def test_the_schema_is_the_published_one() -> None:
    assert SCHEMA["id"].endswith("/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json")
    assert SCHEMA["title"] == "Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema"


# --- manifests ---------------------------------------------------------------------------


def _action(tmp_path: Path, manifest: str | None) -> Path:
    action = tmp_path / "act.c"
    action.write_text('#include "extframe.h"\n\nEXTFRAME_EFFECTS(writes("ip.ttl"));\n')
    if manifest is not None:
        (tmp_path / "act.effects.toml").write_text(manifest)
    return action


@pytest.mark.parametrize(
    ("manifest", "canonical"),
    [
        ("read_only = true\n", "read_only"),
        ('writes = ["ip.ttl", "ip.csum", "ip.ttl"]\n', 'writes("ip.csum", "ip.ttl")'),
    ],
)
def test_a_manifest_declares_when_the_source_does_not(
    tmp_path: Path, manifest: str, canonical: str
) -> None:
    action = _action(tmp_path, "# the declaration\n" + manifest)
    d = declaration_of(action, None)
    assert d.effects is not None and d.effects.canonical == canonical
    assert (d.file, d.line) == (tmp_path / "act.effects.toml", 2)


def test_the_source_declaration_and_its_line(tmp_path: Path) -> None:
    d = declaration_of(_action(tmp_path, None), 'writes("ip.ttl")')
    assert d.effects is not None and d.effects.writes == ("ip.ttl",)
    assert (d.file, d.line, d.allowance) == (tmp_path / "act.c", 3, None)


def test_an_allowance_beside_a_source_declaration(tmp_path: Path) -> None:
    action = _action(
        tmp_path, '\n[wider_than_declared]\nreason = "issue 4"\neffects = ["ip.tos", "ipv6.ext"]\n'
    )
    d = declaration_of(action, 'writes("ip.ttl")')
    assert d.allowance is not None and d.allowance.effects == ("ip.tos", "ipv6.ext")
    assert d.allowance_line == 2


@pytest.mark.parametrize(
    ("manifest", "says"),
    [
        ("read_only = true\n", "declares its effects twice"),
        ('writes = ["ip.ttl"]\n', "declares its effects twice"),
        ('writes = ["ip.bogus"]\nread_only = true\n', "not both"),
        ("read_only = false\n", "says nothing"),
        ("reed_only = true\n", "reed_only"),
        ("read_only = [\n", "not TOML"),
        ('[wider_than_declared]\nreason = ""\neffects = ["ip.tos"]\n', "reason"),
        ('[wider_than_declared]\nreason = "x"\neffects = []\n', "effects"),
        ('[wider_than_declared]\nreason = "x"\neffects = ["ip.nope"]\n', "unknown effect ip.nope"),
    ],
)
def test_bad_manifests_are_one_clear_error(tmp_path: Path, manifest: str, says: str) -> None:
    with pytest.raises(ManifestError, match=says):
        declaration_of(_action(tmp_path, manifest), 'writes("ip.ttl")')


def test_an_allowance_needs_a_declaration(tmp_path: Path) -> None:
    action = _action(tmp_path, '[wider_than_declared]\nreason = "x"\neffects = ["ip.tos"]\n')
    with pytest.raises(ManifestError, match="needs a declaration"):
        declaration_of(action, None)
    with pytest.raises(ManifestError, match=r"unknown effect ip\.nope"):
        (tmp_path / "act.effects.toml").write_text('writes = ["ip.nope"]\n')
        declaration_of(action, None)


# --- the lock file -----------------------------------------------------------------------


def _effects(**over: Any) -> ProgramEffects:
    base: dict[str, Any] = {
        "object": "/abs/x.c",
        "program": "p",
        "section": "tc",
        "type": "tc",
        "verdict": "writes",
        "flow_key_affected": True,
        "reasons": [],
        "static_verdict": "writes",
        "insn_count": 9,
        "packet_writes": [
            {"insn": i, "offset_min": o, "offset_max": o, "size": 1, "fields": [f],
             "flow_key": True, "source": f"x.c:{i}", "via": "store", "evidence": ["static"]}
            for i, o, f in ((7, 22, "ip.ttl"), (3, 15, "ip.tos"))
        ],
        "helpers": [
            {"insn": 2, "kind": "helper", "name": "bpf_map_lookup_elem", "id": 1,
             "effects": ["reads only"], "refused_in_ovs": False, "note": "", "source": None}
        ],
        "maps": [{"name": "m", "type": "hash", "read": True, "written": False, "insns": [2]}],
    }  # fmt: skip
    return ProgramEffects.model_validate(base | over)


def test_a_lock_entry_holds_nothing_positional() -> None:
    entry = program_entry(_effects(), DeclaredEffects.parse('writes("ip.ttl", "ip.tos")'))
    assert entry == {
        "declared": 'writes("ip.tos", "ip.ttl")',
        "verdict": "writes",
        "reclassify": True,
        "writes": ["ip.tos", "ip.ttl"],
        "metadata_writes": [],
        "length_changes": [],
        "helpers": ["bpf_map_lookup_elem"],
        "maps": ["m (hash): read"],
    }
    # The same effects at other instructions and lines give the same entry.
    moved = _effects(
        packet_writes=[w.model_copy(update={"insn": w.insn + 40, "source": "x.c:99"})
                       for w in reversed(_effects().packet_writes)]
    )  # fmt: skip
    assert program_entry(moved, None) | {"declared": entry["declared"]} == entry


def test_compare_names_each_difference() -> None:
    locked = program_entry(_effects(), None)
    now = dict(locked, writes=["ip.tos", "ip.ttl", "tcp.dst"], reclassify=False, helpers=[])
    diffs = {(d.key, d.kind, d.item) for d in compare(now, locked)}
    assert diffs == {
        ("reclassify", "changed", ""),
        ("writes", "added", "tcp.dst"),
        ("helpers", "removed", "bpf_map_lookup_elem"),
    }
    assert compare(locked, dict(locked)) == []


def test_the_lock_text_is_deterministic(tmp_path: Path) -> None:
    path = tmp_path / "extframe.lock"
    entry = program_entry(_effects(), None)
    one = Lock(path, {"b.c": {"p": entry}, "a.c": {"p": entry}})
    two = Lock(path, {"a.c": {"p": dict(reversed(list(entry.items())))}, "b.c": {"p": entry}})
    assert one.text() == two.text()
    assert one.text().endswith("}\n") and str(tmp_path) not in one.text()
    assert one.write() is True and one.write() is False  # unchanged content is not rewritten
    assert Lock.read(path).actions == one.actions


def test_action_keys_are_relative_to_the_lock(tmp_path: Path) -> None:
    (tmp_path / "actions").mkdir()
    lock = tmp_path / "extframe.lock"
    assert action_key(tmp_path / "actions" / "a.c", lock) == "actions/a.c"
    assert action_key(tmp_path / "elsewhere" / "b.c", tmp_path / "ci" / "x.lock") == (
        "../elsewhere/b.c"
    )


def test_prune_drops_actions_that_are_gone(tmp_path: Path) -> None:
    (tmp_path / "a.c").write_text("")
    lock = Lock(tmp_path / "extframe.lock", {"a.c": {}, "gone.c": {}})
    assert lock.prune() == ["gone.c"] and list(lock.actions) == ["a.c"]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (None, "no lock file"),
        ("{", "not JSON"),
        ('{"lock_version": 99, "actions": {}}', "not an extframe lock of version 1"),
        ('{"lock_version": 1, "actions": {"a.c": 3}}', "malformed"),
        ("[]", "not an extframe lock"),
    ],
)
def test_bad_lock_files_are_one_clear_error(tmp_path: Path, text: str | None, says: str) -> None:
    path = tmp_path / "extframe.lock"
    if text is not None:
        path.write_text(text)
    with pytest.raises(LockError, match=says):
        Lock.read(path)


def test_the_projects_lock_lists_every_action() -> None:
    lock = Lock.read(ROOT / "extframe.lock")
    assert set(lock.actions) == {f"actions/{p.name}" for p in (ROOT / "actions").glob("*.c")}
    assert lock.text() == (ROOT / "extframe.lock").read_text()  # as `extframe lock` writes it


# --- text and SARIF -------------------------------------------------------------------------


def test_the_caret_sits_under_the_column_with_tabs_kept() -> None:
    loc = Location(file="a.c", line=52, column=11, text="\tiph->ttl = ttl - 1;")
    source, caret = caret_lines(loc)
    assert source == "    52 | \tiph->ttl = ttl - 1;"
    assert caret == "       | \t         ^"
    assert caret.index("^") == source.index("=")


def _findings() -> list[Finding]:
    at = Location(file="actions/x.c", line=52, column=11, text="\tiph->tos = 0;")
    return [
        Finding(rule="exceeds-declaration", action="actions/x.c", program="x",
                effect="ip.tos", message="x writes ip.tos at x.c:52, ...", location=at),
        Finding(rule="accepted-analyzer-limit", action="actions/y.c", program="y",
                message="y: proven wider", location=Location(file="actions/y.effects.toml")),
        Finding(rule="undeclared", action="/abs/z.o", program="z", message="z declares none"),
    ]  # fmt: skip


def test_text_findings_are_compiler_style() -> None:
    text = text_findings(_findings())
    assert text.splitlines()[0] == (
        "actions/x.c:52:11: error: x writes ip.tos at x.c:52, ... [exceeds-declaration]"
    )
    assert "actions/y.effects.toml: warning: y: proven wider [accepted-analyzer-limit]" in text
    assert text.endswith("check: 1 error(s), 1 warning(s): the check fails")


def test_sarif_validates_and_has_one_rule_per_kind() -> None:
    log = sarif_log(_findings(), exit_code=1)
    validate_sarif(log)
    (run,) = log["runs"]
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == list(RULES)
    first, second, third = run["results"]
    assert (first["ruleId"], first["level"]) == ("exceeds-declaration", "error")
    assert run["tool"]["driver"]["rules"][first["ruleIndex"]]["id"] == first["ruleId"]
    physical = first["locations"][0]["physicalLocation"]
    assert physical["artifactLocation"] == {"uri": "actions/x.c", "uriBaseId": "%SRCROOT%"}
    assert physical["region"] == {
        "startLine": 52, "startColumn": 11, "snippet": {"text": "\tiph->tos = 0;"}
    }  # fmt: skip
    assert (
        second["level"] == "warning" and "region" not in second["locations"][0]["physicalLocation"]
    )
    assert third["locations"][0]["physicalLocation"]["artifactLocation"] == {
        "uri": "file:///abs/z.o"
    }
    assert run["invocations"] == [{"executionSuccessful": True, "exitCode": 1}]


def test_a_failed_run_is_still_valid_sarif() -> None:
    log = sarif_log([], exit_code=2, error="no lock file")
    validate_sarif(log)
    (invocation,) = log["runs"][0]["invocations"]
    assert invocation["executionSuccessful"] is False
    assert invocation["toolExecutionNotifications"][0]["message"]["text"] == "no lock file"


def test_broken_sarif_does_not_validate() -> None:
    """The schema test has teeth: a result without a message is refused."""
    log = sarif_log(_findings(), exit_code=1)
    del log["runs"][0]["results"][0]["message"]
    with pytest.raises(jsonschema.ValidationError):
        validate_sarif(log)


# --- documentation ----------------------------------------------------------------------------


def test_check_help_documents_the_exit_codes() -> None:
    sub = parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    text = sub["check"].format_help()
    codes = {
        "0": "every action matches",
        "1": "a mismatch",
        "2": "usage, input, build",
        "3": "the kernel verifier rejected",
    }
    for code, meaning in codes.items():
        assert f"  {code}  {meaning}" in text
    assert "--locked" in text and "--sarif" in text and "extframe lock actions/*.c" in text
    readme = (ROOT / "README.md").read_text()
    assert "`extframe check --locked`" in readme
    for code in ("`0`", "`1`", "`2`", "`3`"):
        assert code in readme


def test_the_ci_recipes_parse_and_run_the_gate() -> None:
    workflow = yaml.safe_load((ROOT / "docs/ci/github-actions.yml").read_text())
    steps = [s for job in workflow["jobs"].values() for s in job["steps"]]
    runs = " ".join(s.get("run", "") for s in steps)
    assert "extframe check --locked --sarif" in runs
    assert any(s.get("uses", "").startswith("github/codeql-action/upload-sarif") for s in steps)
    config = yaml.safe_load((ROOT / "docs/ci/pre-commit-config.yaml").read_text())
    (hook,) = config["repos"][0]["hooks"]
    assert config["repos"][0]["repo"] == "local" and hook["language"] == "system"
    assert "extframe check --locked --sarif" in " ".join(hook["args"])
    assert hook["pass_filenames"] is False
