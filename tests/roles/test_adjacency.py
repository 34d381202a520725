"""Adjacent roles: the distance's properties, the bands, and the neighbour queries."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from roles.adjacency import (
    CLOSE,
    DISTANT,
    RELATED,
    AdjacencyIndex,
    AdjacencySettings,
    Coordinates,
    band,
    common_depth,
    distance,
    is_unrelated,
    level_distance,
    nearest_roles,
    node_path,
    taxonomy_distance,
    track_spans,
)
from roles.models import ClassificationMapping
from roles.selectors import adjacent_roles, codes_agree, mapping_disagrees, neighbour_mappings, soc_prefix
from taxonomy.models import TaxonomyNode
from tests.factories import (
    ClassificationMappingFactory,
    FamilyFactory,
    LevelFactory,
    OccupationCodeFactory,
    RoleFactory,
    SpecializationFactory,
)

CONF = AdjacencySettings()  # the defaults, which framework/settings/base.py repeats
# P1..P6 and M1..M5; with M1 beside P4, seniority runs from 1 (P1) to 8 (M5).
SPANS = track_spans([("P", r) for r in range(1, 7)] + [("M", r) for r in range(1, 6)], {"M": 3})


def path_of(sup: int, fun: int, fam: int, spec: int) -> tuple[str, str, str, str]:
    """A tree-consistent path: every code names its ancestors, so equal codes mean equal ancestors."""
    return (f"S{sup}", f"S{sup}F{fun}", f"S{sup}F{fun}M{fam}", f"S{sup}F{fun}M{fam}.X{spec}")


small = st.integers(min_value=0, max_value=2)
coordinates = st.builds(
    lambda p, track, rank: Coordinates(path_of(*p), track, rank),
    st.tuples(small, small, small, small),
    st.sampled_from(["P", "M"]),
    st.integers(min_value=1, max_value=5),
)
settings_strategy = st.builds(
    AdjacencySettings,
    taxonomy_weight=st.floats(min_value=0.05, max_value=1),
    level_weight=st.floats(min_value=0.05, max_value=1),
    track_penalty=st.floats(min_value=0.05, max_value=1),
    track_offsets=st.fixed_dictionaries({"M": st.integers(min_value=-3, max_value=6)}),
)


@given(coordinates, coordinates, settings_strategy)
def test_distance_is_symmetric(a, b, conf):
    assert distance(a, b, spans=SPANS, conf=conf) == distance(b, a, spans=SPANS, conf=conf)


@given(coordinates, coordinates, settings_strategy)
def test_distance_lies_within_0_and_1(a, b, conf):
    assert 0 <= distance(a, b, spans=SPANS, conf=conf) <= 1 + 1e-12


@given(coordinates, coordinates, settings_strategy)
def test_distance_is_0_only_for_the_same_coordinates(a, b, conf):
    assert (distance(a, b, spans=SPANS, conf=conf) == 0) is (a == b)


@given(
    st.tuples(small, small, small, small),
    st.sampled_from(["P", "M"]),
    st.integers(min_value=1, max_value=5),
    st.integers(min_value=0, max_value=4),
    st.integers(min_value=0, max_value=4),
    settings_strategy,
)
def test_distance_grows_with_the_level_gap_inside_one_specialization(p, track, rank, gap1, gap2, conf):
    origin = Coordinates(path_of(*p), track, rank)
    near, far = sorted((gap1, gap2))
    d_near = distance(origin, Coordinates(origin.path, track, rank + near), spans=SPANS, conf=conf)
    d_far = distance(origin, Coordinates(origin.path, track, rank + far), spans=SPANS, conf=conf)
    assert d_near <= d_far
    if near < far:
        assert d_near < d_far


def index_of(placed, conf):
    """An AdjacencyIndex built without the database; sup 2 stands for a family filed without its function."""
    ids: dict[str, int] = {}
    nodes = []

    def node(code, kind, parent):
        if code not in ids:
            ids[code] = len(ids) + 1
            nodes.append((ids[code], code, kind, ids.get(parent) if parent else None))
        return code

    ladder = [("P", r) for r in range(1, 7)] + [("M", r) for r in range(1, 6)]
    levels = [(pk, track, rank) for pk, (track, rank) in enumerate(ladder, start=1)]
    level_id = {(track, rank): pk for pk, track, rank in levels}
    rows = []
    for pk, (sup, fun, fam, spec, track, rank) in enumerate(placed, start=1):
        s, f, m, x = path_of(sup, fun, fam, spec)
        parent = None if sup == 2 else node(f, "function", node(s, "superfunction", None))
        node(m, "family", parent)
        node(x, "specialization", m)
        rows.append((pk, f"{x}.{track}{rank}", "title", ids[x], level_id[(track, rank)]))
    return AdjacencyIndex(rows, nodes, levels, conf)


placements = st.lists(
    st.tuples(small, small, small, small, st.sampled_from(["P", "M"]), st.integers(min_value=1, max_value=5)),
    min_size=1,
    max_size=40,
    unique=True,
)


@given(placements, st.integers(min_value=1, max_value=12), settings_strategy)
def test_nearest_gives_the_same_list_as_sorting_every_role(placed, n, conf):
    """Walking out from the role and stopping early loses nobody a full sort would list."""
    index = index_of(placed, conf)
    for pk in index.pks[:5]:
        origin = index.coordinates_of(pk)
        everyone = sorted(
            (index.distance(origin, index.coordinates_of(other)), index.codes[index.position[other]])
            for other in index.pks
            if other != pk
        )
        expected = [(round(d, 4), code) for d, code in everyone if not is_unrelated(d)][:n]
        assert [(a.distance, a.code) for a in index.nearest(pk, n)] == expected


def test_taxonomy_distance_counts_tree_steps_over_twice_the_depth():
    a = path_of(0, 0, 0, 0)
    assert taxonomy_distance(a, a) == 0
    assert taxonomy_distance(a, path_of(0, 0, 0, 1)) == 0.25  # sibling specialization: 2 of 8 steps
    assert taxonomy_distance(a, path_of(0, 0, 1, 0)) == 0.5
    assert taxonomy_distance(a, path_of(0, 1, 0, 0)) == 0.75
    assert taxonomy_distance(a, path_of(1, 0, 0, 0)) == 1


def test_a_family_filed_without_its_function_still_matches_on_the_family():
    """The seed's AIMLAM has no function yet: its specializations are siblings all the same."""
    a = node_path([("AIMLAM.GEN", "specialization"), ("AIMLAM", "family"), (None, None), (None, None)])
    b = node_path([("AIMLAM.NLP", "specialization"), ("AIMLAM", "family"), (None, None), (None, None)])
    c = node_path([("OTHER.GEN", "specialization"), ("OTHER", "family"), (None, None), (None, None)])
    assert a == (None, None, "AIMLAM", "AIMLAM.GEN")
    assert common_depth(a, b) == 3
    assert taxonomy_distance(a, b) == 0.25
    # Two unknown functions are not the same function.
    assert taxonomy_distance(a, c) == 1


