"""The simulated clock's shared file (fast mode): the core and every Lambda process map it.

Two 8-byte words: the simulated now (float64) and the lease epoch (uint64; see harness.core.clock). Each is
read and written as one aligned 8-byte access through a memoryview: `struct.pack_into` zero-fills its
target before it copies, so a reader in another process could see 0.0. A lease holder's check-and-move and
the core's revocation are ordered by an exclusive flock on the file: once the core has bumped the epoch,
no holder can move the clock on an old lease. Standard library only: it is imported inside Lambda processes.
"""

import contextlib
import fcntl
import mmap
import struct

LAYOUT = struct.Struct("<dQ")


class ClockFile:
    def __init__(self, path, start_s=None):
        """Open (and with `start_s`, create) the clock file at `path`."""
        if start_s is not None:
            with open(path, "wb") as created:
                created.write(LAYOUT.pack(float(start_s), 0))
        self._file = open(path, "r+b")  # noqa: SIM115 - held for the clock's life
        self._map = mmap.mmap(self._file.fileno(), LAYOUT.size)
        self._now = memoryview(self._map)[:8].cast("d")
        self._epoch = memoryview(self._map)[8:16].cast("Q")

    @property
    def now(self):
        return self._now[0]

    @now.setter
    def now(self, value):
        self._now[0] = value

    @property
    def epoch(self):
        return self._epoch[0]

    @epoch.setter
    def epoch(self, value):
        self._epoch[0] = value

    @contextlib.contextmanager
    def locked(self):
        fcntl.flock(self._file.fileno(), fcntl.LOCK_EX)
        try:
            yield self
        finally:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)

    def move_on_lease(self, lease_epoch, seconds, until):
        """A lease holder's sleep: move now by `seconds` if the lease still holds (same epoch, and the
        wake-up before `until`, None for no bound). True when moved; False means ask the core."""
        with self.locked():
            if self._epoch[0] != lease_epoch:
                return False
            wake = self._now[0] + seconds
            if until is not None and not wake < until:
                return False
            self._now[0] = wake
            return True
