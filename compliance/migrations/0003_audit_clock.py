"""The clock at each audit event's capture: its source and offset (core.clock), for the 50 ms
clock-sync tolerance the CAT report shows. These columns are not part of the hash chain (the
hashed fields are unchanged, so verify_audit reads every row as before). Both columns are
nullable with no default: existing rows are not rewritten (no UPDATE for the append-only trigger
to refuse), and SQLite adds them with ALTER TABLE instead of rebuilding the table and its triggers."""
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("compliance", "0002_audit_append_only")]
    operations = [
        migrations.AddField(model_name="auditevent", name="clock_source",
                            field=models.CharField(blank=True, max_length=64, null=True)),
        migrations.AddField(model_name="auditevent", name="clock_offset_ns",
                            field=models.BigIntegerField(blank=True, null=True)),
    ]
