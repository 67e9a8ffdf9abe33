"""Every helper and kfunc this kernel offers to tc and XDP programs is in the effects table.

The kernel is asked (extframe/kernel/features.py), never a list: a kernel
that offers a helper or kfunc the table neither models (``HELPERS``,
``KFUNCS``) nor names as not modelled (``HELPERS_NOT_MODELLED``,
``KFUNCS_NOT_MODELLED``) fails here, with its name, until someone reads its
kernel source and adds a row.
"""

from __future__ import annotations

import pytest

from analyzer.helpers import (
    HELPER_NAMES,
    HELPERS,
    HELPERS_NOT_MODELLED,
    KFUNCS,
    KFUNCS_NOT_MODELLED,
)
from extframe.kernel.features import kernel_helper_names, kernel_kfuncs, offered

pytestmark = pytest.mark.kernel

KINDS = ("tc", "xdp")
MODELLED_HELPERS = {h.name for h in HELPERS}
MODELLED_KFUNCS = {k.name for k in KFUNCS}


def test_the_probe_tells_yes_from_no() -> None:
    """The probe's answers for calls whose answer is known (bpftool v7.1 says yes to all)."""
    tc, xdp = offered("tc"), offered("xdp")
    assert tc.helpers[9] == "skb_store_bytes" and 9 not in xdp.helpers
    assert xdp.helpers[44] == "xdp_adjust_head" and 44 not in tc.helpers
    assert 1 in tc.helpers and 1 in xdp.helpers  # map_lookup_elem
    # Kfuncs this kernel has (6.3 and later): each for its own program type only.
    kfuncs = kernel_kfuncs()
    if "bpf_dynptr_from_skb" in kfuncs:
        assert "bpf_dynptr_from_skb" in tc.kfuncs and "bpf_dynptr_from_skb" not in xdp.kfuncs
    if "bpf_dynptr_from_xdp" in kfuncs:
        assert "bpf_dynptr_from_xdp" in xdp.kfuncs and "bpf_dynptr_from_xdp" not in tc.kfuncs
    # Offered only to a loader with CAP_PERFMON (bpf_base_func_proto): without
    # it the answers would be too short, and so would the test's demands.
    assert "probe_read_kernel" in tc.helpers.values()
    # Sleepable only: the verifier says so, not "cannot use helper".
    assert "copy_from_user" not in tc.helpers.values()
    # The kernel refuses most of what it has to these two types.
    assert len(tc.helpers) < len(kernel_helper_names())
    assert len(tc.kfuncs) < len(kfuncs) or not kfuncs


def test_helper_numbers_are_the_kernels() -> None:
    """Every number this kernel has, named as HELPER_NAMES names it (a newer one fails)."""
    kernel = kernel_helper_names()
    differ = {n: (HELPER_NAMES.get(n), k) for n, k in kernel.items() if HELPER_NAMES.get(n) != k}
    assert not differ, f"helper numbers named otherwise than by this kernel (ours, its): {differ}"


@pytest.mark.parametrize("kind", KINDS)
def test_every_offered_helper_has_a_row(kind: str) -> None:
    lacking = sorted(
        f"bpf_{name} (#{n})"
        for n, name in offered(kind).helpers.items()
        if name not in MODELLED_HELPERS and name not in HELPERS_NOT_MODELLED
    )
    assert not lacking, (
        f"this kernel offers {kind} programs helpers analyzer/helpers.py has no row for: "
        f"{', '.join(lacking)}; read each one's kernel source and add a row to HELPERS, "
        "or its name and why to HELPERS_NOT_MODELLED"
    )


@pytest.mark.parametrize("kind", KINDS)
def test_every_offered_kfunc_has_a_row(kind: str) -> None:
    lacking = sorted(
        k for k in offered(kind).kfuncs if k not in MODELLED_KFUNCS and k not in KFUNCS_NOT_MODELLED
    )
    assert not lacking, (
        f"this kernel offers {kind} programs kfuncs analyzer/helpers.py has no row for: "
        f"{', '.join(lacking)}; add each to KFUNCS or KFUNCS_NOT_MODELLED"
    )
