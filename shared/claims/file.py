"""The `CLAIMS_CONFIG` file format: msgspec Structs, and reading a file into them.

A TOML file (JSON accepted too) is decoded into these Structs, which forbid unknown fields, so a
typo fails instead of being ignored. `read_file` and `decode_file` turn any unreadable input
(missing, a folder, too large, not UTF-8 text, not TOML or JSON, nested too deeply, a field of the
wrong type) into one `ConfigError` naming the file and what is wrong; whatever the bytes, nothing
else is raised. What the values mean is checked by `shared.claims.compile`.

The format, section by section (`[user]`, and `[client]` for machine clients, access token
only)::

    [[user.claims]]            attribute rules: source, attribute, claim, tokens, type,
                               parse, default, required, priority, when (source "event": a
                               user attribute; "identity": the federated identity)
    [user.static.id]           constant claims, per token (also [user.static.access])
    [user.suppress]            id / access: claim lists; id_from / access_from: list attributes
    [user.scopes]              add / suppress: scope lists; add_from / suppress_from: attributes
    [user.groups]              groups_from / iam_roles_from / preferred_role_from: attributes;
                               or from_attribute, parse, allow, allow_prefix, rename, mode
    [user.item]                the primary item: table (default TABLE_NAME), key = {pk = ...}
    [[user.related]]           name, table, key: items found through the primary item
    [[user.query]]             name, table, index, partition, sort_begins_with, limit
    [[user.grants]]            when + scopes_add scopes_suppress claims groups_add
                               groups_remove, or deny
    [request]                  client_metadata: the clientMetadata keys keys and conditions read;
                               user_attributes: the user attributes the mapping trusts
    [tables.<name>]            key_attributes = ["pk", "sk"]: a table's key, partition first

`Suppress`, `Scopes` and `Groups` are frozen: the compiled section keeps them as they are.
"""

import re
from pathlib import Path
from typing import Any, Final, Literal

import msgspec
from msgspec import inspect  # loaded with msgspec itself: no import cost

from shared.claims.guard import ClaimType, ListParse, Token
from shared.errors import ConfigError
from shared.lookup import PRIMARY

__all__ = (
    "MAX_FILE_BYTES",
    "GrantFile",
    "Groups",
    "ItemFile",
    "MappingFile",
    "QueryFile",
    "RelatedFile",
    "RequestFile",
    "RuleFile",
    "Scopes",
    "SectionFile",
    "StaticFile",
    "Suppress",
    "TableFile",
    "WhenFile",
    "decode_file",
    "read_file",
    "unknown_field_hint",
)

MAX_FILE_BYTES: Final = 4 * 1024 * 1024
"""A mapping file larger than this is refused before it is read (static claims alone stay
under 256 KB a token)."""

_UTF8_BOM: Final = b"\xef\xbb\xbf"


