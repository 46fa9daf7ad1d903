"""`agra-bench diagnose`'s rollouts: the metrics of every policy call (attention on the task
region, its centroid error, token interventions) along closed-loop episodes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from agra_bench.diagnostics.attention import (
    attention_in_region,
    centroid_error,
    record_cross_attention,
    region_on_grid,
    slot_maps,
)
from agra_bench.diagnostics.interventions import KINDS, action_change, edit_tokens, run_with_intervention
from agra_bench.diagnostics.job import DiagnoseJob, diagnosable_policy
from agra_bench.errors import UsageError, check_writable
from agra_bench.report.diagnostics import FILE, summarise
from agra_bench.rollout import PolicyCallError, checked_actions, policy_failed


def goal_region(env) -> np.ndarray:
    """Pixels (observation orientation) of the objects and fixtures named in the goal."""
    from perturbations.scene import object_segmentation

    named = {str(arg) for predicate in env.goal_predicates() for arg in predicate[1:]}
    objects = [o for o in env.scene_objects() if any(n == o or n.startswith(f"{o}_") for n in named)]
    seg, labels = object_segmentation(env)
    return np.isin(seg, [labels.index(o) for o in objects])


def _policy(job: DiagnoseJob):
    return diagnosable_policy(job.policy)(checkpoint=job.checkpoint)


def diagnose_call(
    policy, obs: dict, region: np.ndarray, layer: int, rng: np.random.Generator
) -> tuple[dict, np.ndarray]:
    """Metrics of one policy call; returns (row fields, the chunk the policy acts on, (Ta, 7))."""
    model, config = policy.model, policy.config
    grid = config.image_size // config.patch_size
    batch = {k: (v[None] if k != "instruction" else [v]) for k, v in obs.items()}
    with record_cross_attention(model) as store:
        try:
            chunks, inputs = policy.act_with_inputs(batch, [0])
        except Exception as exc:
            raise policy_failed(policy, exc) from exc
    chunk = checked_actions(policy, chunks, 1)[0]  # the checks of `run` (rollout.call_policy)
    maps = slot_maps(store, model.slots, grid)[0].numpy()
    slot = config.context_frames - 1  # the current agentview frame
    on_grid = region_on_grid(region, grid)
    row = {
        "region_tokens": int(on_grid.sum()),
        "attn_on_frame": float(maps[slot].sum()),
        "attn_in_region": attention_in_region(maps[slot], on_grid),
        "centroid_error": centroid_error(maps[slot], on_grid),
    }
    b = inputs.context.shape[0]
    tokens = model.video_tokens(
        inputs.context, inputs.noise_future, torch.ones(b), inputs.text, inputs.proprio
    )
    from policies.wam.denoise import denoise_actions

    def actions_for(hidden):
        return denoise_actions(model, hidden, inputs.action_noise, inputs.text, inputs.proprio, policy.levels)

    with torch.no_grad():
        clean = actions_for(model.run_video(tokens))
        relevant = np.flatnonzero(on_grid.ravel())
        background = np.flatnonzero(~on_grid.ravel())
        matched = rng.choice(background, size=min(len(relevant), len(background)), replace=False)
        for kind in KINDS:
            for name, chosen in (("relevant", relevant), ("background", matched)):
                hidden = run_with_intervention(
                    model, tokens, layer, lambda h, c=chosen, k=kind: edit_tokens(h, model, slot, c, k, rng)
                )
                row[f"{kind}_{name}"] = (
                    action_change(clean, actions_for(hidden)) if len(chosen) else float("nan")
                )
            row[f"{kind}_ratio"] = (
                row[f"{kind}_relevant"] / row[f"{kind}_background"]
                if row[f"{kind}_background"]
                else float("nan")
            )
    row["_map"] = maps[slot]
    return row, chunk


def run_diagnostics(job: DiagnoseJob, out: Path) -> pd.DataFrame:
    from agra_bench.diagnostics.plots import intervention_bars, save_overlay
    from agra_bench.plan import EpisodeKey, episode_seed, key_fields
    from agra_bench.records import atomic_write_bytes
    from agra_bench.rollout import EpisodeRun
    from perturbations.spec import parse_spec

    check_writable(out)
    policy = _policy(job)
    layer = job.layer if job.layer is not None else policy.config.layers[0]
    if not 0 <= layer < policy.config.depth:
        raise UsageError(f"bad --layer {layer}; valid: 0-{policy.config.depth - 1}")
    arms = parse_spec(job.perturb, job.severity, job.split, job.suite)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for task_id in job.task_ids:
        env = job.env.make(job.suite, task_id)
        for arm in arms:
            env.set_arm(arm)
            for episode in range(job.episodes):
                seed = episode_seed(job.seed, task_id, episode)
                init_state = episode % env.task.num_init_states
                key = EpisodeKey(
                    job.suite, task_id, episode, init_state, seed, arm.name, arm.severity, job.split
                )
                # the one episode driver; diagnostics make each policy call themselves
                run = EpisodeRun(env, key, policy_keys=None)
                policy.reset(0, seed)
                rng = np.random.default_rng([job.seed, task_id, episode])
                call = 0
                while not run.done:
                    obs = run.obs
                    region = goal_region(env)
                    fields = {
                        "policy": job.policy,
                        "checkpoint": job.checkpoint,
                        **key_fields(key),
                        "call": call,
                    }
                    try:
                        row, chunk = diagnose_call(policy, obs, region, layer, rng)
                    except PolicyCallError as exc:  # the episode ends with its error, the others go on
                        rows.append({**fields, "step": env.steps, "layer": layer, "error": str(exc)})
                        break
                    attention = row.pop("_map")
                    if call < job.overlays:
                        save_overlay(
                            out
                            / "overlays"
                            / f"{job.suite}_task{task_id:02d}_ep{episode:03d}_{arm.name}_call"
                            f"{call:03d}.png",
                            obs["agentview_rgb"],
                            attention,
                            region,
                        )
                    rows.append({**fields, "step": env.steps, "layer": layer, **row})
                    run.apply(chunk, policy.spec.execute_horizon)
                    call += 1
        env.close()
    frame = pd.DataFrame(rows)
    atomic_write_bytes(out / FILE, frame.to_parquet(index=False))
    answered = frame[frame["error"].isna()] if "error" in frame else frame
    if not answered.empty:  # every call failed the checks: no metric to draw or summarise
        intervention_bars(answered, out / "interventions.png")
        (out / "summary.json").write_text(json.dumps(summarise(answered).to_dict("records"), indent=2))
    return frame
