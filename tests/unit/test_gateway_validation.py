"""Our cached validation of the greensms client's parameters judges exactly as the client:
every schema of the client, valid and invalid documents alike."""

from __future__ import annotations

import pytest
from greensms.api.modules import MODULES
from greensms.http.error import RestError
from greensms.utils.validator import validate
from hypothesis import given, settings
from hypothesis import strategies as st

from verification.gateways import validation

SCHEMAS = {
    f"{module}.{function}": schema
    for module, info in MODULES.items()
    for version in (info.get("schema") or {}).values()
    for function, schema in version.items()
}


def client_verdict(schema, document) -> object:
    try:
        validate(schema, document)
    except RestError as exc:
        return exc.params  # the library keeps Cerberus' errors here
    except Exception as exc:  # noqa: BLE001 - its cascade check raises TypeError on an int
        return type(exc)
    return None


def our_verdict(schema, document) -> object:
    try:
        return validation.errors(schema, document)
    except Exception as exc:  # noqa: BLE001 - must fail the same way as the client
        return type(exc)


values = st.one_of(
    st.none(),
    st.integers(min_value=-5, max_value=10**15),
    st.text(max_size=20),
    st.text(alphabet="0123456789", min_size=0, max_size=16),
    st.sampled_from(["sms", "viber,sms", "voice,fax", "", "ru", "en"]),
)


def documents(schema):
    return st.dictionaries(st.sampled_from([*schema, "unknown"]), values, max_size=len(schema) + 1)


def test_the_clients_schemas_need_no_normalizing():
    assert SCHEMAS
    assert not any(validation.needs_normalizing(schema) for schema in SCHEMAS.values())


@pytest.mark.parametrize("name", sorted(SCHEMAS))
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_same_verdict_as_the_client(name, data):
    schema = SCHEMAS[name]
    document = data.draw(documents(schema))
    assert our_verdict(schema, document) == client_verdict(schema, document)


def test_a_schema_with_a_normalization_rule_is_normalized_first():
    schema = {"to": {"type": "string", "coerce": str, "minlength": 3}}
    assert validation.needs_normalizing(schema)
    # Coerced to "12345" before the length check, as Cerberus' own validate() would.
    assert validation.errors(schema, {"to": 12345}) is None
    assert validation.errors(schema, {"to": 12}) == {"to": ["min length is 3"]}
