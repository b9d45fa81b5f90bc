"""`make bench`: cold start and tail latency against Cognito's 5 s budget, side by side.

Sections: cold start (fresh processes, interleaved), warm latency (one process, rotating order),
faults (loopback proxy, per policy and cache setting), heavy sign-in load (K containers, Zipf
population). Prints tables, writes `bench/results/bench-<time>.json` (and `latest.json`) and a
latency CDF plot. `BENCH_QUICK=1` runs a small version in seconds, to prove the harness works.

By default it runs a local DynamoDB-compatible stub (`tools/ddb_stub.py`) in its own
process: it keeps connections alive as DynamoDB does, so the client is what gets measured.
`AWS_ENDPOINT_URL_DYNAMODB=URL` (with `BENCH_SEED=1` to write the bench's users into it), or real
AWS credentials plus `TABLE_NAME`, points every section at another DynamoDB instead.
"""

import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench import coldstart, faults, load, warm
from bench.population import Population
from bench.report import RESULTS, Progress, plot_cdf, table, write_json
from bench.stats import BUDGET_MS
from tools.ddb_stub import stats, stub_process


def _scale(quick: bool) -> dict[str, int]:
    if quick:
        return {
            "population": 2000, "cold_runs": 3, "warm_rounds": 400, "naive_rounds": 20,
            "hit_rounds": 5000, "fault_invocations": 60, "containers": 2, "load_sign_ins": 4000,
        }  # fmt: skip
    return {
        "population": int(os.environ.get("BENCH_USERS", "10000")),
        "cold_runs": int(os.environ.get("BENCH_COLD_RUNS", "15")),
        "warm_rounds": 5000,
        "naive_rounds": 200,
        "hit_rounds": 20000,
        "fault_invocations": 300,
        "containers": int(os.environ.get("BENCH_CONTAINERS", "2")),
        "load_sign_ins": int(os.environ.get("BENCH_SIGN_INS", "50000")),
    }


@contextlib.contextmanager
def _store(population: Population, workdir: Path) -> Iterator[tuple[dict[str, str], str | None]]:
    """The DynamoDB every section uses: env for the handlers, and the local endpoint if any."""
    base = {
        "AWS_REGION": os.environ.get("AWS_REGION", "us-east-1"),
        # Lambda sets both; boto3 reads only this one.
        "AWS_DEFAULT_REGION": os.environ.get("AWS_REGION", "us-east-1"),
        "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", "bench"),
        "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", "bench"),
        "TABLE_NAME": os.environ.get("TABLE_NAME", "profiles"),
    }
    external = os.environ.get("AWS_ENDPOINT_URL_DYNAMODB")
    if external or os.environ.get("TABLE_NAME"):
        if os.environ.get("BENCH_SEED") == "1":
            from tools.local_dynamodb import put_items

            put_items(
                external or "", base["TABLE_NAME"], population.items(), region=base["AWS_REGION"]
            )
        env = {**base, **({"AWS_ENDPOINT_URL_DYNAMODB": external} if external else {})}
        yield env, None
        return
    items = population.write_items(workdir / "items.json")
    with stub_process(items) as endpoint:
        yield {**base, "AWS_ENDPOINT_URL_DYNAMODB": endpoint}, endpoint


def _print_cold(cold: dict[str, Any]) -> None:
    rows = []
    for name, v in cold["variants"].items():
        ratios = cold["ratio_ours_over_peer_process"]
        ratio = ratios.get(name, {}).get("median", 1.0)
        rows.append([
            v["label"], v["import_ms"]["median"], v["init_ms"]["median"],
            v["first_call_ms"]["median"], v["process_ms"]["median"], v["process_ms"]["p90"],
            v["process_ms"]["min"], v["process_ms"]["max"], ratio,
        ])  # fmt: skip
    print(table(
        f"Cold start: {cold['runs']} fresh processes each, interleaved (ms; ratio = ours/peer, "
        "median of per-round ratios, whole process)",
        ["handler", "import", "init", "first call", "process p50", "p90", "min", "max",
         "ours/peer"],
        rows,
    ))  # fmt: skip
    profile = cold["import_profile"]
    print(table(
        "Where our import time goes (-X importtime self time, "
        f"{profile['total_self_ms']:.0f} ms in all)",
        ["package", "self ms"], profile["top_packages_ms"],
    ))  # fmt: skip


