# The protocol: one object per connection, fed by the event loop, parsing with httptools (llhttp).
#
# A request for a hot route (row, lookup, column; see rodata.server.routes.HOT) is answered here:
# its handler is called as the ASGI path calls it and the finished bytes go out in one write.  Any
# other request becomes the ASGI scope uvicorn would build and runs as uvicorn runs it (its
# RequestResponseCycle).  Answers leave in request order: a request parsed while an earlier one is
# still being answered (an ASGI cycle in flight, or a full write buffer) waits in `pending`, and
# reading pauses until the line is clear.

cdef class HttpProtocol:
    """One HTTP/1.1 connection (see the module's documentation)."""

    cdef Wire wire
    cdef object config, server_state, app_state, loop, app, parser, transport, flow
    cdef object server, client, scheme, root_path, asgi_version
    cdef object connections, tasks, pending, running, cycle, idle_timer
    cdef _Hot offloaded  # the hot request whose answer a thread is making (the line waits for it)
    cdef object offload_timer
    cdef object _write, _is_closing, _get_method, _get_version, _keep_alive  # bound methods, looked up once
    cdef bint reset_contextvars
    cdef _Hot hot
    # The request being parsed.
    cdef bytes url
    cdef list headers
    cdef Py_ssize_t head_size, head_bytes, heads_done
    cdef bint in_head, in_message, expect_continue, has_inm
    cdef bytes authorization, accept
    cdef bytes content_type
    cdef long long content_length
    # The connection.
    cdef bint write_paused, draining, failed
    cdef double idle_since

    def __init__(self, Wire wire, config, server_state, app_state, _loop=None):
        if not config.loaded:
            config.load()
        self.wire = wire
        self.config = config
        self.app = config.loaded_app
        self.loop = _loop or asyncio.get_event_loop()
        self.server_state = server_state
        self.app_state = app_state
        self.connections = server_state.connections
        self.tasks = server_state.tasks
        self.root_path = config.root_path
        self.asgi_version = config.asgi_version
        self.reset_contextvars = bool(getattr(config, "reset_contextvars", False))
        self.parser = httptools.HttpRequestParser(self)
        self._get_method = self.parser.get_method
        self._get_version = self.parser.get_http_version
        self._keep_alive = self.parser.should_keep_alive
        try:
            # Answer a request followed by more data after a "connection: close" (as uvicorn).
            self.parser.set_dangerous_leniencies(lenient_data_after_close=True)
        except AttributeError:
            pass
        self.pending = collections_deque()
        self.running = None
        self.cycle = None
        self.hot = None
        self.in_head = True
        self.idle_since = -1.0

    # -- the transport's calls --------------------------------------------------------------

    def connection_made(self, transport):
        self.connections.add(self)
        self.transport = transport
        self._write = transport.write
        self._is_closing = transport.is_closing
        self.flow = FlowControl(transport)
        self.server = get_local_addr(transport)
        self.client = get_remote_addr(transport)
        self.scheme = "https" if is_ssl(transport) else "http"
        self._idle()

    def connection_lost(self, exc):
        self.connections.discard(self)
        for cycle in (self.running, self.cycle):
            if cycle is not None:
                if not cycle.response_complete:
                    cycle.disconnected = True
                cycle.message_event.set()
        self._clear_pending()
        self.running = None
        self._drop_offloaded()
        self.hot = None
        if self.flow is not None:
            self.flow.resume_writing()
        if self.idle_timer is not None:
            self.idle_timer.cancel()
            self.idle_timer = None
        if exc is None:
            self.transport.close()

    def eof_received(self):
        pass

    def data_received(self, data):
        if self.failed:
            return
        cdef bint head_only = self.in_head
        cdef Py_ssize_t heads_before = self.heads_done
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            pass  # no protocol to switch to: the request was answered as a plain one
        except httptools.HttpParserError as exc:
            if isinstance(exc.__context__, HeadTooLarge):
                self._fail_with(431, "headers_too_large", f"the request head is larger than {_HEAD_LIMIT} bytes")
                return
            if isinstance(exc.__context__, UnsupportedVersion):
                self._fail_with(400, "malformed_request", "only HTTP/1.0 and HTTP/1.1 requests are answered")
                return
            if exc.__context__ is not None:  # a fault of this protocol's own callbacks (a bug)
                _log.error("internal error: %s", exc.__context__, exc_info=exc.__context__,
                           extra={"event": "internal_error"})
                self._fail_with(500, "internal", "internal error")
                return
            msg = "Invalid HTTP request received."
            _uvicorn_log.warning(msg)
            self._fail_with(400, "malformed_request", msg)
            return
        if self.in_head and not self.failed:
            # A head arriving in pieces: httptools holds a header until it ends, so count here too
            # (all of `data` was head when no head ended within it; else start again, lenient).
            if head_only and self.heads_done == heads_before:
                self.head_bytes += len(data)
            else:
                self.head_bytes = 0
            if self.head_bytes > _HEAD_LIMIT:
                self._fail_with(431, "headers_too_large", f"the request head is larger than {_HEAD_LIMIT} bytes")

    def pause_writing(self):
        """The transport's buffer is over its high-water mark: stop answering and reading."""
        self.write_paused = True
        self.flow.pause_writing()
        self.flow.pause_reading()

    def resume_writing(self):
        self.write_paused = False
        self.flow.resume_writing()
        self._drain()

    def shutdown(self):
        """Graceful shutdown (SIGTERM): answer what was received, then close."""
        self.draining = True
        if self._free() and not self.pending and not self.in_message:
            self.transport.close()
        elif self.running is not None and not self.pending:
            self.running.keep_alive = False

    # -- the parser's calls -----------------------------------------------------------------

    def on_message_begin(self):
        self.url = b""
        self.headers = []
        self.head_size = 0
        self.expect_continue = False
        self.has_inm = False
        self.authorization = None
        self.accept = None
        self.content_type = None
        self.content_length = -1
        self.in_message = True
        self.idle_since = -1.0

    def on_url(self, bytes url):
        self.url += url
        self.head_size += len(url)
        if self.head_size > _HEAD_LIMIT:
            raise HeadTooLarge()

    def on_header(self, bytes name, bytes value):
        # Names are kept as sent (lower-cased once, for the application or a revalidation, by
        # `lowered_headers`): the few a hot route reads are told apart here by length first.
        cdef Py_ssize_t n = PyBytes_GET_SIZE(name)
        self.head_size += n + PyBytes_GET_SIZE(value) + 4
        if self.head_size > _HEAD_LIMIT:
            raise HeadTooLarge()
        self.headers.append((name, value))
        if n == 13 and _same_name(name, b"if-none-match"):
            self.has_inm = True
        elif n == 13 and self.authorization is None and _same_name(name, b"authorization"):
            self.authorization = value  # the first one, as the application reads it
        elif n == 12 and self.content_type is None and _same_name(name, b"content-type"):
            self.content_type = value  # the first one, as the application reads it
        elif n == 14 and _same_name(name, b"content-length"):
            self.content_length = int(value) if value.isdigit() and len(value) < 19 else 1 << 62
        elif n == 6 and self.accept is None and _same_name(name, b"accept"):
            self.accept = value  # the first one, as the application reads it
        elif n == 6 and _same_name(name, b"expect") and value.lower() == b"100-continue":
            self.expect_continue = True

    def on_headers_complete(self):
        self.in_head = False
        self.head_bytes = 0
        self.heads_done += 1
        cdef bytes url = self.url
        cdef bytes method = self._get_method()
        version = self._get_version()
        if version != "1.1" and version != "1.0":
            raise UnsupportedVersion(version)
        if self.wire.max_concurrency and self._over_limit(url):
            self._overloaded(method, version == "1.1" and self._keep_alive())
            return
        cdef bint keep_alive = version == "1.1" and self._keep_alive()
        if (keep_alive and not self.has_inm and method == b"GET" and self.wire.fast and self._free()
                and not self.pending and not self.write_paused and not self.draining):
            started = monotonic()
            try:
                answer = self.wire.rows.answer(url, self.wire.defaults.of(self.server_state.default_headers),
                                               self.wire.gate, self.authorization)
            except Exception:  # a fault (a corrupt part...): the handler meets it again and answers it
                answer = None
            if answer is not None:  # the row route's common request, answered now
                self.cycle = None
                self.hot = None
                self._answered_row(<bytes>answer, url, started)
                return
        if self.wire.fast and self._take_hot(url, method, keep_alive):
            self.cycle = None
            return
        self.hot = None
        self._to_application(url, method, version, keep_alive)

    def on_body(self, bytes body):
        cdef _Hot hot = self.hot
        if hot is not None:
            if len(hot.body) + len(body) > self.wire.max_body:
                self._refuse_body(hot)
            else:
                hot.body += body
            return
        cycle = self.cycle
        if cycle is None or cycle.response_complete:
            return
        cycle.body += body
        if len(cycle.body) > HIGH_WATER_LIMIT:
            self.flow.pause_reading()
        cycle.message_event.set()

    def on_message_complete(self):
        self.in_message = False
        self.in_head = True
        cdef _Hot hot = self.hot
        if hot is not None:
            self.hot = None
            hot.body = bytes(hot.body)
            self._ready(hot)
        else:
            cycle = self.cycle
            if cycle is not None and not cycle.response_complete:
                cycle.more_body = False
                cycle.message_event.set()
        if self._free() and not self.pending:
            self._idle()

    # -- hot requests -----------------------------------------------------------------------

    cdef bint _take_hot(self, bytes url, bytes method, bint keep_alive) except -1:
        """Take the request as a hot one when it is (True), answered now or when its turn comes."""
        name = _HOT_METHODS.get(method)
        if name is None or PyBytes_GET_SIZE(url) == 0 or PyBytes_AS_STRING(url)[0] != b'/':
            return False
        cdef char* start = PyBytes_AS_STRING(url)
        cdef Py_ssize_t size = PyBytes_GET_SIZE(url)
        if memchr(start, b'#', size) != NULL:
            return False  # a fragment (never sent by a client): the application's way of parsing it
        cdef char* mark = <char*>memchr(start, b'?', size)
        cdef bytes path, query
        if mark == NULL:
            path, query = url, b""
        else:
            path = url[:mark - start]
            query = url[mark - start + 1:]
        found = self.wire.router.match(path, name)
        if found is None:
            return False
        cdef _Hot hot = _Hot.__new__(_Hot)
        hot.started = monotonic()
        hot.route, hot.invoke, hot.params = found
        hot.offload = hot.route.offload
        hot.route_number = self.wire.route_index[hot.route.name]
        hot.method = name
        hot.head = name == "HEAD"
        hot.path = path
        hot.query = query
        hot.headers = self.headers  # as sent: lower-cased only if a revalidation reads them
        hot.has_inm = self.has_inm
        hot.content_type = b"" if self.content_type is None else self.content_type
        hot.accept = b"" if self.accept is None else self.accept
        hot.keep_alive = keep_alive
        if self.wire.gate is not None:
            refused = self._refused(hot)
            if refused is not None:  # told before any body, which is then read and dropped
                hot.preset = refused
                self.hot = None
                self._ready(hot)
                return True
        if not hot.route.body:
            self.hot = None
            self._ready(hot)  # a body sent with it is read and dropped, as the application does
            return True
        if self.content_length > self.wire.max_body:
            self._refuse_body(hot)  # told before the body, which is then read and dropped
            return True
        hot.body = bytearray()
        if self.expect_continue:
            hot.continue_due = True
            self._continue_if_due(hot)
        self.hot = hot
        return True

    cdef bint _over_limit(self, bytes url) except -1:
        """More requests in progress (ASGI answers being made, requests waiting their turn) than
        ``--max-concurrency``; the probes are never refused."""
        if len(self.tasks) + self.wire.queued < self.wire.max_concurrency:
            return False
        path = url.partition(b"?")[0]
        return path != b"/livez" and path != b"/healthz"

    cdef void _overloaded(self, bytes method, bint keep_alive) except *:
        """503 ``overloaded`` at once (in its turn on this connection); a body is read and dropped."""
        cdef _Hot hot = _Hot.__new__(_Hot)
        hot.started = monotonic()
        hot.preset = self.wire.overloaded
        hot.route_number = self.wire.other_number
        hot.method = method.decode("latin-1")
        hot.head = method == b"HEAD"
        hot.path = self.url.partition(b"?")[0]
        hot.query = self.url.partition(b"?")[2]
        hot.headers = self.headers
        hot.keep_alive = keep_alive
        self.hot = None
        self.cycle = None
        self._ready(hot)

    cdef object _refused(self, _Hot hot):
        """The gate's 401 or 403 for `hot`, or None when its token may ask it."""
        at = self.wire.name_at.get(hot.route.name)
        dataset = None if at is None else self.wire.dataset_name(hot.params[at])
        return self.wire.gate.decide(self.authorization, hot.route.name, dataset)

    cdef void _refuse_body(self, _Hot hot) except *:
        """413 now, as the application answers a body over the limit: the rest of it is dropped."""
        hot.preset = self.wire.body_too_large
        hot.body = None
        self.hot = None
        self._ready(hot)

    cdef void _answered_row(self, bytes answer, bytes url, double started) except *:
        if not self._is_closing():
            self._write(answer)
        cdef double seconds = monotonic() - started
        self.wire.counters.count(self.wire.row_number, 200, seconds)
        if self.wire.access_log:
            mark = url.find(b"?")
            path, query = (url, b"") if mark < 0 else (url[:mark], url[mark + 1:])
            body = answer.partition(b"\r\n\r\n")[2]
            log_access({"method": "GET", "raw_path": path, "query_string": query, "client": self.client},
                       200, seconds, len(body))

    cdef void _continue_if_due(self, _Hot hot) except *:
        """``100 Continue`` for a request that asked for it, once every answer before it is out."""
        if hot.continue_due and self._free() and not self.pending and not self.write_paused:
            hot.continue_due = False
            if not self.transport.is_closing():
                self.transport.write(CONTINUE)

    cdef void _ready(self, _Hot hot) except *:
        if self._free() and not self.pending and not self.write_paused:
            self._answer_or_offload(hot)
        else:
            self.pending.append(hot)
            self.wire.queued += 1
            self.flow.pause_reading()

    cdef object _reply(self, _Hot hot):
        return _hot_reply(self.wire.ctx, hot)

    cdef inline bint _free(self) noexcept:
        """No answer is being made for this connection (an ASGI cycle, or a thread's)."""
        return self.running is None and self.offloaded is None

    cdef void _answer_or_offload(self, _Hot hot) except *:
        if hot.offload and hot.preset is None:
            self._offload(hot)
        else:
            self._answer(hot)

    cdef void _offload(self, _Hot hot) except *:
        """Have a thread make `hot`'s answer (rodata.server.offload); the line waits for it, the
        loop does not.  Counted as in progress (``--max-concurrency``) until answered."""
        self.offloaded = hot
        self.wire.queued += 1
        offload = self.wire.ctx.offload
        made = offload.submit(_hot_reply, self.wire.ctx, hot)
        self.offload_timer = self.loop.call_later(offload.timeout, self._offload_late, hot)
        made.add_done_callback(functools.partial(self._offload_made_threadsafe, hot))

    def _offload_made_threadsafe(self, hot, made):
        # In the thread that made the answer: hand it to the loop.
        try:
            self.loop.call_soon_threadsafe(self._offload_made, hot, made)
        except RuntimeError:
            pass  # the loop is closed: the server is gone, and the answer with it

    def _offload_made(self, _Hot hot, made):
        if self.offloaded is not hot:
            return  # answered 503 timeout already, or the connection is gone
        self._end_offload()
        hot.preset = made.result()  # _hot_reply never raises
        self._answer(hot)
        self._drain()

    def _offload_late(self, _Hot hot):
        if self.offloaded is not hot:
            return
        self._end_offload()
        hot.preset = self.wire.ctx.offload.late
        self._answer(hot)
        self._drain()

    cdef void _end_offload(self) except *:
        self.offloaded = None
        self.wire.queued -= 1
        if self.offload_timer is not None:
            self.offload_timer.cancel()
            self.offload_timer = None

    cdef void _drop_offloaded(self) except *:
        if self.offloaded is not None:
            self._end_offload()

    cdef void _answer(self, _Hot hot) except *:
        transport = self.transport
        if transport.is_closing():
            return
        reply = hot.preset if hot.preset is not None else self._reply(hot)
        if hot.has_inm and reply.etag is not None:
            reply = revalidated(reply, _lowered(hot.headers))
        cdef int status = reply.status
        cdef bint close = not hot.keep_alive or (self.draining and not self.pending and not self.in_message)
        cdef bytes defaults = self.wire.defaults.of(self.server_state.default_headers)
        chunks = reply.chunks
        cdef Py_ssize_t sent = 0
        if hot.head or status == 304:
            transport.write(head_and_body(status, defaults, reply.headers, close, None))
        elif len(chunks) == 1 and type(chunks[0]) is bytes:
            transport.write(head_and_body(status, defaults, reply.headers, close, chunks[0]))
            sent = PyBytes_GET_SIZE(<bytes>chunks[0])
        else:
            # One writev of the head and every chunk (memoryviews of the mapping are not copied).
            transport.writelines([head_and_body(status, defaults, reply.headers, close, None), *chunks])
            sent = reply.nbytes
        cdef double seconds = monotonic() - hot.started
        self.wire.counters.count(hot.route_number, status, seconds)
        if self.wire.access_log:
            log_access({"method": hot.method, "raw_path": hot.path, "query_string": hot.query,
                        "client": self.client}, status, seconds, sent)
        if close:
            transport.close()

    # -- requests for the application ----------------------------------------------------------

    cdef void _to_application(self, bytes url, bytes method, str version, bint keep_alive) except *:
        scope = asgi_scope(url, method, version, self.asgi_version, self.server, self.client, self.scheme,
                           self.root_path, _lowered(self.headers), self.app_state)
        cycle = RequestResponseCycle(
            scope=scope,
            transport=self.transport,
            flow=self.flow,
            logger=_uvicorn_log,
            access_logger=_uvicorn_access_log,
            access_log=False,  # rodata writes the access log itself (rodata.server.logs)
            default_headers=self.server_state.default_headers,
            message_event=asyncio.Event(),
            expect_100_continue=self.expect_continue,
            keep_alive=keep_alive,
            on_response=self._application_done,
        )
        self.cycle = cycle
        if self._free() and not self.pending and not self.write_paused:
            self._start(cycle)
        else:
            self.pending.append(cycle)
            self.wire.queued += 1
            self.flow.pause_reading()

    cdef void _start(self, cycle) except *:
        self.running = cycle
        if self.draining and not self.pending and not self.in_message:
            cycle.keep_alive = False
        if self.reset_contextvars:
            task = self.loop.create_task(cycle.run_asgi(self.app), context=contextvars.Context())
        else:
            task = self.loop.create_task(cycle.run_asgi(self.app))
        task.add_done_callback(self.tasks.discard)
        self.tasks.add(task)

    def _application_done(self):
        """The running ASGI cycle sent its whole answer: the next in line may go."""
        self.server_state.total_requests += 1
        self.running = None
        if self.transport.is_closing():
            return
        self._drain()

    # -- the line of answers ----------------------------------------------------------------

    cdef void _drain(self) except *:
        """Answer what waits, in order, until an ASGI cycle runs or the write buffer fills."""
        while self.pending and self._free() and not self.write_paused:
            item = self.pending.popleft()
            if type(item) is not bytes:
                self.wire.queued -= 1
            if type(item) is _Hot:
                self._answer_or_offload(<_Hot>item)
            elif type(item) is bytes:
                self._write_and_close(<bytes>item)
                return
            else:
                self._start(item)
        if not self._free() or self.pending or self.write_paused or self.transport.is_closing():
            return
        if self.draining and not self.in_message:
            self.transport.close()
            return
        if self.hot is not None:
            self._continue_if_due(self.hot)
        self.flow.resume_reading()
        if not self.in_message:
            self._idle()

    cdef void _fail_with(self, int status, str code, str message) except *:
        self._fail(_error_answer(status, code, message, self.wire.defaults.of(self.server_state.default_headers)))

    cdef void _fail(self, bytes answer) except *:
        """End the connection with `answer` once every answer before it is out."""
        self.failed = True
        self.hot = None
        cycle = self.cycle
        if cycle is not None and cycle is self.running and cycle.more_body:
            # The broken request is the one the application is answering: it will never see the
            # rest of its body, so it is told the client left, and the error goes out now.
            cycle.disconnected = True
            cycle.message_event.set()
            self.running = None
        if self._free() and not self.pending:
            self._write_and_close(answer)
        else:
            self.pending.append(answer)
            self.flow.pause_reading()

    cdef void _clear_pending(self) except *:
        """Drop what waits (the connection is gone or ends): no longer in progress."""
        for item in self.pending:
            if type(item) is not bytes:
                self.wire.queued -= 1
        self.pending.clear()

    cdef void _write_and_close(self, bytes answer) except *:
        self._clear_pending()
        if not self.transport.is_closing():
            self.transport.write(answer)
            self.transport.close()

    # -- the idle keep-alive timeout -----------------------------------------------------------

    cdef void _idle(self) except *:
        """Nothing to answer and no request begun: the keep-alive clock starts.  One timer per
        connection, re-armed only when it fires (never per request)."""
        self.idle_since = monotonic()
        if self.idle_timer is None:
            self.idle_timer = self.loop.call_later(self.wire.keep_alive_timeout, self._idle_check)

    def _idle_check(self):
        self.idle_timer = None
        if self.transport is None or self.transport.is_closing():
            return
        timeout = self.wire.keep_alive_timeout
        if self.idle_since < 0 or not self._free() or self.pending or self.in_message:
            self.idle_timer = self.loop.call_later(timeout, self._idle_check)  # busy: look again later
            return
        left = self.idle_since + timeout - monotonic()
        if left <= 0:
            self.transport.close()
        else:
            self.idle_timer = self.loop.call_later(left, self._idle_check)
