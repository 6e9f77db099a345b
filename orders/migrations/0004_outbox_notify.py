"""Wake the FIX bridge at commit: a statement trigger on the outbox runs pg_notify, which
PostgreSQL delivers when (and only if) the inserting transaction commits. No-op on SQLite, where
the embedded web process rings the bridge's doorbell instead (orders/fixbridge/wakeup.py)."""
from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION orders_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('tradex_outbox', '');
    RETURN NULL;
END $$;
CREATE TRIGGER orders_outbox_notify AFTER INSERT ON orders_outboxmessage
    FOR EACH STATEMENT EXECUTE FUNCTION orders_outbox_notify();
"""
DROP = """
DROP TRIGGER IF EXISTS orders_outbox_notify ON orders_outboxmessage;
DROP FUNCTION IF EXISTS orders_outbox_notify();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("orders", "0003_trade_update")]
    operations = [migrations.RunPython(forwards, backwards)]
