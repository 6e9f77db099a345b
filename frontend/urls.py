from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

app_name = "frontend"

urlpatterns = [
    path("", views.DashboardView.as_view(), name="dashboard"),
    path("watchlists/", views.WatchlistsView.as_view(), name="watchlists"),
    path("symbol/<str:symbol>/", views.SymbolView.as_view(), name="symbol"),
    path("orders/", views.OrdersView.as_view(), name="orders"),
    path("alerts/", views.AlertsView.as_view(), name="alerts"),
    path("documents/", views.DocumentsView.as_view(), name="documents"),
    path("security/", views.SecurityView.as_view(), name="security"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(next_page="frontend:login"), name="logout"),
    path("signup/", views.SignUpView.as_view(), name="signup"),
    path("password-reset/", views.password_reset, name="password_reset"),
    path("password-reset/sent/", views.password_reset_done, name="password_reset_done"),
    path("reset/<uidb64>/<token>/", views.password_reset_confirm, name="password_reset_confirm"),
    path("reset/done/", views.password_reset_complete, name="password_reset_complete"),
]
