"""Surveillance tables: the rules' parameters, beneficial-owner groups, the scan cursor, the
alerts and their case notes. Written only by surveillance.services (and the audited admin for the
parameters and the owner groups)."""
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from core.errors import InvalidInput

from .rules import Rule, validate_params


class RuleConfig(models.Model):
    """One row per rule: on/off and its parameters. `params` holds only overrides of the rule's
    defaults (surveillance.rules.DEFAULTS); each value is checked against the default's type."""

    rule = models.CharField(max_length=20, choices=Rule.choices(), unique=True)
    enabled = models.BooleanField(default=True)
    params = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["rule"]

    def __str__(self) -> str:
        return f"{self.get_rule_display()} ({'on' if self.enabled else 'off'})"

    def clean(self):
        try:
            self.params = validate_params(self.rule, self.params)
        except InvalidInput as error:
            raise ValidationError({"params": error.message}) from error


class OwnerGroup(models.Model):
    """Accounts held by one beneficial owner (a person or entity behind several users' accounts).
    An account in no group is owned by its user alone."""

    name = models.CharField(max_length=120, unique=True)
    notes = models.TextField(blank=True)

    def __str__(self) -> str:
        return self.name


class OwnerLink(models.Model):
    account = models.OneToOneField("accounts.Account", on_delete=models.PROTECT, related_name="+")
    group = models.ForeignKey(OwnerGroup, on_delete=models.CASCADE, related_name="links")

    def __str__(self) -> str:
        return f"{self.account_id} → {self.group}"


class ScanCursor(models.Model):
    """How far the scan has read: the last order event it processed (orders.TradeUpdate id). Every
    order event and every fill is a TradeUpdate row written in the change's transaction, so the id
    also orders the executions; each scan reads only rows past it."""

    name = models.CharField(max_length=32, primary_key=True)
    last_update_id = models.BigIntegerField(default=0)
    events_scanned = models.BigIntegerField(default=0)
    scanned_at = models.DateTimeField(null=True, blank=True)


class Alert(models.Model):
    class Status(models.TextChoices):
        OPEN = "open"
        ASSIGNED = "assigned"
        ESCALATED = "escalated"
        CLOSED = "closed"

    class CloseReason(models.TextChoices):
        FALSE_POSITIVE = "false_positive", "False positive"
        EXPLAINED = "explained", "Legitimate activity, explained"
        WARNED = "warned", "Client warned"
        RESTRICTED = "restricted", "Account restricted"
        REPORTED = "reported", "Reported to the regulator"

    rule = models.CharField(max_length=20, choices=Rule.choices())
    # What makes the alert the same alert: rule, accounts, symbol and the episode's key events.
    dedup_key = models.CharField(max_length=200, unique=True)
    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="+")
    accounts = models.JSONField(default=list)  # every account involved (a wash trade has two)
    owner = models.CharField(max_length=64, blank=True)
    symbol = models.CharField(max_length=16)
    trade_date = models.DateField()
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    score = models.DecimalField(max_digits=12, decimal_places=4)
    metrics = models.JSONField(default=dict)
    # {"orders": [...], "executions": [...], "timeline": [{"at", "what", ...}]}
    evidence = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="+")
    close_reason = models.CharField(max_length=16, choices=CloseReason.choices, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "-created_at"], name="surv_alert_queue_idx"),
                   models.Index(fields=["symbol", "trade_date"], name="surv_alert_symbol_idx")]

    def __str__(self) -> str:
        return f"{self.get_rule_display()} {self.symbol} {self.trade_date} ({self.status})"


class AlertNote(models.Model):
    """The case's history: each step (assign, note, escalate, close) with who and why."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="notes")
    kind = models.CharField(max_length=12)  # assigned, note, escalated, closed
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                               related_name="+")
    text = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