class WhenFile(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A condition (`when = {...}`): every key given must hold."""

    clients: list[str] | None = None
    trigger_sources: list[str] | None = None
    groups_any: list[str] | None = None
    groups_all: list[str] | None = None
    groups_none: list[str] | None = None
    scopes_any: list[str] | None = None
    attribute_equals: dict[str, str | int | float | bool] | None = None
    metadata_equals: dict[str, str] | None = None
    providers_any: list[str] | None = None
    federated: bool | None = None
    user_attribute_equals: dict[str, str] | None = None


class RuleFile(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One `[[user.claims]]` rule: copy an attribute of a source into a claim."""

    source: str = PRIMARY
    attribute: str
    claim: str | None = None
    tokens: list[Token]
    type: ClaimType = "any"
    parse: ListParse | None = None
    default: Any = msgspec.UNSET
    required: bool = False
    priority: int = 0
    when: WhenFile | None = None


class StaticFile(msgspec.Struct, forbid_unknown_fields=True):
    """Constant claims per token (`[user.static]`, a grant's `claims`)."""

    id: dict[str, Any] = {}
    access: dict[str, Any] = {}


class Suppress(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Claims to suppress per token; `*_from` name list attributes holding more."""

    id: tuple[str, ...] = ()
    access: tuple[str, ...] = ()
    id_from: str | None = None
    access_from: str | None = None


class Scopes(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Access-token scopes to add and suppress; `*_from` name list attributes holding more."""

    add: tuple[str, ...] = ()
    add_from: str | None = None
    suppress: tuple[str, ...] = ()
    suppress_from: str | None = None


class Groups(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Attributes overriding the user's groups, IAM roles and preferred role.

    `groups_from`, `iam_roles_from` and `preferred_role_from` name item attributes;
    `from_attribute` a user attribute parsed into groups (`parse`), of which only the names in
    `allow` or starting with `allow_prefix` count, renamed by `rename`, which replace the
    request's groups or are added to them (`mode`; unset: `add`).
    """

    groups_from: str | None = None
    iam_roles_from: str | None = None
    preferred_role_from: str | None = None
    from_attribute: str | None = None
    parse: ListParse | None = None
    allow: tuple[str, ...] = ()
    allow_prefix: str | None = None
    rename: dict[str, str] = {}
    mode: Literal["replace", "add"] | None = None


class GrantFile(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One `[[user.grants]]` entry: a condition and its actions, or a denial."""

    when: WhenFile | None = None
    scopes_add: list[str] = []
    scopes_suppress: list[str] = []
    claims: StaticFile = msgspec.field(default_factory=StaticFile)
    groups_add: list[str] = []
    groups_remove: list[str] = []
    deny: bool = False


class ItemFile(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """`[user.item]`: the primary item's table and key templates."""

    table: str | None = None
    key: dict[str, str]


class RelatedFile(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One `[[user.related]]` item, its key built from the primary item."""

    name: str
    table: str | None = None
    key: dict[str, str]


class QueryFile(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One `[[user.query]]`: a partition (and sort prefix) read into lists."""

    name: str
    table: str | None = None
    index: str | None = None
    partition: dict[str, str]
    sort_begins_with: dict[str, str] | None = None
    limit: int


class SectionFile(msgspec.Struct, forbid_unknown_fields=True):
    """`[user]` or `[client]`: what one kind of principal reads and gets."""

    item: ItemFile | None = None
    related: list[RelatedFile] = []
    query: list[QueryFile] = []
    claims: list[RuleFile] = []
    static: StaticFile = msgspec.field(default_factory=StaticFile)
    suppress: Suppress = Suppress()
    scopes: Scopes = Scopes()
    groups: Groups = Groups()
    grants: list[GrantFile] = []


class RequestFile(msgspec.Struct, forbid_unknown_fields=True):
    """`[request]`: which parts of the request the mapping may read."""

    client_metadata: list[str] = []
    user_attributes: list[str] = []


class TableFile(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """`[tables.<name>]`: a table's key attributes, partition key first."""

    key_attributes: list[str]


class MappingFile(msgspec.Struct, forbid_unknown_fields=True):
    """A whole `CLAIMS_CONFIG` file."""

    user: SectionFile = msgspec.field(default_factory=SectionFile)
    client: SectionFile = msgspec.field(default_factory=SectionFile)
    request: RequestFile = msgspec.field(default_factory=RequestFile)
    tables: dict[str, TableFile] = {}


def _text_problem(data: bytes) -> str | None:
    """Why `data` is not UTF-8 text a decoder can read, or None."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "the file is UTF-16 text: save it as UTF-8"
    if b"\x00" in data:
        return "the file holds NUL bytes: it is not a text file"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"the file is not UTF-8 text (invalid byte at offset {exc.start})"
    return None


def _element(kind: object) -> object | None:
    """What one step into a container of type info `kind` reaches (msgspec.inspect types)."""
    if isinstance(kind, inspect.UnionType):  # an optional field: its one non-None type
        kinds = [k for k in kind.types if not isinstance(k, inspect.NoneType)]
        kind = kinds[0] if len(kinds) == 1 else None
    if isinstance(kind, inspect.ListType | inspect.TupleType | inspect.VarTupleType):
        return kind.item_type if not isinstance(kind, inspect.TupleType) else None
    if isinstance(kind, inspect.DictType):
        return kind.value_type
    return kind


def unknown_field_hint(message: str, root: type) -> str:
    """`: did you mean `attribute`?` for msgspec's unknown-field message, or "" (no near name).

    `message` is a `msgspec.ValidationError`'s text (``Object contains unknown field `atribute`
    - at `$.user.claims[0]` ``); `root` the Struct the document was decoded into. The Struct at
    that path is found, and the known field nearest to the unknown one is named.
    """
    import difflib  # noqa: PLC0415 (1.6 ms of import, for the error path only)

    found = re.fullmatch(r"Object contains unknown field `([^`]*)`(?: - at `\$(.*)`)?", message)
    if found is None:
        return ""
    kind: object = inspect.type_info(root)
    for name, _ in re.findall(r"\.([^.\[]+)|\[([^\]]*)\]", found.group(2) or ""):
        kind = _element(kind)
        if name and isinstance(kind, inspect.StructType):
            fields = {field.encode_name: field.type for field in kind.fields}
            kind = fields.get(name)
        elif name:
            return ""
    kind = _element(kind)
    if not isinstance(kind, inspect.StructType):
        return ""
    known = [field.encode_name for field in kind.fields]
    near = difflib.get_close_matches(found.group(1), known, n=1, cutoff=0.6)
    return f": did you mean `{near[0]}`?" if near else ""


def decode_file(data: bytes, *, source: str, toml: bool) -> MappingFile:
    """Decode a mapping document's bytes (UTF-8 text; a leading byte-order mark is ignored).

    Raises
    ------
    ConfigError
        Naming `source` and what is wrong; whatever the bytes, nothing else.
    """
    prefix = f"claim mapping `{source}`: "
    data = data.removeprefix(_UTF8_BOM)
    if problem := _text_problem(data):
        raise ConfigError(prefix + problem)
    try:
        if toml:
            return msgspec.toml.decode(data, type=MappingFile)
        return msgspec.json.decode(data, type=MappingFile)
    except msgspec.ValidationError as exc:
        raise ConfigError(prefix + str(exc) + unknown_field_hint(str(exc), MappingFile)) from exc
    except msgspec.DecodeError as exc:
        raise ConfigError(prefix + str(exc)) from exc
    except RecursionError:
        raise ConfigError(prefix + "the document nests too deeply") from None
    except ValueError as exc:  # the decoders' other complaints (tomllib's among them)
        raise ConfigError(prefix + f"not valid {'TOML' if toml else 'JSON'}: {exc}") from exc


def read_file(path: str) -> bytes:
    """The bytes of the mapping file at `path` (`.toml` or `.json`).

    Raises
    ------
    ConfigError
        The file is missing, unreadable (a folder, too large) or of another kind.
    """
    file = Path(path)
    if file.suffix.lower() not in (".toml", ".json"):
        raise ConfigError(f"`CLAIMS_CONFIG` must name a .toml or .json file, got `{path}`")
    try:
        size = file.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ConfigError(
                f"`CLAIMS_CONFIG`: `{path}` is {size} bytes; a mapping may take at most "
                f"{MAX_FILE_BYTES}"
            )
        return file.read_bytes()
    except OSError as exc:
        raise ConfigError(f"`CLAIMS_CONFIG`: cannot read `{path}`: {exc.strerror}") from exc
