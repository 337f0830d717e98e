"""Shadow updates per second: the harness's ShadowStore vs moto's iot-data backend, measured in one run.

    python bench/bench_shadow.py [--updates 5000] [--rounds 7]

Both sides are called in process, without HTTP, on the same sequences of payloads: the application's
traffic (readings from the republish Lambda, predictions from the inference Lambda, now and then a
desired change), then a wide shadow of 50 reported keys updated three keys at a time:
- moto: `iotdata_backends[account]["us-east-1"].update_thing_shadow(...).to_response_dict()`, what moto's
  responses layer serialises, on a thing registered in moto's iot backend;
- harness: `ShadowStore.update(...)`, whose result holds the accepted document (a fresh dict, like
  moto's) and also builds the /update/delta and /update/documents documents.
Lines: "backend" compares those calls; "JSON answer" adds json-encoding the accepted answer on both
sides; "service (all docs)" is the harness's ShadowService.handle, which encodes everything AWS
publishes (accepted, delta when there is one, documents: about 4x moto's bytes), against moto's JSON line.
moto is the baseline; ratios are harness/moto. Best of the rounds, interleaved. Prints, asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Callable

from moto.core import DEFAULT_ACCOUNT_ID
from moto.iot.models import iot_backends
from moto.iotdata.models import iotdata_backends

from raincheck.harness.shadow.models import ShadowStore
from raincheck.harness.shadow.service import ShadowService

REGION = "us-east-1"


def payloads(count: int, seed: int = 0) -> list[bytes]:
    """The application's traffic: republish readings, inference predictions, now and then a desired."""
    rng = random.Random(seed)
    out = []
    for sequence in range(count):
        kind = rng.random()
        if kind < 0.6:
            reported = {
                "temperature": round(rng.uniform(5, 35), 2),
                "pressure": round(rng.uniform(980, 1040), 2),
                "humidity": round(rng.uniform(20, 100), 2),
                "message": "Success",
                "sequence": sequence,
            }
            body: dict = {"state": {"reported": reported}}
        elif kind < 0.9:
            body = {"state": {"reported": {"rain_prediction": rng.randint(0, 1)}}}
        else:
            body = {
                "state": {"desired": {"config": {"period_s": rng.choice([5, 10]), "led": rng.random() < 0.5}}}
            }
        out.append(json.dumps(body).encode())
    return out


def wide_payloads(count: int, keys: int = 50, seed: int = 0) -> list[bytes]:
    """A wide shadow (`keys` reported values) of which each update changes three: moto re-stamps it all."""
    rng = random.Random(seed)
    out = [json.dumps({"state": {"reported": {f"s{k:02d}": 0.0 for k in range(keys)}}}).encode()]
    for _ in range(count - 1):
        changed = {f"s{rng.randrange(keys):02d}": round(rng.uniform(0, 100), 2) for _ in range(3)}
        out.append(json.dumps({"state": {"reported": changed}}).encode())
    return out


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def moto_runner(thing: str, encode: bool) -> Callable[[list[bytes]], None]:
    iot_backends[DEFAULT_ACCOUNT_ID][REGION].create_thing(thing, None, None)
    backend = iotdata_backends[DEFAULT_ACCOUNT_ID][REGION]

    def run(batch: list[bytes]) -> None:
        for payload in batch:
            response = backend.update_thing_shadow(thing, payload.decode(), None).to_response_dict()
            if encode:
                _ENCODER.encode(response)

    return run


def harness_runner(encode: bool) -> Callable[[list[bytes]], None]:
    store = ShadowStore()

    def run(batch: list[bytes]) -> None:
        for payload in batch:
            result = store.update("bench", payload)
            if encode:
                _ENCODER.encode(result.accepted)

    return run


def service_runner() -> Callable[[list[bytes]], None]:
    service = ShadowService(ShadowStore(), lambda topic, payload: None)

    def run(batch: list[bytes]) -> None:
        for payload in batch:
            service.handle("$aws/things/bench/shadow/update", payload)

    return run


def best_rate(runners: dict[str, Callable[[list[bytes]], None]], batch: list[bytes], rounds: int) -> dict:
    best = dict.fromkeys(runners, float("inf"))
    for _ in range(rounds):
        for name, run in runners.items():  # interleaved, so drift in machine load hits both sides
            start = time.perf_counter()
            run(batch)
            best[name] = min(best[name], time.perf_counter() - start)
    return {name: len(batch) / seconds for name, seconds in best.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    traffics = {
        "application traffic": payloads(args.updates),
        "wide shadow (50 keys)": wide_payloads(args.updates),
    }
    for index, (traffic, batch) in enumerate(traffics.items()):
        runners = {  # one moto thing per runner: moto keeps a single backend per region
            "moto backend": moto_runner(f"bench-{index}-raw", encode=False),
            "harness backend": harness_runner(encode=False),
            "moto JSON answer": moto_runner(f"bench-{index}-json", encode=True),
            "harness JSON answer": harness_runner(encode=True),
            "harness service (all docs)": service_runner(),
        }
        rates = best_rate(runners, batch, args.rounds)
        print(f"{traffic}: {args.updates} updates, best of {args.rounds} interleaved rounds")
        for name, rate in rates.items():
            print(f"  {name:>27}: {rate:9.0f} updates/s")
        pairs = [
            ("backend", "harness backend", "moto backend"),
            ("JSON answer", "harness JSON answer", "moto JSON answer"),
            ("service (all docs)", "harness service (all docs)", "moto JSON answer"),
        ]
        for label, harness, moto in pairs:
            print(f"  harness/moto {label:>18}: {rates[harness] / rates[moto]:.2f}x")


if __name__ == "__main__":
    main()
