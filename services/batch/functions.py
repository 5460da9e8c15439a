"""The functions workers have registered, and their input schemas, checked at submit."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

from jsonschema import Draft202012Validator
from nats.js import JetStreamContext

from libs.errors import InvalidArgument
from libs.jobs import FunctionSpec, load_function
from services.batch.domain import JobSpec

__all__ = ["FunctionCatalog"]


class FunctionCatalog:
    """Lookups are cached for ``ttl_s``: a newly registered function is usable within it."""

    def __init__(self, js: JetStreamContext, ttl_s: float = 5.0) -> None:
        self._js = js
        self._ttl_s = ttl_s
        self._known: dict[str, tuple[float, FunctionSpec | None]] = {}
        self._validators: dict[str, Draft202012Validator] = {}

    async def lookup(self, name: str) -> FunctionSpec | None:
        cached = self._known.get(name)
        if cached is not None and time.monotonic() - cached[0] < self._ttl_s:
            return cached[1]
        spec = await load_function(self._js, name)
        self._known[name] = (time.monotonic(), spec)
        return spec

    def _validator(self, spec: FunctionSpec) -> Draft202012Validator:
        key = json.dumps(spec.input_schema, sort_keys=True)
        if key not in self._validators:
            Draft202012Validator.check_schema(spec.input_schema)
            self._validators[key] = Draft202012Validator(spec.input_schema)
        return self._validators[key]

    async def check(self, jobs: Sequence[JobSpec]) -> None:
        """Every job names a registered function and its input fits that function's schema."""
        specs: dict[str, FunctionSpec] = {}
        for name in {job.function for job in jobs}:
            spec = await self.lookup(name)
            if spec is None:
                raise InvalidArgument(f"unknown function {name!r}: no worker has registered it")
            specs[name] = spec
        for index, job in enumerate(jobs):
            error = next(iter(self._validator(specs[job.function]).iter_errors(job.input)), None)
            if error is not None:
                where = "/".join(str(p) for p in error.absolute_path) or "(root)"
                raise InvalidArgument(
                    f"jobs[{index}].input does not fit {job.function}: {error.message} at {where}"
                )
