"""Type stubs of the compiled HTTP/1.1 protocol (private; see :mod:`rodata.server.runner`)."""

from collections.abc import Callable, Iterable
from typing import Any

HEAD_LIMIT: int

class Counters:
    """Requests by (route, status) and a latency histogram per route, in C arrays."""

    routes: tuple[str, ...]
    buckets: tuple[float, ...]
    def __init__(self, routes: Iterable[str], buckets: Iterable[float]) -> None: ...
    def route_index(self, route: str) -> int: ...
    def observe(self, route: str, status: int, seconds: float) -> None: ...
    def requests(self) -> dict[tuple[str, int], int]: ...
    def latency(self, route: str) -> tuple[list[int], float]: ...

class Wire:
    """What every connection of one server shares."""

    app: Any
    keep_alive_timeout: float
    queued: int
    def __init__(self, app: Any, router: Any, counters: Counters, *, keep_alive_timeout: float,
                 fast: bool, row_target: Callable[..., Any], row_etag: Callable[..., Any], gate: Any = None,
                 dataset_name: Callable[[bytes | str], str] | None = None) -> None: ...
    def protocol(self, config: Any, server_state: Any, app_state: dict[str, Any],
                 _loop: Any = None) -> HttpProtocol: ...

class HttpProtocol:
    """One HTTP/1.1 connection."""

    def __init__(self, wire: Wire, config: Any, server_state: Any, app_state: dict[str, Any],
                 _loop: Any = None) -> None: ...
