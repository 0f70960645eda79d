from config.urls_public import handler400, handler403, handler404, handler500
from tests.portal.urls_forced_error import public_urlpatterns as urlpatterns

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]
