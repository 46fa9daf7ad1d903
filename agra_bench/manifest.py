"""The run manifest: everything needed to know what produced a results table."""

from __future__ import annotations

import json
import platform
import sys
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from agra_bench import SCHEMA_VERSION, __version__
from agra_bench.config import RunConfig
from agra_bench.envs.base import CAMERAS, IMAGE_CONVENTION
from agra_bench.envs.physics import get_physics
from agra_bench.envs.rendering import get_render_quality
from agra_bench.protocol import get_protocol
from agra_bench.records import MANIFEST_FILE, atomic_write_json
from agra_bench.versions import git_sha, machine_info, package_versions


def build_manifest(config: RunConfig, policy_info: dict[str, Any]) -> dict[str, Any]:
    quality = get_render_quality(config.env.render_quality)
    return {
        "run_id": config.run_id(),
        "schema_version": SCHEMA_VERSION,
        "agra_bench_version": __version__,
        "config": config.to_dict(),
        "identity": config.identity(),
        "policy": policy_info,
        "protocol": get_protocol(config.env.protocol).to_dict(),
        "scene": scene_provenance(config),
        "step_cap": config.step_cap(),
        "image_convention": IMAGE_CONVENTION,
        "cameras": CAMERAS,
        "env": asdict(config.env_settings()),  # every env option, new ones included
        "image_size": config.env.image_size,
        "render_quality": {
            "name": quality.name,
            "msaa_samples": quality.msaa_samples,
            "fit_buffer": quality.fit_buffer,
            "shadows": quality.shadows,
            "reflections": quality.reflections,
        },
        # how control steps advanced the simulator; fast and stock give the same states
        "physics": {"name": config.env.physics, "description": get_physics(config.env.physics).description},
        "versions": package_versions(),
        "git_sha": git_sha(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "command": sys.argv,
    }


def scene_provenance(config: RunConfig) -> dict[str, Any]:
    """The scene rule and, for a fixture table, how that table was made (its source loop,
    generator, package versions): a LIBERO run's fixtures come from it."""
    from agra_bench.scenes.rules import get_scene_rule
    from agra_bench.scenes.tables import provenance
    from agra_bench.suites import LIBERO_SUITES

    rule = get_scene_rule(get_protocol(config.env.protocol).scene)
    found: dict[str, Any] = {"rule": rule.name, "description": rule.description}
    if rule.table is not None and config.suite in LIBERO_SUITES:
        found["fixture_table"] = provenance(rule.table, config.suite)
    return found


def write_manifest(run_dir: Path, manifest: dict[str, Any], new_session: bool = True) -> None:
    """Write the manifest; on resume keep the first start time and list every session, each
    with its machine and the policy's inference precision (a resume can run elsewhere).

    `new_session=False` (a resumed run with no episode left to run) leaves an existing manifest
    as it is: a session is a call that ran episodes, and re-running a finished grid to skip its
    runs must not rewrite the git SHA and platform of committed results."""
    path = run_dir / MANIFEST_FILE
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    sessions = []
    if path.exists():
        previous = json.loads(path.read_text())
        if previous.get("identity") != manifest["identity"]:
            raise RuntimeError(f"{path} belongs to a different configuration")
        if not new_session:
            return
        sessions = previous.get("sessions", [])
    sessions.append(
        {
            "started": now,
            "git_sha": manifest["git_sha"],
            "versions": manifest["versions"],
            "machine": machine_info(),
            "precision": (manifest.get("policy") or {}).get("precision"),  # inference, where it has one
        }
    )
    atomic_write_json(path, {**manifest, "sessions": sessions})
