"""Root conftest: the raincheck pytest plugin is registered through its pytest11 entry point when the
project is installed; in a bare checkout run it is loaded from here."""

import importlib.util

if importlib.util.find_spec("raincheck.harness.pytest_plugin") is not None:
    import importlib.metadata as _md

    _registered = any(ep.name == "raincheck" for ep in _md.entry_points(group="pytest11"))
    if not _registered:
        pytest_plugins = ["raincheck.harness.pytest_plugin"]
