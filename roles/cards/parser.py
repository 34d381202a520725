"""Read a published role card (UTF-8 text copied from the web page) into plain dataclasses.

Pure: no database. Every problem is collected as (line, message) so a curator sees them all
at once; `parse_card` raises CardSyntaxError carrying the list when there is any.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from roles.models import (
    ROLE_CODE_RE,
    ClassificationMapping,
    Component,
    TitleAlias,
    confidence_band,
)
from taxonomy.models import Level

# Fixed lines of the card, in printed order.
STORY = "The story of this role"
WHO = "Who does this work"
PROBLEM = "The problem this role solves"
PLAN = "The plan"
STAKE = "What's at stake"
SUCCESS = "Success looks like"
SUMMARY = "Summary"
LEVEL = "Level"  # printed as "Level — P1 — Entry-Level Professional"
CORE = "Core outputs"
ADJACENT = "Adjacent roles"
COMPONENTS = "Componentsshow ▾"
ALIASES = "Title aliasesshow ▾"
MAPPINGS = "Classification mappingsshow ▾"
SECTIONS = (STORY, WHO, PROBLEM, PLAN, STAKE, SUCCESS, SUMMARY, LEVEL, CORE, ADJACENT, COMPONENTS, ALIASES, MAPPINGS)

NO_CORE_OUTPUTS = "No core outputs recorded yet."
ADJACENT_TEXT = (
    "Nearest roles by structural coordinates (level + taxonomy). Distance 0 → 1; each carries its "
    "3-state match band. How coordinates work → · Compare side-by-side →"
)
PROBLEM_PREFIXES = (
    ("external_problem", "The external problem:"),
    ("internal_problem", "The internal problem:"),
    ("why_it_matters", "Why it matters:"),
)
LEVEL_HEADER_RE = re.compile(r"^Level — (?P<code>.*?) — (?P<name>.*)$")
LEVEL_CODE_RE = re.compile(r"^[A-Z][1-9][0-9]?$|^[A-Z]0$")

# The two tags glued to each component, parsed from the right. Vocabularies are closed so
# a text ending in a tag-like word ("… at team level") still splits unambiguously.
PREVALENCE_TAGS = ("common", "core", "emerging", "frequent", "occasional", "rare")
SCOPE_TAGS = ("level", "family", "specialization", "role")
KIND_LABELS = {kind.value: kind.label for kind in Component.Kind}  # "skill" -> "Skills"
SECTION_HEADER_RE = re.compile(r"^(?P<label>\D*?)(?P<count>\d+)$")

ALIAS_HEADER = "| Alias | Type | Confidence | Approved |"
ALIAS_RULE = "|---|---|---|---|"
NOT_APPROVED = "—"
CONFIDENCE_RE = re.compile(r"^(?P<band>[a-z]*)(?P<score>[-+]?[0-9]*\.?[0-9]+)$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

SCHEME_LABELS = {label: value for value, label in ClassificationMapping.Scheme.choices}
MAPPING_KEYS = ("code=", "title=", "source=", "reviewStatus=")
# Every state a mapping can be in: a card round-trips a rejected mapping too. (A rejected alias
# is left off the card instead: its table has room for an approval date only.)
MAPPING_STATUSES = tuple(ClassificationMapping.Status.values)

# Column sizes of the models, checked here so an over-long value is a card error, not a crash.
MAX = {
    "title": 200,
    "code": 40,
    "level_name": 100,
    "level_summary": 300,
    "typical_experience": 100,
    "alias": 200,
    "mapping_title": 200,
}


@dataclass(frozen=True)
class Problem:
    """One problem in a card: the 1-based line it is on and what is wrong."""

    line: int
    message: str

    def format(self, filename: str) -> str:
        return f"{filename}:{self.line}: {self.message}"


class CardSyntaxError(Exception):
    """A card that cannot be read; `problems` lists every problem found, in line order."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(problems, key=lambda p: p.line)
        super().__init__("; ".join(f"line {p.line}: {p.message}" for p in self.problems))


