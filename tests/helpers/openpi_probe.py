"""Run with the real `openpi-client` (in .venv-openpi, numpy<2): connect to a policy server,
send one LIBERO-shaped request exactly as openpi's LIBERO example builds it, print JSON.

    .venv-openpi/bin/python tests/helpers/openpi_probe.py PORT
"""

import json
import sys

import numpy as np
from openpi_client import image_tools
from openpi_client import websocket_client_policy as client_policy

port = int(sys.argv[1])
client = client_policy.WebsocketClientPolicy(host="127.0.0.1", port=port)
rng = np.random.default_rng(0)
raw = rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)
image = image_tools.convert_to_uint8(
    image_tools.resize_with_pad(np.ascontiguousarray(raw[::-1, ::-1]), 224, 224)
)
request = {
    "observation/image": image,
    "observation/wrist_image": image,
    "observation/state": np.concatenate([[0.1, 0.0, 1.0], [3.1, 0.0, 0.0], [0.04, -0.04]]),
    "prompt": "pick up the alphabet soup and place it in the basket",
}
reply = client.infer(request)
print(
    json.dumps(
        {
            "numpy": np.__version__,
            "metadata": {
                str(k): (v if isinstance(v, (str, int, float, list, type(None), bool)) else str(v))
                for k, v in client.get_server_metadata().items()
            },
            "actions_shape": list(reply["actions"].shape),
            "actions_dtype": str(reply["actions"].dtype),
            "finite": bool(np.isfinite(reply["actions"]).all()),
            "timing_keys": sorted(reply.get("server_timing", {})),
        }
    )
)
