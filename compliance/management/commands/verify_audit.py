from django.core.management.base import BaseCommand, CommandError

from compliance.selectors import audit_chain_breaks


class Command(BaseCommand):
    help = "Verify every audit hash chain; exit non-zero on a break."

    def add_arguments(self, parser):
        parser.add_argument("--chain", help="verify one chain (an account id; '' for the system chain)")

    def handle(self, *args, chain=None, **options):
        breaks = audit_chain_breaks(chain=chain)
        for b in breaks:
            self.stderr.write(f"BREAK chain={b.chain or 'system'} seq={b.seq}: {b.problem}")
        if breaks:
            raise CommandError(f"{len(breaks)} audit chain break(s) found")
        self.stdout.write("audit trail verified: no breaks")
