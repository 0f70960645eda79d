# The subscription revenue history read by the finance dashboard (docs/decisions.md D50), seeded with
# one revision per existing subscription: its present state, dated when the mirror first saw it.

import django.db.models.deletion
from django.db import migrations, models

from billing.finance.money import mrr_of


def seed(apps, schema_editor):  # type: ignore[no-untyped-def]
    Subscription = apps.get_model("billing", "Subscription")
    SubscriptionRevision = apps.get_model("billing", "SubscriptionRevision")
    rows = []
    for sub in Subscription.objects.all().iterator():
        effective = sub.created_at
        if sub.status == "canceled" and sub.canceled_at is not None:
            effective = max(sub.canceled_at, sub.created_at)
        rows.append(
            SubscriptionRevision(
                subscription_id=sub.pk,
                tenant_id=sub.tenant_id,
                effective_at=effective,
                status=sub.status,
                plan_code=sub.plan_code,
                currency=sub.currency.lower(),
                quantity=sub.quantity,
                unit_amount=sub.unit_amount,
                interval="month",
                interval_count=1,
                mrr=mrr_of(
                    status=sub.status,
                    unit_amount=sub.unit_amount,
                    quantity=sub.quantity,
                    interval="month",
                    interval_count=1,
                ),
            )
        )
    SubscriptionRevision.objects.bulk_create(rows, batch_size=500)


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0002_notices"),
        ("tenants", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="SubscriptionRevision",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("effective_at", models.DateTimeField()),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("incomplete", "Incomplete"),
                            ("incomplete_expired", "Incomplete, expired"),
                            ("trialing", "Trialing"),
                            ("active", "Active"),
                            ("past_due", "Past due"),
                            ("canceled", "Canceled"),
                            ("unpaid", "Unpaid"),
                            ("paused", "Paused"),
                        ],
                        max_length=24,
                    ),
                ),
                ("plan_code", models.CharField(blank=True, default="", max_length=40)),
                ("currency", models.CharField(blank=True, default="", max_length=3)),
                ("quantity", models.PositiveIntegerField(default=1)),
                ("unit_amount", models.PositiveIntegerField(default=0)),
                ("interval", models.CharField(default="month", max_length=8)),
                ("interval_count", models.PositiveIntegerField(default=1)),
                ("mrr", models.BigIntegerField(default=0)),
                ("recorded_at", models.DateTimeField(auto_now_add=True)),
                (
                    "subscription",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="revisions",
                        to="billing.subscription",
                    ),
                ),
                (
                    "tenant",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="tenants.tenant"
                    ),
                ),
            ],
            options={
                "ordering": ["subscription_id", "effective_at", "id"],
                "indexes": [
                    models.Index(fields=["subscription", "-effective_at", "-id"], name="billing_sub_subscri_c57eaa_idx"),
                    models.Index(fields=["effective_at"], name="billing_sub_effecti_149f77_idx"),
                ],
            },
        ),
        migrations.RunPython(seed, migrations.RunPython.noop),
    ]
