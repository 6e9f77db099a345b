"""drf-spectacular post-processing: what every string of the API refuses, said once in the schema.

DRF's CharField refuses a NUL character (ProhibitNullCharactersValidator), in query parameters and
bodies alike; a free-form string in the schema says so with a pattern, so a client (or schemathesis)
reading the schema knows "a\\u0000b" is not a valid value. Strings already narrowed by an enum, a
pattern or a format (date-time, uuid, ...) are left as they are."""

NO_NUL = "^[^\\u0000]*$"


def _narrow(schema) -> None:
    if isinstance(schema, list):
        for item in schema:
            _narrow(item)
        return
    if not isinstance(schema, dict):
        return
    if schema.get("type") == "string" and not ({"enum", "pattern", "format"} & schema.keys()) \
            and not schema.get("readOnly"):
        schema["pattern"] = NO_NUL
    for value in schema.values():
        _narrow(value)


def strings_refuse_nul(result, generator, request, public):
    _narrow(result.get("paths", {}))
    _narrow(result.get("components", {}).get("schemas", {}))
    return result
