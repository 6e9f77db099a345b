"""drf-spectacular post-processing: what every string of the API refuses, said once in the schema.

DRF's CharField refuses a NUL character (ProhibitNullCharactersValidator): a free-form query or path
parameter says so with a pattern, so a client (or schemathesis) reading the schema knows "a\\u0000b"
is not a valid value. Parameters only: body components are shared with responses (which may echo
what was refused in an error message). Strings already narrowed by an enum, a pattern or a format
(date-time, uuid, ...) are left as they are."""

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
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                _narrow(parameter.get("schema"))
    return result
