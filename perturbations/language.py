"""`language`: paraphrase the instruction the policy receives (the task itself is unchanged).

Paraphrases come from two disjoint pools of templates and verb synonyms: ID for training-time
augmentation, OOD held out. Severity s applies up to s rewrite rules: a framing template (s≥1),
verb synonyms (s≥2), object-phrase rewrites (s≥3), polite filler (s≥4), clause reordering (s=5).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from perturbations.base import Perturbation
from perturbations.registry import register_family

TEMPLATES = {
    "id": ["{}", "please {}", "{}, please", "your task: {}", "now {}"],
    "ood": ["could you {}?", "i need you to {}", "go ahead and {}", "the goal is to {}", "{}. thanks"],
}
VERBS = {
    "id": {
        "pick up": "grab",
        "put": "place",
        "place": "put",
        "open": "pull open",
        "close": "shut",
        "turn on": "switch on",
        "push": "shove",
    },
    "ood": {
        "pick up": "take",
        "put": "set",
        "place": "set",
        "open": "swing open",
        "close": "push closed",
        "turn on": "activate",
        "push": "nudge",
    },
}
OBJECT_PHRASES = {"id": ("the ", "this "), "ood": ("the ", "that ")}
FILLERS = {"id": ["carefully", "gently"], "ood": ["slowly", "steadily"]}


def swap_verbs(text: str, synonyms: dict[str, str]) -> tuple[str, list[str]]:
    """Replace every verb in one pass, so that put->place and place->put do not undo each other."""
    pattern = re.compile(
        r"\b(" + "|".join(re.escape(v) for v in sorted(synonyms, key=len, reverse=True)) + r")\b"
    )
    used = sorted({m.group(1) for m in pattern.finditer(text)})
    return pattern.sub(lambda m: synonyms[m.group(1)], text), [f"verb:{v}->{synonyms[v]}" for v in used]


def paraphrase(
    instruction: str, split: str, severity: int, rng: np.random.Generator
) -> tuple[str, list[str]]:
    """Rewrite `instruction` with up to `severity` rules from the split's pool."""
    text = instruction.strip().lower()
    rules = []
    if severity >= 2:
        text, used = swap_verbs(text, VERBS[split])
        rules += used
    if severity >= 3:
        old, new = OBJECT_PHRASES[split]
        if old in text:
            text = text.replace(old, new, 1)
            rules.append(f"object:{old.strip()}->{new.strip()}")
    if severity >= 4:
        filler = str(rng.choice(FILLERS[split]))
        text = f"{text} {filler}"
        rules.append(f"filler:{filler}")
    if severity >= 5 and " and " in text:
        first, second = text.split(" and ", 1)
        verbs = set(VERBS[split].values()) | set(VERBS[split])
        if any(second.startswith(f"{verb} ") for verb in verbs):  # two clauses, not "x and y"
            text = f"{second}, after you {first}" if rng.random() < 0.5 else f"first {first}, then {second}"
            rules.append("reorder")
    template = str(rng.choice(TEMPLATES[split]))
    rules.insert(0, f"template:{template}")
    return template.format(text), rules


@register_family
class Language(Perturbation):
    family = "language"
    description = "instruction paraphrases (templates, verb synonyms, fillers, reordering)"

    @classmethod
    def ranges(cls, severity: int) -> dict[str, Any]:
        names = ["template", "verb synonyms", "object phrase", "filler", "clause reorder"]
        return {"rules": names[:severity]}

    @classmethod
    def pools(cls) -> dict[str, list[str]]:
        return {
            split: TEMPLATES[split] + [f"{k}->{v}" for k, v in VERBS[split].items()] + FILLERS[split]
            for split in ("id", "ood")
        }

    def apply(self, env: Any, rng: np.random.Generator, applied: Mapping[str, Any]) -> dict[str, Any]:
        instruction, rules = paraphrase(env.task.instruction, self.split, self.severity, rng)
        return {"instruction": instruction, "rules": rules}

    def transform_observation(
        self, obs: dict[str, Any], rng: np.random.Generator, step: int, applied: Mapping[str, Any]
    ) -> dict[str, Any]:
        return {**obs, "instruction": applied["instruction"]} if "instruction" in applied else obs
