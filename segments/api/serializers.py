"""The request and response bodies of the segment API."""

from drf_spectacular.utils import PolymorphicProxySerializer
from rest_framework import serializers

from marketing_lists.models import MarketingList

from ..models import MembershipChange, Segment

DEFINITION_HELP = (
    "The segment definition (grammar version 1 or 2): {'version': 2, 'blocks': [...]}; "
    "version 2 adds group blocks and aggregates. "
    "Null for a static segment."
)


class EvaluationStateSerializer(serializers.Serializer):
    state = serializers.ChoiceField(
        source="evaluation_state", choices=Segment.EvaluationState.choices
    )
    last_evaluated_at = serializers.DateTimeField(allow_null=True)
    error = serializers.CharField(source="last_error")


class SegmentSerializer(serializers.ModelSerializer):
    definition = serializers.JSONField(
        allow_null=True, required=False, default=None, help_text=DEFINITION_HELP
    )
    evaluation = EvaluationStateSerializer(source="*", read_only=True)

    class Meta:
        model = Segment
        fields = [
            "id",
            "name",
            "description",
            "kind",
            "status",
            "definition",
            "time_zone",
            "refresh_interval_minutes",
            "member_count",
            "evaluation",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["status", "member_count"]


class DefinitionEstimateSerializer(serializers.Serializer):
    definition = serializers.JSONField(help_text=DEFINITION_HELP)
    time_zone = serializers.CharField(default="UTC", max_length=64)
    kind = serializers.ChoiceField(
        choices=[Segment.Kind.DYNAMIC, Segment.Kind.COMPOUND], default=Segment.Kind.DYNAMIC
    )


class EstimateSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="Contacts the whole definition selects.")
    blocks = serializers.ListField(
        child=serializers.IntegerField(),
        help_text=(
            "Contacts selected after each top-level block, in order: the running result "
            "of the blocks up to and including that one (empty for a static segment)."
        ),
    )


class ChangedSerializer(serializers.Serializer):
    changed = serializers.IntegerField(help_text="Contacts whose membership changed.")


class StaticChangeSerializer(serializers.Serializer):
    contacts = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, max_length=100_000
    )
    where = serializers.JSONField(
        required=False, help_text="A profile condition, as in a definition's profile block."
    )

    def validate(self, attrs):
        if ("contacts" in attrs) == ("where" in attrs):
            raise serializers.ValidationError("Give either 'contacts' (ids) or 'where'.")
        return attrs


class MemberSerializer(serializers.Serializer):
    contact = serializers.IntegerField(source="contact_id")
    email = serializers.EmailField()
    added_at = serializers.DateTimeField()


class ContactChangeSerializer(serializers.Serializer):
    contact = serializers.IntegerField(source="contact_id")
    email = serializers.EmailField()
    change = serializers.ChoiceField(
        choices=[MembershipChange.Change.ADDED.value, MembershipChange.Change.REMOVED.value]
    )
    at = serializers.DateTimeField()


class SnapshotSerializer(serializers.Serializer):
    change = serializers.ChoiceField(choices=[MembershipChange.Change.SNAPSHOT.value])
    evaluation = serializers.IntegerField(
        source="evaluation_id", allow_null=True, help_text="The evaluation that went live."
    )
    size = serializers.IntegerField(
        help_text="Members at that evaluation: the members/ of that instant. Read members/ "
        "then apply the entries after this one."
    )
    at = serializers.DateTimeField()


class ChangeSerializer(serializers.Serializer):
    """A feed entry: a contact added or removed, or the snapshot of going live."""

    def to_representation(self, instance):
        if instance["change"] == MembershipChange.Change.SNAPSHOT:
            return SnapshotSerializer(instance).data
        return ContactChangeSerializer(instance).data


CHANGE_ENTRIES = PolymorphicProxySerializer(
    component_name="MembershipChange",
    serializers={
        MembershipChange.Change.ADDED.value: ContactChangeSerializer,
        MembershipChange.Change.REMOVED.value: ContactChangeSerializer,
        MembershipChange.Change.SNAPSHOT.value: SnapshotSerializer,
    },
    resource_type_field_name="change",
    many=True,
)


class ChangesQuerySerializer(serializers.Serializer):
    since = serializers.DateTimeField(required=False)


class ExplainQuerySerializer(serializers.Serializer):
    contact = serializers.IntegerField(
        min_value=1, max_value=2**63 - 1, help_text="The id of the contact to explain."
    )


class ExplainedBlockSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position among its siblings, from 0.")
    kind = serializers.ChoiceField(choices=["profile", "behavior", "segment", "list", "group"])
    join = serializers.ChoiceField(choices=["or", "and_also", "but_not"], allow_null=True)
    matched = serializers.BooleanField(help_text="Whether the contact matches this block alone.")
    value = serializers.FloatField(
        allow_null=True,
        help_text="Behavior blocks: the count, or the aggregate (null when there is none).",
    )
    result_after = serializers.BooleanField(help_text="The running result after this join.")
    blocks = serializers.ListField(
        child=serializers.DictField(),
        required=False,
        help_text="A group's inner blocks, each of this same shape.",
    )


class ExplainSerializer(serializers.Serializer):
    segment = serializers.IntegerField()
    contact = serializers.IntegerField()
    member = serializers.BooleanField(help_text="Whether the contact is a stored member.")
    result = serializers.BooleanField(help_text="Whether the definition selects it now.")
    evaluated_at = serializers.DateTimeField()
    blocks = ExplainedBlockSerializer(many=True)


class ToListSerializer(serializers.Serializer):
    list = serializers.PrimaryKeyRelatedField(
        queryset=MarketingList.objects.filter(kind=MarketingList.Kind.STATIC),
        help_text="A static marketing list.",
    )


class AddedSerializer(serializers.Serializer):
    added = serializers.IntegerField(
        help_text="Members subscribed to the list now: those already subscribed, and those "
        "who unsubscribed themselves, are left out."
    )
