"""Where the fixtures of a LIBERO scene stand in episode k, as each reference loop puts them.

LIBERO's init states hold the simulator state (qpos, qvel), not the model: fixture bodies
(cabinets, stoves, baskets) are placed on every hard reset by LIBERO's placement samplers, from
numpy's global generator. So the same init state looks different from one harness to the next,
and even from one episode of a harness to the next. `tables.py` stores, per (suite, task, init
state), the fixture poses a reference loop produced; `rules.py` says how an env gets episode
k's scene under each protocol.
"""
