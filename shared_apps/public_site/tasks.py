"""Periodic clean-up of the signup page's records (thin: the rule lives in services)."""

from celery import shared_task

from shared_apps.public_site.services import signup_records_purge


@shared_task(name="public_site.purge_signup_records")
def purge_signup_records() -> int:
    return signup_records_purge()
