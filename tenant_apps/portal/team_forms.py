"""Portal forms for teams (members page) and for sharing a project with a team."""

from __future__ import annotations

from django import forms

from tenant_apps.portal.forms import PERMISSION_CHOICES


class TeamForm(forms.Form):
    name = forms.CharField(max_length=100, label="Team name")


class TeamMemberForm(forms.Form):
    user_id = forms.TypedChoiceField(coerce=int, label="Member")

    def __init__(self, *args: object, members: list[tuple[int, str]], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["user_id"].choices = members  # type: ignore[attr-defined]


class TeamShareForm(forms.Form):
    team_id = forms.TypedChoiceField(coerce=int, label="Team")
    permissions = forms.MultipleChoiceField(
        choices=PERMISSION_CHOICES, widget=forms.CheckboxSelectMultiple, initial=["view_project"]
    )

    def __init__(self, *args: object, teams: list[tuple[int, str]], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["team_id"].choices = teams  # type: ignore[attr-defined]
        self.auto_id = "team_%s"  # two sharing forms on one page: distinct element ids
