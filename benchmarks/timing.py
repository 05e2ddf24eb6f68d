"""Timing shared by the benchmark scripts (run as scripts, so they import this module by name)."""

import time


def per_call_ms(fn, values, repeats: int = 2) -> list[float]:
    """Best of ``repeats`` for each value, in ms: the cost of the work, not of other jobs on the machine."""
    times = []
    for value in values:
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            fn(value)
            best = min(best, time.perf_counter() - start)
        times.append(best * 1000)
    return times
