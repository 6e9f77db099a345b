"""Documents: a confirmation per execution with the Rule 10b-10 fields, monthly statements and
the year's realized gains report with wash sales, downloadable by their owner only."""

import pytest
from django.utils import timezone

from settlement import calendar
from workflows.documents import confirmations_generate, realized_lots, statements_generate, tax_reports_generate
from settlement.models import Document
from tests.factories import make_account

from .helpers import D, at, trade

pytestmark = pytest.mark.django_db(transaction=True)


def text(document) -> str:
    return bytes(document.content).decode("latin-1")


def test_each_execution_gets_one_confirmation_with_the_rule_10b10_fields(account, aapl):
    executions = trade(account, "buy", 10, "100", when=at("2025-10-10"), fills=2)
    assert confirmations_generate() == 2
    assert confirmations_generate() == 0  # the job ran twice
    doc = Document.objects.get(period=str(executions[0].pk))
    body = text(doc)
    assert body.startswith("%PDF")
    for field in ("Trade date 2025-10-10", "Settlement date 2025-10-14", "You bought 5 AAPL", "at 100",
                  "Commission 0.00", "Capacity: agent", account.account_number, executions[0].exec_id,
                  "payment for order flow"):
        assert field in body, field


def test_monthly_statement_once_per_account(account, aapl):
    trade(account, "buy", 10, "100", when=timezone.now())
    month = calendar.today().strftime("%Y-%m")
    other = make_account(cash="500")
    assert statements_generate(month=month, account_ids=[account.pk, other.pk]) == 2
    assert statements_generate(month=month, account_ids=[account.pk, other.pk]) == 0
    body = text(Document.objects.get(account=account, kind="account_statement"))
    assert "Opening cash 0.00" in body and "Closing cash 9,000.00" in body and "AAPL 10" in body


def test_tax_report_matches_fifo_with_a_wash_sale(account, aapl):
    trade(account, "buy", 10, "100", when=at("2025-01-06"))
    trade(account, "sell", 10, "95", when=at("2025-02-03"))  # a loss of 50 ...
    trade(account, "buy", 10, "96", when=at("2025-02-10"))  # ... washed: bought back within 30 days
    trade(account, "sell", 10, "99", when=at("2025-03-03"))
    lots = realized_lots(account.pk, 2025)
    assert [(d.proceeds, d.basis, d.wash_disallowed, d.gain) for d in lots] == [
        (D("950.00"), D("1000.00"), D("50.00"), D("0.00")),
        (D("990.00"), D("1010.00"), D("0.00"), D("-20.00")),  # the basis carries the disallowed 50
    ]
    assert tax_reports_generate(year=2025) == 2  # PDF and CSV
    assert tax_reports_generate(year=2025) == 0
    csv_text = bytes(Document.objects.get(kind="tax_report", format="csv").content).decode()
    assert csv_text.splitlines()[0].startswith("description,date_acquired,date_sold,proceeds,cost_basis")
    assert "10 AAPL,2025-01-06,2025-02-03,950.00,1000.00,50.00,0.00,short" in csv_text


def test_only_the_owner_can_list_see_or_download_a_document(account, aapl, client_for):
    trade(account, "buy", 1, "100", when=at("2025-10-10"))
    confirmations_generate()
    doc = Document.objects.get()
    owner, stranger = client_for(account), client_for(make_account(cash="1"))
    listed = owner.get("/v2/documents").json()
    assert [d["id"] for d in listed] == [str(doc.pk)]
    response = owner.get(f"/v2/documents/{doc.pk}/download")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content == bytes(doc.content)
    assert stranger.get("/v2/documents").json() == []
    for path in (f"/v2/documents/{doc.pk}", f"/v2/documents/{doc.pk}/download"):
        response = stranger.get(path)
        assert response.status_code == 404 and response.json()["reason"] == "document_not_found"
    assert owner.get("/v2/documents/not-a-uuid/download").status_code == 404
    assert owner.get("/v2/documents?type=bogus").json()["reason"] == "invalid_parameter"
    from rest_framework.test import APIClient

    assert APIClient().get(f"/v2/documents/{doc.pk}/download").status_code in (401, 403)
