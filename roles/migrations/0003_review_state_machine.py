"""The review state machine's fields: one vocabulary for both models' stamps, content editors, row versions.

Also adopts the decision log (table review_decision) as roles.Decision, with the new kinds
"imported" and "returned" in its reason rule.
"""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


def backfill(apps, schema_editor):
    """Give rejected aliases the decision stamp mappings already had, and open items their editors."""
    TitleAlias = apps.get_model("roles", "TitleAlias")
    ClassificationMapping = apps.get_model("roles", "ClassificationMapping")
    Decision = apps.get_model("roles", "Decision")
    for alias in TitleAlias.objects.filter(status="rejected", decided_at__isnull=True):
        last = Decision.objects.filter(alias_id=alias.pk).order_by("-created_at", "-pk").first()
        alias.decided_at = last.created_at if last is not None else alias.created_at
        alias.decided_by_id = last.actor_id if last is not None else None
        alias.save(update_fields=["decided_at", "decided_by"])
    # Four-eyes now remembers every content editor since the last approval; before, only the
    # last one was kept, so that one is what an open item starts with.
    for model in (TitleAlias, ClassificationMapping):
        for item in model.objects.exclude(status="approved").exclude(content_changed_by=None):
            item.content_editors = f",{item.content_changed_by_id},"
            item.save(update_fields=["content_editors"])


