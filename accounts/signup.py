"""Self-service sign-up: a user, a cash account pending KYC approval, and the KYC profile, in one
transaction. Staff approve (or reject) in the admin, which changes Account.kyc_status through
accounts.services.account_update (audited). Until approved the account is trading-blocked
(/v2/account says so) and holds no money."""
from datetime import date

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from compliance.services import audit_record
from core.errors import InvalidInput

from .models import Account, KycProfile, User
from .services import _next_account_number

KYC_FIELDS = ("legal_name", "date_of_birth", "address", "country", "tax_id_last4", "employment_status",
              "funding_source")
EMPLOYMENT = ("employed", "self_employed", "unemployed", "retired", "student")
FUNDING = ("employment_income", "savings", "investments", "inheritance", "business_income", "family")
MIN_AGE_YEARS = 18


def _check(username: str, email: str, password: str, kyc: dict, today: date) -> None:
    if not username or len(username) > 150 or not all(c.isalnum() or c in "@.+-_" for c in username):
        raise InvalidInput("invalid_username", "username: letters, digits and @ . + - _ only, at most 150")
    if "@" not in email:
        raise InvalidInput("invalid_email", "a valid email address is required (for password reset)")
    missing = [f for f in KYC_FIELDS if not kyc.get(f)]
    if missing:
        raise InvalidInput("missing_field", f"required: {', '.join(missing)}")
    dob = kyc["date_of_birth"]
    if not isinstance(dob, date):
        raise InvalidInput("invalid_date_of_birth", "date of birth must be a date")
    if (today.year - dob.year - ((today.month, today.day) < (dob.month, dob.day))) < MIN_AGE_YEARS:
        raise InvalidInput("too_young", f"account holders must be at least {MIN_AGE_YEARS}")
    if len(kyc["country"]) != 2 or not kyc["country"].isalpha():
        raise InvalidInput("invalid_country", "country is a two-letter ISO code, such as US")
    if len(kyc["tax_id_last4"]) != 4 or not kyc["tax_id_last4"].isdigit():
        raise InvalidInput("invalid_tax_id_last4", "the last four digits of the tax id")
    if kyc["employment_status"] not in EMPLOYMENT:
        raise InvalidInput("invalid_employment_status", f"one of {', '.join(EMPLOYMENT)}")
    if kyc["funding_source"] not in FUNDING:
        raise InvalidInput("invalid_funding_source", f"one of {', '.join(FUNDING)}")
    try:
        validate_password(password, User(username=username, email=email))
    except ValidationError as exc:
        raise InvalidInput("weak_password", " ".join(exc.messages)) from None


@transaction.atomic(durable=True)
def account_sign_up(*, username: str, email: str, password: str, kyc: dict, today: date | None = None) -> Account:
    username, email = username.strip(), email.strip()
    kyc = {k: (v.strip() if isinstance(v, str) else v) for k, v in kyc.items() if k in KYC_FIELDS}
    if isinstance(kyc.get("country"), str):
        kyc["country"] = kyc["country"].upper()
    _check(username, email, password, kyc, today or date.today())
    if User.objects.filter(username__iexact=username).exists():
        raise InvalidInput("username_taken", "this username is taken")
    user = User(username=username, email=email)
    user.set_password(password)
    user.save()
    account = Account.objects.create(user=user, account_number=_next_account_number(), kyc_status=Account.Kyc.PENDING)
    KycProfile.objects.create(account=account, **kyc)
    audit_record(account=account, actor=f"user:{username}", action="account.signed_up", entity_type="account",
                 entity_id=account.pk, data={"username": username, "kyc_status": Account.Kyc.PENDING})
    return account
