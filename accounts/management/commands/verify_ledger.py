from django.core.management.base import BaseCommand, CommandError

from accounts.selectors import ledger_balance_mismatches, ledger_unbalanced_entries


class Command(BaseCommand):
    help = "Prove the cash ledger balances and that account balances equal their journal legs."

    def handle(self, *args, **options):
        unbalanced = ledger_unbalanced_entries()
        mismatches = ledger_balance_mismatches()
        for entry_id in unbalanced:
            self.stderr.write(f"UNBALANCED journal entry {entry_id}")
        for account, column, stored, derived in mismatches:
            self.stderr.write(f"MISMATCH account {account} {column}: stored {stored}, ledger {derived}")
        if unbalanced or mismatches:
            raise CommandError("ledger check failed")
        self.stdout.write("ledger verified: every entry balances and every balance matches its legs")
