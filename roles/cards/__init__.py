"""Published role cards: parse them, import them, and render roles back in the same format."""

from .importer import CardPlan, CardSource, ImportResult, import_cards, plan_card
from .parser import CardData, CardSyntaxError, Problem, parse_card
from .renderer import format_card, render_card

__all__ = [
    "CardData",
    "CardPlan",
    "CardSource",
    "CardSyntaxError",
    "ImportResult",
    "Problem",
    "format_card",
    "import_cards",
    "parse_card",
    "plan_card",
    "render_card",
]
