"""Optional TOTP second factor (RFC 6238) for the web terminal, with pyotp.

A user turns it on from the Security page: a secret is generated and shown (as an otpauth:// URI
and as text for manual entry); it guards the login only after the user has typed one valid code
(`confirmed`). A code is accepted once: the last used time step is stored, so a code seen over a
shoulder cannot be replayed within its 30 s window.
"""
import time

import pyotp
from django.db import transaction

from accounts.models import TotpDevice

ISSUER = "TradeX"
VALID_WINDOW = 1  # one step either side: clocks drift


def device_of(user) -> TotpDevice | None:
    return TotpDevice.objects.filter(user=user).first()


def totp_required(user) -> bool:
    return TotpDevice.objects.filter(user=user, confirmed=True).exists()


@transaction.atomic(durable=True)
def totp_begin(*, user) -> TotpDevice:
    """A new, unconfirmed secret (replacing an unconfirmed one; a confirmed one stays until disabled)."""
    device = TotpDevice.objects.select_for_update().filter(user=user).first()
    if device is not None and device.confirmed:
        return device
    if device is None:
        return TotpDevice.objects.create(user=user, secret=pyotp.random_base32())
    device.secret = pyotp.random_base32()
    device.save(update_fields=["secret"])
    return device


def provisioning_uri(device: TotpDevice) -> str:
    return pyotp.TOTP(device.secret).provisioning_uri(name=device.user.username, issuer_name=ISSUER)


def _matching_step(device: TotpDevice, code: str) -> int | None:
    code = (code or "").strip().replace(" ", "")
    if not code.isdigit() or len(code) != 6:
        return None
    totp = pyotp.TOTP(device.secret)
    now_step = int(time.time()) // totp.interval
    for step in range(now_step - VALID_WINDOW, now_step + VALID_WINDOW + 1):
        if totp.generate_otp(step) == code:
            return step
    return None


@transaction.atomic(durable=True)
def totp_verify(*, user, code: str, confirm: bool = False) -> bool:
    """True if `code` is valid and newer than the last one used (then it is used up)."""
    device = TotpDevice.objects.select_for_update().filter(user=user).first()
    if device is None or (not device.confirmed and not confirm):
        return False
    step = _matching_step(device, code)
    if step is None or step <= device.last_used_step:
        return False
    device.last_used_step = step
    device.confirmed = True
    device.save(update_fields=["last_used_step", "confirmed"])
    return True


@transaction.atomic(durable=True)
def totp_disable(*, user) -> None:
    TotpDevice.objects.filter(user=user).delete()
