from django import forms

from .selectors import SubscriptionChoice, public_lists


class SubscriptionForm(forms.Form):
    """The lists a contact wants; the template draws one labelled checkbox per list."""

    lists = forms.ModelMultipleChoiceField(
        queryset=public_lists(), required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, choices: list[SubscriptionChoice], **kwargs):
        kwargs.setdefault("initial", {"lists": [c.marketing_list.pk for c in choices if c.joined]})
        super().__init__(*args, **kwargs)
        self.choices = choices

    def checked_ids(self) -> set[int]:
        """What the boxes show: the posted choice after a failed save, else the stored one."""
        if self.is_bound:
            return {int(pk) for pk in self.data.getlist("lists") if pk.isdigit()}
        return set(self.initial["lists"])
