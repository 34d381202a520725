"""Deployment values from the environment: required ones stop the process with one clear line.

Settings modules call `required()` for the values production cannot guess. A missing or empty
one prints "Rolebook: set NAME (…)" on stderr and exits with status 2, before Django has
loaded anything, so `manage.py`, gunicorn and `make serve` all end the same way: no traceback.
`load_dotenv_file()` reads a `.env` file (never committed) for `make serve`; the environment
wins over the file.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# What `make serve` cannot start without (framework.serve checks them all before anything runs).
SERVE_REQUIRED = {
    "DATABASE_URL": "the database, e.g. postgres://rolebook@db.example.org:5432/rolebook",
    "DJANGO_SECRET_KEY": "a long random string: python3 -c 'import secrets; print(secrets.token_urlsafe(50))'",
    "DJANGO_ALLOWED_HOSTS": "the host names the site answers to, comma-separated, e.g. rolebook.example.org",
}

EXIT_MISSING = 2
# The mark of .env.example's values: a copied but unedited file would publish its secret key.
PLACEHOLDER = "CHANGE-ME"


def is_placeholder(name: str) -> bool:
    """Whether `name` still holds a value of .env.example (which is public, in the repository)."""
    return PLACEHOLDER in os.environ.get(name, "")


def missing_line(name: str) -> str:
    """The one line printed for a missing, empty or placeholder variable `name`."""
    hint = SERVE_REQUIRED.get(name)
    hint = f" ({hint})." if hint else "."
    where = "in the environment or in .env"
    if is_placeholder(name):
        return f"Rolebook: {name} is still the placeholder from .env.example; set it {where}{hint}"
    return f"Rolebook: set {name} {where}{hint}"


def exit_missing(names: list[str]) -> None:
    """Print one line per missing variable and exit with status 2 (no traceback)."""
    for name in names:
        print(missing_line(name), file=sys.stderr)
    raise SystemExit(EXIT_MISSING)


def missing(names) -> list[str]:
    """Return the variables among `names` that are unset, blank or still .env.example's placeholder."""
    return [name for name in names if not os.environ.get(name, "").strip() or is_placeholder(name)]


def required(name: str) -> str:
    """Return the stripped value of `name`; exits with status 2 and one line if unset, blank or a placeholder."""
    if missing([name]):
        exit_missing([name])
    return os.environ[name].strip()


def share(name: str, default: str) -> float:
    """Return `name` as a share from 0 to 1 (e.g. 0.05); exits with status 2 and one line otherwise."""
    text = os.environ.get(name, default).strip()
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        print(f"Rolebook: {name}={text!r} is not a share from 0 to 1 (e.g. 0.05 for 5 %).", file=sys.stderr)
        raise SystemExit(EXIT_MISSING)
    return value


def choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    """Return `name`, one of `choices` (case ignored); exits with status 2 and one line otherwise."""
    text = os.environ.get(name, default).strip().lower()
    if text not in choices:
        print(f"Rolebook: {name}={text!r} is not one of {', '.join(choices)}.", file=sys.stderr)
        raise SystemExit(EXIT_MISSING)
    return text


def load_dotenv_file(path: Path) -> bool:
    """Read `path` (a .env file) into the environment without overriding set variables.

    Returns whether the file existed. python-dotenv parses it (quotes, comments, `export`).
    """
    if not path.is_file():
        return False
    from dotenv import load_dotenv

    load_dotenv(path, override=False)
    return True
