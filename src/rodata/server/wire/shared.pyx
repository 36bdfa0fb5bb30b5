# What the connections of one server share (`Wire`: the application, the hot routes' router and
# row targets, the counters, the settings the protocol applies), the errors the parser callbacks
# raise to stop a request, and a hot request waiting for its turn (`_Hot`).

from rodata.server.conditional import revalidated
from rodata.server.errors import body_too_large, error_reply, reply_for_exception
from rodata.server.logs import log_access

#: The most bytes a request head (request line and headers) may have; more is 431.
HEAD_LIMIT = 64 * 1024

cdef Py_ssize_t _HEAD_LIMIT = HEAD_LIMIT
cdef object _uvicorn_log = logging.getLogger("uvicorn.error")
cdef object _uvicorn_access_log = logging.getLogger("uvicorn.access")
cdef object _log = logging.getLogger("rodata.server")
cdef dict _HOT_METHODS = {b"GET": "GET", b"HEAD": "HEAD", b"POST": "POST"}


class HeadTooLarge(Exception):
    """Raised inside a parser callback to stop parsing a request head over the limit."""


class UnsupportedVersion(Exception):
    """Raised inside a parser callback to stop parsing a request that is not HTTP/1.0 or 1.1."""


cdef bytes _error_answer(int status, str code, str message, bytes defaults):
    """A complete error answer that closes the connection (the one error shape)."""
    body = orjson.dumps({"error": {"code": code, "message": message}})
    return head_and_body(status, defaults, [(b"content-type", b"application/json"),
                                            (b"content-length", b"%d" % len(body))], True, body)


cdef inline bint _same_name(bytes name, bytes lower) noexcept:
    """`name` equals the lower-case `lower` (of the same length) but for case."""
    cdef const char* a = PyBytes_AS_STRING(name)
    cdef const char* b = PyBytes_AS_STRING(lower)
    cdef Py_ssize_t i
    cdef char c
    for i in range(PyBytes_GET_SIZE(lower)):
        c = a[i]
        if b'A' <= c <= b'Z':
            c = c + 32
        if c != b[i]:
            return False
    return True


cdef list _lowered(list headers):
    """The headers with lower-case names (as the ASGI scope has them)."""
    return [(name.lower(), value) for name, value in headers]


cdef class Wire:
    """What every connection of one server shares: the application, its hot routes and counters,
    the settings the protocol applies.  ``http=wire.protocol`` makes uvicorn use it."""

    cdef readonly object app
    cdef object ctx, router
    cdef Counters counters
    cdef dict route_index
    cdef bint fast, access_log
    cdef Py_ssize_t max_body
    cdef readonly double keep_alive_timeout
    cdef Defaults defaults
    cdef object body_too_large
    cdef Rows rows
    cdef int row_number
    cdef object gate, dataset_name  # access control (None: open), and how it names a {name} segment
    cdef dict name_at  # route name -> the position of its {name} parameter
    cdef Py_ssize_t max_concurrency  # 0: no limit
    cdef readonly Py_ssize_t queued  # requests in progress off the loop or waiting their turn, on every connection
    cdef object overloaded
    cdef int other_number

    def __init__(self, app, router, Counters counters, *, double keep_alive_timeout, bint fast, row_target,
                 row_etag, gate=None, dataset_name=None):
        """`app`: the ASGI application (a RodataAPI: ``app.ctx`` is what the handlers take);
        `router`: the hot routes' :class:`~rodata.server.dispatch.Router`; `counters`: where
        requests are counted; `fast`: answer the hot routes here (else every request goes to
        the application); `row_target`, `row_etag`: see :class:`Rows`; `gate`: the access control
        the application applies (``gate.decide(authorization, route, dataset)``: None or the
        401/403 reply), asked here too for every hot request, `dataset_name(raw segment)` naming
        the dataset it is asked about."""
        self.app = app
        self.ctx = app.ctx
        self.router = router
        self.counters = counters
        self.route_index = {name: counters.route_index(name) for name in counters.routes}
        self.fast = fast
        settings = app.ctx.settings
        self.access_log = settings.access_log
        self.max_body = settings.max_body_bytes
        self.keep_alive_timeout = keep_alive_timeout
        self.defaults = Defaults()
        self.rows = Rows(app.ctx.catalog, row_target, row_etag)
        self.row_number = counters.route_index("row")
        self.gate = gate
        self.dataset_name = dataset_name
        self.name_at = {route.name: route.params.index("name") for route in HOT if "name" in route.params}
        self.max_concurrency = settings.max_concurrency or 0
        self.queued = 0
        self.overloaded = error_reply(503, "overloaded", f"more than {self.max_concurrency} requests in progress: "
                                      "retry, or ask another replica")
        self.other_number = counters.route_index("other")
        self.body_too_large = body_too_large(self.max_body).reply()

    def protocol(self, config, server_state, app_state, _loop=None):
        """A protocol for one new connection (uvicorn calls this as its protocol class)."""
        return HttpProtocol(self, config, server_state, app_state, _loop)


cdef class _Hot:
    """A hot request, parsed: what its answer needs when its turn comes."""

    cdef object route, invoke, params
    cdef int route_number
    cdef bytes query, path, content_type, authorization, accept
    cdef list headers
    cdef str method
    cdef bint head, keep_alive, continue_due, has_inm, offload
    cdef object body  # None (no body taken), a bytearray while it arrives, then bytes
    cdef object preset  # an answer decided before the body (413), or None
    cdef double started


def _hot_reply(ctx, _Hot hot):
    """The reply to a matched hot request, as the application would make it (never raises: a
    request's fault is its 4xx, a bug a logged 500); on the loop, or in an offload thread."""
    try:
        if hot.route.body:
            return hot.invoke(ctx, hot.params, hot.query, hot.body, hot.content_type, hot.accept)
        return hot.invoke(ctx, hot.params, hot.query, None, b"", hot.accept)
    except Exception as exc:  # as the application maps them; a bug must still answer (500)
        mapped = reply_for_exception(exc)
        if mapped is not None:
            return mapped
        _log.error("internal error: %s", exc, exc_info=exc, extra={"event": "internal_error"})
        return error_reply(500, "internal", "internal error")


cdef dict asgi_scope(bytes url, bytes method, str version, asgi_version, server, client, scheme, str root_path,
                     list headers, dict app_state):
    """The ASGI scope of a request for the application: the one uvicorn's own protocol builds."""
    parsed = httptools.parse_url(url)
    raw_path = parsed.path
    path = raw_path.decode("ascii")
    if "%" in path:
        path = urllib.parse.unquote(path)
    return {
        "type": "http",
        "asgi": {"version": asgi_version, "spec_version": "2.3"},
        "http_version": version,
        "server": server,
        "client": client,
        "scheme": scheme,
        "root_path": root_path,
        "headers": headers,
        "state": app_state.copy(),
        "method": method.decode("ascii"),
        "path": root_path + path,
        "raw_path": root_path.encode("ascii") + raw_path,
        "query_string": parsed.query or b"",
    }
