"""Which request parameters each endpoint knows (Stripe's names for API 2026-10-28) and which it honours.

Stripe answers an unknown parameter with ``400 parameter_unknown``; the stand-in does the same so a
typo or a parameter removed from the API (e.g. top-level ``quantity`` on subscription update) fails
locally just as it would against Stripe. Known parameters the stand-in does not model are accepted,
ignored, and named in the ``Standin-Ignored-Params`` response header.
"""

from __future__ import annotations

from typing import Any

from deploy.stripe_standin.errors import StripeError


def _s(text: str) -> frozenset[str]:
    return frozenset(text.split())


_LIST = "limit starting_after ending_before expand"

KNOWN: dict[str, frozenset[str]] = {
    "customer.create": _s(
        "address balance business_name cash_balance description email expand individual_name invoice_prefix "
        "invoice_settings metadata name next_invoice_sequence payment_method phone preferred_locales shipping "
        "source tax tax_exempt tax_id_data test_clock validate"
    ),
    "customer.update": _s(
        "address balance business_name cash_balance default_source description email expand individual_name "
        "invoice_prefix invoice_settings metadata name next_invoice_sequence phone preferred_locales shipping "
        "source tax tax_exempt validate"
    ),
    "customer.list": _s(f"{_LIST} created email test_clock"),
    "retrieve": _s("expand"),
    "delete": frozenset(),
    "product.create": _s(
        "active default_price_data description expand id images marketing_features metadata name "
        "package_dimensions shippable statement_descriptor tax_code tax_details type unit_label url"
    ),
    "product.update": _s(
        "active default_price description expand images marketing_features metadata name package_dimensions "
        "shippable statement_descriptor tax_code tax_details unit_label url"
    ),
    "product.list": _s(f"{_LIST} active created ids shippable type url"),
    "price.create": _s(
        "active billing_scheme currency currency_options custom_unit_amount expand lookup_key metadata "
        "nickname product product_data recurring tax_behavior tiers tiers_mode transfer_lookup_key "
        "transform_quantity unit_amount unit_amount_decimal"
    ),
    "price.update": _s("active currency_options expand lookup_key metadata nickname tax_behavior transfer_lookup_key"),
    "price.list": _s(f"{_LIST} active created currency lookup_keys product recurring type"),
    "subscription.create": _s(
        "add_invoice_items application_fee_percent automatic_tax backdate_start_date billing_cycle_anchor "
        "billing_cycle_anchor_config billing_mode billing_schedules billing_thresholds cancel_at "
        "cancel_at_period_end collection_method currency customer customer_account days_until_due "
        "default_payment_method default_source default_tax_rates description discounts expand "
        "invoice_settings items metadata off_session on_behalf_of payment_behavior payment_settings "
        "pending_invoice_item_interval proration_behavior transfer_data trial_end trial_from_plan "
        "trial_period_days trial_settings"
    ),
    "subscription.update": _s(
        "add_invoice_items application_fee_percent automatic_tax billing_cycle_anchor billing_schedules "
        "billing_thresholds cancel_at cancel_at_period_end cancellation_details collection_method "
        "days_until_due default_payment_method default_source default_tax_rates description discounts "
        "expand invoice_settings items metadata off_session on_behalf_of pause_collection payment_behavior "
        "payment_settings pending_invoice_item_interval proration_behavior proration_date transfer_data "
        "trial_end trial_from_plan trial_settings"
    ),
    "subscription.list": _s(
        f"{_LIST} automatic_tax collection_method created current_period_end current_period_start customer "
        "customer_account plan price status test_clock"
    ),
    "subscription.cancel": _s("cancellation_details expand invoice_now prorate"),
    "subscription_item.create": _s(
        "billing_thresholds current_trial discounts expand metadata payment_behavior plan price price_data "
        "proration_behavior proration_date quantity subscription tax_rates"
    ),
    "subscription_item.update": _s(
        "billing_thresholds current_trial discounts expand metadata off_session payment_behavior plan price "
        "price_data proration_behavior proration_date quantity tax_rates"
    ),
    "subscription_item.list": _s(f"{_LIST} subscription"),
    "subscription_item.delete": _s("clear_usage payment_behavior proration_behavior proration_date"),
    "invoice.list": _s(f"{_LIST} collection_method created customer customer_account due_date status subscription"),
    "invoice.pay": _s("expand forgive mandate off_session paid_out_of_band payment_method source"),
    "invoice.void": _s("expand"),
    "invoice.lines": _s(_LIST),
    "invoice_payment.list": _s(f"{_LIST} created invoice payment status"),
    "charge.list": _s(f"{_LIST} created customer payment_intent transfer_group"),
    "refund.create": _s(
        "amount charge currency customer expand instructions_email metadata origin payment_intent reason "
        "refund_application_fee reverse_transfer"
    ),
    "refund.list": _s(f"{_LIST} charge created payment_intent"),
    "event.list": _s(f"{_LIST} created delivery_success type types"),
    "checkout.session.create": _s(
        "adaptive_pricing after_expiration allow_promotion_codes allowed_payment_method_types automatic_tax "
        "billing_address_collection branding_settings cancel_url client_reference_id consent_collection "
        "currency custom_fields custom_text customer customer_account customer_creation customer_email "
        "customer_update discounts excluded_payment_method_types expand expires_at integration_identifier "
        "invoice_creation line_items locale managed_payments metadata mode name_collection optional_items "
        "origin_context payment_intent_data payment_method_collection payment_method_configuration "
        "payment_method_data payment_method_options permissions phone_number_collection "
        "redirect_on_completion return_url saved_payment_method_options setup_intent_data "
        "shipping_address_collection shipping_options submit_type subscription_data success_url "
        "tax_id_collection ui_mode wallet_options"
    ),
    "checkout.session.list": _s(
        f"{_LIST} created customer customer_account customer_details payment_intent payment_link status subscription"
    ),
    "checkout.session.line_items": _s(_LIST),
    "checkout.session.expire": _s("expand"),
    "billing_portal.session.create": _s(
        "after_expiration configuration customer customer_account expand flow_data locale on_behalf_of return_url"
    ),
    "billing.meter.create": _s(
        "customer_mapping default_aggregation display_name event_name event_time_window expand value_settings"
    ),
    "billing.meter.update": _s("display_name expand"),
    "billing.meter.list": _s(f"{_LIST} status"),
    "billing.meter.event_summaries": _s(f"{_LIST} customer end_time start_time value_grouping_window"),
    "billing.meter_event.create": _s("event_name expand identifier payload timestamp"),
}

