from django.db import migrations, models


class Migration(migrations.Migration):
    """JobRun moved here from settlement (every back-office job records its runs, marketdata's
    included); settlement 0004 copies the rows over and drops its table."""

    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name='JobRun',
            fields=[
                ('id', models.BigAutoField(primary_key=True, serialize=False)),
                ('job', models.CharField(db_index=True, max_length=64)),
                ('started_at', models.DateTimeField()),
                ('finished_at', models.DateTimeField(blank=True, null=True)),
                ('outcome', models.CharField(choices=[('running', 'Running'), ('ok', 'Ok'), ('failed', 'Failed')], default='running', max_length=8)),
                ('detail', models.JSONField(blank=True, default=dict)),
            ],
            options={
                'indexes': [models.Index(fields=['job', '-started_at'], name='core_jobrun_started_idx')],
            },
        ),
    ]
