"""`texture`: swap the floor, wall and table textures, and at high severity the textures of
task-irrelevant objects, for textures from LIBERO's texture library.

Edits the scene XML before it is compiled (texture files are loaded at compile time).
Severity adds surfaces, then task-irrelevant objects (SURFACES_BY_SEVERITY,
OBJECTS_BY_SEVERITY; the wall first, as the third-person camera sees the wall but little floor).
The 35 library textures are split into disjoint ID and OOD
pools by a salted hash, so OOD textures never appear in ID data.
"""

from __future__ import annotations

import struct
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from perturbations.base import Perturbation
from perturbations.registry import register_family
from perturbations.scene import split_pool

# texture element names in LIBERO scenes (robosuite arenas use texplane / tex-wall / tex-ceramic)
SURFACES = {"floor": ("texplane",), "wall": ("tex-wall",), "table": ("tex-table", "tex-ceramic")}
SURFACES_BY_SEVERITY = {
    1: ["wall"],
    2: ["wall", "floor"],
    3: ["wall", "floor", "table"],
    4: ["wall", "floor", "table"],
    5: ["wall", "floor", "table"],
}
OBJECTS_BY_SEVERITY = {4: "one", 5: "all"}  # task-irrelevant objects retextured


@cache
def library() -> dict[str, str]:
    """Texture name -> PNG path, from LIBERO's packaged texture folder."""
    from libero.libero import get_libero_path

    folder = Path(get_libero_path("assets")) / "textures"
    return {p.stem: str(p) for p in sorted(folder.glob("*.png"))}


@cache
def png_size(path: str) -> tuple[int, int]:
    """(width, height) from the PNG header (IHDR: bytes 16-24, big-endian)."""
    with open(path, "rb") as file:
        header = file.read(24)
    return struct.unpack(">II", header[16:24])


def set_texture_file(element: Any, path: str) -> None:
    """Point a <texture> at a library PNG. A cube texture given one file needs square faces
    (MuJoCo refuses to compile otherwise: robosuite's table is `tex-ceramic`, type cube, and
    the library's table_light_wood.png is 509x339), so a non-square PNG goes on as 2D."""
    element.set("file", path)
    width, height = png_size(path)
    if element.get("type") == "cube" and width != height:
        element.set("type", "2d")


@register_family
class Texture(Perturbation):
    family = "texture"
    description = "floor/wall/table textures swapped; task-irrelevant objects too at severity 4-5"

    @classmethod
    def ranges(cls, severity: int) -> dict[str, Any]:
        objects = OBJECTS_BY_SEVERITY.get(severity)
        shown = f"{objects} irrelevant" if objects else "none"
        return {"surfaces": SURFACES_BY_SEVERITY[severity], "objects": shown}

    @classmethod
    def pools(cls) -> dict[str, list[str]]:
        return split_pool(list(library()), "texture")

    def edit_xml(self, root: Any, rng: np.random.Generator, env: Any) -> dict[str, Any]:
        textures = {t.get("name"): t for t in root.iter("texture") if t.get("name")}
        paths = library()
        applied: dict[str, Any] = {}
        for surface in SURFACES_BY_SEVERITY[self.severity]:
            for name in SURFACES[surface]:
                if name in textures and textures[name].get("file"):
                    choice = str(rng.choice(self.pool()))
                    set_texture_file(textures[name], paths[choice])
                    applied[surface] = choice
                    if surface == "table":  # LIBERO's table legs share the table texture
                        legs = textures.get("tex-table-legs")
                        if legs is not None:
                            legs.set("file", paths[choice])
                    break
        if self.severity in OBJECTS_BY_SEVERITY:
            irrelevant = env.irrelevant_objects()
            if OBJECTS_BY_SEVERITY[self.severity] == "one" and irrelevant:
                irrelevant = [irrelevant[int(rng.integers(len(irrelevant)))]]
            objects = {}
            for obj in irrelevant:
                choice = str(rng.choice(self.pool()))
                for name, element in textures.items():
                    if name.startswith(f"{obj}_") and element.get("file"):
                        set_texture_file(element, paths[choice])
                        objects[obj] = choice
            applied["objects"] = objects
        return applied
