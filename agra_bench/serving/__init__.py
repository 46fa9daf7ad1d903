"""Policy serving in openpi's websocket + msgpack protocol, in both directions.

- `codec`: msgpack with numpy arrays as bytes-keyed maps; never pickle.
- `openpi_obs`: our observation <-> openpi's LIBERO request keys (images padded to 224).
- `server`: `agra-bench serve`, any registered policy behind the protocol.
- `policies/openpi_client.py`: `--policy openpi://HOST:PORT`, any server speaking it.
"""
