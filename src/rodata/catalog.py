"""``Catalog``: every dataset under a data root, each at its live version, swapped as CURRENT moves.

The catalog maps and verifies each dataset's live version, then polls every
dataset's CURRENT file (reading it, which also works on NFS, where change
notifications do not) and opens a new version off the caller's thread: the
checksum pass runs in compiled code that releases the GIL, so a server's event
loop keeps answering while a version is verified.  A version that passes is
swapped in by replacing one dict; one that fails is refused, remembered with the
reason, and the old version keeps serving.

Three verification modes: ``full`` (every checksum and deep validation of every byte, the
default), ``recorded`` (the headers, the directory, the manifest and the verdicts recorded
beside the version, rodata.validation: a version without one is waited for and tried again at
each poll, one with a failed verdict is refused) and ``off`` (structure only).

Readers call :meth:`Catalog.get` once per request and keep the :class:`Dataset`
they got: a swap never changes a dataset under a request, and an old version's
mapping goes away when the last object using it is gone."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rodata._poller import Poller
from rodata.dataset import Dataset
from rodata.dataset import open as open_dataset
from rodata.errors import FormatError, RodataError, UsageError
from rodata.store import CURRENT, current_version, is_dataset_name
from rodata.validation import VERDICTS, VerdictPending, check_recorded

__all__ = ["VERIFY_MODES", "Catalog", "CatalogEvent", "DatasetState", "verify_mode"]

log = logging.getLogger("rodata.catalog")

#: Refused versions remembered per dataset (the newest ones).
_MAX_REFUSED = 16
#: A version that could not be read for an I/O reason (EIO, EACCES, ESTALE, a listed part
#: missing while a publish is still in flight on a slow shared file system) is retried after
#: a delay that doubles from the first up to the cap; a format fault refuses it at once.
_RETRY_FIRST_S = 0.5
_RETRY_CAP_S = 60.0
#: ``full``: every checksum and every byte deep-validated at each server; ``recorded``: the
#: headers, the manifest and the recorded verdicts; ``off``: the structure only.
VERIFY_MODES = ("full", "recorded", "off")


def verify_mode(value: bool | str) -> str:
    """The verification mode `value` names: a mode, or a boolean (true is ``full``, false ``off``)."""
    if isinstance(value, bool):
        return "full" if value else "off"
    mode = value.strip().lower()
    if mode in VERIFY_MODES:
        return mode
    if mode in ("1", "true", "yes", "on"):
        return "full"
    if mode in ("0", "false", "no"):
        return "off"
    raise UsageError(f"unknown verification mode {value!r}: full, recorded or off (true is full, false off)")


@dataclass
class DatasetState:
    """What the catalog knows about one dataset: the version it serves and the versions it refused."""

    name: str
    dataset: Dataset | None = None
    loaded_at: float | None = None
    swaps: int = 0
    refused: dict[str, str] = field(default_factory=dict)
    refused_total: int = 0
    error: str | None = None
    retries: dict[str, tuple[int, float]] = field(default_factory=dict)  # version -> (attempts, next try at)
    current: str | None = None  # the version CURRENT names, at the last poll
    waiting: str | None = None  # why the version CURRENT names is not served yet (no verdict recorded)
    verdicts_seen: tuple[int, int] | None = None  # the served version's verdicts/ (inode, mtime) last checked

    @property
    def serving(self) -> bool:
        """True when a version of this dataset is being served."""
        return self.dataset is not None

    def to_json(self) -> dict[str, Any]:
        """The state as reported by ``/healthz``."""
        ds = self.dataset
        state = "serving" if ds is not None else "waiting" if self.waiting is not None else "unavailable"
        return {
            "name": self.name,
            "state": state,
            "version": None if ds is None else ds.version,
            "current": self.current,
            "waiting": self.waiting,
            "rows": None if ds is None else len(ds),
            "swaps": self.swaps,
            "refused": [{"version": v, "reason": r} for v, r in self.refused.items()],
            "error": self.error,
        }


@dataclass(frozen=True)
class CatalogEvent:
    """Something the catalog did: ``loaded``, ``swapped``, ``refused``, ``waiting`` (no verdict yet),
    ``removed`` or ``error``."""

    kind: str
    dataset: str
    version: str | None = None
    reason: str | None = None
    previous: str | None = None  # ``swapped``: the version served before


class Catalog:
    """The datasets under `data_root`, each at its live version (see the module docstring).

    ``verify`` (a mode of :data:`VERIFY_MODES`, or True for ``full`` and False for ``off``) says
    what is checked before a version is served (the module docstring); ``prefault`` reads each
    new version into the page cache before it is served.  Each dataset is loaded on its own:
    whatever goes wrong with one (a bad manifest, a corrupt part, an I/O error) is that dataset's
    refusal or error, never the others'."""

    def __init__(self, data_root: str | os.PathLike[str], *, verify: bool | str = True, prefault: bool = False,
                 on_event: Callable[[CatalogEvent], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.data_root = Path(data_root)
        self.mode = verify_mode(verify)
        self.verify = self.mode != "off"
        self.prefault = prefault
        self._on_event = on_event
        self._serving: dict[str, Dataset] = {}
        self._states: dict[str, DatasetState] = {}
        self._ready = threading.Event()
        self._lock = threading.Lock()  # one refresh at a time
        self._poller = Poller("rodata-catalog", self.refresh, what="catalog refresh failed", log=log,
                              first=lambda: None if self.ready else self.load())
        self._clock = clock

    # -- the read side (any thread; the hot path) ----------------------------------------

    def get(self, name: str) -> Dataset | None:
        """The dataset `name` at the version being served, or None."""
        return self._serving.get(name)

    @property
    def datasets(self) -> Mapping[str, Dataset]:
        """Every dataset being served, by name (a snapshot: it never changes once returned)."""
        return self._serving

    @property
    def ready(self) -> bool:
        """True once the first load (map and verify every dataset) is done."""
        return self._ready.is_set()

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Block until the first load is done; False when `timeout` seconds passed first."""
        return self._ready.wait(timeout)

    def states(self) -> list[DatasetState]:
        """Every dataset known, serving or not, by name."""
        return [self._states[name] for name in sorted(self._states)]

    def health(self, *, require_all: bool = False) -> dict[str, Any]:
        """``{"status", "ready", "datasets": [...]}``: status is ``loading`` before the first load,
        then ``ok`` while at least one dataset is serving, ``unavailable`` when none is.  With
        `require_all`, ``incomplete`` while any dataset with a CURRENT serves no version at all
        (one serving an older version than CURRENT names counts as serving); ``missing`` names them."""
        states = self.states()
        missing = [s.name for s in states if s.dataset is None]
        if not self.ready:
            status = "loading"
        elif not self._serving:
            status = "unavailable"
        elif require_all and missing:
            status = "incomplete"
        else:
            status = "ok"
        doc: dict[str, Any] = {"status": status, "ready": self.ready, "verify": self.mode}
        if require_all:
            doc["missing"] = missing
        doc["datasets"] = [s.to_json() for s in states]
        return doc

    # -- the write side (one thread at a time) -------------------------------------------

    def load(self) -> list[CatalogEvent]:
        """The first load: map and verify every dataset, then mark the catalog ready."""
        try:
            return self.refresh()
        finally:
            self._ready.set()

    def refresh(self) -> list[CatalogEvent]:
        """Look at every dataset's CURRENT once; open, verify and swap in what changed."""
        with self._lock:
            events: list[CatalogEvent] = []
            names = self._dataset_names(events)
            if names is None:  # the data root is unreadable right now: keep serving what we have
                return self._emit(events)
            for name in sorted(set(self._states) - names):
                self._remove(name, events)
            for name in sorted(names):
                self._refresh_isolated(name, events)
            return self._emit(events)

    def _dataset_names(self, events: list[CatalogEvent]) -> set[str] | None:
        try:
            entries = list(os.scandir(self.data_root))
        except OSError as exc:
            events.append(CatalogEvent("error", "", reason=f"{self.data_root}: {exc.strerror or exc}"))
            return None
        names = set()
        for entry in entries:
            name = entry.name
            if not is_dataset_name(name):
                continue
            try:
                # exists, not isfile: a CURRENT that is not a regular file is this dataset's error.
                if os.path.exists(os.path.join(entry.path, CURRENT)):
                    names.add(name)
            except OSError:
                continue
        return names

    def _refresh_isolated(self, name: str, events: list[CatalogEvent]) -> None:
        """Refresh one dataset; nothing that goes wrong with it may stop the others."""
        state = self._states.get(name)
        if state is None:
            state = self._states[name] = DatasetState(name)
        try:
            self._refresh_one(state, events)
        except Exception as exc:  # isolation: any failure is this dataset's, logged and shown in /healthz
            log.exception("dataset %s: refresh failed", name)
            self._set_error(state, f"refresh failed: {type(exc).__name__}: {exc}", events)

    def _refresh_one(self, state: DatasetState, events: list[CatalogEvent]) -> None:
        name = state.name
        serving = state.dataset
        if serving is not None:
            changed = serving.changed_on_disk()
            if changed is not None:  # stop before a request touches a truncated page (SIGBUS)
                unreadable = _unreadable_part(serving)
                if unreadable is None:
                    self._unserve(state, serving, f"a part changed on disk while served: {changed}", events)
                else:  # an I/O error (ESTALE, EIO, a part gone for a while): not served, tried again
                    self._unserve(state, serving, None, events)
                    self._retry_later(state, str(serving.version), f"a part became unreadable while served: "
                                      f"{unreadable}", events)
                serving = None
        if serving is not None and self.mode == "recorded":
            withdrawn = self._failed_since(state, serving)
            if withdrawn is not None:  # a verifier recorded a fail for the served version: refused anywhere
                self._unserve(state, serving, withdrawn, events)
                serving = None
        try:
            version = current_version(self.data_root / name)
        except RodataError as exc:
            self._set_error(state, str(exc), events)
            return
        state.current = version
        if version is None:
            return
        if (serving is not None and serving.version == version) or version in state.refused:
            state.waiting = None  # CURRENT moved back to what is served, or to a version refused
            if state.error is not None and serving is not None:
                state.error = None
            return
        _, next_try = state.retries.get(version, (0, 0.0))
        if self._clock() < next_try:
            return
        try:
            ds = self._open_verified(self.data_root / name / version)
        except FormatError as exc:
            self._refuse(state, version, str(exc), events)
            return
        except VerdictPending as exc:  # the recorded mode: tried again at the next poll, not before
            if state.waiting != str(exc):
                events.append(CatalogEvent("waiting", name, version, str(exc)))
            state.waiting = str(exc)
            return
        except (OSError, RodataError) as exc:
            # DatasetNotFoundError (a part not there yet) is an OSError too: retried, never refused.
            self._retry_later(state, version, str(exc), events)
            return
        self._swap(state, ds, events)

    def _failed_since(self, state: DatasetState, ds: Dataset) -> str | None:
        """Why the served version's verdicts now refuse it (a fail recorded since it was swapped in),
        or None.  The verdicts are read again only when their directory changed."""
        try:
            st = os.stat(ds.path / VERDICTS)
        except OSError:
            return None
        seen = (st.st_ino, st.st_mtime_ns)
        if state.verdicts_seen == seen:
            return None
        state.verdicts_seen = seen
        try:
            check_recorded(ds.path)
        except FormatError as exc:
            return str(exc)
        except (OSError, RodataError):  # unreadable for now: the next change of the directory is looked at
            return None
        return None

    def _retry_later(self, state: DatasetState, version: str, reason: str, events: list[CatalogEvent]) -> None:
        """An I/O fault: `version` is tried again after a delay that doubles up to the cap."""
        attempts, _ = state.retries.get(version, (0, 0.0))
        delay = min(_RETRY_CAP_S, _RETRY_FIRST_S * 2 ** attempts)
        state.retries[version] = (attempts + 1, self._clock() + delay)
        self._set_error(state, f"version {version}: {reason} (retry {attempts + 1} in {delay:g} s)", events)

    def _open_verified(self, path: Path) -> Dataset:
        """Open a version; in the ``full`` mode, every checksum and deep validation of every part
        (compiled code that releases the GIL: the server's loop keeps answering); in the ``recorded``
        mode, the verdicts first (rodata.validation.check_recorded), then the structure only."""
        if self.mode == "recorded":
            check_recorded(path)
        ds = open_dataset(path, verify=self.mode == "full", prefault=self.prefault)
        try:
            if self.mode == "full":
                ds.validate()
        except BaseException:
            ds.close()
            raise
        return ds

    def _unserve(self, state: DatasetState, ds: Dataset, reason: str | None, events: list[CatalogEvent]) -> None:
        """Stop serving `ds` before the next request can use it; its version is refused for `reason`
        (None: not refused, the caller retries it)."""
        serving = dict(self._serving)
        serving.pop(state.name, None)
        self._serving = serving
        state.dataset = None
        if ds.version is not None and reason is not None:
            self._refuse(state, ds.version, reason, events)

    def _swap(self, state: DatasetState, ds: Dataset, events: list[CatalogEvent]) -> None:
        first = state.dataset is None and state.loaded_at is None
        previous = None if state.dataset is None else state.dataset.version
        state.dataset = ds
        state.loaded_at = time.time()
        state.error = None
        state.waiting = None
        state.verdicts_seen = None
        state.retries.clear()
        if not first:
            state.swaps += 1
        # Copy, then replace: a reader holds either the old dict or the new one, both complete.
        serving = dict(self._serving)
        serving[state.name] = ds
        self._serving = serving
        events.append(CatalogEvent("loaded" if first else "swapped", state.name, ds.version, previous=previous))

    def _refuse(self, state: DatasetState, version: str, reason: str, events: list[CatalogEvent]) -> None:
        state.retries.pop(version, None)
        state.waiting = None
        state.refused[version] = reason
        state.refused_total += 1
        while len(state.refused) > _MAX_REFUSED:
            del state.refused[next(iter(state.refused))]
        state.error = None if state.dataset is not None else f"version {version} refused"
        events.append(CatalogEvent("refused", state.name, version, reason))

    def _set_error(self, state: DatasetState, reason: str, events: list[CatalogEvent]) -> None:
        if state.error != reason:
            events.append(CatalogEvent("error", state.name, reason=reason))
        state.error = reason

    def _remove(self, name: str, events: list[CatalogEvent]) -> None:
        state = self._states.pop(name)
        if name in self._serving:
            serving = dict(self._serving)
            del serving[name]
            self._serving = serving
        events.append(CatalogEvent("removed", name, None if state.dataset is None else state.dataset.version))

    def _emit(self, events: list[CatalogEvent]) -> list[CatalogEvent]:
        for event in events:
            _log_event(event)
            if self._on_event is not None:
                self._on_event(event)
        return events

    # -- the watcher thread --------------------------------------------------------------

    def start(self, poll_interval: float) -> None:
        """Load (if not done yet) and then poll every `poll_interval` seconds, in a background thread."""
        self._poller.start(poll_interval)

    def stop(self, timeout: float | None = 5.0) -> None:
        """Stop the watcher thread (a verify in progress finishes first, up to `timeout`)."""
        self._poller.stop(timeout)


def _unreadable_part(ds: Dataset) -> OSError | None:
    """The I/O error that stat gives for one of `ds`'s part files (gone, stale, unreadable), or None
    when every part can be looked at (and what changed is the file itself)."""
    for seg in ds._segments():
        try:
            os.stat(seg.path)
        except OSError as exc:
            return exc
    return None


def _log_event(event: CatalogEvent) -> None:
    extra = {"event": f"dataset_{event.kind}", "dataset": event.dataset, "version": event.version}
    if event.kind == "swapped":
        log.info("dataset %s swapped: version %s -> %s", event.dataset, event.previous, event.version,
                 extra={**extra, "previous": event.previous})
    elif event.kind in ("loaded", "removed"):
        log.info("dataset %s %s (version %s)", event.dataset, event.kind, event.version, extra=extra)
    elif event.kind == "waiting":
        log.info("dataset %s: version %s waits for a verdict", event.dataset, event.version,
                 extra={**extra, "reason": event.reason})
    elif event.kind == "refused":
        log.warning("dataset %s: version %s refused: %s", event.dataset, event.version, event.reason,
                    extra={**extra, "reason": event.reason})
    else:
        log.warning("dataset %s: %s", event.dataset or "-", event.reason, extra={**extra, "reason": event.reason})
