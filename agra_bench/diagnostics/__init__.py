"""`agra-bench diagnose`: the paper's diagnostics on closed-loop rollouts of a WAM/AGRA checkpoint.

At every policy call it records, for the current agentview frame: the share of the action
decoder's attention on the task-relevant region (the simulator segmentation of the objects and
fixtures named in the task's goal, on the token grid), the attention centroid's distance to
that region, and the action change caused by each intervention on the region's hidden tokens
against the same intervention on as many background tokens. One Parquet row per policy call
(`diagnostics.parquet`), attention overlays (PNG) and a bar plot per intervention.
"""
