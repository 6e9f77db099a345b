"""Order legs (bracket/OCO/OTO), trailing water marks, trigger records, the `held` status, and a
row trigger that tells the trigger runner which broker-held orders changed.

`tradex_held_orders` carries the id of every order that becomes, stays or stops being `accepted`
(held at the broker). pg_notify is transactional: delivered when (and only if) the change commits,
so the runner never loads an order from a transaction that rolled back, and never misses one that
committed while it was busy (orders/trigger_runner.py). No-op on SQLite (the runner reloads).
"""
import django.db.models.deletion
from django.db import migrations, models

CREATE = """
CREATE OR REPLACE FUNCTION orders_held_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('tradex_held_orders', NEW.id::text);
    RETURN NULL;
END $$;
CREATE TRIGGER orders_held_notify_insert AFTER INSERT ON orders_order
    FOR EACH ROW WHEN (NEW.status = 'accepted') EXECUTE FUNCTION orders_held_notify();
CREATE TRIGGER orders_held_notify_update AFTER UPDATE ON orders_order
    FOR EACH ROW WHEN (OLD.status = 'accepted' OR NEW.status = 'accepted') EXECUTE FUNCTION orders_held_notify();
"""
DROP = """
DROP TRIGGER IF EXISTS orders_held_notify_insert ON orders_order;
DROP TRIGGER IF EXISTS orders_held_notify_update ON orders_order;
DROP FUNCTION IF EXISTS orders_held_notify();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def reverse(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0001_initial'),
        ('marketdata', '0001_initial'),
        ('orders', '0004_outbox_notify'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='order',
            name='order_open_idx',
        ),
        migrations.AddField(
            model_name='order',
            name='hold_reason',
            field=models.CharField(blank=True, max_length=200),
        ),
        migrations.AddField(
            model_name='order',
            name='hwm',
            field=models.DecimalField(blank=True, decimal_places=6, max_digits=20, null=True),
        ),
        migrations.AddField(
            model_name='order',
            name='parent',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='legs', to='orders.order'),
        ),
        migrations.AddField(
            model_name='order',
            name='trigger_price',
            field=models.DecimalField(blank=True, decimal_places=6, max_digits=20, null=True),
        ),
        migrations.AddField(
            model_name='order',
            name='triggered_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name='order',
            name='status',
            field=models.CharField(choices=[('new', 'New'), ('pending_new', 'Pending New'), ('accepted', 'Accepted'), ('partially_filled', 'Partially Filled'), ('filled', 'Filled'), ('done_for_day', 'Done For Day'), ('canceled', 'Canceled'), ('expired', 'Expired'), ('replaced', 'Replaced'), ('pending_cancel', 'Pending Cancel'), ('pending_replace', 'Pending Replace'), ('rejected', 'Rejected'), ('stopped', 'Stopped'), ('suspended', 'Suspended'), ('held', 'Held')], default='pending_new', max_length=16),
        ),
        migrations.AddIndex(
            model_name='order',
            index=models.Index(condition=models.Q(('status__in', ['accepted', 'done_for_day', 'held', 'new', 'partially_filled', 'pending_cancel', 'pending_new', 'pending_replace', 'stopped', 'suspended'])), fields=['account', 'symbol'], name='order_open_idx'),
        ),
        migrations.AddIndex(
            model_name='order',
            index=models.Index(condition=models.Q(('status', 'accepted')), fields=['symbol'], name='order_held_idx'),
        ),
        migrations.RunPython(forward, reverse),
    ]
