"""Prometheus metrics: requests by route and status, a latency histogram per route, and the state
of every dataset (version served and version CURRENT names, rows, bytes, swaps, refused versions).

Requests are counted in C arrays on the event loop's thread
(:class:`rodata.server._http.Counters`: the compiled protocol counts there without a Python
call, the ASGI path through :meth:`Metrics.observe`; a counter from a metrics library costs a
lock and a label lookup per request, a sizeable share of a hot answer); prometheus-client builds
the exposition from them at scrape time."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector

from rodata.catalog import Catalog
from rodata.server import routes
from rodata.server._http import Counters

__all__ = ["CONTENT_TYPE", "ROUTES", "Metrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: Route labels: the route table's names, the documentation pages and the rest (a fixed set: paths
#: never become labels).
ROUTES = (*(route.name for route in routes.ROUTES), "docs", "other")
BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    """The server's metrics; :meth:`observe` is called once per request the ASGI path answers."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.counters = Counters(ROUTES, BUCKETS)
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_Collector(self))
        ProcessCollector(registry=self.registry)

    def observe(self, route: str, status: int, seconds: float) -> None:
        """Count one request on `route` answered with `status` after `seconds`."""
        self.counters.observe(route, status, seconds)

    @property
    def requests(self) -> dict[tuple[str, int], int]:
        """Requests counted so far, by (route, status)."""
        return self.counters.requests()

    def render(self) -> bytes:
        """The Prometheus text exposition."""
        return generate_latest(self.registry)


class _Collector:
    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        m = self.metrics
        requests = CounterMetricFamily("rodata_requests", "HTTP requests answered, by route and status",
                                       labels=["route", "status"])
        for (route, status), count in sorted(m.counters.requests().items()):
            requests.add_metric([route, str(status)], count)
        yield requests
        latency = HistogramMetricFamily("rodata_request_duration_seconds", "Time to answer a request, by route",
                                        labels=["route"])
        for route in ROUTES:
            counts, total = m.counters.latency(route)
            running, buckets = 0, []
            for bound, count in zip((*BUCKETS, float("inf")), counts, strict=True):
                running += count
                buckets.append(("+Inf" if bound == float("inf") else repr(bound), running))
            latency.add_metric([route], buckets, total)
        yield latency
        yield from _dataset_metrics(m.catalog)


def _dataset_metrics(catalog: Catalog) -> Iterator[Metric]:
    ready = GaugeMetricFamily("rodata_ready", "1 once the first load of every dataset is done")
    ready.add_metric([], 1.0 if catalog.ready else 0.0)
    yield ready
    families: dict[str, Any] = {
        "info": GaugeMetricFamily("rodata_dataset_info", "The version each dataset serves (value 1)",
                                  labels=["dataset", "version"]),
        "current_info": GaugeMetricFamily("rodata_dataset_current_info",
                                          "The version each dataset's CURRENT names (value 1)",
                                          labels=["dataset", "version"]),
        "skew": GaugeMetricFamily("rodata_dataset_version_skew",
                                  "1 while the version served is not the one CURRENT names (older, refused, "
                                  "waiting for a verdict, an I/O fault being retried)", labels=["dataset"]),
        "waiting": GaugeMetricFamily("rodata_dataset_waiting",
                                     "1 while the version CURRENT names waits for a recorded verdict "
                                     "(--verify recorded)", labels=["dataset"]),
        "serving": GaugeMetricFamily("rodata_dataset_serving", "1 while a version of the dataset is served",
                                     labels=["dataset"]),
        "error": GaugeMetricFamily("rodata_dataset_error",
                                   "1 while the dataset has an error (an unreadable CURRENT, an I/O fault being "
                                   "retried); the reason is in /healthz", labels=["dataset"]),
        "rows": GaugeMetricFamily("rodata_dataset_rows", "Rows of the version served", labels=["dataset"]),
        "bytes": GaugeMetricFamily("rodata_dataset_bytes", "Bytes mapped for the version served",
                                   labels=["dataset"]),
        "swaps": CounterMetricFamily("rodata_dataset_swaps", "Versions swapped in since start",
                                     labels=["dataset"]),
        "refused": CounterMetricFamily("rodata_dataset_refused_versions",
                                       "Versions refused since start (failed verification)", labels=["dataset"]),
        "refused_info": GaugeMetricFamily("rodata_dataset_refused_version_info",
                                          "Refused versions still remembered (value 1)",
                                          labels=["dataset", "version"]),
    }
    for state in catalog.states():
        name, ds = state.name, state.dataset
        families["serving"].add_metric([name], 1.0 if ds is not None else 0.0)
        families["error"].add_metric([name], 1.0 if state.error is not None else 0.0)
        families["waiting"].add_metric([name], 1.0 if state.waiting is not None else 0.0)
        if state.current is not None:
            families["current_info"].add_metric([name, state.current], 1.0)
            served = None if ds is None else ds.version
            families["skew"].add_metric([name], 0.0 if served == state.current else 1.0)
        if ds is not None:
            families["info"].add_metric([name, str(ds.version)], 1.0)
            families["rows"].add_metric([name], float(len(ds)))
            families["bytes"].add_metric([name], float(ds.nbytes))
        families["swaps"].add_metric([name], float(state.swaps))
        families["refused"].add_metric([name], float(state.refused_total))
        for version in list(state.refused):
            families["refused_info"].add_metric([name, version], 1.0)
    yield from families.values()
