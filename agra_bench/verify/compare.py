"""Our env against the source loop, episode by episode: which parts of what a policy sees are
identical, and by how much the others differ.

Parts, per task and init state k (the source's episode k):
  fixtures   every body's position and orientation in the model (fixtures are the ones a
             hard reset samples; comparing all bodies also catches anything else)
  state      the simulator state (time, qpos, qvel) after the settle steps
  images     both cameras of the first observation
  proprio    our `proprio` against eef position, axis-angle, gripper qpos of the source's
  rollout    state, images and proprio after each of `steps` fixed actions
  request    our openpi request against the example's element dict (openpi-client's own image
             tools, in .venv-openpi), for the first observation and every rollout step
Our env visits the episodes in reverse order, so that a scene depending on what ran before
(order, worker, resume) shows up as a difference.

Against LIBERO's loop (metric.py) and lerobot's, fixtures are not compared: LIBERO's never seeds
its envs, and lerobot's placements follow each sub-env's history, so neither is reproducible by
anyone; they are given ours (reference_loop.py), and everything downstream is compared. They
send no openpi request either. Such parts are `n/a`
(`identical` None) and do not count.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from agra_bench.envs.settings import EnvSettings
from agra_bench.scenes.rules import body_poses
from agra_bench.verify.job import VerifyJob, source_loop
from agra_bench.verify.reference_loop import fixed_actions

OPENPI_PYTHON = Path(__file__).resolve().parents[2] / ".venv-openpi" / "bin" / "python"
REQUEST_SCRIPT = Path(__file__).with_name("openpi_request.py")
NO_OPENPI_CLIENT = f"not checked: no openpi-client at {OPENPI_PYTHON} (./scripts/install.sh makes it)"
PARTS = ("fixtures", "state", "images", "proprio", "rollout", "request")


@dataclass(frozen=True)
class Check:
    task_id: int
    episode: int
    part: str
    identical: bool | None  # None: not compared against this source (see `detail`)
    detail: str  # "" when identical; else what differs, by how much, or why not compared


NOT_COMPARED = {
    "libero": {
        "fixtures": "n/a: LIBERO's metric.py never seeds its envs, so its fixture placements are not "
        "reproducible; its loop was given ours",
        "request": "n/a: LIBERO's loop sends no openpi request",
    },
    "lerobot": {
        "fixtures": "n/a: a lerobot sub-env's fixtures follow its history (earlier resets, an unseeded "
        "reset after each success), not the episode alone; its loop was given ours",
        "request": "n/a: lerobot's loop sends no openpi request",
    },
}


def difference(ours: np.ndarray, theirs: np.ndarray) -> str:
    """'' if bit-identical (same shape and dtype kind); else a short description."""
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    if ours.shape != theirs.shape:
        return f"shape {ours.shape} vs {theirs.shape}"
    if ours.dtype.kind in "US" or theirs.dtype.kind in "US":
        return "" if str(ours) == str(theirs) else f"{str(ours)!r} vs {str(theirs)!r}"
    if ours.dtype != theirs.dtype:
        return f"dtype {ours.dtype} vs {theirs.dtype}"
    if np.array_equal(ours, theirs):
        return ""
    delta = np.abs(ours.astype(np.float64) - theirs.astype(np.float64))
    if ours.dtype == np.uint8:
        return f"{np.mean(delta > 10):.1%} of pixels by more than 10 levels (max {delta.max():.0f})"
    return f"max |difference| {delta.max():.3g}"


def reference_records(
    job: VerifyJob, loop: str, task_id: int, ours: dict, folder: Path
) -> tuple[dict, dict | None]:
    """The source loop's records (reference_loop.py, own process) and, for openpi's loop when
    .venv-openpi exists, the example's requests built from them (openpi_request.py)."""
    request = {"loop": loop, "suite": job.suite, "task_id": task_id, "episodes": job.episode_ids,
               "steps": job.steps, "image_size": job.image_size, "action_seed": job.action_seed,
               "fixtures": ours["fixtures"]}  # fmt: skip
    if job.reference_seed is not None:
        request["seed"] = job.reference_seed
    request_file, loop_file = folder / f"request_{task_id}.json", folder / f"reference_{task_id}.npz"
    request_file.write_text(json.dumps(request))
    command = [sys.executable, "-m", "agra_bench.verify.reference_loop", str(request_file), str(loop_file)]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    reference = dict(np.load(loop_file, allow_pickle=False))
    if loop != "openpi" or not OPENPI_PYTHON.exists():
        return reference, None
    requests_file = folder / f"openpi_request_{task_id}.npz"
    subprocess.run([str(OPENPI_PYTHON), str(REQUEST_SCRIPT), str(loop_file), str(requests_file)], check=True)
    return reference, dict(np.load(requests_file, allow_pickle=False))


