"""UDP traffic between sandbox hosts: run inside a host's namespace.

    python -m extframe.ovs.traffic recv --port 9000 [--idle 1] [--timeout 30]
    python -m extframe.ovs.traffic send --to 10.0.0.2 --port 9000 --count 50 \
        [--size 200] [--rate 1000]
    python -m extframe.ovs.traffic frames [--gap 0.002] < hex-frames

``recv`` prints ``ready`` once its socket is bound, then one JSON line when
no datagram came for ``--idle`` seconds (after the first) or ``--timeout``
passed: how many datagrams arrived, how many distinct sequence numbers,
the IP TTLs they arrived with (``IP_RECVTTL``) and the senders. ``send``
numbers its datagrams (the first 8 bytes of the payload) and prints one
JSON line with how many it sent. ``frames`` sends whole Ethernet frames, one
hex line each from standard input, on ``eth0`` through a packet socket, as
they are (the kernel adds nothing), and prints how many it sent. The
host-side functions that start them are ``Receiver``, ``send`` and
``send_frames``.
"""

from __future__ import annotations

import argparse
import json
import select
import socket
import struct
import subprocess
import sys
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the namespace side imports nothing of extframe's
    from extframe.ovs.sandbox import Host

_TTL = struct.Struct("i")
#: linux/in.h; the socket module does not name it.
IP_RECVTTL = 12


def _recv(port: int, idle: float, timeout: float) -> dict[str, Any]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.setsockopt(socket.IPPROTO_IP, IP_RECVTTL, 1)
    sock.bind(("0.0.0.0", port))
    print("ready", flush=True)
    ttls: Counter[int] = Counter()
    senders: Counter[str] = Counter()
    seqs: set[int] = set()
    received = 0
    deadline = time.monotonic() + timeout
    last: float | None = None
    while True:
        now = time.monotonic()
        wait = deadline - now if last is None else min(deadline - now, last + idle - now)
        if wait <= 0 or not select.select([sock], [], [], wait)[0]:
            break
        data, anc, _, addr = sock.recvmsg(65535, socket.CMSG_SPACE(_TTL.size))
        received += 1
        senders[addr[0]] += 1
        if len(data) >= 8:
            seqs.add(struct.unpack_from("!Q", data)[0])
        for level, kind, value in anc:
            if level == socket.IPPROTO_IP and kind == socket.IP_TTL:
                ttls[_TTL.unpack(value[: _TTL.size])[0]] += 1
        last = time.monotonic()
    return {
        "received": received,
        "distinct": len(seqs),
        "ttls": {str(k): v for k, v in sorted(ttls.items())},
        "senders": dict(senders),
    }


def _send(to: str, port: int, count: int, size: int, rate: float) -> dict[str, Any]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    pad = b"x" * max(0, size - 8)
    gap = 1 / rate if rate > 0 else 0.0
    start = time.monotonic()
    sent = 0
    for seq in range(count):
        if gap:
            delay = start + seq * gap - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        try:
            sock.sendto(struct.pack("!Q", seq) + pad, (to, port))
            sent += 1
        except OSError:  # ENOBUFS under a burst: the datagram never left
            pass
    return {"sent": sent, "seconds": round(time.monotonic() - start, 3)}


class Receiver:
    """A ``recv`` running in a host's namespace; ``result()`` waits for its report."""

    def __init__(self, host: Host, port: int, idle: float = 1.0, timeout: float = 60) -> None:
        self.proc = subprocess.Popen(
            host.command(
                sys.executable,
                "-m",
                "extframe.ovs.traffic",
                "recv",
                "--port",
                str(port),
                "--idle",
                str(idle),
                "--timeout",
                str(timeout),
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if line != "ready":
            self.proc.kill()
            err = self.proc.stderr.read() if self.proc.stderr else ""
            raise RuntimeError(f"the receiver on {host.name} did not start: {err.strip()}")
        self.timeout = timeout

    def result(self) -> dict[str, Any]:
        out, err = self.proc.communicate(timeout=self.timeout + 10)
        if self.proc.returncode != 0:
            raise RuntimeError(f"the receiver failed: {err.strip()}")
        data: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
        return data

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


def send(
    host: Host, to: str, port: int, count: int, size: int = 200, rate: float = 0
) -> dict[str, Any]:
    """Send ``count`` numbered datagrams from ``host``; waits until they are sent."""
    done = host.run(
        sys.executable, "-m", "extframe.ovs.traffic", "send",
        "--to", to, "--port", str(port), "--count", str(count),
        "--size", str(size), "--rate", str(rate),
        timeout=max(60, count / rate * 2 if rate else 60),
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"sending from {host.name} failed: {done.stderr.strip()}")
    data: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return data


def ping(host: Host, to: str, count: int = 3, interval: float = 0.2) -> dict[str, Any]:
    """``ping`` from ``host``: replies received and the TTLs seen."""
    done = host.run("ping", "-n", "-c", str(count), "-i", str(interval), "-W", "1", to)
    replies = [line for line in done.stdout.splitlines() if "bytes from" in line]
    ttls = Counter(
        int(part.split("=")[1])
        for line in replies
        for part in line.split()
        if part.startswith("ttl=")
    )
    return {"sent": count, "received": len(replies), "ttls": {str(k): v for k, v in ttls.items()}}


def _frames(ifname: str, gap: float) -> dict[str, Any]:
    frames = [bytes.fromhex(line) for line in sys.stdin.read().split()]
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    sock.bind((ifname, 0))
    start = time.monotonic()
    for n, frame in enumerate(frames):
        if n and gap:
            time.sleep(gap)
        sock.send(frame)
    return {"sent": len(frames), "seconds": round(time.monotonic() - start, 3)}


def send_frames(host: Host, frames: list[bytes], gap: float = 0.002) -> dict[str, Any]:
    """Send raw Ethernet ``frames`` out of ``host``'s eth0, in order."""
    done = subprocess.run(
        host.command(sys.executable, "-m", "extframe.ovs.traffic", "frames", "--gap", str(gap)),
        input="\n".join(f.hex() for f in frames),
        capture_output=True,
        text=True,
        check=False,
        timeout=60 + len(frames) * gap * 2,
    )
    if done.returncode != 0:
        raise RuntimeError(f"sending frames from {host.name} failed: {done.stderr.strip()}")
    data: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return data


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m extframe.ovs.traffic")
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("recv")
    r.add_argument("--port", type=int, required=True)
    r.add_argument("--idle", type=float, default=1.0)
    r.add_argument("--timeout", type=float, default=30.0)
    s = sub.add_parser("send")
    s.add_argument("--to", required=True)
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--count", type=int, required=True)
    s.add_argument("--size", type=int, default=200)
    s.add_argument("--rate", type=float, default=0.0, help="datagrams per second; 0: at once")
    f = sub.add_parser("frames")
    f.add_argument("--ifname", default="eth0")
    f.add_argument("--gap", type=float, default=0.002, help="seconds between frames")
    args = p.parse_args(argv)
    if args.cmd == "recv":
        out = _recv(args.port, args.idle, args.timeout)
    elif args.cmd == "frames":
        out = _frames(args.ifname, args.gap)
    else:
        out = _send(args.to, args.port, args.count, args.size, args.rate)
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
