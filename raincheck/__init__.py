"""raincheck: a hardware-in-the-loop test harness for a Greengrass edge-ML application, and the application.

Installed, raincheck owns this one top-level name; its rooms are subpackages: `raincheck.harness` (the
emulated core, the rig, the pytest plugin), `raincheck.device`, `raincheck.lambdas`, `raincheck.app`.
In the repository they are the folders beside this one (harness/, device/, lambdas/, app/), which the
packaging maps under this name; run from a checkout without installing, this package finds them there.
"""

import os as _os

_ROOT = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))
if _os.path.isfile(_os.path.join(_ROOT, "pyproject.toml")) and _os.path.isdir(
    _os.path.join(_ROOT, "harness")
):
    __path__.append(_ROOT)  # noqa: F821 - a package's own __path__
