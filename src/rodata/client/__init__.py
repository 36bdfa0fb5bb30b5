"""Clients of a rodata server (or a fleet of them): ``rodata.Client`` and ``rodata.AsyncClient``.

Both drive the one implementation of every call in :mod:`rodata.client.core` (requests, the
fleet's retries in :mod:`rodata.client.wire`, decoding in :mod:`rodata.client.decode`) over httpx,
which is imported only with this package: ``import rodata`` does not load it."""

from __future__ import annotations

from rodata.client.aio import AsyncClient
from rodata.client.batch import RemoteBatch
from rodata.client.sync import Client

__all__ = ["AsyncClient", "Client", "RemoteBatch"]
