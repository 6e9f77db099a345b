import json

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Account
from accounts.services import api_key_create


class Command(BaseCommand):
    help = "Create a new API key pair for a user's account; print it as JSON (the secret is shown only now)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--label", default="cli")

    def handle(self, *args, username, label, **options):
        account = Account.objects.filter(user__username=username).first()
        if account is None:
            raise CommandError(f"no account for user {username!r}")
        key, secret = api_key_create(account_id=account.pk, label=label, actor="cli:create_api_key")
        self.stdout.write(json.dumps({
            "username": username,
            "account_id": str(account.pk),
            "key_id": key.key_id,
            "secret_key": secret,
        }))
