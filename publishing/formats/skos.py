"""A release's SKOS file: the published taxonomy as a SKOS concept scheme in Turtle (``skos.ttl``).

    <scheme>                    skos:ConceptScheme "Rolebook roles"
    <node/AIMLAM> …             the role tree (superfunction → function → family → specialization),
                                skos:Concept with skos:broader / skos:narrower, tops as top concepts
    <role/AIMLAM.GEN.P1>        each role: skos:prefLabel its title, skos:notation its code,
                                skos:altLabel its approved aliases (skos:hiddenLabel the hidden ones),
                                skos:definition its headline, skos:broader its specialization,
                                skos:exactMatch a detailed SOC / O*NET-SOC code, skos:broadMatch a group;
                                a deprecated role owl:deprecated true and dct:isReplacedBy its successor
    <soc2018/15-2051> …         the official codes the mappings point at, with their ancestors, in a
                                scheme per classification (SOC 2018, O*NET-SOC 2019), skos:broader
                                within it; an O*NET-SOC code skos:broadMatch its SOC 2018 code

URIs come from settings: ``ROLEBOOK_SKOS_BASE_URI`` for Rolebook's own concepts and
``ROLEBOOK_SKOS_CODE_URIS`` (templates with ``{base}`` and ``{code}``) for the official codes, so
a knowledge-graph team can point the mappings at the SOC URIs it already uses. Labels carry the
language tag ``ROLEBOOK_SKOS_LANGUAGE``. An approved alias spelled exactly as the role's title is
the prefLabel already and is not repeated (SKOS keeps pref-, alt- and hidden labels disjoint).

rdflib makes every term and writes its Turtle form (IRIs, escaped literals, prefixed names);
the statements are streamed subject by subject in a fixed order (scheme, nodes, roles, codes;
predicates in `PREDICATES` order; objects sorted), so the file is deterministic and the export
never holds the graph in memory: rdflib's own Turtle serializer needs the whole graph and took
longer than the whole fixtures export at O*NET scale. `skos_graph()` builds the same statements
as an rdflib Graph; the tests parse the file back and compare the two, and validate it with
pySHACL against `SHAPES` (publishing/formats/skos_shapes.ttl).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import quote

from django.conf import settings
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, OWL, RDF, SKOS, NamespaceManager
from rdflib.term import Node

from roles.models import TitleAlias
from taxonomy.models import OccupationCode, TaxonomyNode

from ..files import sha256_file
from ..published import (
    binary_order,
    code_scheme,
    match_type,
    published_aliases,
    published_mappings,
    published_roles,
    split_successors,
)

SKOS_FILE = "skos.ttl"
SHAPES = Path(__file__).with_name("skos_shapes.ttl")
# The queries the SKOS file takes, whatever the row count (the reference ids come from the release).
SKOS_QUERIES = (
    "taxonomy nodes of the release",
    "the roles split roles became",
    "roles",
    "approved aliases, streamed",
    "approved mappings",
    "occupation codes of the release",
)
CHUNK_SIZE = 2000
SCHEME_LABELS = {
    OccupationCode.Scheme.SOC_2018: "Standard Occupational Classification 2018",
    OccupationCode.Scheme.ONET_SOC_2019: "O*NET-SOC 2019 Taxonomy",
}
# The order of a subject's statements in the file.
PREDICATES = (
    RDF.type,
    SKOS.inScheme,
    SKOS.topConceptOf,
    SKOS.hasTopConcept,
    SKOS.notation,
    SKOS.prefLabel,
    SKOS.altLabel,
    SKOS.hiddenLabel,
    SKOS.definition,
    SKOS.broader,
    SKOS.narrower,
    SKOS.exactMatch,
    SKOS.broadMatch,
    OWL.deprecated,
    DCTERMS.isReplacedBy,
)
Block = tuple[URIRef, list[tuple[URIRef, Node]]]


@dataclass(frozen=True)
class SkosUris:
    """Where each kind of concept lives, from settings."""

    base: str
    code_templates: dict[str, str]
    code_scheme_templates: dict[str, str]
    language: str

    @classmethod
    def from_settings(cls) -> SkosUris:
        return cls(
            base=settings.ROLEBOOK_SKOS_BASE_URI,
            code_templates=dict(settings.ROLEBOOK_SKOS_CODE_URIS),
            code_scheme_templates=dict(settings.ROLEBOOK_SKOS_CODE_SCHEME_URIS),
            language=settings.ROLEBOOK_SKOS_LANGUAGE,
        )

    @property
    def scheme(self) -> URIRef:
        return URIRef(f"{self.base}scheme")

    def role(self, code: str) -> URIRef:
        return URIRef(f"{self.base}role/{quote(code, safe='')}")

    def node(self, code: str) -> URIRef:
        return URIRef(f"{self.base}node/{quote(code, safe='')}")

    def code(self, scheme: str, code: str) -> URIRef:
        return URIRef(self.code_templates[scheme].format(base=self.base, code=quote(code, safe="")))

    def code_scheme(self, scheme: str) -> URIRef:
        return URIRef(self.code_scheme_templates[scheme].format(base=self.base))

    def label(self, text: str) -> Literal:
        return Literal(text, lang=self.language)


def _block(subject: URIRef, statements: list[tuple[URIRef, Node]]) -> Block:
    order = {p: i for i, p in enumerate(PREDICATES)}
    return subject, sorted(statements, key=lambda s: (order[s[0]], _sort_key(s[1])))


def _sort_key(term: Node) -> tuple:
    return (str(term), getattr(term, "language", None) or "")


def skos_blocks(node_ids: set[int], occupation_ids: set[int], uris: SkosUris | None = None) -> Iterator[Block]:
    """Yield (subject, statements) for the whole file, in file order (6 queries).

    `node_ids` and `occupation_ids` are the release's reference rows (publishing.published).
    """
    uris = uris or SkosUris.from_settings()
    scheme = uris.scheme
    concept = SKOS.Concept

    nodes = {
        pk: (code, name, parent)
        for pk, code, name, parent in TaxonomyNode.objects.filter(pk__in=node_ids)
        .order_by(binary_order("code"))
        .values_list("pk", "code", "name", "parent_id")
    }
    splits = split_successors()
    roles = list(
        published_roles().order_by(binary_order("code"))
        .values_list("pk", "code", "title", "headline", "node_id", "deprecated", "replaced_by__code")
    )
    mappings: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for role_id, code, level in published_mappings().order_by().values_list(
        "role_id", "code", "occupation__level"
    ):
        mappings[role_id].append((code, match_type(code, level)))

    children: dict[int | None, list[URIRef]] = defaultdict(list)
    for code, _name, parent in nodes.values():
        children[parent].append(uris.node(code))
    for _pk, code, _title, _headline, node_id, _deprecated, _successor in roles:
        children[node_id].append(uris.role(code))
    tops = [uris.node(code) for code, _name, parent in nodes.values() if parent not in nodes]

    yield _block(
        scheme,
        [(RDF.type, SKOS.ConceptScheme), (SKOS.prefLabel, uris.label("Rolebook roles"))]
        + [(SKOS.hasTopConcept, top) for top in tops],
    )
    for pk, (code, name, parent) in nodes.items():
        statements = [
            (RDF.type, concept),
            (SKOS.inScheme, scheme),
            (SKOS.notation, Literal(code)),
            (SKOS.prefLabel, uris.label(name)),
        ]
        if parent in nodes:
            statements.append((SKOS.broader, uris.node(nodes[parent][0])))
        else:
            statements.append((SKOS.topConceptOf, scheme))
        statements += [(SKOS.narrower, child) for child in children[pk]]
        yield _block(uris.node(code), statements)

    # Aliases stream in the roles' order: (role code, alias) in code-point order.
    aliases = (
        published_aliases()
        .order_by(binary_order("role__code"), binary_order("alias"))
        .values_list("role__code", "alias", "alias_type")
        .iterator(chunk_size=CHUNK_SIZE)
    )
    pending = next(aliases, None)
    for pk, code, title, headline, node_id, deprecated, successor in roles:
        statements = [
            (RDF.type, concept),
            (SKOS.inScheme, scheme),
            (SKOS.notation, Literal(code)),
            (SKOS.prefLabel, uris.label(title)),
        ]
        while pending is not None and pending[0] == code:
            _role, alias, alias_type = pending
            if alias != title:
                kind = SKOS.hiddenLabel if alias_type == TitleAlias.AliasType.HIDDEN else SKOS.altLabel
                statements.append((kind, uris.label(alias)))
            pending = next(aliases, None)
        if headline:
            statements.append((SKOS.definition, uris.label(headline)))
        if node_id in nodes:
            statements.append((SKOS.broader, uris.node(nodes[node_id][0])))
        for mapping_code, match in mappings.get(pk, ()):
            target = uris.code(code_scheme(mapping_code), mapping_code)
            statements.append((SKOS.exactMatch if match == "exact" else SKOS.broadMatch, target))
        if deprecated:
            # Deprecated, never deleted: the concept stays, says so, and points to its successor.
            statements.append((OWL.deprecated, Literal(True)))
            for replacement in [successor] if successor else splits.get(code, ()):
                statements.append((DCTERMS.isReplacedBy, uris.role(replacement)))
        yield _block(uris.role(code), statements)

    yield from _code_blocks(occupation_ids, uris)


def _code_blocks(occupation_ids: set[int], uris: SkosUris) -> Iterator[Block]:
    """The official codes of the release, one scheme per classification, with their hierarchy."""
    codes = {
        pk: (scheme, code, title, parent)
        for pk, scheme, code, title, parent in OccupationCode.objects.filter(pk__in=occupation_ids)
        .order_by(binary_order("scheme"), binary_order("code"))
        .values_list("pk", "scheme", "code", "title", "parent_id")
    }
    children: dict[int, list[URIRef]] = defaultdict(list)
    tops: dict[str, list[URIRef]] = defaultdict(list)
    for _pk, (scheme, code, _title, parent) in codes.items():
        uri = uris.code(scheme, code)
        if parent in codes and codes[parent][0] == scheme:
            children[parent].append(uri)
        else:
            tops[scheme].append(uri)
    for scheme in sorted(tops):
        yield _block(
            uris.code_scheme(scheme),
            [(RDF.type, SKOS.ConceptScheme), (SKOS.prefLabel, uris.label(SCHEME_LABELS.get(scheme, scheme)))]
            + [(SKOS.hasTopConcept, top) for top in tops[scheme]],
        )
    for pk, (scheme, code, title, parent) in codes.items():
        in_scheme = uris.code_scheme(scheme)
        statements = [
            (RDF.type, SKOS.Concept),
            (SKOS.inScheme, in_scheme),
            (SKOS.notation, Literal(code)),
            (SKOS.prefLabel, uris.label(title)),
        ]
        if parent in codes:
            parent_scheme, parent_code = codes[parent][0], codes[parent][1]
            relation = SKOS.broader if parent_scheme == scheme else SKOS.broadMatch
            statements.append((relation, uris.code(parent_scheme, parent_code)))
        if parent not in codes or codes[parent][0] != scheme:
            statements.append((SKOS.topConceptOf, in_scheme))
        statements += [(SKOS.narrower, child) for child in children[pk]]
        yield _block(uris.code(scheme, code), statements)


def namespace_manager() -> NamespaceManager:
    """The prefixes the file declares: only SKOS (rdf:type is written ``a``; the deprecation terms in full)."""
    manager = NamespaceManager(Graph(bind_namespaces="none"), bind_namespaces="none")
    manager.bind("skos", SKOS)
    return manager


def write_turtle(blocks: Iterator[Block], handle: IO[str]) -> int:
    """Write `blocks` as Turtle into the text `handle`; return the number of statements."""
    manager = namespace_manager()
    handle.write(f"@prefix skos: <{SKOS}> .\n")
    count = 0
    for subject, statements in blocks:
        lines = []
        previous = None
        for predicate, obj in statements:
            term = obj.n3(manager)
            if predicate == previous:
                lines[-1] += " ,"
                lines.append(f"        {term}")
            else:
                if lines:
                    lines[-1] += " ;"
                name = "a" if predicate == RDF.type else predicate.n3(manager)
                lines.append(f"    {name} {term}")
            previous = predicate
            count += 1
        handle.write(f"\n{subject.n3(manager)}\n" + "\n".join(lines) + " .\n")
    return count


def skos_graph(node_ids: set[int], occupation_ids: set[int], uris: SkosUris | None = None) -> Graph:
    """The same statements as `write_skos_file` writes, as an rdflib Graph (for tests and tools)."""
    graph = Graph(bind_namespaces="none")
    graph.bind("skos", SKOS)
    for subject, statements in skos_blocks(node_ids, occupation_ids, uris):
        for predicate, obj in statements:
            graph.add((subject, predicate, obj))
    return graph


def write_skos_file(
    directory: Path,
    *,
    node_ids: set[int],
    occupation_ids: set[int],
    progress: Callable[[str], None] | None = None,
) -> dict[str, dict]:
    """Write skos.ttl into `directory`; return its manifest entry (6 queries).

    Call inside the release's transaction, with the release's reference ids.
    """
    path = Path(directory) / SKOS_FILE
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        count = write_turtle(skos_blocks(node_ids, occupation_ids), handle)
    if progress:
        progress(f"{SKOS_FILE}: {count} statements")
    return {SKOS_FILE: {"count": count, "entity": "skos", "format": "skos", "sha256": sha256_file(path)}}
