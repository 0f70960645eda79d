from django.urls import path

from webhooks.views import stripe_webhook

urlpatterns = [path("stripe/", stripe_webhook, name="stripe-webhook")]
