"""The OpenAPI schema generates with no warning (`manage.py spectacular --validate --fail-on-warn`):
a warning is a place where the schema guesses instead of describing the API."""
import pytest
from django.core.management import call_command


def test_the_schema_validates_with_no_warnings(tmp_path):
    schema = tmp_path / "schema.yaml"
    try:
        call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(schema))
    except SystemExit as exc:  # what --fail-on-warn raises on a warning or error
        pytest.fail(f"spectacular warned or failed ({exc})")
    assert "openapi:" in schema.read_text()
