"""A recorded hour through the pipeline: the Thing over MQTT/TLS (discovery, the core's broker) against
the in-process link, in fast mode, in the same run.

    python bench/bench_transport.py [--readings 360] [--repeat 2] [--group fixtures/group_litert.yaml]

Both transports replay the first `--readings` rows (360 = one hour at the tutorial's 10 s period) of the
recorded day, alternating, `--repeat` times each. Prints each run's publish wall time and the ratio of
MQTT to the in-process link (best of each).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench_replay import measure

from raincheck.harness.paths import fixtures_dir


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readings", type=int, default=360)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--group", type=Path, default=fixtures_dir() / "group_litert.yaml")
    parser.add_argument(
        "--recording", type=Path, default=fixtures_dir() / "recordings" / "simulated_seed1_1day.csv"
    )
    args = parser.parse_args()
    best: dict[str, float] = {}
    for round_number in range(args.repeat):
        for transport in ("direct", "mqtt"):
            total_s, result = measure(args.recording, args.readings, args.group, transport=transport)
            publish_s = result.publish_wall_s
            best[transport] = min(best.get(transport, publish_s), publish_s)
            print(
                f"round {round_number + 1} {transport:6}: {args.readings} readings published in "
                f"{publish_s:.2f} s "
                f"({publish_s / args.readings * 1000:.2f} ms/reading, "
                f"{args.readings * 10 / publish_s:,.0f}x real time); whole run {total_s:.1f} s",
                flush=True,
            )
    print(
        f"MQTT/TLS vs in-process link (best of {args.repeat}): {best['mqtt']:.2f} s vs "
        f"{best['direct']:.2f} s = {best['mqtt'] / best['direct']:.2f}x"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
