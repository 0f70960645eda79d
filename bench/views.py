"""The one-query JSON view the tenancy-overhead benchmark requests, with and without tenancy."""

from django.http import HttpRequest, JsonResponse

from tenant_apps.projects.models import Project


def one_query(_request: HttpRequest) -> JsonResponse:
    rows = list(Project.objects.order_by("id").values("id", "name")[:5])
    return JsonResponse({"projects": rows})


def backend_pid(_request: HttpRequest) -> JsonResponse:
    """The worker's PostgreSQL backend pid (the benchmark reads that process's CPU time)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    return JsonResponse({"pg_backend_pid": pid})
