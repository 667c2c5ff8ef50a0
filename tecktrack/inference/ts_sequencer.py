"""Put MPEG-TS datagrams back in order with the continuity counters; drop repeats; count gaps.

UDP may deliver a datagram twice or after its successor. FFmpeg's demuxer does not undo
either, so each repeat or swap became a phantom or a lost frame (a 60-frame stream with 30 %
duplicated datagrams decoded as 72-97 frames, with 20 % adjacent swaps as 39-67). Every
transport packet carries a 4-bit continuity counter per PID that goes up by one for each
packet with payload, so the sequencer knows which datagram must come next:

* a datagram whose bytes were seen among the last ``memory`` datagrams is a **duplicate**
  and is dropped;
* a datagram whose first counter per PID is the expected one goes straight through;
* any other is **held** (at most ``window`` datagrams, at most ``hold_s`` seconds) until the
  datagram that fills the hole arrives; a datagram released while one that arrived before it
  is still held was **reordered**;
* when the hole is not filled in time the oldest held datagram is released anyway: a
  **gap** (datagrams lost on the way), and counting restarts from it.

Counters that restart legitimately (the discontinuity indicator of the adaptation field) are
accepted as they come. Null packets (PID 0x1FFF) and packets without payload are ignored.
The first datagram seen is the reference (a receiver may join a stream anywhere): when the very
first two arrive swapped, the earlier one is released late, as a gap. With 4-bit counters a
datagram of 7 packets of one PID moves its counter by 7, so only reorders of a few datagrams
can be undone; the ``window`` is kept small for that reason.
"""

from __future__ import annotations

import hashlib
from collections import deque
from dataclasses import dataclass

__all__ = ["Continuity", "TsSequencer", "continuity"]

_TS = 188
_NULL_PID = 0x1FFF


@dataclass(frozen=True)
class Continuity:
    """Per PID, the counters of the first and last payload packet of a datagram."""

    first: dict[int, int]
    last: dict[int, int]
    reset: frozenset[int]  # PIDs whose first payload packet says "discontinuity"


