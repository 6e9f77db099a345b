"""The audit trail: append-only in the database, hash-chained, and a tampered row
is found by `manage.py verify_audit`."""
import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.db.utils import DatabaseError

from compliance.models import AuditEvent
from orders.services import order_place

pytestmark = pytest.mark.django_db(transaction=True)


def _place_three(account):
    for qty in ("1", "2", "3"):
        order_place(account_id=account.pk, actor="test", symbol="AAPL", side="buy", order_type="limit",
                    time_in_force="day", qty=qty, limit_price="100")


@pytest.fixture
def tamperable():
    """An attacker with the database owner's rights can switch the trigger off; the hash chain
    still exposes what they change."""
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE compliance_auditevent DISABLE TRIGGER USER")
    yield
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE compliance_auditevent ENABLE TRIGGER USER")


def test_clean_trail_verifies(account, aapl, capsys):
    _place_three(account)
    call_command("verify_audit")
    assert "no breaks" in capsys.readouterr().out


@pytest.mark.parametrize("sql", [
    "UPDATE compliance_auditevent SET actor = 'someone else'",
    "DELETE FROM compliance_auditevent",
])
def test_database_refuses_update_and_delete(account, aapl, sql):
    _place_three(account)
    before = AuditEvent.objects.count()
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
    assert AuditEvent.objects.count() == before


def test_altered_row_is_reported(account, aapl, tamperable):
    _place_three(account)
    victim = AuditEvent.objects.filter(chain=str(account.pk), action="order.placed").order_by("seq")[1]
    with connection.cursor() as cursor:
        cursor.execute("UPDATE compliance_auditevent SET data = jsonb_set(data, '{qty}', '\"200\"') WHERE id = %s",
                       [victim.pk])
    with pytest.raises(CommandError, match="break"):
        call_command("verify_audit")


def test_deleted_row_is_reported(account, aapl, tamperable):
    _place_three(account)
    victim = AuditEvent.objects.filter(chain=str(account.pk)).order_by("seq")[2]
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM compliance_auditevent WHERE id = %s", [victim.pk])
    with pytest.raises(CommandError, match="break"):
        call_command("verify_audit")
