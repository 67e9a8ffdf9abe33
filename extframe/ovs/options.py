"""The options of a registration, described once.

``ovs-appctl bpf/add NAME PATH key=value...`` tells the switch's registry
(lib/bpf-action.c) what it must know about an action; ``bpf/list --json``
answers with the same keys. Each option is one row of ``OPTIONS``: its key,
the type of its value (as pydantic validates it, in the switch's answer and
in extframe's records), the switch's default when the option is left out,
and whether the operator states it on each register (then it is also a
command-line option of ``register`` and ``replace``) or the proof decides it.

The proof decides two: ``reclassify`` (``no``: the action leaves the flow
key as it was; ``lazy``: the switch continues in the same megaflow and
recirculates only before the first step that may observe one of
``fields``; ``yes``: it recirculates right after the action, what
``--reclassify yes`` forces) and ``fields``, OVS field names
(extframe/ovs/fields.py maps the analyzer's names to them), or ``unknown``.

From this table extframe builds the arguments of ``bpf/add`` and
``bpf/replace`` (``arguments``), the strict reader of ``bpf/list --json``
(extframe/ovs/switch.py), the record's copy of what was sent, and the
command-line options. Adding an option is a row here and its field in the
C registry (``parse_options()`` and ``action_to_json()``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, get_args

from pydantic import AfterValidator, TypeAdapter

#: A field name in ``fields=`` as the registry accepts it (lib/bpf-action.c):
#: an OVS field name, or ``unknown``.
FIELD_NAME = re.compile(r"^[A-Za-z0-9_.]+$")


def _field_name(name: str) -> str:
    if not FIELD_NAME.match(name):
        raise ValueError(f"{name!r} is not a field name")
    return name


class _Required:
    """The default of an option the switch requires on every call."""

    def __repr__(self) -> str:
        return "required"


REQUIRED: Any = _Required()


@dataclass(frozen=True)
class Option:
    """One ``key=value`` of ``bpf/add``."""

    key: str
    type: Any
    default: Any
    help: str
    #: Stated by the operator on each register and replace (a command-line
    #: option); otherwise the proof decides it.
    operator: bool = False

    def argument(self, value: Any) -> str | None:
        """``key=value`` for bpf/add, or None for the switch's default.

        A default is left out, so that a switch that predates the option
        accepts the call.
        """
        if self.default is not REQUIRED and value == self.default:
            return None
        text = ",".join(value) if isinstance(value, list) else str(value)
        return f"{self.key}={text}"

    def choices(self) -> tuple[str, ...]:
        """The values of a ``Literal`` option, for the command line."""
        return tuple(str(v) for v in get_args(self.type))

    def check(self, value: Any) -> Any:
        """``value`` validated as this option's type (strictly: no conversion)."""
        return TypeAdapter(self.type).validate_python(value, strict=True)


OPTIONS: tuple[Option, ...] = (
    Option(
        key="reclassify",
        type=Literal["yes", "no", "lazy"],
        default=REQUIRED,
        help="whether the switch re-classifies the packet after the action (freezes and "
        "recirculates): no, the action leaves the flow key as it was; lazy, only before "
        "the first step that may observe one of fields; yes, right after it. The proof's "
        "decision, or yes when forced",
    ),
    Option(
        key="fields",
        type=list[Annotated[str, AfterValidator(_field_name)]],
        default=[],
        help="the flow key fields the action was proved to change, as ovs-fields(7) names "
        "them (nw_ttl, dl_dst, ...), or unknown for every field; none with reclassify=no",
    ),
    Option(
        key="unrunnable",
        type=Literal["drop", "pass"],
        default="drop",
        operator=True,
        help="what the switch does with a packet the kernel refuses to run the program on "
        "(BPF_PROG_TEST_RUN fails, e.g. on an IPv4/IPv6 frame shorter than its header): "
        "drop (default) drops it and counts an error; pass forwards it exactly as it came. "
        "Use pass for read-only observers such as mirrors and counters, where skipping the "
        "program is harmless and dropping would change forwarding",
    ),
    Option(
        key="insns",
        type=str,
        default="",
        help="a root-only file holding the program's instructions as they were loaded "
        "(8 bytes each): the switch runs them in-process once their tag equals the pinned "
        "program's kernel tag, and refuses the registration when it does not; left out, "
        "the kernel runs the program",
    ),
    Option(
        key="executor",
        type=Literal["auto", "inproc", "kernel"],
        default="auto",
        operator=True,
        help="what runs the action in the switch: auto (default) runs it in-process when "
        "the in-process executor offers everything it uses, in the kernel "
        "(BPF_PROG_TEST_RUN, a system call per packet) otherwise, and says why; inproc "
        "refuses to register what cannot run in-process; kernel always uses the kernel",
    ),
)

BY_KEY = {o.key: o for o in OPTIONS}


def arguments(values: Mapping[str, Any]) -> list[str]:
    """The ``key=value`` arguments of bpf/add for ``values`` (every option's, by key)."""
    missing = [o.key for o in OPTIONS if o.key not in values and o.default is REQUIRED]
    if missing:
        raise ValueError(f"no value for the registration option(s) {', '.join(missing)}")
    out = []
    for o in OPTIONS:
        arg = o.argument(values.get(o.key, o.default))
        if arg is not None:
            out.append(arg)
    return out
