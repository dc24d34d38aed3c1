from rest_framework import serializers

from segments.models import Segment

from ..models import Endpoint, Event


class EndpointSerializer(serializers.ModelSerializer):
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=Event.choices),
        allow_empty=False,
        max_length=len(Event.values),
        help_text="Event names this endpoint receives.",
    )
    segments = serializers.PrimaryKeyRelatedField(
        queryset=Segment.objects.all(),
        many=True,
        required=False,
        help_text="Only these segments' member changes; empty means every segment.",
    )

    class Meta:
        model = Endpoint
        fields = [
            "id",
            "url",
            "events",
            "segments",
            "is_active",
            "disabled_reason",
            "failing_since",
            "created_at",
        ]
        read_only_fields = ["disabled_reason", "failing_since", "created_at"]


class EndpointCreatedSerializer(EndpointSerializer):
    """The create response: the only time the signing secret is shown."""

    secret = serializers.CharField(
        read_only=True, help_text="The signing secret (Standard Webhooks). Shown only once."
    )

    class Meta(EndpointSerializer.Meta):
        fields = [*EndpointSerializer.Meta.fields, "secret"]
