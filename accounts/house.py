"""The house's own inventory account: the fractional desk's side of every fractional fill
(orders/services/fractional.py, docs/fractional.md).

A real Account of a house user, in the same ledger as everyone's: its cash and positions move by
the same fills, journal entries and settlement obligations as a customer's, so the books balance
with it (`manage.py verify_ledger`). It is a margin account (the desk may be short or long
inventory, and its cash may go negative: that is the desk's risk, not a client's) and the margin
monitor leaves it alone (workflows/margin_calls.py).

Lock order (docs/architecture.md, "The lock order"): the house account is a leaf. A fill takes its
client's account, position and order locks first, then the house account and its position;
nothing that holds the house account's lock ever waits for a client's, so the two cannot wait on
each other in a cycle.
"""
import secrets

from django.conf import settings
from django.db import IntegrityError, transaction

from compliance.services import audit_record

from .models import Account, User

DEFAULT_HOUSE_USERNAME = "tradex-house"


def house_username() -> str:
    return getattr(settings, "TRADEX_HOUSE_USERNAME", DEFAULT_HOUSE_USERNAME)


def is_house(account: Account) -> bool:
    return User.objects.filter(pk=account.user_id, username=house_username()).exists()


def house_account_id():
    """The house account's pk, created on first use in the caller's transaction (a data migration
    would not survive a flushed test database, and a fresh install needs no setup step). Two
    first uses at once: the second waits on the first's insert, gets the unique violation in its
    savepoint and reads the row the first committed."""
    pk = Account.objects.filter(user__username=house_username()).values_list("pk", flat=True).first()
    if pk is not None:
        return pk
    try:
        with transaction.atomic():
            user = User(username=house_username(), first_name="TradeX", last_name="fractional desk")
            user.set_unusable_password()
            user.save()
            account = Account.objects.create(user=user, account_type=Account.Type.MARGIN,
                                             account_number="TXH" + "".join(secrets.choice("0123456789") for _ in range(9)))
            audit_record(account=account, actor="system", action="account.created", entity_type="account",
                         entity_id=account.pk, data={"username": user.username, "account_type": account.account_type,
                                                     "house": True})
            return account.pk
    except IntegrityError:
        return Account.objects.filter(user__username=house_username()).values_list("pk", flat=True).get()
