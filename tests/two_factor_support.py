"""Two-factor test helpers: enrol through the service, and codes computed with pyotp (not our code)."""

from __future__ import annotations

import base64
import time

import pyotp
from django_otp.plugins.otp_totp.models import TOTPDevice

from shared_apps.accounts.models import User
from shared_apps.accounts.services import totp_device_confirm, totp_device_start


def totp_for_key(hex_key: str) -> pyotp.TOTP:
    return pyotp.TOTP(base64.b32encode(bytes.fromhex(hex_key)).decode())


def totp_of(user: User) -> pyotp.TOTP:
    device = TOTPDevice.objects.filter(user=user).order_by("-id").first()
    assert device is not None
    return totp_for_key(device.key)


def code_now(user: User) -> str:
    """A code the device accepts now: this step's, or the next step's when this one was used already
    (django-otp refuses a step twice; its tolerance accepts one step ahead)."""
    device = TOTPDevice.objects.filter(user=user).order_by("-id").first()
    assert device is not None
    step = int(time.time()) // 30
    totp = totp_for_key(device.key)
    if device.last_t is not None and device.last_t >= step:
        return totp.at((step + 1) * 30)
    return totp.at(step * 30)


def code_wrong(user: User) -> str:
    """Six digits that are no valid code in the accepted window."""
    totp = totp_of(user)
    now = int(time.time())
    valid = {totp.at(now + d) for d in (-60, -30, 0, 30, 60)}
    candidate = 0
    while f"{candidate:06d}" in valid:
        candidate += 1
    return f"{candidate:06d}"


def enrol(user: User) -> list[str]:
    """Turn two-factor on for `user` (the service path the portal uses); the recovery codes."""
    device = totp_device_start(user=user)
    step = int(time.time()) // 30
    return totp_device_confirm(user=user, code=totp_for_key(device.key).at((step - 1) * 30))
