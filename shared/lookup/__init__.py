"""How a principal's items are read: keys, sources, the cache, DynamoDB, under one deadline.

The curated surface of the sub-package. At init, `build_lookup` turns what the mapping file says
(`LookupSpec`, its key templates parsed into `KeyTemplate`s) and the settings into a `Lookup`:
the primary item, related items and queries, each with its projection. Per event, `render` gives
the concrete `Reads`; `peek` answers from fresh cache entries without the event loop, `read`
does the rest on the loop through a `ProfileSource` (in production a `Store` over the
container's one connection, `shared.lookup.dynamodb`, which `shared.deps` opens), and both
return a `Profile`. Never imports the claim mapping, the trigger, the invocation or the
dependencies.

Modules: `keys` (templates, `clientMetadata`), `sources` (what is read), `read` (reads through
the cache under one deadline), `cache` (bounded TTL cache), `store` (GetItem, BatchGetItem,
Query), `dynamodb` (the connection and its TLS context), `transport` (our asyncio HTTP/1.1
client) and `codec` (llhttp parsing its answers): with `credentials`, the only modules that
import aiodynamo or an HTTP library; `wire` (DynamoDB JSON into plain values).
"""

from shared.lookup.cache import Clock, TTLCache
from shared.lookup.keys import MAX_METADATA_CHARS, KeyTemplate, KeyUse, read_metadata
from shared.lookup.profile import (
    Cached,
    CacheResult,
    Profile,
    ProfileSource,
    Reads,
    peek,
    read,
    render,
)
from shared.lookup.sources import (
    MAX_QUERIES,
    MAX_QUERY_LIMIT,
    MAX_RELATED,
    PRIMARY,
    ItemRead,
    ItemSpec,
    Lookup,
    LookupSpec,
    QueryRead,
    QuerySpec,
    build_lookup,
)
from shared.lookup.store import Store
from shared.lookup.wire import decode_get_item, decode_item

__all__ = (
    "MAX_METADATA_CHARS",
    "MAX_QUERIES",
    "MAX_QUERY_LIMIT",
    "MAX_RELATED",
    "PRIMARY",
    "CacheResult",
    "Cached",
    "Clock",
    "ItemRead",
    "ItemSpec",
    "KeyTemplate",
    "KeyUse",
    "Lookup",
    "LookupSpec",
    "Profile",
    "ProfileSource",
    "QueryRead",
    "QuerySpec",
    "Reads",
    "Store",
    "TTLCache",
    "build_lookup",
    "decode_get_item",
    "decode_item",
    "peek",
    "read",
    "read_metadata",
    "render",
)
