"""A Lambda process's calls to the emulated core's simulated clock (fast mode): raincheck's own, beside
greengrasssdk's AWS-shaped IPC client, over the same kept-alive connection (a real core has no such
calls). Standard library only: it is imported inside Lambda processes."""


class ClockClient:
    """sleep, wake and thread announcements, sent through an IPCClient's `call`."""

    def __init__(self, ipc):
        self._ipc = ipc

    def sleep(self, seconds, wake_id=""):
        """Sleep `seconds` of simulated time, or with `seconds` None until `wake(wake_id)` ends it."""
        fields = {"seconds": "" if seconds is None else repr(float(seconds))}
        if wake_id:
            fields["wake_id"] = wake_id
        self._ipc.call("sleep", fields)

    def wake(self, wake_ids):
        """The sleepers with these wake ids (of this process) run again, now."""
        self._ipc.call("wake", {"ids": ",".join(wake_ids)})

    def thread(self, event):
        """A thread of this process started ("start") or ended ("end"): the core counts its actors."""
        self._ipc.call("thread", {"event": event})
