"""The container's life after init: priming before a SnapStart snapshot, renewing after restore.

Lambda SnapStart snapshots the initialised container and starts copies from it. Before the
snapshot, `prime` runs what the first invocation would otherwise pay for (msgspec's decoders for
the event, the item and the response body, the SigV4 signer, the transport's connection and
request path, the TLS handshake on a real endpoint) with one real GetItem on a key no profile uses.
After a restore, `renew` drops what must not be shared between restored copies or carried
across the time the snapshot slept: the pooled connections and the connection with the
credentials it resolved (the new one picks and fetches them again), the cache, and the random state.
"""

import random
from typing import Final

from shared.config import Settings
from shared.deps import Deps, open_deps
from shared.errors import StoreError
from shared.event import decode_event
from shared.lookup import ItemRead, decode_get_item, decode_item

__all__ = ("PRIME_KEY", "prime", "renew")

PRIME_KEY: Final = "__cognito_pretoken_prime__"
"""A key no profile uses: priming reads it and expects nothing."""

_SAMPLE_EVENT: Final = {
    "version": "2",
    "triggerSource": "TokenGeneration_Authentication",
    "userName": "prime",
    "callerContext": {"clientId": "prime"},
    "request": {
        "userAttributes": {"sub": "prime"},
        "groupConfiguration": {"groupsToOverride": [], "iamRolesToOverride": []},
        "scopes": [],
    },
}


def prime(deps: Deps) -> bool:
    """Warm every lazy path once; return whether the store answered (priming never raises).

    With no principal reading an item there is no store to ask: False, and nothing is read.
    """
    decode_event(_SAMPLE_EVENT)
    decode_item({"id": {"S": PRIME_KEY}, "n": {"N": "1"}, "m": {"M": {"l": {"L": []}}}})
    decode_get_item(b'{"Item": {"id": {"S": "p"}, "n": {"N": "1"}, "m": {"M": {"l": {"L": []}}}}}')
    timeout = deps.settings.lookup_timeout_ms / 1000
    lookup = deps.user.lookup or deps.client.lookup
    if lookup is None:
        return False  # nothing to read: no connection to warm
    source = lookup.primary
    read = ItemRead(source=source, key=tuple((attribute, PRIME_KEY) for attribute, _ in source.key))
    try:
        deps.loop.run_until_complete(
            deps.store.get_item(read, consistent=lookup.consistent, timeout=timeout)
        )
    except StoreError:
        return False
    return True


def renew(deps: Deps, settings: Settings) -> Deps:
    """Close `deps` and open fresh ones: new connection, empty cache, new random seed.

    Raises
    ------
    ConfigError
        Only if the configuration changed under the snapshot, which it cannot.
    """
    deps.close()
    random.seed()  # restored copies must not replay one random sequence (retry jitter)
    return open_deps(settings, deps.loop, logger=deps.logger)
