"""Identity: email login, Argon2, memberships in several organizations, last-owner rule, throttling."""

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.test import RequestFactory

from shared_apps.accounts.models import Membership, Role, User
from shared_apps.accounts.selectors import tenants_for_user
from shared_apps.accounts.services import (
    membership_add,
    membership_change_role,
    membership_remove,
    user_authenticate,
)
from tests.factories import TEST_PASSWORD, UserFactory
from tests.support.clients import tenant_client

pytestmark = pytest.mark.django_db


def test_production_hasher_is_argon2(settings):
    """With the production hashers (base settings; the test settings swap in a cheap one), a password is
    stored as Argon2id and verifies."""
    from config.settings import base

    settings.PASSWORD_HASHERS = base.PASSWORD_HASHERS
    user = User.objects.create_user(email="argon@example.test", password="a-long-password-1")
    stored = User.objects.get(pk=user.pk)
    assert stored.password.startswith("argon2$argon2id$")
    assert stored.check_password("a-long-password-1")
    assert not stored.check_password("a-long-password-2")


def test_email_is_the_login_and_is_normalised():
    user = User.objects.create_user(email="Ada@Example.TEST", password="x-long-password")
    assert user.email == "ada@example.test"
    request = RequestFactory().post("/signin/", REMOTE_ADDR="1.1.1.1")
    assert user_authenticate(request=request, email="ADA@example.test", password="x-long-password") == user


def test_person_can_belong_to_several_organizations(tenant_a, tenant_b):
    user = UserFactory()
    membership_add(user=user, tenant_id=tenant_a.pk, role=Role.MEMBER)
    membership_add(user=user, tenant_id=tenant_b.pk, role=Role.ADMIN)
    assert [m.tenant.slug for m in tenants_for_user(user=user)] == ["alpha", "beta"]


def test_last_owner_cannot_be_demoted_or_removed(tenant_a, owner_a):
    membership = Membership.objects.get(user=owner_a, tenant=tenant_a)
    with pytest.raises(ValidationError) as exc:
        membership_change_role(membership=membership, role=Role.MEMBER)
    assert exc.value.code == "last_owner"
    with pytest.raises(ValidationError):
        membership_remove(membership=membership)
    membership.refresh_from_db()
    assert membership.role == Role.OWNER


def test_owner_can_step_down_once_another_owner_exists(tenant_a, owner_a):
    second = UserFactory()
    membership_add(user=second, tenant_id=tenant_a.pk, role=Role.OWNER)
    membership = Membership.objects.get(user=owner_a, tenant=tenant_a)
    membership_change_role(membership=membership, role=Role.ADMIN)
    assert Membership.objects.filter(tenant=tenant_a, role=Role.OWNER).count() == 1


def test_login_is_throttled_after_repeated_failures():
    user = UserFactory()

    def attempt(password: str, ip: str) -> User:
        return user_authenticate(
            request=RequestFactory().post("/signin/", REMOTE_ADDR=ip), email=user.email, password=password
        )

    for _ in range(settings.LOGIN_LOCKOUT_ACCOUNT_FAILURES):
        with pytest.raises(ValidationError) as exc:
            attempt("wrong", "9.9.9.9")
        assert exc.value.code == "invalid_credentials"
    with pytest.raises(ValidationError) as exc:
        attempt(TEST_PASSWORD, "9.9.9.9")
    assert exc.value.code == "login_throttled"  # even the right password is refused now
    # The account is locked wherever the attempt comes from (tests/identity/test_login_lockout.py).
    with pytest.raises(ValidationError) as exc:
        attempt(TEST_PASSWORD, "8.8.8.8")
    assert exc.value.code == "login_throttled"


def test_superuser_gets_no_implicit_access_to_tenant_admin(tenant_a):
    root = User.objects.create_superuser(email="root@platform.test", password="root-password-1")
    response = tenant_client(tenant_a, root).get("/admin/")
    assert response.status_code == 404  # the tenant URL space has no operator admin
    # Nor through the API: no membership, so the organization's data does not exist for them.
    assert tenant_client(tenant_a, root).get("/api/v1/projects/").status_code == 404
