from django.urls import path

from shared_apps.accounts.password_urls import password_reset_urls
from shared_apps.public_site import views

urlpatterns = [
    path("", views.landing_view, name="public-index"),
    path("signup/", views.signup_view, name="public-signup"),
    path("signup/confirm/<str:token>/", views.signup_confirm_view, name="public-signup-confirm"),
    path("signin/", views.signin_view, name="public-signin"),
    path("signin/two-factor/", views.signin_two_factor_view, name="public-signin-two-factor"),
    path("signout/", views.signout_view, name="public-signout"),
    path("organizations/", views.organizations_view, name="public-organizations"),
    path("organizations/<slug:slug>/enter/", views.enter_view, name="public-enter"),
    *password_reset_urls(base_template="public_site/base.html", login_url="/signin/"),
]
