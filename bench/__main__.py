"""Run the benchmarks: ``python -m bench [topic ...]`` (topics: the cases_<topic>.py files).

Prints, per case and thread count: dlbook's time, the reference's time in the
same run, their ratio, and the stated target.  Run through ``make bench``,
which lets BLAS use both cores.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

from bench.common import Case, matmul_peak_gflops, set_threads, time_call, time_pair


def load_cases(topics: list[str]) -> list[Case]:
    import bench

    names = sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if m.name.startswith("cases_"))
    wanted = [n for n in names if not topics or n[len("cases_"):] in topics]
    if topics and not wanted:
        raise SystemExit(f"no benchmark topics {topics}; available: {[n[6:] for n in names]}")
    cases: list[Case] = []
    for name in wanted:
        cases.extend(importlib.import_module(f"bench.{name}").cases())
    return cases


def main(argv: list[str]) -> int:
    cases = load_cases(argv)
    from threadpoolctl import threadpool_info

    blas = ", ".join(f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture')})" for i in threadpool_info())
    print(f"BLAS: {blas}")
    header = f"{'case':<52} {'thr':>3} {'dlbook':>10} {'reference':>18} {'ratio':>7} {'target':>7}"
    print(header)
    print("-" * len(header))
    for case in cases:
        for threads in case.threads:
            with set_threads(threads):
                if case.reference is None:
                    ours, ref = time_call(case.ours), float("nan")
                else:
                    ours, ref = time_pair(case.ours, case.reference)
                peak = matmul_peak_gflops() if case.flops_per_call else None
            ratio = ours / ref
            # a case's target is for one thread, or for its only thread count
            stated = case.target is not None and (threads == 1 or len(case.threads) == 1)
            target = f"≤{case.target:g}×" if stated else ""
            ref_text = f"{ref * 1e3:9.3f} ms {case.reference_name:<6}"
            print(f"{case.name:<52} {threads:>3} {ours * 1e3:7.3f} ms {ref_text:>18} {ratio:6.2f}× {target:>7}")
            if case.unit_of_work:
                print(f"{'':<52} {'':>3} {case.unit_of_work / ours:,.0f} {case.unit_name}/s (dlbook), "
                      f"{case.unit_of_work / ref:,.0f} {case.unit_name}/s ({case.reference_name})")
            if peak:
                print(f"{'':<52} {'':>3} {case.flops_per_call / ours / 1e9:.1f} GFLOP/s by 6·N·D = "
                      f"{case.flops_per_call / ours / 1e9 / peak:.0%} of the sgemm peak at {threads} thread(s), "
                      f"{peak:.1f} GFLOP/s")
        for key, value in case.extra.items():
            print(f"{'':<52} {key}: {value:.2f}")
        if case.notes:
            print(f"{'':<52} {case.notes}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
