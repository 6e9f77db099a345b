"""The audit table is append-only: the database itself refuses UPDATE and DELETE of any row.

TRUNCATE is a table privilege: the production role is granted only SELECT and INSERT on this table
(docs/architecture.md), and the test suite's flush between tests needs it."""
from django.db import migrations

PG_FORWARD = """
CREATE OR REPLACE FUNCTION compliance_audit_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'compliance_auditevent is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER compliance_audit_no_update_delete
    BEFORE UPDATE OR DELETE ON compliance_auditevent
    FOR EACH ROW EXECUTE FUNCTION compliance_audit_refuse_change();
"""
PG_REVERSE = """
DROP TRIGGER IF EXISTS compliance_audit_no_update_delete ON compliance_auditevent;
DROP FUNCTION IF EXISTS compliance_audit_refuse_change();
"""
SQLITE_FORWARD = [
    "CREATE TRIGGER compliance_audit_no_update BEFORE UPDATE ON compliance_auditevent "
    "BEGIN SELECT RAISE(ABORT, 'compliance_auditevent is append-only'); END;",
    "CREATE TRIGGER compliance_audit_no_delete BEFORE DELETE ON compliance_auditevent "
    "BEGIN SELECT RAISE(ABORT, 'compliance_auditevent is append-only'); END;",
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS compliance_audit_no_update;",
    "DROP TRIGGER IF EXISTS compliance_audit_no_delete;",
]


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_FORWARD, params=None)
    elif schema_editor.connection.vendor == "sqlite":
        for sql in SQLITE_FORWARD:
            schema_editor.execute(sql)


def reverse(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_REVERSE)
    elif schema_editor.connection.vendor == "sqlite":
        for sql in SQLITE_REVERSE:
            schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("compliance", "0001_initial")]
    operations = [migrations.RunPython(forward, reverse)]