def test_level_distance_normalises_by_the_track_span_and_penalises_other_tracks():
    assert SPANS == {"P": 5, "M": 4, "*": 7}
    assert level_distance("P", 1, "P", 1, spans=SPANS, track_penalty=0.5) == 0
    assert level_distance("P", 1, "P", 6, spans=SPANS, track_penalty=0.5) == 1
    assert level_distance("P", 2, "P", 3, spans=SPANS, track_penalty=0.5) == pytest.approx(0.2)
    offsets = {"M": 3}
    # Across tracks: the penalty for lined-up levels, growing with the seniority gap.
    assert level_distance("P", 4, "M", 1, spans=SPANS, track_penalty=0.5, offsets=offsets) == 0.5
    assert level_distance("P", 3, "M", 1, spans=SPANS, track_penalty=0.5, offsets=offsets) == pytest.approx(
        0.5 + 0.5 / 7
    )
    assert level_distance("P", 1, "M", 5, spans=SPANS, track_penalty=0.5, offsets=offsets) == 1
    # Without offsets the tracks start level: P1 beside M1.
    assert level_distance("P", 1, "M", 1, spans=SPANS, track_penalty=0.5) == 0.5
    # A rank beyond the known span cannot push the distance past 1.
    assert level_distance("P", 1, "P", 9, spans={"P": 0}, track_penalty=0.5) == 1


def test_track_spans_are_the_largest_rank_gap_per_track():
    levels = [("P", 1), ("P", 6), ("M", 1), ("M", 3), ("E", 2)]
    assert track_spans(levels) == {"P": 5, "M": 2, "E": 0, "*": 5}
    assert track_spans(levels, {"M": 3}) == {"P": 5, "M": 2, "E": 0, "*": 5}
    assert track_spans(levels, {"M": 5}) == {"P": 5, "M": 2, "E": 0, "*": 7}


