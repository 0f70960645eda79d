"""Bench-only URL conf: the one-query view (used as ROOT_URLCONF by bench settings)."""

from django.urls import path

from bench.views import backend_pid, one_query

urlpatterns = [
    path("bench/one-query/", one_query, name="bench-one-query"),
    path("bench/backend-pid/", backend_pid, name="bench-backend-pid"),
]
