"""Audit search indexes, archive manifests and legal holds, and the one controlled way to delete
audit rows.

The append-only trigger of 0002 is replaced by one that still refuses every UPDATE, and refuses a
DELETE unless all of these hold for the row: the transaction set tradex.audit_purge = 'on' (only
the SECURITY DEFINER function compliance_audit_purge does, for its own DELETE); a verified
compliance_archivemanifest covers the row's chain and seq, its retain_until has passed and its
first/last hashes match the rows at its ends; the row is older than the six-year regulatory
minimum; no unreleased compliance_legalhold covers everything, the row's chain or the symbol in
its payload. The application role needs EXECUTE on compliance_audit_purge, never DELETE on the table.
"""

import django.db.models.fields.json
from django.db import migrations, models

PG_FORWARD = """
CREATE OR REPLACE FUNCTION compliance_audit_refuse_change() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE'
       AND current_setting('tradex.audit_purge', true) = 'on'
       AND OLD.occurred_at < now() - interval '6 years'
       AND EXISTS (SELECT 1 FROM compliance_archivemanifest m
                   WHERE m.chain = OLD.chain AND OLD.seq BETWEEN m.first_seq AND m.last_seq
                     AND m.verified_at IS NOT NULL AND m.retain_until <= now()
                     AND (OLD.seq <> m.first_seq OR OLD.hash = m.first_hash)
                     AND (OLD.seq <> m.last_seq OR OLD.hash = m.last_hash))
       AND NOT EXISTS (SELECT 1 FROM compliance_legalhold h
                       WHERE h.released_at IS NULL
                         AND (h.scope = 'all'
                              OR (h.scope = 'account' AND h.chain = OLD.chain)
                              OR (h.scope = 'symbol' AND h.symbol = OLD.data->>'symbol')))
    THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'compliance_auditevent is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION compliance_audit_purge(p_chain text, p_through_seq bigint) RETURNS bigint
    SECURITY DEFINER SET search_path = public AS $$
DECLARE
    deleted bigint;
BEGIN
    PERFORM set_config('tradex.audit_purge', 'on', true);
    DELETE FROM compliance_auditevent WHERE chain = p_chain AND seq <= p_through_seq;
    GET DIAGNOSTICS deleted = ROW_COUNT;
    PERFORM set_config('tradex.audit_purge', 'off', true);
    RETURN deleted;
END;
$$ LANGUAGE plpgsql;
"""
PG_REVERSE = """
DROP FUNCTION IF EXISTS compliance_audit_purge(text, bigint);
CREATE OR REPLACE FUNCTION compliance_audit_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'compliance_auditevent is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_FORWARD, params=None)


def reverse(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_REVERSE, params=None)



class Migration(migrations.Migration):

    dependencies = [
        ('compliance', '0003_audit_clock'),
    ]

    operations = [
        migrations.CreateModel(
            name='ArchiveManifest',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('chain', models.CharField(max_length=36)),
                ('period', models.CharField(max_length=16)),
                ('first_seq', models.PositiveBigIntegerField()),
                ('last_seq', models.PositiveBigIntegerField()),
                ('first_prev_hash', models.CharField(max_length=64)),
                ('first_hash', models.CharField(max_length=64)),
                ('last_hash', models.CharField(max_length=64)),
                ('event_count', models.PositiveBigIntegerField()),
                ('path', models.CharField(max_length=500)),
                ('manifest_sha256', models.CharField(max_length=64)),
                ('signature', models.CharField(max_length=64)),
                ('retain_until', models.DateTimeField()),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('created_by', models.CharField(max_length=150)),
                ('verified_at', models.DateTimeField(blank=True, null=True)),
                ('purged_at', models.DateTimeField(blank=True, null=True)),
            ],
        ),
        migrations.CreateModel(
            name='LegalHold',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('scope', models.CharField(choices=[('account', 'Account'), ('symbol', 'Symbol'), ('all', 'All')], max_length=8)),
                ('chain', models.CharField(blank=True, max_length=36)),
                ('symbol', models.CharField(blank=True, max_length=32)),
                ('reason', models.TextField()),
                ('placed_by', models.CharField(max_length=150)),
                ('placed_at', models.DateTimeField(auto_now_add=True)),
                ('released_by', models.CharField(blank=True, max_length=150)),
                ('released_at', models.DateTimeField(blank=True, null=True)),
                ('release_reason', models.TextField(blank=True)),
            ],
        ),
        migrations.AddIndex(
            model_name='auditevent',
            index=models.Index(fields=['occurred_at', 'id'], name='audit_time_idx'),
        ),
        migrations.AddIndex(
            model_name='auditevent',
            index=models.Index(fields=['chain', 'occurred_at', 'id'], name='audit_chain_time_idx'),
        ),
        migrations.AddIndex(
            model_name='auditevent',
            index=models.Index(fields=['actor', 'occurred_at', 'id'], name='audit_actor_time_idx'),
        ),
        migrations.AddIndex(
            model_name='auditevent',
            index=models.Index(fields=['action', 'occurred_at', 'id'], name='audit_action_time_idx'),
        ),
        migrations.AddIndex(
            model_name='auditevent',
            index=models.Index(django.db.models.fields.json.KeyTextTransform('symbol', 'data'), models.F('occurred_at'), models.F('id'), name='audit_symbol_time_idx'),
        ),
        migrations.AddConstraint(
            model_name='archivemanifest',
            constraint=models.UniqueConstraint(fields=('chain', 'period'), name='archive_chain_period_uniq'),
        ),
        migrations.AddConstraint(
            model_name='archivemanifest',
            constraint=models.UniqueConstraint(fields=('chain', 'first_seq'), name='archive_chain_first_seq_uniq'),
        ),
        migrations.AddConstraint(
            model_name='legalhold',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('scope', 'account'), ('symbol', ''), models.Q(('chain', ''), _negated=True)), models.Q(('chain', ''), ('scope', 'symbol'), models.Q(('symbol', ''), _negated=True)), models.Q(('chain', ''), ('scope', 'all'), ('symbol', '')), _connector='OR'), name='legal_hold_scope_target'),
        ),
        migrations.RunPython(forward, reverse),
    ]
