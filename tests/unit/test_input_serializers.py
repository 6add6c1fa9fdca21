"""The hot paths' input serializers copy their declared fields shallowly per request
(verification/api/serializers.py): each request must still validate with fields of its own."""

from __future__ import annotations

from verification.api.serializers import SendCodeInputSerializer, VerifyCodeInputSerializer


def test_each_request_binds_fields_of_its_own_and_the_declared_ones_stay_unbound():
    # when two requests validate one after the other, one good and one bad
    good = SendCodeInputSerializer(data={"phone": "8 999 123-45-67", "language": "en"})
    bad = SendCodeInputSerializer(data={"phone": "call me", "language": "xx"})
    assert good.is_valid()
    assert not bad.is_valid()

    # then each answer is its own
    assert good.validated_data == {"phone": "+79991234567", "language": "en", "channel": "sms"}
    assert bad.errors["phone"][0].code == "invalid_phone"
    assert bad.errors["language"][0].code == "invalid_choice"
    # and so are the fields: bound to their own serializer, the class's templates untouched
    for name in ("phone", "language", "channel"):
        assert good.fields[name] is not bad.fields[name]
        assert good.fields[name].parent is good
        assert bad.fields[name].parent is bad
        assert getattr(SendCodeInputSerializer._declared_fields[name], "parent", None) is None


def test_verify_code_input_is_validated_per_request_too():
    first = VerifyCodeInputSerializer(data={"phone": "+79991234567", "code": " 123456 "})
    second = VerifyCodeInputSerializer(data={"phone": "+79991234568"})
    assert first.is_valid()
    assert not second.is_valid()
    assert first.validated_data == {"phone": "+79991234567", "code": "123456"}
    assert set(second.errors) == {"code"}
