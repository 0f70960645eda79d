from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "shared_apps.accounts"
    label = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in, user_logged_out

        from shared_apps.accounts import cache_invalidation  # noqa: F401  (request cache receivers)

        def _record_session(sender: object, request: object, user: object, **kwargs: object) -> None:
            from shared_apps.accounts.services import user_session_record

            if request is not None and hasattr(request, "session"):
                user_session_record(request=request, user=user)  # type: ignore[arg-type]

        def _forget_session(sender: object, request: object, user: object, **kwargs: object) -> None:
            from shared_apps.accounts.models import UserSession

            key = getattr(getattr(request, "session", None), "session_key", None)
            if key:
                UserSession.objects.filter(session_key=key).delete()

        user_logged_in.connect(_record_session, dispatch_uid="accounts.record_session", weak=False)
        user_logged_out.connect(_forget_session, dispatch_uid="accounts.forget_session", weak=False)
