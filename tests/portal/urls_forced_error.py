"""Test URL confs: the real tenant/public URL confs and error handlers, plus one view that crashes."""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from config import urls_public, urls_tenant


def crash(_request: HttpRequest) -> HttpResponse:
    raise RuntimeError("forced failure SECRET_MARKER_5f1e")


tenant_urlpatterns = [path("forced-error/", crash), *urls_tenant.urlpatterns]
public_urlpatterns = [path("forced-error/", crash), *urls_public.urlpatterns]
