"""Start-up cost of a Lambda container: bubblewrap sandbox against no container, measured in the same run.

    python bench/bench_containers.py [--rounds 10]

Each round deploys one pinned Lambda (importing greengrasssdk) in each isolation mode, alternating, and
times from the core's start until the Lambda's runtime has imported the handler and asks for work. Also
times a bare `bwrap ... /bin/true` against `/bin/true`. Prints medians and the ratio container / none.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from raincheck.harness.core.core import EmulatedCore, make_clock
from raincheck.harness.core.sandbox import ContainerSpec, container_command
from raincheck.harness.group import load_group

LAMBDA = """import greengrasssdk

client = greengrasssdk.client("iot-data")


def handler(event, context):
    return event
"""
GROUP = """
group: bench
core: {thing: core, packages: [greengrasssdk]}
functions:
  - {name: f, handler: lambda_function.handler, code: code, pinned: true, isolation: ISOLATION}
"""


def time_start(folder: Path, isolation: str) -> float:
    (folder / "group.yaml").write_text(GROUP.replace("ISOLATION", isolation))
    group = load_group(folder / "group.yaml")
    workdir = folder / f"core-{isolation}"
    started = time.perf_counter()
    with EmulatedCore(group, workdir, clock=make_clock("faithful", workdir)) as core:
        host = core.functions["f"]
        while not host.ever_ready:
            if time.perf_counter() - started > 60:
                raise RuntimeError(f"no start in 60 s: {core.function_log('f')}")
            time.sleep(0.001)
        return time.perf_counter() - started


def time_command(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-containers-") as scratch:
        folder = Path(scratch)
        (folder / "code").mkdir()
        (folder / "code" / "lambda_function.py").write_text(LAMBDA)
        bare = container_command(ContainerSpec(package=folder / "code", hidden=[folder]), ["/bin/true"], 3)
        index = bare.index("--info-fd")  # nobody reads the pid here
        bare = bare[:index] + bare[index + 2 :]
        times: dict[str, list[float]] = {"container": [], "nocontainer": [], "bwrap": [], "true": []}
        time_start(folder, "container")  # warm the page cache and the package plan
        for _ in range(args.rounds):
            for isolation in ("container", "nocontainer"):
                times[isolation].append(time_start(folder, isolation))
            times["bwrap"].append(time_command(bare))
            times["true"].append(time_command(["/bin/true"]))
    median = {name: statistics.median(values) for name, values in times.items()}
    print(f"Lambda start to first work request, median of {args.rounds} (2-core machine):")
    print(f"  no container  {median['nocontainer'] * 1000:7.1f} ms")
    print(f"  container     {median['container'] * 1000:7.1f} ms")
    print(f"  ratio container / none: {median['container'] / median['nocontainer']:.2f}x")
    print(
        f"  sandbox alone: bwrap /bin/true {median['bwrap'] * 1000:.1f} ms vs /bin/true "
        f"{median['true'] * 1000:.1f} ms (+{(median['bwrap'] - median['true']) * 1000:.1f} ms per start)"
    )


if __name__ == "__main__":
    main()