def _print_warm(w: dict[str, Any]) -> None:
    rows = [
        [name, s["count"], s["p50_ms"], s["p90_ms"], s["p99_ms"], s["p99_9_ms"], s["max_ms"],
         s["p99_budget"], s.get("cpu_mean_us", float("nan"))]
        for name, s in w["summaries"].items()
    ]  # fmt: skip
    print(table(
        f"Warm latency, one process (ms; budget = p99 / {BUDGET_MS:.0f} ms); "
        f"cache on hit ratio {w['cache_on_hit_ratio']:.1%} over {w['population']} Zipf users",
        ["handler", "n", "p50", "p90", "p99", "p99.9", "max", "p99/budget", "CPU us/call"], rows,
    ))  # fmt: skip
    print(
        f"ours/floor: p50 {w['ours_off_over_floor_p50']:.3f}x, "
        f"p99 {w['ours_off_over_floor_p99']:.3f}x; "
        f"cache hits: {w['cache_hit_per_second_one_core']:.0f} invocations/s on one core"
    )


def _print_faults(f: dict[str, Any]) -> None:
    rows = []
    for name, c in f["configs"].items():
        o, s = c["outcomes"], c["summary"]
        rows.append([
            name, s["p99_ms"], s["max_ms"], s["max_budget"], o["claims_added"],
            o["allowed_without_claims"], o["denied"], o["served_stale"],
            c["over_deadline_plus_margin"],
        ])  # fmt: skip
    shaping = ("_ms", "_sigma", "_seconds")
    rates = ", ".join(f"{k} {v:g}" for k, v in f["rates"].items() if not k.endswith(shaping))
    print(table(
        f"Faults (lookup deadline {f['lookup_timeout_ms']} ms; injected per request: {rates})",
        ["policy, cache", "p99", "max", "max/budget", "claims", "allowed", "denied",
         "(stale)",
         f">deadline+{f['margin_ms']:.0f}"],
        rows,
    ))  # fmt: skip


def _print_load(lo: dict[str, Any]) -> None:
    print(table(
        f"Heavy sign-in load: {lo['containers']} containers, {lo['sign_ins']} sign-ins, "
        f"{lo['population']} Zipf users, cache TTL {lo['cache_ttl_seconds']:g} s",
        ["throughput/s", "p50 ms", "p99 ms (worst)", "max ms", "hit ratio", "reads/sign-in",
         "peak RSS MB"],
        [[lo["throughput_per_second"], lo["p50_ms_median_container"], lo["p99_ms_worst_container"],
          lo["max_ms"], lo["cache_hit_ratio"], lo["dynamodb_reads_per_sign_in"],
          max(lo["peak_rss_mb_per_container"])]],
    ))  # fmt: skip


