"""The simulated clock's shared file (fast mode): the core writes it, every Lambda process maps it.

One 8-byte word, the simulated now (float64), read and written as one aligned 8-byte access through a
memoryview: `struct.pack_into` zero-fills its target before it copies, so a reader in another process
could see 0.0. Only the core moves the clock; Lambdas read it. Standard library only: it is imported
inside Lambda processes.
"""

import mmap
import struct

LAYOUT = struct.Struct("<d")


class ClockFile:
    def __init__(self, path, start_s=None):
        """Open (and with `start_s`, create) the clock file at `path`."""
        if start_s is not None:
            with open(path, "wb") as created:
                created.write(LAYOUT.pack(float(start_s)))
        with open(path, "r+b") as handle:  # mmap keeps its own descriptor: the file need not stay open
            self._map = mmap.mmap(handle.fileno(), LAYOUT.size)
        self._now = memoryview(self._map)[:8].cast("d")

    @property
    def now(self):
        return self._now[0]

    @now.setter
    def now(self, value):
        self._now[0] = value
