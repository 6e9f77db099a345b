"""The double-entry cash ledger: every entry balances, balances are derivable from it, and the
check finds a balance that was changed behind the ledger's back."""
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from accounts.models import Account, JournalLeg
from accounts.selectors import ledger_balance_mismatches, ledger_unbalanced_entries
from accounts.services import cash_deposit, cash_withdraw
from compliance.selectors import audit_chain_breaks
from orders.services import order_place
from core.errors import InvalidInput, Refused

pytestmark = pytest.mark.django_db(transaction=True)
D = Decimal


def test_deposit_and_withdrawal_post_balanced_entries(account):
    cash_deposit(account_id=account.pk, amount="250.50", actor="test")
    cash_withdraw(account_id=account.pk, amount="100", actor="test")
    account.refresh_from_db()
    assert account.settled_cash == D("10150.50")
    assert ledger_unbalanced_entries() == [] and ledger_balance_mismatches() == []
    firm_bank = sum(JournalLeg.objects.filter(book="firm_bank").values_list("amount", flat=True))
    assert firm_bank == -account.settled_cash  # the firm's bank side mirrors every customer dollar
    assert audit_chain_breaks() == []


@pytest.mark.parametrize(("amount", "error", "reason"), [
    ("0", InvalidInput, "invalid_amount"),
    ("-5", InvalidInput, "invalid_amount"),
    ("10000.01", Refused, "insufficient_funds"),
])
def test_bad_transfers_are_refused_and_change_nothing(account, amount, error, reason):
    with pytest.raises(error) as exc:
        cash_withdraw(account_id=account.pk, amount=amount, actor="test")
    assert exc.value.reason == reason
    account.refresh_from_db()
    assert account.settled_cash == D("10000")


def test_cash_held_for_open_orders_cannot_be_withdrawn(account, aapl):
    order_place(account_id=account.pk, actor="test", symbol="AAPL", side="buy", order_type="limit",
                time_in_force="day", qty="60", limit_price="100")
    with pytest.raises(Refused):
        cash_withdraw(account_id=account.pk, amount="4000.01", actor="test")
    cash_withdraw(account_id=account.pk, amount="4000", actor="test")


def test_floats_are_refused(account):
    with pytest.raises(InvalidInput):
        cash_deposit(account_id=account.pk, amount=1.1, actor="test")


def test_verify_ledger_reports_a_balance_changed_outside_the_ledger(account, capsys):
    call_command("verify_ledger")
    Account.objects.filter(pk=account.pk).update(settled_cash=D("99999"))
    with pytest.raises(CommandError):
        call_command("verify_ledger")
    assert "MISMATCH" in capsys.readouterr().err
