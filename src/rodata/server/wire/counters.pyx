# Request counters: how many requests each route answered with each status, and how long they
# took (a histogram per route).  Plain C arrays, written by the event loop's thread only (the
# protocol and the ASGI path both count here); prometheus-client reads them at scrape time.

from posix.time cimport CLOCK_MONOTONIC, clock_gettime, timespec

cdef enum:
    MAX_ROUTES = 32
    MAX_STATUSES = 24
    MAX_BUCKETS = 24


cdef inline double monotonic() noexcept nogil:
    """Seconds on the monotonic clock (what `time.perf_counter` reads, without a Python call)."""
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return <double>ts.tv_sec + <double>ts.tv_nsec * 1e-9


cdef class Counters:
    """Requests by (route, status) and a latency histogram per route, for a fixed list of route
    labels and bucket bounds (seconds, ascending)."""

    cdef readonly tuple routes
    cdef readonly tuple buckets
    cdef dict _route_index
    cdef int _nroutes, _nbuckets, _nstatuses
    cdef short _status_slot[600]
    cdef int _slot_status[MAX_STATUSES]
    cdef uint64_t _requests[MAX_ROUTES][MAX_STATUSES]
    cdef uint64_t _latency[MAX_ROUTES][MAX_BUCKETS + 1]
    cdef double _bounds[MAX_BUCKETS]
    cdef double _total[MAX_ROUTES]

    def __cinit__(self, routes, buckets):
        self.routes = tuple(routes)
        self.buckets = tuple(float(b) for b in buckets)
        if not 0 < len(self.routes) <= MAX_ROUTES or len(self.buckets) > MAX_BUCKETS:
            raise ValueError(f"at most {MAX_ROUTES} routes and {MAX_BUCKETS} buckets")
        if list(self.buckets) != sorted(self.buckets):
            raise ValueError("bucket bounds must ascend")
        self._route_index = {name: i for i, name in enumerate(self.routes)}
        self._nroutes = len(self.routes)
        self._nbuckets = len(self.buckets)
        for i, bound in enumerate(self.buckets):
            self._bounds[i] = bound
        for i in range(600):
            self._status_slot[i] = -1

    cpdef int route_index(self, str route) except -1:
        """The number of a route label (KeyError for a label not in the list)."""
        return self._route_index[route]

    cdef int _slot(self, int status) noexcept:
        if status < 0 or status >= 600:
            status = 0  # counted as status 0: never a real answer, but never lost either
        cdef int slot = self._status_slot[status]
        if slot < 0:
            if self._nstatuses == MAX_STATUSES:
                return MAX_STATUSES - 1  # a full table lumps further statuses with the last one
            slot = self._nstatuses
            self._nstatuses += 1
            self._status_slot[status] = slot
            self._slot_status[slot] = status
        return slot

    cdef void count(self, int route, int status, double seconds) noexcept:
        """Count one request (`route` from :meth:`route_index`)."""
        if route < 0 or route >= self._nroutes:
            return
        self._requests[route][self._slot(status)] += 1
        cdef int lo = 0, hi = self._nbuckets, mid
        while lo < hi:  # the first bound >= seconds (bisect_left), as Prometheus' le buckets
            mid = (lo + hi) >> 1
            if self._bounds[mid] < seconds:
                lo = mid + 1
            else:
                hi = mid
        self._latency[route][lo] += 1
        self._total[route] += seconds

    def observe(self, str route, int status, double seconds):
        """Count one request on `route` answered with `status` after `seconds`."""
        self.count(self._route_index[route], status, seconds)

    def requests(self):
        """``{(route, status): count}`` for every pair counted at least once."""
        out = {}
        for r in range(self._nroutes):
            for s in range(self._nstatuses):
                if self._requests[r][s]:
                    out[(self.routes[r], self._slot_status[s])] = self._requests[r][s]
        return out

    def latency(self, str route):
        """``(counts per bucket, the last one past every bound), total seconds)`` of `route`."""
        cdef int r = self._route_index[route]
        return [self._latency[r][i] for i in range(self._nbuckets + 1)], self._total[r]
