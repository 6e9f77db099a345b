from django.contrib import admin
from django.urls import include, path
from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from tradex import health

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("v2/", include("tradex.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its init script as a file (no inline script); its page keeps a <style> block.
    path("api/docs/", csp_update({"style-src": [UNSAFE_INLINE]})(SpectacularSwaggerSplitView.as_view(url_name="schema")),
         name="api-docs"),
    path("", include("frontend.urls")),
]

# Errors outside DRF views (middleware, plain views): JSON, 503 for an outage (tradex.api_errors).
handler500 = "tradex.api_errors.server_error"
handler404 = "tradex.api_errors.not_found"
