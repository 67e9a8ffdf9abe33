"""Reading a BPF ring buffer from Python, through libbpf's ``ring_buffer`` API."""

from __future__ import annotations

import ctypes
import errno
import os
from collections.abc import Callable

from extframe.errors import MirrorError
from extframe.kernel import libbpf

#: ``ring_buffer_sample_fn``: int (*)(void *ctx, void *data, size_t size).
_SAMPLE_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)


class RingReader:
    """Records of the ring buffer map ``fd``, each handed to ``on_record`` as bytes.

    ``on_record`` returning True stops the current poll or consume early
    (libbpf stops at a callback's non-zero return); the records not yet read
    stay in the ring for the next call.
    """

    def __init__(self, fd: int, on_record: Callable[[bytes], bool | None]) -> None:
        self._on_record = on_record
        self._error: BaseException | None = None
        # libbpf calls this from inside poll/consume; it must outlive the ring.
        self._callback = _SAMPLE_FN(self._sample)
        handle = libbpf.lib().ring_buffer__new(
            fd, ctypes.cast(self._callback, ctypes.c_void_p), None, None
        )
        if not handle:
            err = ctypes.get_errno()
            raise MirrorError(f"cannot read the ring buffer (map fd {fd}): {os.strerror(err)}")
        self._rb: int | None = handle

    def _sample(self, _ctx: int | None, data: int | None, size: int) -> int:
        try:
            return 1 if self._on_record(ctypes.string_at(data or 0, size)) else 0
        except BaseException as e:  # an exception must not unwind through C
            self._error = e
            return 1

    def _call(self, ret: int, what: str) -> int:
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        if ret < 0 and -ret != errno.EINTR:
            raise MirrorError(f"ring buffer {what} failed: {os.strerror(-ret)}")
        return max(ret, 0)

    def poll(self, timeout_ms: int) -> int:
        """Wait up to ``timeout_ms`` for records and read them; how many were read."""
        if self._rb is None:
            raise MirrorError("the ring buffer reader is closed")
        return self._call(libbpf.lib().ring_buffer__poll(self._rb, timeout_ms), "poll")

    def consume(self) -> int:
        """Read every record there is now, without waiting."""
        if self._rb is None:
            raise MirrorError("the ring buffer reader is closed")
        return self._call(libbpf.lib().ring_buffer__consume(self._rb), "consume")

    def close(self) -> None:
        if self._rb is not None:
            libbpf.lib().ring_buffer__free(self._rb)
            self._rb = None

    def __enter__(self) -> RingReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