def _targets(results: dict[str, Any]) -> list[list[str]]:
    cold = results["cold_start"]["ratio_ours_over_peer_process"]
    w = results["warm"]
    hit = w["summaries"]["ours (cache hit only)"]
    per_second = w["cache_hit_per_second_one_core"]
    vs_boto3, vs_aioboto3 = cold["boto3"]["median"], cold["aioboto3"]["median"]
    over_floor = w["ours_off_over_floor_p99"]
    rows: list[tuple[str, str, bool]] = [
        ("cold start vs plain boto3 <= 1.0x", f"{vs_boto3:.2f}x", vs_boto3 <= 1.0),
        ("cold start vs aioboto3 <= 0.8x", f"{vs_aioboto3:.2f}x", vs_aioboto3 <= 0.8),
        ("warm p99 ours/floor <= 1.05x", f"{over_floor:.3f}x", over_floor <= 1.05),
        ("cache hit p99 <= 50 us", f"{hit['p99_ms'] * 1000:.1f} us", hit["p99_ms"] <= 0.05),
        ("cache hits >= 20000/s/core", f"{per_second:.0f}/s", per_second >= 20000),
    ]
    if "faults" in results:
        worst = max(c["summary"]["max_ms"] for c in results["faults"]["configs"].values())
        bound = results["faults"]["lookup_timeout_ms"] + results["faults"]["margin_ms"]
        rows.append(
            (f"faults: max <= deadline+50 ms ({bound:.0f})", f"{worst:.1f} ms", worst <= bound)
        )
        rows.append(("faults: none at or past 5 s", f"{worst:.1f} ms", worst < 5000))
    return [[name, value, "met" if ok else "MISSED"] for name, value, ok in rows]


def main() -> int:
    quick = os.environ.get("BENCH_QUICK") == "1"
    scale = _scale(quick)
    population = Population(scale["population"])
    progress = Progress(4 + scale["cold_runs"] + 1 + 1 + 10 + 2 + 4 + scale["containers"])
    started = time.monotonic()
    results: dict[str, Any] = {"quick": quick, "scale": scale, "python": sys.version.split()[0]}
    with (
        tempfile.TemporaryDirectory() as workdir,
        _store(population, Path(workdir)) as (env, local),
    ):
        results["store"] = (
            "local DynamoDB stub" if local else env.get("AWS_ENDPOINT_URL_DYNAMODB", "AWS")
        )
        event = population.event(population.names[1])
        child_env = coldstart.child_environment(env)
        cold = coldstart.run(scale["cold_runs"], event, child_env, progress)
        cold["import_profile"] = coldstart.import_profile(event, child_env)
        progress.step("cold start: import profile")
        results["cold_start"] = cold
        results["warm"] = warm.run(
            env,
            population,
            scale["warm_rounds"],
            scale["naive_rounds"],
            scale["hit_rounds"],
            progress,
        )
        if local:
            results["faults"] = faults.run(
                env, local, population, scale["fault_invocations"], progress
            )
        else:
            results["faults_skipped"] = "the fault proxy needs a local plain-HTTP DynamoDB"
        reads_before = stats(local).get("GetItem", 0) if local else None
        results["load"] = load.run(
            env, scale["containers"], scale["population"], scale["load_sign_ins"], reads_before,
            (lambda: stats(local).get("GetItem", 0)) if local else None, progress,
        )  # fmt: skip
    latencies = results["warm"].pop("latencies")
    results["seconds"] = time.monotonic() - started
    _print_cold(results["cold_start"])
    _print_warm(results["warm"])
    if "faults" in results:
        _print_faults(results["faults"])
    _print_load(results["load"])
    results["targets"] = _targets(results)
    print(table("Targets", ["target", "measured", "status"], results["targets"]))
    RESULTS.mkdir(exist_ok=True)
    plot = plot_cdf(
        {k: v for k, v in latencies.items() if k != "ours (cache hit only)"},
        RESULTS / "latency-cdf.png",
        "Warm latency per invocation: ours vs peers vs floor",
    )
    path = write_json(results)
    print(f"\nresults: {path}; plot: {plot}; {results['seconds']:.0f} s")
    violations = results.get("faults", {}).get("violations", [])
    # The 5 s bound holds on any machine; the tighter deadline+margin bound is timing, so a quick
    # run (CI) reports it without failing.
    fatal = [v for v in violations if "5 s" in v or not quick]
    for violation in violations:
        print(f"fault bound violated: {violation}", file=sys.stderr)
    return 1 if fatal else 0


if __name__ == "__main__":
    sys.exit(main())
