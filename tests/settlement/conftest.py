import pytest
from rest_framework.test import APIClient


@pytest.fixture
def client_for():
    """An API client signed in as the account's user."""

    def make(account):
        client = APIClient()
        client.force_authenticate(user=account.user)
        return client

    return make
