"""Memory of this process, as the benchmarks report it (MiB).

On Linux the fields of ``/proc/self/status``: ``VmRSS`` (resident now), ``RssAnon`` (its
anonymous part, without file-backed pages such as memory-mapped shards) and ``VmHWM`` (the peak).
``ru_maxrss`` is not used there: it carries the parent's peak into a child started by fork +
exec, so a small child started by a large benchmark would report the benchmark's gigabytes.
Elsewhere (macOS) the peak falls back to ``ru_maxrss``.

    >>> status_mib("VmRSS") > 0  # doctest: +SKIP
    True
"""

from __future__ import annotations

import resource
import sys


def status_mib(field: str = "VmRSS") -> float:
    """A ``kB`` field of ``/proc/self/status`` in MiB; NaN where there is none."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far (``VmHWM``, else ``ru_maxrss``)."""
    peak = status_mib("VmHWM")
    if peak == peak:  # not NaN
        return peak
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss / (1024 * 1024) if sys.platform == "darwin" else maxrss / 1024
