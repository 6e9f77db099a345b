"""The web terminal's pages. The dashboard's data comes from the REST API, called by the page with
the session, so the terminal shows exactly what API clients see."""
from django.contrib.auth.mixins import LoginRequiredMixin
from django.views.generic import TemplateView


class DashboardView(LoginRequiredMixin, TemplateView):
    template_name = "frontend/dashboard.html"
