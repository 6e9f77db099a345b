from django.core.management.base import BaseCommand, CommandError

from compliance.retention import RetentionError, archive_verify


class Command(BaseCommand):
    help = ("Prove an audit archive matches the chain it came from: the manifest's signature, each file's "
            "sha256, every event's hash recomputed, and continuity with the archives and rows around it. "
            "Exit non-zero on any problem.")

    def add_arguments(self, parser):
        parser.add_argument("manifest", help="path of a manifest.json, or an ArchiveManifest id")
        parser.add_argument("--no-mark", action="store_true", help="do not record the verification")

    def handle(self, *args, manifest, no_mark=False, **options):
        try:
            check = archive_verify(manifest, mark=not no_mark)
        except RetentionError as exc:
            raise CommandError(str(exc)) from exc
        for problem in check.problems:
            self.stderr.write(f"PROBLEM {check.manifest}: {problem}")
        if not check.ok:
            raise CommandError(f"archive {check.manifest} does not verify: {len(check.problems)} problem(s)")
        self.stdout.write(f"archive verified: {check.events} events, chain {check.row.chain or 'system'} "
                          f"seq {check.row.first_seq}-{check.row.last_seq}")
