"""``extframe check --sarif``: the findings as a SARIF 2.1.0 log, for code scanning.

One run, one rule per kind of finding (``extframe.gate.RULES``, all of them,
so a rule's index never depends on what was found), one result per finding.
Locations are physical: the artifact relative to ``%SRCROOT%`` (the folder
the check ran in, given in ``originalUriBaseIds``) when the file lies below
it, and the region's line and column from BTF line info. GitHub's upload
wants a location on every result; a finding without a line points at its
file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from extframe import __version__
from extframe.gate import RULES, Finding

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
SRCROOT = "%SRCROOT%"


def _artifact(file: str) -> dict[str, Any]:
    p = Path(file)
    if p.is_absolute():
        return {"uri": p.as_uri()}
    return {"uri": p.as_posix(), "uriBaseId": SRCROOT}


def _folder_uri(folder: Path) -> str:
    """A folder's file URI with the final '/' SARIF requires of a base."""
    uri = folder.resolve().as_uri()
    return uri if uri.endswith("/") else uri + "/"


def _result(f: Finding, rule_index: dict[str, int]) -> dict[str, Any]:
    loc = f.location
    physical: dict[str, Any] = {"artifactLocation": _artifact(loc.file if loc else f.action)}
    if loc is not None and loc.line:
        region: dict[str, Any] = {"startLine": loc.line}
        if loc.column:
            region["startColumn"] = loc.column
        if loc.text:
            region["snippet"] = {"text": loc.text}
        physical["region"] = region
    result: dict[str, Any] = {
        "ruleId": f.rule,
        "ruleIndex": rule_index[f.rule],
        "level": f.level,
        "message": {"text": f.message},
        "locations": [{"physicalLocation": physical}],
        "properties": {"action": f.action, "program": f.program},
    }
    if f.effect is not None:
        result["properties"]["effect"] = f.effect
    return result


def sarif_log(
    findings: list[Finding], *, exit_code: int, error: str | None = None
) -> dict[str, Any]:
    """The SARIF log of one ``extframe check``; ``error``: why it could not finish."""
    rules = list(RULES.values())
    rule_index = {r.id: i for i, r in enumerate(rules)}
    invocation: dict[str, Any] = {"executionSuccessful": error is None, "exitCode": exit_code}
    if error is not None:
        invocation["toolExecutionNotifications"] = [{"level": "error", "message": {"text": error}}]
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "extframe",
                        "version": __version__,
                        "rules": [
                            {
                                "id": r.id,
                                "name": r.name,
                                "shortDescription": {"text": r.short},
                                "fullDescription": {"text": r.full},
                                "defaultConfiguration": {"level": r.level},
                                "help": {"text": r.full},
                            }
                            for r in rules
                        ],
                    }
                },
                "originalUriBaseIds": {SRCROOT: {"uri": _folder_uri(Path.cwd())}},
                "invocations": [invocation],
                "results": [_result(f, rule_index) for f in findings],
            }
        ],
    }
