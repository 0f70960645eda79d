"""A tenant URL conf for the pgbouncer tests: a view that writes and reads tenant data."""

import uuid

from django.contrib.auth.models import Group
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.urls import path


def probe(request: HttpRequest) -> JsonResponse:
    schema = connection.schema_name
    created = f"pgb-{schema}-{uuid.uuid4().hex}"
    if request.method == "POST":
        Group.objects.create(name=created)
    names = list(Group.objects.filter(name__startswith="pgb-").values_list("name", flat=True))
    with connection.cursor() as cursor:
        cursor.execute("SELECT (current_schemas(false))[1], pg_backend_pid()")
        current, pid = cursor.fetchone()
    return JsonResponse({"schema": schema, "current": current, "pid": pid, "names": names, "created": created})


urlpatterns = [path("probe", probe)]
