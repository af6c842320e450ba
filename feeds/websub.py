"""WebSub (W3C) publisher side: tell the hub which topics changed.

After a publish, every subscription document whose bytes changed is announced to ``output.hub`` with
a form POST ``hub.mode=publish&hub.url=<the document's self URL>``: one request per topic, with a
short timeout. Nothing is sent when nothing changed. A ping the hub did not accept (network error,
timeout, non-2xx answer) is logged on the ``feeds.websub`` logger and remembered in the store
(``websub_pending``); every later publish retries the pending topics along with its own, until the
hub accepts them. Once the hub is unreachable the remaining topics of that publish are not tried
(they are marked pending at once), so a dead hub costs one timeout per publish, never more, and
never stops the documents from being written: pinging happens after all writes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from feeds import __version__
from feeds.store import Store

log = logging.getLogger("feeds.websub")
TIMEOUT = (3.05, 5.0)  # connect, read (seconds)


@dataclass
class AnnounceResult:
    accepted: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)


def announce(store: Store, hub: str, changed: Sequence[str], *, timeout: tuple[float, float] = TIMEOUT,
             session: Any = None) -> AnnounceResult:
    """Ping `hub` for the changed topics and for the ones still pending from earlier publishes."""
    result = AnnounceResult()
    try:
        pending = store.websub_pending()
    except Exception as e:  # the store is not the hub's business: never fail the publish over it
        log.error("cannot read pending WebSub pings: %s", e)
        pending = {}
    topics = list(dict.fromkeys([*changed, *sorted(pending)]))
    if not topics:
        return result
    import requests

    s = session or requests.Session()
    s.headers["User-Agent"] = f"feeds/{__version__} (WebSub publisher)"
    failed: dict[str, str] = {}
    unreachable: str | None = None
    try:
        for url in topics:
            if unreachable is not None:
                failed[url] = unreachable
                continue
            try:
                r = s.post(hub, data={"hub.mode": "publish", "hub.url": url}, timeout=timeout,
                           allow_redirects=False)
                r.close()
            except requests.RequestException as e:
                unreachable = f"{type(e).__name__}: {e}"[:300]
                failed[url] = unreachable
                continue
            if 200 <= r.status_code < 300:
                result.accepted.append(url)
                log.debug("hub %s accepted %s (%d)", hub, url, r.status_code)
            else:
                failed[url] = f"HTTP {r.status_code} {r.reason or ''}".strip()
    finally:
        if session is None:
            s.close()
    result.pending = list(failed)
    try:
        store.clear_websub_pending([u for u in result.accepted if u in pending])
        now = time.time()
        for url, err in failed.items():
            store.set_websub_pending(url, hub, err, now)
    except Exception as e:
        log.error("cannot record WebSub ping state: %s", e)
    if failed:
        first = next(iter(failed.values()))
        log.warning("hub %s did not take %d of %d ping(s) (%s); retrying at the next publish",
                    hub, len(failed), len(topics), first)
    return result
