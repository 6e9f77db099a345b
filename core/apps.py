from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The shared bottom layer: values, errors, fields, the Redis client, the realtime publisher,
    the venue wire formats, and the one table every back-office job writes (JobRun)."""

    name = "core"
    default_auto_field = "django.db.models.BigAutoField"
