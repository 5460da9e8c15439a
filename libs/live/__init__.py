"""Live connections: the wire protocol of fan-out (``protocol``) and the Python client
(``client``, with its ``backoff`` and its reader of event streams, ``sse``)."""