# Parameters the stand-in actually models, per endpoint (everything else KNOWN is ignored).
SUPPORTED: dict[str, frozenset[str]] = {
    "customer.create": _s("description email expand metadata name phone invoice_prefix"),
    "customer.update": _s("description email expand metadata name phone"),
    "customer.list": _s(f"{_LIST} created email"),
    "product.create": _s("active description expand id metadata name default_price_data unit_label"),
    "product.update": _s("active default_price description expand metadata name unit_label"),
    "product.list": _s(f"{_LIST} active created ids"),
    "price.create": _s(
        "active currency expand lookup_key metadata nickname product product_data recurring "
        "transfer_lookup_key unit_amount unit_amount_decimal"
    ),
    "price.update": _s("active expand lookup_key metadata nickname transfer_lookup_key"),
    "price.list": _s(f"{_LIST} active created currency lookup_keys product recurring type"),
    "subscription.create": _s(
        "cancel_at_period_end customer default_payment_method description expand items metadata "
        "payment_behavior proration_behavior trial_end trial_period_days"
    ),
    "subscription.update": _s(
        "cancel_at cancel_at_period_end cancellation_details default_payment_method description expand items "
        "metadata payment_behavior proration_behavior trial_end"
    ),
    "subscription.list": _s(f"{_LIST} created customer price status"),
    "subscription.cancel": _s("cancellation_details expand invoice_now prorate"),
    "subscription_item.create": _s("expand metadata price proration_behavior quantity subscription"),
    "subscription_item.update": _s("expand metadata price proration_behavior quantity"),
    "subscription_item.delete": _s("proration_behavior"),
    "invoice.list": _s(f"{_LIST} created customer status subscription"),
    "invoice.pay": _s("expand"),
    "refund.create": _s("amount charge expand metadata reason"),
    "charge.list": _s(f"{_LIST} created customer"),
    "event.list": _s(f"{_LIST} created type types"),
    "checkout.session.create": _s(
        "cancel_url client_reference_id customer customer_email expand line_items metadata mode "
        "subscription_data success_url"
    ),
    "checkout.session.list": _s(f"{_LIST} created customer status subscription"),
    "billing_portal.session.create": _s("customer expand flow_data return_url"),
    "billing.meter.create": _s("customer_mapping default_aggregation display_name event_name value_settings"),
    "billing.meter.list": _s(f"{_LIST} status"),
    "billing.meter.event_summaries": _s(f"{_LIST} customer end_time start_time"),
}

# Known keys of nested hashes we validate (Stripe rejects e.g. `items[0][qty]`).
NESTED_KNOWN: dict[str, frozenset[str]] = {
    "subscription.create:items": _s(
        "billing_thresholds current_trial discounts metadata plan price price_data quantity tax_rates"
    ),
    "subscription.update:items": _s(
        "billing_thresholds clear_usage current_trial deleted discounts id metadata plan price price_data "
        "quantity tax_rates"
    ),
    "checkout.session.create:line_items": _s("adjustable_quantity metadata price price_data quantity tax_rates"),
    "checkout.session.create:subscription_data": _s(
        "application_fee_percent billing_cycle_anchor billing_cycle_anchor_config billing_mode "
        "default_tax_rates description invoice_settings metadata on_behalf_of pending_invoice_item_interval "
        "proration_behavior transfer_data trial_end trial_period_days trial_settings"
    ),
    "price.create:recurring": _s("interval interval_count meter trial_period_days usage_type"),
    "price.create:product_data": _s("active id metadata name statement_descriptor tax_code tax_details unit_label"),
}


def check_params(endpoint: str, params: dict[str, Any]) -> list[str]:
    """Raise ``parameter_unknown`` like Stripe; return the known-but-ignored parameter names."""
    known = KNOWN.get(endpoint)
    if known is None:
        return []
    for name in params:
        if name not in known:
            raise StripeError(f"Received unknown parameter: {name}", code="parameter_unknown", param=name)
    for key, allowed in NESTED_KNOWN.items():
        ep, _, field = key.partition(":")
        if ep != endpoint or field not in params:
            continue
        value = params[field]
        entries = value if isinstance(value, list) else [value]
        for idx, entry in enumerate(entries):
            if not isinstance(entry, dict):
                continue
            for sub in entry:
                if sub not in allowed:
                    where = f"{field}[{idx}][{sub}]" if isinstance(value, list) else f"{field}[{sub}]"
                    raise StripeError(f"Received unknown parameter: {where}", code="parameter_unknown", param=where)
    supported = SUPPORTED.get(endpoint, known)
    return sorted(name for name in params if name not in supported)
