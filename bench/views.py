"""The one-query JSON view the tenancy-overhead benchmark requests, with and without tenancy."""

from django.http import HttpRequest, JsonResponse

from tenant_apps.projects.models import Project


def one_query(request: HttpRequest) -> JsonResponse:
    rows = list(Project.objects.order_by("id").values("id", "name")[:5])
    return JsonResponse({"projects": rows})