def our_records(job: VerifyJob, env_settings: EnvSettings, task_id: int) -> dict:
    """The same records from our env, episodes visited in reverse order."""
    from agra_bench.serving.openpi_obs import to_request

    env = env_settings.make(job.suite, task_id)
    records: dict = {"fixtures": {}}

    def record(prefix: str, obs: dict) -> None:
        records[f"{prefix}/state"] = env.flat_state()
        records[f"{prefix}/agentview"] = obs["agentview_rgb"]
        records[f"{prefix}/wrist"] = obs["wrist_rgb"]
        records[f"{prefix}/proprio"] = obs["proprio"]
        request = to_request({key: [value] for key, value in obs.items()}, 0, 224)
        for key, name in (("observation/image", "image"), ("observation/wrist_image", "wrist_image"),
                          ("observation/state", "state_request"), ("prompt", "prompt")):  # fmt: skip
            records[f"{prefix}/{name}"] = request[key]

    try:
        for k in reversed(job.episode_ids):
            obs, _ = env.reset(seed=k, options={"init_state_id": k})
            model = env.sim.model
            records[f"e{k}/s0/body_pos"] = np.array(model.body_pos)
            records[f"e{k}/s0/body_quat"] = np.array(model.body_quat)
            bodies = [env.scene_objects()[name] for name in sorted(env.fixture_names())]
            records["fixtures"][str(k)] = {b: p.tolist() for b, p in body_poses(env.sim, bodies).items()}
            record(f"e{k}/s0", obs)
            for i, action in enumerate(fixed_actions(job.action_seed, job.steps), start=1):
                obs, *_ = env.step(action)  # every camera stays wanted (the default render keys)
                record(f"e{k}/s{i}", obs)
    finally:
        env.close()
    return records


def source_proprio(reference: dict, prefix: str) -> np.ndarray:
    from robosuite.utils.transform_utils import quat2axisangle

    return np.concatenate([reference[f"{prefix}/robot0_eef_pos"],
                           quat2axisangle(np.array(reference[f"{prefix}/robot0_eef_quat"])),
                           reference[f"{prefix}/robot0_gripper_qpos"]])  # fmt: skip


def compare_task(
    job: VerifyJob, loop: str, task_id: int, ours: dict, reference: dict, requests: dict | None
) -> list[Check]:
    checks = []
    for k in job.episode_ids:
        found: dict[str, list[str]] = {part: [] for part in PARTS}
        s0 = f"e{k}/s0"
        for name in ("body_pos", "body_quat"):
            found["fixtures"].append(_named(name, ours[f"{s0}/{name}"], reference[f"{s0}/{name}"]))
        for i in range(job.steps + 1):
            prefix = f"e{k}/s{i}"
            part = "rollout" if i else None
            found[part or "state"].append(
                _named(f"step {i} state", ours[f"{prefix}/state"], reference[f"{prefix}/state"])
            )
            for image in ("agentview", "wrist"):
                found[part or "images"].append(
                    _named(f"step {i} {image}", ours[f"{prefix}/{image}"], reference[f"{prefix}/{image}"])
                )
            found[part or "proprio"].append(
                _named(f"step {i} proprio", ours[f"{prefix}/proprio"], source_proprio(reference, prefix))
            )
            if requests is not None:
                for name, theirs in (("image", "image"), ("wrist_image", "wrist_image"),
                                     ("state_request", "state"), ("prompt", "prompt")):  # fmt: skip
                    found["request"].append(
                        _named(f"step {i} {theirs}", ours[f"{prefix}/{name}"], requests[f"{prefix}/{theirs}"])
                    )
        for part in PARTS:
            if part == "rollout" and job.steps == 0:
                continue
            if part in NOT_COMPARED.get(loop, {}):
                checks.append(Check(task_id, k, part, None, NOT_COMPARED[loop][part]))
                continue
            if part == "request" and requests is None:
                checks.append(Check(task_id, k, part, False, NO_OPENPI_CLIENT))
                continue
            problems = [p for p in found[part] if p]
            checks.append(Check(task_id, k, part, not problems, "; ".join(problems[:2])))
    return checks


def _named(name: str, ours, theirs) -> str:
    text = difference(ours, theirs)
    return f"{name}: {text}" if text else ""


def verify(job: VerifyJob, env_settings: EnvSettings) -> list[Check]:
    """Every check of every task and episode of `job`, against the source loop of its protocol."""
    loop, _ = source_loop(env_settings.protocol)
    checks: list[Check] = []
    with tempfile.TemporaryDirectory(prefix="agra-verify-") as folder:
        for task_id in job.task_ids:
            ours = our_records(job, env_settings, task_id)
            reference, requests = reference_records(job, loop, task_id, ours, Path(folder))
            checks += compare_task(job, loop, task_id, ours, reference, requests)
    return checks


def passed(checks: list[Check]) -> bool:
    """Every compared part identical (parts a source cannot be compared on do not count)."""
    compared = [c.identical for c in checks if c.identical is not None]
    return bool(compared) and all(compared)