def continuity(datagram: bytes) -> Continuity:
    """Read the continuity counters of a datagram of whole 188-byte transport packets.

    Examples
    --------
    >>> def packet(pid, cc):
    ...     return bytes([0x47, pid >> 8, pid & 0xFF, 0x10 | cc]) + bytes(184)
    >>> c = continuity(packet(256, 14) + packet(256, 15) + packet(0, 3) + packet(256, 0))
    >>> c.first, c.last
    ({0: 3, 256: 14}, {0: 3, 256: 0})
    """
    # A datagram holds at most 7 packets: reading their 4-byte headers in Python costs a few
    # microseconds, where NumPy's per-call overhead made this 30 us (the receiver's GIL).
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    reset: set[int] = set()
    for at in range(0, len(datagram) // _TS * _TS, _TS):
        flags = datagram[at + 3]
        pid = (datagram[at + 1] & 0x1F) << 8 | datagram[at + 2]
        if not flags & 0x10 or pid == _NULL_PID:  # no payload: the counter does not count
            continue
        if pid not in first:
            first[pid] = flags & 0xF
            # the discontinuity indicator: adaptation field present, non-empty, top flag bit
            if flags & 0x20 and datagram[at + 4] > 0 and datagram[at + 5] & 0x80:
                reset.add(pid)
        last[pid] = flags & 0xF
    return Continuity(first=dict(sorted(first.items())), last=dict(sorted(last.items())),
                      reset=frozenset(sorted(reset)))


@dataclass
class _Held:
    arrived: float
    datagram: bytes
    info: Continuity


class TsSequencer:
    """Release MPEG-TS datagrams in continuity-counter order, without repeats.

    Parameters
    ----------
    hold_s : float
        Longest a datagram waits for the one that should come before it.
    window : int
        Most datagrams held at once; one more releases the oldest (a gap).
    memory : int
        Recent datagrams remembered (by digest) to recognise duplicates.

    Examples
    --------
    >>> def dgram(cc):
    ...     return bytes([0x47, 0x01, 0x00, 0x10 | cc]) + bytes([cc]) * 184
    >>> seq = TsSequencer()
    >>> [len(seq.push(dgram(c), now=0.0)) for c in (0, 2, 1, 1, 3)]
    [1, 0, 2, 0, 1]
    >>> seq.duplicated, seq.reordered, seq.gaps
    (1, 1, 0)
    """

    def __init__(self, hold_s: float = 0.2, window: int = 8, memory: int = 512):
        self.hold_s = float(hold_s)
        self.window = int(window)
        self.duplicated = self.reordered = self.gaps = 0
        self._expected: dict[int, int] = {}
        self._held: list[_Held] = []
        self._recent: deque[bytes] = deque(maxlen=int(memory))
        self._recent_set: set[bytes] = set()

    def next_deadline(self) -> float | None:
        """When the oldest held datagram stops waiting (``None`` when none is held)."""
        return self._held[0].arrived + self.hold_s if self._held else None

    def push(self, datagram: bytes, now: float) -> list[bytes]:
        """Take one arriving datagram; return the datagrams now ready, in order."""
        if self._is_repeat(datagram):
            self.duplicated += 1
            return []
        info = continuity(datagram)
        if not self._held and self._fits(info):
            self._advance(info)
            return [datagram]
        self._held.append(_Held(now, datagram, info))
        released = self._release_fitting()
        while len(self._held) > self.window:
            released += self._release_oldest()
        return released + self.expire(now)

    def expire(self, now: float) -> list[bytes]:
        """Release the held datagrams that waited ``hold_s`` (each hole left is a gap)."""
        released: list[bytes] = []
        while self._held and now - self._held[0].arrived >= self.hold_s:
            released += self._release_oldest()
        return released

    def flush(self) -> list[bytes]:
        """Release everything held (the stream ended)."""
        released: list[bytes] = []
        while self._held:
            released += self._release_oldest()
        return released

    # -- internals ----------------------------------------------------------------------
    def _is_repeat(self, datagram: bytes) -> bool:
        digest = hashlib.blake2b(datagram, digest_size=16).digest()
        if digest in self._recent_set:
            return True
        if len(self._recent) == self._recent.maxlen:
            self._recent_set.discard(self._recent[0])
        self._recent.append(digest)
        self._recent_set.add(digest)
        return False

    def _fits(self, info: Continuity, expected: dict[int, int] | None = None) -> bool:
        expected = self._expected if expected is None else expected
        return all(pid not in expected or pid in info.reset or cc == expected[pid]
                   for pid, cc in info.first.items())

    def _advanced(self, info: Continuity) -> dict[int, int]:
        return {**self._expected, **{pid: (cc + 1) % 16 for pid, cc in info.last.items()}}

    def _advance(self, info: Continuity) -> None:
        self._expected = self._advanced(info)

    def _fills_the_hole(self, position: int) -> bool:
        """A held datagram fits and, if it overtakes the oldest, the oldest fits after it.

        A 4-bit counter matches by chance one time in 16; asking the overtaken datagram to
        fit too makes a chance match (after a loss) a 1-in-256 event instead.
        """
        info = self._held[position].info
        if not self._fits(info):
            return False
        return position == 0 or self._fits(self._held[0].info, self._advanced(info))

    def _release_fitting(self) -> list[bytes]:
        released: list[bytes] = []
        progress = True
        while progress:
            progress = False
            for position, held in enumerate(self._held):
                if self._fills_the_hole(position):
                    del self._held[position]
                    self._advance(held.info)
                    self.reordered += position > 0  # it overtook one that came before it
                    released.append(held.datagram)
                    progress = True
                    break
        return released

    def _release_oldest(self) -> list[bytes]:
        held = self._held.pop(0)
        self.gaps += 1
        self._advance(held.info)
        return [held.datagram] + self._release_fitting()
