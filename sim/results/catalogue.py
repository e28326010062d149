"""The KPI catalogue: how a KPI, a facility or a label is named in the tables.

One place for the naming rules every table, the CLI, ``compare`` and the brief share.
"""

from __future__ import annotations

import re


def slug(label: str) -> str:
    """A facility or label as a column-name fragment: lower case, other characters as '_'."""
    s = re.sub(r"[^0-9a-z]+", "_", str(label).strip().lower()).strip("_")
    return s or "unnamed"
