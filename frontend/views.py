"""The web terminal's pages. Their data comes from the REST API, called by the page with the
session (so the terminal shows exactly what API clients see), and from the tab's one WebSocket
(frontend.consumers). The views here only render pages and run the account forms."""
from django import forms
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.mixins import LoginRequiredMixin
from django.contrib.auth.signals import user_login_failed
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.views import View
from django.views.generic import TemplateView

from accounts.signup import EMPLOYMENT, FUNDING, account_sign_up
from core.errors import InvalidInput

from . import two_factor


class Page(LoginRequiredMixin, TemplateView):
    pass


class DashboardView(Page):
    template_name = "frontend/dashboard.html"


class WatchlistsView(Page):
    template_name = "frontend/watchlists.html"


class SymbolView(Page):
    template_name = "frontend/symbol.html"

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "symbol": kwargs["symbol"].upper()}


class OrdersView(Page):
    template_name = "frontend/orders.html"


class AlertsView(Page):
    template_name = "frontend/alerts.html"


class DocumentsView(Page):
    template_name = "frontend/documents.html"


# --- login with an optional second factor -----------------------------------------------------

class TotpAuthenticationForm(AuthenticationForm):
    otp = forms.CharField(label="Authentication code", required=False, max_length=8,
                          widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}))

    def clean(self):
        cleaned = super().clean()
        user = self.get_user()
        if user is not None and two_factor.totp_required(user):
            if not cleaned.get("otp"):
                raise forms.ValidationError("Enter the 6-digit code from your authenticator app.", code="otp_required")
            if not two_factor.totp_verify(user=user, code=cleaned["otp"]):
                # A wrong code is a failed login for the lockout (django-axes counts this signal per
                # username and per address), exactly as a wrong password is.
                user_login_failed.send(sender=__name__, credentials={"username": user.get_username()},
                                       request=self.request)
                raise forms.ValidationError("That authentication code is wrong or was already used.", code="otp_invalid")
        return cleaned


class LoginView(auth_views.LoginView):
    template_name = "frontend/login.html"
    authentication_form = TotpAuthenticationForm
    redirect_authenticated_user = True
    extra_context = {"auth_page": True}


class SecurityView(LoginRequiredMixin, View):
    """Turn TOTP on (show the secret, confirm with a code) or off (with a current code)."""

    template = "frontend/security.html"

    def get(self, request):
        device = two_factor.device_of(request.user)
        context = {"device": device}
        if device is not None and not device.confirmed:
            context["uri"] = two_factor.provisioning_uri(device)
        return render(request, self.template, context)

    def post(self, request):
        action = request.POST.get("action")
        code = request.POST.get("code", "")
        if action == "begin":
            two_factor.totp_begin(user=request.user)
        elif action == "confirm":
            if two_factor.totp_verify(user=request.user, code=code, confirm=True):
                messages.success(request, "Two-factor sign-in is on. You will be asked for a code at every login.")
            else:
                messages.error(request, "That code is not valid. Check the time on your phone and try the current code.")
        elif action == "disable":
            device = two_factor.device_of(request.user)
            if device is None or not device.confirmed or two_factor.totp_verify(user=request.user, code=code):
                two_factor.totp_disable(user=request.user)
                messages.success(request, "Two-factor sign-in is off.")
            else:
                messages.error(request, "Enter a current code from your authenticator app to turn two-factor off.")
        return redirect("frontend:security")


# --- sign-up -------------------------------------------------------------------------------------

class SignUpForm(forms.Form):
    username = forms.CharField(max_length=150, widget=forms.TextInput(attrs={"autocomplete": "username"}))
    email = forms.EmailField(widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    password = forms.CharField(widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
    legal_name = forms.CharField(label="Legal name", max_length=200, widget=forms.TextInput(attrs={"autocomplete": "name"}))
    date_of_birth = forms.DateField(label="Date of birth", widget=forms.DateInput(attrs={"type": "date", "autocomplete": "bday"}))
    address = forms.CharField(max_length=300, widget=forms.TextInput(attrs={"autocomplete": "street-address"}))
    country = forms.CharField(label="Country (2 letters)", max_length=2, min_length=2, initial="US",
                              widget=forms.TextInput(attrs={"autocomplete": "country"}))
    tax_id_last4 = forms.CharField(label="Last 4 digits of your tax id", max_length=4, min_length=4,
                                   widget=forms.TextInput(attrs={"inputmode": "numeric"}))
    employment_status = forms.ChoiceField(label="Employment", choices=[(c, c.replace("_", " ")) for c in EMPLOYMENT])
    funding_source = forms.ChoiceField(label="Source of funds", choices=[(c, c.replace("_", " ")) for c in FUNDING])


class SignUpView(View):
    template = "frontend/signup.html"

    def get(self, request):
        return render(request, self.template, {"form": SignUpForm(), "auth_page": True})

    def post(self, request):
        form = SignUpForm(request.POST)
        if form.is_valid():
            data = dict(form.cleaned_data)
            try:
                account_sign_up(username=data.pop("username"), email=data.pop("email"),
                                password=data.pop("password"), kyc=data)
            except InvalidInput as exc:
                form.add_error(None, str(exc))
            else:
                return render(request, "frontend/signup_done.html", {"auth_page": True})
        return render(request, self.template, {"form": form, "auth_page": True}, status=400)


# --- password reset (Django's views; email through EMAIL_BACKEND) -------------------------------

AUTH = {"extra_context": {"auth_page": True}}
password_reset = auth_views.PasswordResetView.as_view(
    template_name="frontend/password_reset.html", email_template_name="frontend/password_reset_email.txt",
    subject_template_name="frontend/password_reset_subject.txt",
    success_url=reverse_lazy("frontend:password_reset_done"), **AUTH)
password_reset_done = auth_views.PasswordResetDoneView.as_view(template_name="frontend/password_reset_done.html", **AUTH)
password_reset_confirm = auth_views.PasswordResetConfirmView.as_view(
    template_name="frontend/password_reset_confirm.html", success_url=reverse_lazy("frontend:password_reset_complete"), **AUTH)
password_reset_complete = auth_views.PasswordResetCompleteView.as_view(
    template_name="frontend/password_reset_complete.html", **AUTH)
