"""Serializer fields shared by the API."""

from rest_framework import serializers

MAX_ID = 2**63 - 1


def IdField(**kwargs: object) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, **kwargs)  # type: ignore[arg-type]
