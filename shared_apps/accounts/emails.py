"""Every mail the product sends: a subject, a plain-text body and an HTML alternative, all rendered
from templates under `emails/<name>/` (subject.txt, body.txt, body.html)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string


def email_render(*, name: str, context: dict[str, Any]) -> tuple[str, str, str]:
    """(subject, text, html) of the templated mail `name`."""
    subject = " ".join(render_to_string(f"emails/{name}/subject.txt", context).split())
    text = render_to_string(f"emails/{name}/body.txt", context).strip() + "\n"
    html = render_to_string(f"emails/{name}/body.html", context)
    return subject, text, html


def email_send(*, name: str, to: str, context: dict[str, Any], fail_silently: bool = True) -> None:
    """Send now (callers inside a transaction wrap this in `transaction.on_commit`)."""
    subject, text, html = email_render(name=name, context=context)
    message = EmailMultiAlternatives(subject, text, getattr(settings, "DEFAULT_FROM_EMAIL", None), [to])
    message.attach_alternative(html, "text/html")
    message.send(fail_silently=fail_silently)


def email_send_on_commit(*, name: str, to: str, context: dict[str, Any]) -> None:
    """Send once the current transaction commits (at once outside a transaction)."""
    from django.db import transaction

    transaction.on_commit(lambda: email_send(name=name, to=to, context=context))
