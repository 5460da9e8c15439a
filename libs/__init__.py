"""Code every Shotgraph service shares: configuration, telemetry, the bus, gRPC, storage, runner."""
