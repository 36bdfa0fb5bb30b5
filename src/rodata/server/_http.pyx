# cython: language_level=3
"""rodata's HTTP/1.1 protocol, compiled.  Private: :mod:`rodata.server.runner` gives it to uvicorn.

Made of small parts (``wire/*.pyx``, included here): the request counters the metrics read
(``counters``), the one writer of an answer's bytes (``answer``), the row route's common
request answered without the handler's Python objects (``rows``), what the connections share
(``shared``) and the protocol itself
(``protocol``), which answers the hot routes of the route table on the connection and hands
every other request to the ASGI application as uvicorn's own protocol would."""

import asyncio
import contextvars
import functools
import logging
import sys
import urllib.parse
import weakref
from collections import deque as collections_deque

import httptools
import orjson
from uvicorn.protocols.http.flow_control import HIGH_WATER_LIMIT, FlowControl
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, RequestResponseCycle
from uvicorn.protocols.utils import get_local_addr, get_remote_addr, is_ssl

from rodata._core._codec import get_json
from rodata.server.routes import HOT

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.tuple cimport PyTuple_GET_ITEM, PyTuple_GET_SIZE
from libc.stdint cimport uint64_t
from libc.string cimport memchr, memcmp, memcpy

include "wire/counters.pyx"
include "wire/answer.pyx"
include "wire/rows.pyx"
include "wire/shared.pyx"
include "wire/protocol.pyx"