def test_defaults_give_the_bands_a_curator_expects():
    same = path_of(0, 0, 0, 0)
    p1 = Coordinates(same, "P", 1)

    def at(path, track, rank):
        return distance(p1, Coordinates(path, track, rank), spans=SPANS, conf=CONF)

    assert band(at(same, "P", 2), CONF) == CLOSE  # one level up: 0.08
    assert band(at(path_of(0, 0, 0, 1), "P", 1), CONF) == CLOSE  # sibling specialization: 0.15
    assert band(at(same, "M", 1), CONF) == RELATED  # same work, team manager: 0.29
    assert band(at(path_of(0, 0, 0, 1), "P", 3), CONF) == RELATED  # sibling, two levels up: 0.31
    assert band(at(path_of(0, 0, 1, 0), "P", 1), CONF) == RELATED  # other family, same function: 0.30
    assert band(at(same, "P", 6), CONF) == RELATED  # entry against principal: 0.40
    assert band(at(path_of(0, 1, 0, 0), "P", 1), CONF) == RELATED  # same superfunction: 0.45
    assert band(at(path_of(0, 1, 0, 0), "P", 2), CONF) == DISTANT  # 0.53
    assert is_unrelated(at(path_of(1, 0, 0, 0), "P", 6))
    p4 = Coordinates(same, "P", 4)
    # A senior professional and a team manager of the same work: the classic step across.
    assert band(distance(p4, Coordinates(same, "M", 1), spans=SPANS, conf=CONF), CONF) == CLOSE  # 0.20
    assert band(distance(p1, Coordinates(same, "M", 5), spans=SPANS, conf=CONF), CONF) == RELATED  # 0.40


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.0, CLOSE),
        (0.2499, CLOSE),
        (0.25, RELATED),
        (0.4999, RELATED),
        (0.5, DISTANT),
        (0.99, DISTANT),
    ],
)
def test_band_thresholds_are_exclusive_upper_bounds(value, expected):
    assert band(value, CONF) == expected


def test_band_thresholds_come_from_settings(settings):
    settings.ROLEBOOK_ADJACENCY_BANDS = {"close": 0.1, "related": 0.2}
    assert band(0.15) == RELATED
    assert band(0.2) == DISTANT


def test_settings_that_cannot_give_ordered_bands_are_refused(settings):
    settings.ROLEBOOK_ADJACENCY_BANDS = {"close": 0.6, "related": 0.3}
    with pytest.raises(ValueError, match="close <= related"):
        AdjacencySettings.from_settings()


def test_weights_are_scaled_to_sum_to_one():
    assert AdjacencySettings(taxonomy_weight=3, level_weight=1).weights == (0.75, 0.25)


# Against the database.


def build_tree(n_families: int, levels):
    """Superfunction → function → n families, each with two specializations, a role at each level."""
    sup = TaxonomyNode.objects.create(code="SUPX", name="Sup", kind="superfunction")
    fun = TaxonomyNode.objects.create(code="FUNX", name="Fun", kind="function", parent=sup)
    roles = []
    for i in range(n_families):
        family = FamilyFactory(code=f"FX{i}", parent=fun)
        for s in ("A", "B"):
            spec = SpecializationFactory(code=f"FX{i}.{s}", parent=family)
            roles += [RoleFactory(node=spec, level=level) for level in levels]
    return roles


@pytest.fixture
def ladder(db):
    return [LevelFactory(code=f"P{r}", rank=r) for r in range(1, 5)]


def test_nearest_roles_rank_by_distance_and_leave_out_the_role_itself(ladder):
    roles = build_tree(2, ladder)
    origin = next(r for r in roles if r.code == "FX0.A.P1")
    nearest = adjacent_roles(origin, n=20)
    codes = [n.code for n in nearest]
    assert "FX0.A.P1" not in codes
    assert codes[:3] == ["FX0.A.P2", "FX0.B.P1", "FX0.A.P3"]  # 0.133, 0.15, 0.267
    assert [n.distance for n in nearest] == sorted(n.distance for n in nearest)
    assert nearest[0].band == CLOSE


def test_roles_at_distance_1_are_left_out(db):
    p1, p6 = LevelFactory(code="P1", rank=1), LevelFactory(code="P6", rank=6)
    origin = RoleFactory(level=p1)
    RoleFactory(level=p6)  # another family with no function: nothing shared, and the widest level gap
    neighbour = RoleFactory(level=p1)  # nothing shared in the tree but the same level: 0.6
    assert [n.code for n in adjacent_roles(origin)] == [neighbour.code]


