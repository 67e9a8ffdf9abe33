"""The maps of a registered action, wherever they live.

An action the switch runs in the kernel uses the kernel's maps, pinned
beside its program (``NAME/map/MAP``). An action it runs in-process uses
maps that ovs-vswitchd keeps itself (lib/bpf-exec.c), made from the kernel's
at registration and read and written through ``bpf/map-dump``,
``bpf/map-update`` and ``bpf/map-delete``; the kernel's maps are then left
as they were. ``open_action_map`` gives either behind one interface, so that
a caller (the demo's policer configuration, ``extframe maps --switch``, the
tests) never writes the map that the program does not read.
"""

from __future__ import annotations

import os
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from extframe.errors import MapError, MirrorError, OvsError
from extframe.kernel import bpffs, mapview
from extframe.kernel.loader import LoadedMap
from extframe.ovs.switch import Switch, SwitchMap

#: The kernel keeps at most 15 characters of a map's name (BPF_OBJ_NAME_LEN).
_KERNEL_NAME_LEN = 15


class ActionMap(ABC):
    """One map of a registered action."""

    name: str
    key_size: int
    value_size: int

    @abstractmethod
    def lookup(self, key: bytes) -> bytes | None: ...

    @abstractmethod
    def update(self, key: bytes, value: bytes) -> None: ...

    @abstractmethod
    def delete(self, key: bytes) -> None: ...

    @abstractmethod
    def items(self) -> Mapping[bytes, bytes]:
        """Every entry (an array's all-zero ones may be left out)."""


class KernelActionMap(ActionMap):
    """A kernel map, pinned beside the program the kernel runs."""

    def __init__(self, m: LoadedMap) -> None:
        self.map = m
        self.name, self.key_size, self.value_size = m.name, m.key_size, m.value_size

    def lookup(self, key: bytes) -> bytes | None:
        return self.map.lookup(key)

    def update(self, key: bytes, value: bytes) -> None:
        self.map.update(key, value)

    def delete(self, key: bytes) -> None:
        self.map.delete(key)

    def items(self) -> Mapping[bytes, bytes]:
        out = {}
        kernel_keys = self.map.keys()
        for key in kernel_keys:
            value = self.map.lookup(key)
            if value is not None:
                out[key] = value
        return out


class SwitchActionMap(ActionMap):
    """A map ovs-vswitchd keeps for an action it runs in-process."""

    def __init__(self, switch: Switch, action: str, m: SwitchMap) -> None:
        self.switch, self.action, self.map = switch, action, m
        self.name, self.key_size, self.value_size = m.name, m.key_size, m.value_size

    def _sized(self, key: bytes, value: bytes | None = None) -> None:
        if len(key) != self.key_size:
            raise MapError(f"map {self.name!r}: key is {len(key)} bytes, needs {self.key_size}")
        if value is not None and len(value) != self.value_size:
            raise MapError(
                f"map {self.name!r}: value is {len(value)} bytes, needs {self.value_size}"
            )

    def lookup(self, key: bytes) -> bytes | None:
        self._sized(key)
        found = self.items().get(key)
        if (
            found is None
            and self.map.map_type == 2
            and int.from_bytes(key, "little") < (self.map.max_entries)
        ):
            return bytes(self.value_size)  # an array's all-zero entry
        return found

    def update(self, key: bytes, value: bytes) -> None:
        self._sized(key, value)
        try:
            self.switch.map_update(self.action, self.name, key, value)
        except OvsError as e:
            raise MapError(f"update of map {self.name!r} failed: {e.message}") from None

    def delete(self, key: bytes) -> None:
        self._sized(key)
        try:
            self.switch.map_delete(self.action, self.name, key)
        except OvsError as e:
            raise MapError(f"delete from map {self.name!r} failed: {e.message}") from None

    def items(self) -> Mapping[bytes, bytes]:
        return self.switch.switch_maps(self.action, self.name)[self.name].entries