@dataclass
class LevelData:
    code: str
    name: str
    summary: str
    attributes: dict[str, str]  # Level field name -> value, the seven ATTRIBUTES
    line: int = 0


@dataclass
class ComponentData:
    kind: str
    text: str
    prevalence: str = "common"
    scope: str = "level"
    line: int = field(default=0, compare=False)


@dataclass
class AliasData:
    alias: str
    alias_type: str
    confidence: Decimal
    approved_on: date | None = None
    line: int = field(default=0, compare=False)


@dataclass
class MappingData:
    code: str
    title: str
    source: str
    status: str = ClassificationMapping.Status.NEEDS_REVIEW.value
    scheme: str = ClassificationMapping.Scheme.ONET_SOC.value
    line: int = field(default=0, compare=False)


@dataclass
class CardData:
    """Everything a card says, in the card's order. The renderer prints exactly this."""

    title: str
    code: str
    headline: str
    who_does_this_work: str
    external_problem: str
    internal_problem: str
    why_it_matters: str
    plan: list[str]
    whats_at_stake: str
    success_looks_like: str
    summary: str
    level: LevelData
    core_outputs: list[str]
    components: list[ComponentData]
    aliases: list[AliasData]
    mappings: list[MappingData]

    @property
    def family_code(self) -> str:
        return self.code.split(".")[0]

    @property
    def specialization_code(self) -> str:
        return self.code.rpartition(".")[0]


def decode_card(data: bytes | str) -> tuple[list[str], list[Problem]]:
    """Split raw card bytes into lines (CRLF or LF, trailing newline optional)."""
    problems: list[Problem] = []
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            problems.append(Problem(line, f"not UTF-8 text: invalid byte 0x{data[exc.start]:02x}"))
            return [], problems
    else:
        text = data
    text = text.removeprefix("\ufeff").replace("\r\n", "\n")
    text = text.rstrip("\n")
    lines = text.split("\n") if text else []
    for number, line in enumerate(lines, 1):
        if line.isprintable():  # the fast path: most lines have nothing to look at
            continue
        for column, char in enumerate(line, 1):
            if char != "\t" and unicodedata.category(char) in ("Cc", "Cs", "Co", "Cn"):
                problems.append(
                    Problem(number, f"control or unassigned character U+{ord(char):04X} at column {column}")
                )
                break
    return lines, problems


def parse_card(data: bytes | str) -> CardData:
    """Parse a whole card; raises CardSyntaxError listing every problem found."""
    lines, problems = decode_card(data)
    if problems:
        raise CardSyntaxError(problems)
    parser = _Parser(lines)
    card = parser.parse()
    if parser.problems or card is None:
        raise CardSyntaxError(parser.problems or [Problem(1, "the card is empty")])
    return card


def _section_name(line: str) -> str | None:
    if line in SECTIONS:
        return line
    if line.startswith("Level — "):
        return LEVEL
    return None