def test_neighbour_query_count_is_constant_as_roles_grow(ladder, django_assert_num_queries):
    roles = build_tree(2, ladder)
    # 1: the levels, 2: the tree's nodes, 3: the roles of FX0 (the role's family), 4: the
    # roles of FUNX (its function): by then ten roles are nearer than anything outside it.
    with django_assert_num_queries(4):
        small_result = adjacent_roles(roles[0])
    for _ in range(30):
        RoleFactory(level=ladder[0])  # roles elsewhere in the tree do not add queries
    with django_assert_num_queries(4):
        big_result = adjacent_roles(roles[0])
    assert len(small_result) == len(big_result) == 10


def test_reading_outwards_finds_the_same_neighbours_as_the_whole_index(db):
    """nearest_roles() reads ring by ring; it must agree with ranking over every role."""
    levels = [LevelFactory(code=f"P{r}", rank=r) for r in (1, 2, 3, 4, 5, 6)] + [LevelFactory(code="M1", rank=1)]
    sup = TaxonomyNode.objects.create(code="SUPY", name="Sup", kind="superfunction")
    roles = []
    for f in range(2):
        fun = TaxonomyNode.objects.create(code=f"FUNY{f}", name="Fun", kind="function", parent=sup)
        for m in range(2):
            family = FamilyFactory(code=f"FY{f}{m}", parent=fun)
            spec = SpecializationFactory(code=f"FY{f}{m}.A", parent=family)
            roles += [RoleFactory(node=spec, level=level) for level in levels[f + m :: 3]]
    loner = RoleFactory(level=levels[0])  # a family without a function
    roles.append(loner)
    index = AdjacencyIndex.load()
    for role in roles:
        for n in (1, 3, 10):
            assert nearest_roles(role, n) == index.nearest(role.pk, n), (role.code, n)


def test_neighbour_mappings_run_five_queries_for_any_number_of_roles(ladder, django_assert_num_queries):
    roles = build_tree(3, ladder)
    for role in roles:
        ClassificationMappingFactory(role=role, occupation=OccupationCodeFactory(code="15-2051"))
    # 1-3: the adjacency index (levels, nodes, roles), 4: the neighbour roles, 5: their mappings.
    with django_assert_num_queries(5):
        few = neighbour_mappings(roles[:2], k=3)
    with django_assert_num_queries(5):
        many = neighbour_mappings(roles, k=3)
    assert len(few) == 2 and len(many) == len(roles)
    first = many[roles[0].pk]
    assert len(first) == 3
    assert all(n.mappings and n.mappings[0].code == "15-2051" for n in first)


@pytest.mark.parametrize(
    ("code", "prefix"),
    [
        ("15-0000", "15-"),
        ("15-1200", "15-12"),
        ("15-1250", "15-125"),
        ("15-2051", "15-2051"),
        ("15-2051.00", "15-2051"),
        ("15-2051.01", "15-2051.01"),
    ],
)
def test_soc_prefix_drops_the_group_zeros(code, prefix):
    assert soc_prefix(code) == prefix


def test_codes_agree_when_one_contains_the_other():
    assert codes_agree("15-0000", "15-2051") is True
    assert codes_agree("15-2051", "15-2051.01") is True
    assert codes_agree("15-2051", "15-1252") is False
    assert codes_agree("15-1200", "15-1252") is True


def test_mapping_disagrees_only_with_every_mapped_neighbour(ladder):
    roles = build_tree(1, ladder)
    origin = roles[0]
    mapping = ClassificationMappingFactory(role=origin, occupation=OccupationCodeFactory(code="13-2011"))
    for role in roles[1:]:
        ClassificationMappingFactory(role=role, occupation=OccupationCodeFactory(code="15-2051"))
    neighbours = neighbour_mappings([origin], k=3)[origin.pk]
    assert mapping_disagrees(mapping, neighbours) is True
    agreeing = ClassificationMapping(role=origin, code="15-0000", scheme=mapping.scheme)
    assert mapping_disagrees(agreeing, neighbours) is False
    # Neighbours with no mapping have no opinion: nothing to disagree with.
    assert mapping_disagrees(mapping, [n._replace(mappings=[]) for n in neighbours]) is False


def test_index_loads_in_three_queries(ladder, django_assert_num_queries):
    build_tree(2, ladder)
    with django_assert_num_queries(3):
        index = AdjacencyIndex.load()
    assert len(index) == 16
