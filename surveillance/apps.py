from django.apps import AppConfig


class SurveillanceConfig(AppConfig):
    """Trade surveillance: rules over executions and order events that raise alerts for staff to
    work as cases. Beside the workflows, above the domain apps it reads."""

    name = "surveillance"
    default_auto_field = "django.db.models.BigAutoField"
