from django.core.management.color import no_style
from django.db import migrations


def copy_runs(apps, schema_editor):
    """Keep the job history: every row, with its id, then the id sequence past the last one."""
    old, new = apps.get_model("settlement", "JobRun"), apps.get_model("core", "JobRun")
    db = schema_editor.connection.alias
    new.objects.using(db).bulk_create(
        [new(id=r.id, job=r.job, started_at=r.started_at, finished_at=r.finished_at, outcome=r.outcome,
             detail=r.detail) for r in old.objects.using(db).order_by("id").iterator()], batch_size=1000)
    for sql in schema_editor.connection.ops.sequence_reset_sql(no_style(), [new]):
        schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_jobrun"),
        ("settlement", "0003_documents"),
    ]

    operations = [
        migrations.RunPython(copy_runs, migrations.RunPython.noop),
        migrations.DeleteModel(name="JobRun"),
    ]
