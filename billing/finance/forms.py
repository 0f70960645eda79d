"""The filter every finance view takes: ?from=YYYY-MM-DD&to=YYYY-MM-DD&plan=<code> (all optional)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms

from billing.finance.selectors import MAX_MONTHS, FinanceFilter, finance_filter_default, plan_codes

# The query parameter of each form field (`from` is a Python keyword).
PARAM_OF = {"start": "from", "end": "to", "plan": "plan"}


class FinanceFilterForm(forms.Form):
    start = forms.DateField(
        required=False,
        label="From",
        input_formats=["%Y-%m-%d"],
        error_messages={"invalid": "Enter a date as YYYY-MM-DD."},
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    end = forms.DateField(
        required=False,
        label="To",
        input_formats=["%Y-%m-%d"],
        error_messages={"invalid": "Enter a date as YYYY-MM-DD."},
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    plan = forms.ChoiceField(required=False, label="Plan")

    def __init__(self, query: Any, *, today: dt.date) -> None:
        super().__init__(query)  # inputs named from/to/plan (add_prefix below)
        self.today = today
        plan_field: forms.ChoiceField = self.fields["plan"]  # type: ignore[assignment]
        plan_field.choices = [("", "All plans"), *[(code, code) for code in plan_codes()]]
        self.fields["plan"].error_messages["invalid_choice"] = "Unknown plan."
        self.code = ""

    def add_prefix(self, field_name: str) -> str:
        return PARAM_OF.get(field_name, field_name)  # inputs named from/to/plan in the page

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        end: dt.date = data.get("end") or self.today
        start: dt.date = data.get("start") or finance_filter_default(today=end).start
        if not dt.date(2000, 1, 1) <= start <= dt.date(2100, 12, 31) or not dt.date(2000, 1, 1) <= end <= dt.date(
            2100, 12, 31
        ):
            self.code = "date_invalid"
            raise forms.ValidationError("Dates must fall between 2000-01-01 and 2100-12-31.", code="date_invalid")
        if end < start:
            self.code = "date_range_invalid"
            self.add_error("end", forms.ValidationError("“To” must not be before “From”.", code="date_range_invalid"))
            return data
        months = (end.year - start.year) * 12 + end.month - start.month + 1
        if months > MAX_MONTHS:
            self.code = "date_range_too_long"
            raise forms.ValidationError(f"A range covers at most {MAX_MONTHS} months.", code="date_range_too_long")
        data["start"], data["end"] = start, end
        return data

    def error_code(self) -> str:
        if self.code:
            return self.code
        if "plan" in self.errors:
            return "plan_invalid"
        return "date_invalid"

    def error_fields(self) -> dict[str, list[str]]:
        return {PARAM_OF.get(name, name): [str(e) for e in errors] for name, errors in self.errors.items()}

    def finance_filter(self) -> FinanceFilter:
        return FinanceFilter(
            start=self.cleaned_data["start"], end=self.cleaned_data["end"], plan=self.cleaned_data["plan"]
        )
