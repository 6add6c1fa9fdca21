"""The greensms client's parameter validation (its Cerberus schemas), at a fraction of the cost.

`greensms.utils.validator.validate` builds a new `cerberus.Validator` for every call (which
hashes and checks the whole schema) and then normalizes the document. Here each thread keeps
one validator per schema (Cerberus validators hold per-call state: not shareable between
threads), and documents are normalized only when the schema has a normalization rule; the
client's schemas have none, so the verdict is the same as the client's own.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from cerberus import Validator

# Cerberus rules that change the document (docs: "Normalization Rules"); a schema without
# them validates the same document with or without normalizing it.
NORMALIZATION_RULES = frozenset(
    {"coerce", "default", "default_setter", "rename", "rename_handler", "purge_unknown",
     "purge_readonly"}
)  # fmt: skip

_local = threading.local()


def needs_normalizing(schema: Any) -> bool:
    if isinstance(schema, Mapping):
        return any(
            key in NORMALIZATION_RULES or needs_normalizing(value) for key, value in schema.items()
        )
    if isinstance(schema, list | tuple):
        return any(needs_normalizing(item) for item in schema)
    return False


def _validator(schema: Mapping[str, Any]) -> tuple[Validator, bool]:
    cache: dict[int, tuple[Mapping[str, Any], Validator, bool]] | None = getattr(
        _local, "validators", None
    )
    if cache is None:
        cache = _local.validators = {}
    entry = cache.get(id(schema))
    if entry is None or entry[0] is not schema:
        # Keyed by identity: the client's schemas are module constants; the schema is kept
        # in the entry so its id cannot be reused by another object.
        entry = cache[id(schema)] = (
            schema,
            Validator(schema, allow_unknown=True),
            needs_normalizing(schema),
        )
    return entry[1], entry[2]


def errors(schema: Mapping[str, Any] | None, document: Mapping[str, Any]) -> dict[str, Any] | None:
    """None when `document` passes `schema` (as the client would judge it), else Cerberus'
    errors by field. No schema: nothing to check, as in the client."""
    if schema is None:
        return None
    validator, normalize = _validator(schema)
    if validator.validate(dict(document), normalize=normalize):
        return None
    return dict(validator.errors)