class Migration(migrations.Migration):

    dependencies = [
        ('review', '0003_decision_moves_to_roles'),
        ('roles', '0002_groups'),
        ('taxonomy', '0002_version'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # The table review_decision exists (review/0001): roles.Decision adopts it as it is.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='Decision',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('decision', models.CharField(choices=[('approve', 'Approved'), ('reject', 'Rejected'), ('reopen', 'Reopened'), ('refine', 'Refined and approved'), ('imported', 'Imported from a card'), ('returned', 'Returned to review (content changed)')], max_length=10)),
                        ('comment', models.TextField(blank=True, help_text="The reviewer's comment, or the reason to reject, reopen or change.")),
                        ('from_status', models.CharField(max_length=20)),
                        ('to_status', models.CharField(max_length=20)),
                        ('old_code', models.CharField(blank=True, help_text='Refine: the code before.', max_length=10)),
                        ('new_code', models.CharField(blank=True, help_text='Refine: the code after.', max_length=10)),
                        ('created_at', models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                    ],
                    options={
                        'db_table': 'review_decision',
                        'ordering': ['-created_at', '-pk'],
                        'get_latest_by': 'created_at',
                    },
                ),
                migrations.AddField(
                    model_name='decision',
                    name='actor',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL),
                ),
                migrations.AddField(
                    model_name='decision',
                    name='alias',
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='decisions', to='roles.titlealias'),
                ),
                migrations.AddField(
                    model_name='decision',
                    name='mapping',
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='decisions', to='roles.classificationmapping'),
                ),
                migrations.AddIndex(
                    model_name='decision',
                    index=models.Index(fields=['actor', '-created_at'], name='decision_actor_idx'),
                ),
                migrations.AddConstraint(
                    model_name='decision',
                    constraint=models.CheckConstraint(condition=models.Q(models.Q(('alias__isnull', False), ('mapping__isnull', True)), models.Q(('alias__isnull', True), ('mapping__isnull', False)), _connector='OR'), name='decision_exactly_one_item', violation_error_message='A decision is about exactly one alias or one mapping.'),
                ),
                migrations.AddConstraint(
                    model_name='decision',
                    constraint=models.CheckConstraint(condition=models.Q(models.Q(('decision', 'refine'), _negated=True), models.Q(models.Q(('old_code', ''), _negated=True), models.Q(('new_code', ''), _negated=True)), _connector='OR'), name='decision_refine_codes', violation_error_message='A refinement records the old and the new code.'),
                ),
                migrations.AddConstraint(
                    model_name='decision',
                    constraint=models.CheckConstraint(condition=models.Q(models.Q(('decision__in', ['reject', 'reopen']), _negated=True), models.Q(('comment', ''), _negated=True), _connector='OR'), name='decision_reason_required', violation_error_message='Rejecting or reopening needs a reason.'),
                ),
            ],
        ),
        migrations.RemoveConstraint(model_name='decision', name='decision_reason_required'),
        migrations.AddConstraint(
            model_name='decision',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('decision__in', ['imported', 'reject', 'reopen', 'returned']), _negated=True), models.Q(('comment', ''), _negated=True), _connector='OR'), name='decision_reason_required', violation_error_message='Rejecting, reopening, importing or changing needs a reason.'),
        ),
        migrations.RemoveConstraint(
            model_name='classificationmapping',
            name='mapping_review_consistent',
        ),
        migrations.RemoveConstraint(
            model_name='titlealias',
            name='alias_approval_consistent',
        ),
        migrations.RenameField(
            model_name='classificationmapping',
            old_name='reviewed_at',
            new_name='decided_at',
        ),
        migrations.RenameField(
            model_name='classificationmapping',
            old_name='reviewed_by',
            new_name='decided_by',
        ),
        migrations.RenameField(
            model_name='historicalclassificationmapping',
            old_name='reviewed_at',
            new_name='decided_at',
        ),
        migrations.RenameField(
            model_name='historicalclassificationmapping',
            old_name='reviewed_by',
            new_name='decided_by',
        ),
        migrations.RenameField(
            model_name='historicaltitlealias',
            old_name='approved_at',
            new_name='decided_at',
        ),
        migrations.RenameField(
            model_name='historicaltitlealias',
            old_name='approved_by',
            new_name='decided_by',
        ),
        migrations.RenameField(
            model_name='titlealias',
            old_name='approved_at',
            new_name='decided_at',
        ),
        migrations.RenameField(
            model_name='titlealias',
            old_name='approved_by',
            new_name='decided_by',
        ),
        migrations.AddField(
            model_name='classificationmapping',
            name='content_editors',
            field=models.TextField(blank=True, default='', editable=False, serialize=False),
        ),
        migrations.AddField(
            model_name='classificationmapping',
            name='version',
            field=models.PositiveIntegerField(default=1, editable=False, help_text='Counts changes; edit forms carry it.', serialize=False),
        ),
        migrations.AddField(
            model_name='component',
            name='version',
            field=models.PositiveIntegerField(default=1, editable=False, help_text='Counts changes; edit forms carry it.', serialize=False),
        ),
        migrations.AddField(
            model_name='historicalclassificationmapping',
            name='content_editors',
            field=models.TextField(blank=True, default='', editable=False, serialize=False),
        ),
        migrations.AddField(
            model_name='historicalclassificationmapping',
            name='version',
            field=models.PositiveIntegerField(default=1, editable=False, help_text='Counts changes; edit forms carry it.', serialize=False),
        ),
        migrations.AddField(
            model_name='historicalcomponent',
            name='version',
            field=models.PositiveIntegerField(default=1, editable=False, help_text='Counts changes; edit forms carry it.', serialize=False),
        ),
        migrations.AddField(
            model_name='historicalrole',
            name='version',
            field=models.PositiveIntegerField(default=1, editable=False, help_text='Counts changes; edit forms carry it.', serialize=False),
        ),
        migrations.AddField(
            model_name='historicaltitlealias',
            name='content_editors',
            field=models.TextField(blank=True, default='', editable=False, serialize=False),
        ),
        migrations.AddField(
            model_name='historicaltitlealias',
            name='version',
            field=models.PositiveIntegerField(default=1, editable=False, help_text='Counts changes; edit forms carry it.', serialize=False),
        ),
        migrations.AddField(
            model_name='role',
            name='version',
            field=models.PositiveIntegerField(default=1, editable=False, help_text='Counts changes; edit forms carry it.', serialize=False),
        ),
        migrations.AddField(
            model_name='titlealias',
            name='content_editors',
            field=models.TextField(blank=True, default='', editable=False, serialize=False),
        ),
        migrations.AddField(
            model_name='titlealias',
            name='version',
            field=models.PositiveIntegerField(default=1, editable=False, help_text='Counts changes; edit forms carry it.', serialize=False),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name='classificationmapping',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('decided_at__isnull', True), ('decided_by__isnull', True), ('status', 'needs_review')), models.Q(models.Q(('status', 'needs_review'), _negated=True), ('decided_at__isnull', False)), _connector='OR'), name='mapping_review_consistent'),
        ),
        migrations.AddConstraint(
            model_name='titlealias',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('decided_at__isnull', True), ('decided_by__isnull', True), ('status', 'pending')), models.Q(models.Q(('status', 'pending'), _negated=True), ('decided_at__isnull', False)), _connector='OR'), name='alias_decision_consistent'),
        ),
    ]
