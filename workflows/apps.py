from django.apps import AppConfig


class WorkflowsConfig(AppConfig):
    """Work that spans the domain apps and drives them through their services: margin calls and
    liquidation, corporate actions, documents, reconciliation. Above every domain app; no tables
    of its own."""

    name = "workflows"
