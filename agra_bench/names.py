"""File names made from labels that users choose: policy names (`openpi://host:8000?x=y`,
`pkg.mod:Class`), checkpoint labels (`agra@agra-libero_object-s0`), perturbation specs.

A label may hold any character and any length; a file name on every filesystem we meet may
not hold `/ : ? @ * | \\ < > "` or spaces, nor exceed ~255 bytes. `slug` keeps letters, digits
and `_ . -`, turns every other run of characters into `-`, and, when it changed or shortened
anything, appends a short hash of the whole label, so that two labels that differ only in
those characters still get two files. The label itself stays as it was wherever it is shown.
"""

from __future__ import annotations

import hashlib
import re

MAX_SLUG = 80  # characters before the hash: room for a prefix and a suffix in one file name
UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def slug(label: str) -> str:
    cleaned = UNSAFE.sub("-", label).strip("-.")
    if cleaned == label and len(label) <= MAX_SLUG:
        return label
    digest = hashlib.sha1(label.encode()).hexdigest()[:8]
    return f"{cleaned[:MAX_SLUG].rstrip('-.')}-{digest}".lstrip("-")