class SwitchRingReader:
    """The records of a ring buffer that the switch keeps, read through
    ``bpf/ringbuf-read``; as ``extframe.kernel.RingReader`` reads a kernel's.

    The switch hands over records in batches and forgets them; those that
    ``on_record`` did not take (it returned True) wait here for the next call.
    """

    def __init__(
        self, switch: Switch, action: str, name: str, on_record: Callable[[bytes], bool | None]
    ) -> None:
        self.switch, self.action, self.name = switch, action, name
        self._on_record = on_record
        self._waiting: deque[bytes] = deque()
        self._more = False

    def _hand_over(self) -> tuple[int, bool]:
        """Records to ``on_record`` until it says stop; how many, and whether it did."""
        n = 0
        while self._waiting:
            n += 1
            if self._on_record(self._waiting.popleft()):
                return n, True
        return n, False

    def _read(self) -> None:
        try:
            records, self._more = self.switch.ringbuf_read(self.action, self.name)
        except OvsError as e:
            raise MirrorError(f"cannot read ring buffer {self.name!r}: {e.message}") from None
        self._waiting.extend(records)

    def consume(self) -> int:
        """Read every record there is now, without waiting."""
        n, stopped = self._hand_over()
        while not stopped:
            self._read()
            if not self._waiting:
                break
            got, stopped = self._hand_over()
            n += got
        return n

    def poll(self, timeout_ms: int) -> int:
        """Read the records there are; if there are none, wait ``timeout_ms`` first."""
        if not self._waiting and not self._more:
            self._read()
            if not self._waiting:
                time.sleep(timeout_ms / 1000)
                self._read()
        return self.consume()

    def close(self) -> None:
        self._waiting.clear()


def _switch_map(maps: Mapping[str, SwitchMap], name: str) -> SwitchMap | None:
    """The switch's map made from the kernel map libbpf called ``name``."""
    return maps.get(name) or maps.get(name[:_KERNEL_NAME_LEN])


@contextmanager
def open_action_map(switch: Switch, action: str, name: str) -> Iterator[ActionMap]:
    """Map ``name`` of the registered ``action``, in the switch or in the kernel."""
    registered = switch.registered().get(action)
    if registered is None:
        raise OvsError(f"{action} is not registered on {switch.run_dir}")
    if registered.runs_on == "inproc":
        m = _switch_map(switch.switch_maps(action), name)
        if m is None:
            raise OvsError(f"{action} has no map {name!r} in the switch")
        yield SwitchActionMap(switch, action, m)
        return
    pinned = bpffs.open_pinned_map(switch.pin_root / action / "map" / bpffs.pin_name(name))
    try:
        yield KernelActionMap(pinned)
    finally:
        os.close(pinned.fd)


def dump_action_maps(
    switch: Switch, action: str, only: str | None = None, internal: bool = False
) -> list[dict[str, Any]]:
    """Every map of the registered ``action``, decoded with its BTF types (``mapview.dump``).

    For an action run in-process the entries are the switch's and the types
    those of the kernel map it was made from, pinned beside the program.
    """
    registered = switch.registered().get(action)
    if registered is None:
        known = ", ".join(sorted(switch.registered())) or "none"
        raise OvsError(f"{action} is not registered on {switch.run_dir} (actions: {known})")
    folder = switch.pin_root / action / "map"
    kept = switch.switch_maps(action) if registered.runs_on == "inproc" else None
    dumps = []
    for pin in sorted(folder.iterdir()) if folder.is_dir() else []:
        fd = bpffs.open_pinned(Path(pin))
        try:
            name = mapview.map_types(fd).name
            if only and bpffs.pin_name(only) != pin.name:
                continue
            if not internal and "." in name:  # .bss, .data, .rodata: globals
                continue
            entries = None
            where = "kernel"
            if kept is not None:
                m = _switch_map(kept, name)
                if m is not None:
                    entries, where = m.entries, "switch"
            d = mapview.dump(fd, entries=entries)
        finally:
            os.close(fd)
        dumps.append(d | {"name": pin.name, "pinned_at": str(pin), "kept_by": where})
    return dumps
