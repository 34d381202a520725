"""factory-boy factories. Put rows into later review states through the services, not here."""

from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission

from roles.groups import CURATORS, REVIEWERS, sync_groups
from roles.models import ClassificationMapping, Component, Role, TitleAlias
from taxonomy.models import Level, OccupationCode, TaxonomyNode


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    is_staff = True
    password = factory.django.Password("pw")

    @factory.post_generation
    def groups(self, create, extracted, **kwargs):
        if not create or not extracted:
            return
        # Groups made by the data migration vanish after a transactional test: recreate them.
        sync_groups(Group, Permission)
        self.groups.add(*Group.objects.filter(name__in=extracted))


def curator(**kwargs):
    return UserFactory(groups=[CURATORS], **kwargs)


def reviewer(**kwargs):
    return UserFactory(groups=[REVIEWERS], **kwargs)


class LevelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Level
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"P{n % 9 + 1}")
    rank = factory.LazyAttribute(lambda o: int(o.code[1:]))
    name = factory.LazyAttribute(lambda o: f"Level {o.code}")
    summary = "Does the work of the level"
    scope = "Own tasks"
    autonomy = "Some supervision"
    complexity = "Routine problems"
    impact = "Own deliverables"
    decision_rights = "Few decisions"
    leadership = "None"
    typical_experience = "0–2 yrs"


class FamilyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TaxonomyNode
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"FAM{n}")
    name = factory.LazyAttribute(lambda o: f"Family {o.code}")
    kind = TaxonomyNode.Kind.FAMILY


class SpecializationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TaxonomyNode
        django_get_or_create = ("code",)

    parent = factory.SubFactory(FamilyFactory)
    code = factory.LazyAttributeSequence(lambda o, n: f"{o.parent.code}.S{n}")
    name = factory.LazyAttribute(lambda o: f"Specialization {o.code}")
    kind = TaxonomyNode.Kind.SPECIALIZATION


class OccupationCodeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OccupationCode
        django_get_or_create = ("scheme", "code")

    scheme = OccupationCode.Scheme.SOC_2018
    code = factory.Sequence(lambda n: f"{11 + n % 80:02d}-{1000 + n % 9000:04d}")
    title = factory.Faker("job")
    level = OccupationCode.Level.DETAILED


class RoleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Role
        django_get_or_create = ("code",)

    node = factory.SubFactory(SpecializationFactory)
    level = factory.SubFactory(LevelFactory)
    code = factory.LazyAttribute(lambda o: f"{o.node.code}.{o.level.code}")
    title = factory.Faker("job")
    headline = factory.Faker("sentence")
    who_does_this_work = factory.Faker("sentence")
    external_problem = factory.Faker("sentence")
    internal_problem = factory.Faker("sentence")
    why_it_matters = factory.Faker("sentence")
    plan = factory.LazyFunction(lambda: ["Assess the needs.", "Build the thing.", "Measure it."])
    whats_at_stake = factory.Faker("sentence")
    success_looks_like = factory.Faker("sentence")
    summary = factory.Faker("sentence")
    core_outputs = factory.LazyFunction(list)


class ComponentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Component

    role = factory.SubFactory(RoleFactory)
    kind = Component.Kind.SKILL
    text = factory.Sequence(lambda n: f"Skill number {n}")
    position = factory.Sequence(lambda n: n)


class TitleAliasFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TitleAlias

    role = factory.SubFactory(RoleFactory)
    alias = factory.Sequence(lambda n: f"Alias Title {n}")
    alias_type = TitleAlias.AliasType.COMMON
    confidence = Decimal("0.70")
    source = "manual"


class ClassificationMappingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ClassificationMapping

    role = factory.SubFactory(RoleFactory)
    scheme = ClassificationMapping.Scheme.ONET_SOC
    occupation = factory.SubFactory(OccupationCodeFactory)
    code = factory.LazyAttribute(lambda o: o.occupation.code if o.occupation else "99-9999")
    title = factory.LazyAttribute(lambda o: o.occupation.title if o.occupation else "Unlisted occupation")
    source = ClassificationMapping.Source.MANUAL
