"""Portal forms for projects and tasks: input shapes only (the rules live in tenant_apps.projects)."""

from __future__ import annotations

from django import forms

from tenant_apps.projects.models import TaskStatus

PROJECT_SORTS = [
    ("-created_at", "Newest first"),
    ("created_at", "Oldest first"),
    ("name", "Name A to Z"),
    ("-name", "Name Z to A"),
    ("-updated_at", "Recently changed"),
]
PROJECT_SHOW = [("active", "Active"), ("archived", "Archived"), ("all", "All")]


class ProjectListForm(forms.Form):
    """The list's query string (search, which projects, order). Bad values fall back to the defaults."""

    q = forms.CharField(max_length=200, required=False, label="Search projects")
    show = forms.ChoiceField(choices=PROJECT_SHOW, required=False, label="Show")
    sort = forms.ChoiceField(choices=PROJECT_SORTS, required=False, label="Sort by")


class ProjectForm(forms.Form):
    name = forms.CharField(max_length=200)
    description = forms.CharField(
        max_length=10_000, required=False, widget=forms.Textarea(attrs={"rows": 3}), label="Description"
    )


class TaskForm(forms.Form):
    title = forms.CharField(max_length=200)
    description = forms.CharField(max_length=10_000, required=False, widget=forms.Textarea(attrs={"rows": 3}))
    status = forms.ChoiceField(choices=TaskStatus.choices, initial=TaskStatus.TODO)
    assignee_id = forms.TypedChoiceField(coerce=int, empty_value=None, required=False, label="Assignee")
    due_date = forms.DateField(required=False, label="Due date", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: object, members: list[tuple[int, str]], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["assignee_id"].choices = [("", "Nobody"), *members]  # type: ignore[attr-defined]


class TaskStatusForm(forms.Form):
    status = forms.ChoiceField(choices=TaskStatus.choices)