class _Parser:
    def __init__(self, lines: list[str]):
        self.lines = lines
        self.problems: list[Problem] = []

    def error(self, line: int, message: str) -> None:
        self.problems.append(Problem(line, message))

    def line(self, number: int) -> str:
        return self.lines[number - 1]

    def parse(self) -> CardData | None:
        if not self.lines:
            self.error(1, "the card is empty")
            return None
        sections = self._split_sections()
        values: dict = {}
        self._opening(sections.get(None, (0, [])), values)
        handlers = {
            STORY: self._story,
            WHO: self._paragraph("who_does_this_work"),
            PROBLEM: self._problem,
            PLAN: self._plan,
            STAKE: self._paragraph("whats_at_stake"),
            SUCCESS: self._paragraph("success_looks_like"),
            SUMMARY: self._paragraph("summary"),
            LEVEL: self._level,
            CORE: self._core,
            ADJACENT: self._adjacent,
            COMPONENTS: self._components,
            ALIASES: self._aliases,
            MAPPINGS: self._mappings,
        }
        for name in SECTIONS:
            if name in sections:
                header_line, body = sections[name]
                handlers[name](header_line, body, values)
        if self.problems:
            return None
        return CardData(**values)

    def _split_sections(self) -> dict:
        """Group lines under their section header; report missing, repeated and misplaced ones."""
        sections: dict = {None: (0, [])}
        current = None
        seen: dict[str, int] = {}
        order = {name: i for i, name in enumerate(SECTIONS)}
        for number, text in enumerate(self.lines, 1):
            name = _section_name(text)
            if name is None:
                sections[current][1].append((number, text))
                continue
            if name in seen:
                self.error(number, f'section "{_label(name)}" appears twice (first on line {seen[name]})')
                sections[current][1].append((number, text))
                continue
            if current is not None and order[name] < order[current]:
                self.error(number, f'section "{_label(name)}" is out of order: it belongs before "{_label(current)}"')
            seen[name] = number
            sections[name] = (number, [])
            current = name
        last = len(self.lines)
        for name in SECTIONS:
            if name not in seen:
                self.error(last, f'truncated or incomplete card: the "{_label(name)}" section is missing')
        return sections

    # Opening lines and the story ------------------------------------------------------

    def _opening(self, section, values) -> None:
        _, body = section
        texts = [t for _, t in body]
        if len(texts) < 1 or not texts[0].strip():
            self.error(1, "line 1 must be the role's title")
        if len(texts) < 2:
            self.error(len(texts) + 1, "missing role code (FAMILY.SPECIALIZATION.LEVEL) on line 2")
        if len(texts) < 4:
            self.error(len(texts) + 1, "the headline paragraph and its repetition must follow the code")
        if len(texts) > 4:
            self.error(5, f'unknown section or unexpected line {texts[4][:60]!r} before "{STORY}"')
        values["title"] = texts[0] if texts else ""
        if len(texts[0] if texts else "") > MAX["title"]:
            self.error(1, f"the title is longer than {MAX['title']} characters")
        code = texts[1] if len(texts) > 1 else ""
        values["code"] = code
        if len(texts) > 1:
            if not re.fullmatch(ROLE_CODE_RE, code) or len(code) > MAX["code"]:
                self.error(2, f"invalid role code {code[:60]!r}: use FAMILY.SPECIALIZATION.LEVEL, e.g. AIMLAM.GEN.P1")
            elif not LEVEL_CODE_RE.match(code.rpartition(".")[2]):
                self.error(2, f"invalid level in role code {code!r}: no leading zero, e.g. P1")
        values["headline"] = texts[2] if len(texts) > 2 else ""
        if len(texts) > 3 and texts[3] != texts[2]:
            self.error(4, "line 4 must repeat the headline paragraph of line 3")

    def _story(self, header, body, values) -> None:
        for number, text in body:
            self.error(number, f'unknown section or unexpected line {text[:60]!r} under "{STORY}"')

    def _paragraph(self, key):
        def parse(header, body, values):
            if not body:
                self.error(header, f'"{self.line(header)}" needs its paragraph on the next line')
            for number, text in body[1:]:
                self.error(number, f"unknown section or unexpected line {text[:60]!r}")
            values[key] = body[0][1] if body else ""

        return parse

    def _bullets(self, body) -> list[tuple[int, str]]:
        items = []
        for number, text in body:
            if text.startswith("- ") or text == "-":
                items.append((number, text[2:]))
            else:
                self.error(number, f"unknown section or unexpected line {text[:60]!r}: expected a '- ' item")
        return items

    def _problem(self, header, body, values) -> None:
        items = self._bullets(body)
        for index, (key, prefix) in enumerate(PROBLEM_PREFIXES):
            values[key] = ""
            if index >= len(items):
                self.error(header + len(body), f'"{PROBLEM}" is missing the "{prefix}" bullet')
                continue
            number, text = items[index]
            if not text.startswith(prefix):
                self.error(number, f'expected the bullet "- {prefix} …"')
                continue
            values[key] = text[len(prefix) :].removeprefix(" ")
        for number, _ in items[len(PROBLEM_PREFIXES) :]:
            self.error(number, f'"{PROBLEM}" has exactly three bullets')

    def _plan(self, header, body, values) -> None:
        values["plan"] = [text for _, text in self._bullets(body)]

    # The level -----------------------------------------------------------------------

    def _level(self, header, body, values) -> None:
        match = LEVEL_HEADER_RE.match(self.line(header))
        code = name = ""
        if not match:
            self.error(header, "the level line must read 'Level — CODE — Name' with em dashes")
        else:
            code, name = match["code"], match["name"]
            role_level = values.get("code", "").rpartition(".")[2]
            if not LEVEL_CODE_RE.match(code):
                self.error(header, f"invalid level code {code[:20]!r}: a capital letter and a number, e.g. P1")
            elif role_level and code != role_level:
                self.error(header, f"the level {code} does not match the role code's level {role_level}")
            if not name.strip() or len(name) > MAX["level_name"]:
                self.error(header, f"the level name must be 1 to {MAX['level_name']} characters")
        summary = body[0][1] if body else ""
        if not body:
            self.error(header, "the level line needs its one-line description on the next line")
        elif len(summary) > MAX["level_summary"]:
            self.error(body[0][0], f"the level description is longer than {MAX['level_summary']} characters")
        pairs = body[1:]
        attributes: dict[str, str] = {}
        for index, (attr, label) in enumerate(Level.ATTRIBUTES):
            if 2 * index + 1 >= len(pairs):
                number = pairs[-1][0] if pairs else header + 1
                self.error(number, f'the level is missing its "{label}" attribute')
                break
            (name_line, name_text), (value_line, value_text) = pairs[2 * index], pairs[2 * index + 1]
            if name_text != f"- {label}":
                self.error(name_line, f'expected the level attribute "- {label}"')
                continue
            if not (value_text.startswith("- ") or value_text == "-"):
                self.error(value_line, f'expected "- value" for the level attribute "{label}"')
                continue
            attributes[attr] = value_text[2:]
        else:
            for number, text in pairs[2 * len(Level.ATTRIBUTES) :]:
                self.error(number, f"unknown section or unexpected line {text[:60]!r} in the level block")
        if len(attributes.get("typical_experience", "")) > MAX["typical_experience"]:
            self.error(header, f"typical experience is longer than {MAX['typical_experience']} characters")
        values["level"] = LevelData(code=code, name=name, summary=summary, attributes=attributes, line=header)

    # Fixed texts ---------------------------------------------------------------------

    def _core(self, header, body, values) -> None:
        if [t for _, t in body] == [NO_CORE_OUTPUTS]:
            values["core_outputs"] = []
            return
        if not body:
            self.error(header, f'"{CORE}" needs its items or "{NO_CORE_OUTPUTS}"')
        values["core_outputs"] = [text for _, text in self._bullets(body)]
        if any(not text.strip() for text in values["core_outputs"]):
            self.error(header, "a core output cannot be empty")

    def _adjacent(self, header, body, values) -> None:
        # Web-page chrome: any one line is accepted; nothing of it is stored.
        if len(body) != 1:
            number = body[1][0] if len(body) > 1 else header
            self.error(number, f'"{ADJACENT}" is followed by exactly one explanatory line')

    # Components ----------------------------------------------------------------------

    def _components(self, header, body, values) -> None:
        components: list[ComponentData] = []
        expected = list(KIND_LABELS.items())
        label_to_kind = {label: kind for kind, label in KIND_LABELS.items()}
        groups: list[tuple[int, str, int, list[tuple[int, str]]]] = []
        for number, text in body:
            if text.startswith("- ") or text == "-":
                if not groups:
                    self.error(number, "a component item comes before any component section")
                    continue
                groups[-1][3].append((number, text[2:]))
                continue
            match = SECTION_HEADER_RE.match(text)
            if not match or match["label"] not in label_to_kind:
                self.error(number, f'unknown section {text[:60]!r} under "Components"')
                continue
            groups.append((number, label_to_kind[match["label"]], int(match["count"]), []))
        kinds_seen = [kind for _, kind, _, _ in groups]
        missing = [kind for kind, _ in expected if kind not in kinds_seen]
        last = groups[-1][3][-1][0] if groups and groups[-1][3] else (groups[-1][0] if groups else header)
        for kind in missing:
            self.error(last, f'the components section "{KIND_LABELS[kind]}" is missing')
        for index, (number, kind, _, _) in enumerate(groups):
            if kind in kinds_seen[:index]:
                self.error(number, f'the components section "{KIND_LABELS[kind]}" appears twice')
        if not missing and len(set(kinds_seen)) == len(kinds_seen) and kinds_seen != [k for k, _ in expected]:
            self.error(groups[0][0], "the component sections are out of order: " + ", ".join(KIND_LABELS.values()))
        for number, kind, count, items in groups:
            if count != len(items):
                self.error(number, f'"{KIND_LABELS[kind]}" says {count} items but lists {len(items)}')
            seen: dict[str, int] = {}
            for item_line, text in items:
                component = self._component(item_line, kind, text)
                if component is None:
                    continue
                if component.text in seen:
                    self.error(
                        item_line, f"duplicate {kind} {component.text[:60]!r} (also on line {seen[component.text]})"
                    )
                    continue
                seen[component.text] = item_line
                components.append(component)
        values["components"] = components

    def _component(self, number: int, kind: str, text: str) -> ComponentData | None:
        scope = next((tag for tag in SCOPE_TAGS if text.endswith(tag)), None)
        if scope is None:
            self.error(number, f"the item must end with a scope tag ({', '.join(SCOPE_TAGS)})")
            return None
        rest = text[: -len(scope)]
        prevalence = next((tag for tag in PREVALENCE_TAGS if rest.endswith(tag)), None)
        if prevalence is None:
            self.error(
                number, f"the item must end with a prevalence tag ({', '.join(PREVALENCE_TAGS)}) and a scope tag"
            )
            return None
        item = rest[: -len(prevalence)]
        if not item.strip():
            self.error(number, "a component item needs a text before its tags")
            return None
        return ComponentData(kind=kind, text=item, prevalence=prevalence, scope=scope, line=number)

    # Title aliases -------------------------------------------------------------------

    def _aliases(self, header, body, values) -> None:
        aliases: list[AliasData] = []
        if len(body) < 2 or body[0][1] != ALIAS_HEADER or body[1][1] != ALIAS_RULE:
            number = body[0][0] if body else header
            self.error(number, f"the title aliases table must start with {ALIAS_HEADER!r} and {ALIAS_RULE!r}")
            rows = [(n, t) for n, t in body if t not in (ALIAS_HEADER, ALIAS_RULE)]
        else:
            rows = body[2:]
        seen: dict[str, int] = {}
        for number, text in rows:
            alias = self._alias(number, text)
            if alias is None:
                continue
            key = " ".join(alias.alias.split()).lower()
            if key in seen:
                self.error(
                    number, f"duplicate alias {alias.alias!r} (also on line {seen[key]}; case and spaces are ignored)"
                )
                continue
            seen[key] = number
            aliases.append(alias)
        values["aliases"] = aliases

    def _alias(self, number: int, text: str) -> AliasData | None:
        if not (text.startswith("| ") and text.endswith(" |")):
            self.error(number, f"unknown section or unexpected line {text[:60]!r}: expected a table row '| … |'")
            return None
        cells = text[2:-2].split(" | ")
        if len(cells) != 4:
            self.error(number, f"an alias row has 4 columns (Alias | Type | Confidence | Approved), not {len(cells)}")
            return None
        alias, alias_type, confidence_text, approved = (cell.strip() for cell in cells)
        problems_before = len(self.problems)
        if not alias or len(alias) > MAX["alias"] or alias != " ".join(alias.split()):
            self.error(number, f"the alias must be 1 to {MAX['alias']} characters without extra spaces")
        if alias_type not in TitleAlias.AliasType.values:
            self.error(number, f"unknown alias type {alias_type[:30]!r}: use {', '.join(TitleAlias.AliasType.values)}")
        confidence = self._confidence(number, confidence_text)
        approved_on = None
        if approved != NOT_APPROVED:
            try:
                if not DATE_RE.match(approved):
                    raise ValueError
                approved_on = date.fromisoformat(approved)
            except ValueError:
                self.error(
                    number, f"the Approved column is '{NOT_APPROVED}' or a date YYYY-MM-DD, not {approved[:30]!r}"
                )
        if len(self.problems) > problems_before or confidence is None:
            return None
        return AliasData(
            alias=alias, alias_type=alias_type, confidence=confidence, approved_on=approved_on, line=number
        )

    def _confidence(self, number: int, text: str) -> Decimal | None:
        match = CONFIDENCE_RE.match(text)
        if not match:
            self.error(number, f"the confidence must be a band and a score, e.g. medium0.70, not {text[:30]!r}")
            return None
        try:
            score = Decimal(match["score"])
        except InvalidOperation:  # pragma: no cover - the pattern admits only numbers
            self.error(number, f"invalid confidence score {match['score']!r}")
            return None
        if not Decimal("0") <= score <= Decimal("1"):
            self.error(number, f"confidence {match['score']} is out of range: use 0.00 to 1.00")
            return None
        if score != score.quantize(Decimal("0.01")):
            self.error(number, f"confidence {match['score']} has more than two decimals")
            return None
        score = score.quantize(Decimal("0.01"))
        band = confidence_band(score)
        if match["band"] != band:
            self.error(number, f"confidence {score} is in the band {band!r}, not {match['band'][:20]!r}")
            return None
        return score

    # Classification mappings ---------------------------------------------------------

    def _mappings(self, header, body, values) -> None:
        mappings: list[MappingData] = []
        scheme = None
        seen: dict[tuple[str, str], int] = {}
        for number, text in body:
            if text in SCHEME_LABELS:
                scheme = SCHEME_LABELS[text]
                continue
            if not text.startswith("- "):
                self.error(number, f'unknown section or unexpected line {text[:60]!r} under "Classification mappings"')
                continue
            if scheme is None:
                self.error(number, f"a mapping needs its scheme line first ({', '.join(SCHEME_LABELS)})")
                continue
            mapping = self._mapping(number, text[2:], scheme)
            if mapping is None:
                continue
            key = (mapping.scheme, mapping.code)
            if key in seen:
                self.error(number, f"duplicate mapping code {mapping.code} (also on line {seen[key]})")
                continue
            seen[key] = number
            mappings.append(mapping)
        if scheme is None and not any(p.line > header for p in self.problems):
            self.error(header, f"truncated card: the scheme line ({', '.join(SCHEME_LABELS)}) is missing")
        values["mappings"] = mappings

    def _mapping(self, number: int, text: str, scheme: str) -> MappingData | None:
        # Split from the right on the known keys: a title may contain words like "source".
        head, sep, status = text.rpartition("reviewStatus=")
        if not sep:
            self.error(number, "a mapping reads code=…title=…source=…reviewStatus=…: reviewStatus= is missing")
            return None
        head, sep, source = head.rpartition("source=")
        if not sep:
            self.error(number, "a mapping reads code=…title=…source=…reviewStatus=…: source= is missing")
            return None
        if not head.startswith("code=") or "title=" not in head:
            self.error(number, "a mapping reads code=…title=…source=…reviewStatus=…: code= or title= is missing")
            return None
        code, _, title = head[len("code=") :].partition("title=")
        before = len(self.problems)
        if not re.fullmatch(ClassificationMapping.CODE_RE, code):
            self.error(number, f"malformed SOC code {code[:20]!r}: use NN-NNNN (SOC 2018) or NN-NNNN.NN (O*NET-SOC)")
        if len(title) > MAX["mapping_title"]:
            self.error(number, f"the mapping title is longer than {MAX['mapping_title']} characters")
        if source not in ClassificationMapping.Source.values:
            self.error(
                number, f"unknown mapping source {source[:40]!r}: use {', '.join(ClassificationMapping.Source.values)}"
            )
        if status not in MAPPING_STATUSES:
            self.error(number, f"unknown reviewStatus {status[:30]!r}: use {', '.join(MAPPING_STATUSES)}")
        if len(self.problems) > before:
            return None
        return MappingData(code=code, title=title, source=source, status=status, scheme=scheme, line=number)


def _label(name: str) -> str:
    return name.removesuffix("show ▾")
