"""`agra-bench verify-protocol`: our env beside the source's own evaluation loop, episode by episode.

reference_loop.py drives LIBERO's `OffScreenRenderEnv` exactly as the source does (in its own
process, so that nothing of ours touches its generator or its observables); openpi_request.py
builds the source's policy request from its observations with the real `openpi-client` (in
.venv-openpi); compare.py runs our env over the same episodes, in another order, and says
per episode which parts are identical.
"""
