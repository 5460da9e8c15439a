"""Live connections: the wire protocol of fan-out (``protocol``) and the Python client."""
