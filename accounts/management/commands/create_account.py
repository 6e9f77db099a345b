import json

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Account
from accounts.services import account_create
from core.errors import TradeXError
from core.values import BadDecimal, to_decimal


class Command(BaseCommand):
    help = "Create a user with a funded account; print its id, API key id and secret as JSON."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--cash", default="0")
        parser.add_argument("--type", dest="account_type", choices=Account.Type.values, default=Account.Type.CASH)
        parser.add_argument("--password", default=None)

    def handle(self, *args, username, cash, account_type, password, **options):
        try:
            account, key, secret = account_create(username=username, password=password, cash=to_decimal(cash, field="cash"),
                                                  account_type=account_type, actor="cli:create_account")
        except (TradeXError, BadDecimal) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(json.dumps({
            "username": username,
            "account_id": str(account.pk),
            "account_number": account.account_number,
            "account_type": account.account_type,
            "cash": str(account.cash),
            "key_id": key.key_id,
            "secret_key": secret,
        }))
