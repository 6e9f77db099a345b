"""Embedded mode only (SQLite, no LISTEN/NOTIFY): ring the FIX bridge's doorbell after a
transaction that wrote outbox rows commits. On PostgreSQL the outbox trigger notifies instead."""
from django.db import transaction
from django.db.models.signals import post_save

from .fixbridge.wakeup import ring
from .models import OutboxMessage


def _outbox_saved(sender, instance, created, **kwargs):
    if created:
        transaction.on_commit(_ring_quietly(ring))


def _ring_quietly(ring):
    def call():
        try:
            ring()
        except OSError:
            pass  # no bridge listening: it drains everything when it starts
    return call


def connect_embedded_doorbell() -> None:
    post_save.connect(_outbox_saved, sender=OutboxMessage, dispatch_uid="orders.outbox_doorbell")
