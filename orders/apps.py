from django.apps import AppConfig
from django.conf import settings


class OrdersConfig(AppConfig):
    name = "orders"

    def ready(self):
        if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
            from .signals import connect_embedded_doorbell  # imports models: only once apps are ready

            connect_embedded_doorbell()
