"""Is the image service fast and lean? Its thumbnails and WebP conversion next to Pillow, its
thumbnails over HTTP next to thumbor, and its memory while fifty large uploads arrive at once.

``python -m loadtests.bench_image [--seconds 3] [--duration 8] [--uploads 50]`` measures:

1. **core, against Pillow**: photo-like JPEGs (smooth colour fields, gradients and grain, so
   that they compress like photos) of a few sizes, by default 1600x1200, 3000x2000 and
   6000x4000, each made into a 256 px JPEG thumbnail and converted whole to WebP q80. Ours is
   the service's own code path, ``transforms.apply`` reading the file (``th:256``,
   ``f:webp/q:80``); Pillow does the same work as its documentation recommends: ``draft()``
   for JPEG shrink-on-load, then ``thumbnail()``, and ``save(format="WEBP", quality=80)``.
   Every case runs in a fresh child process with as many threads as there are cores, for both
   libraries (libvips also gets that many threads per operation, as the service sets it), so
   that its peak RSS (``VmHWM``) is that library's work alone. The same child then times the
   steps of one operation on one thread: where the time goes.
2. **HTTP, against thumbor**: with the whole platform started, the largest photo is uploaded
   and ~256 px JPEG thumbnails of it fetched through signed URLs by the same load generator:
   first with a distinct size per request, so that each one is a fresh transform (thumbor
   without result storage), then the same URL over and over (our derived-image cache: the
   first request makes it, the rest are hits; thumbor with its file result storage). thumbor
   serves the bytes our blob store keeps, with its file loader, as many processes as cores.
3. **uploads**: fifty ~10 MB JPEGs through ``POST /v1/blobs`` at once, then fifty ~1 MB
   ones (same pixel size, so only the bytes differ), each on freshly started gateway and image
   service processes, sampling the RSS of all their processes every 50 ms: the memory must not
   grow with the size of the uploads.

Targets: on large images at least 4x Pillow's throughput and at most a quarter of its peak
memory; at least 2x thumbor's requests per second. A figure of one machine says little; the
ratio to a library or server measured beside it, on the same files, cores and load, does.

Pillow and thumbor come from the ``bench`` dependency group in pyproject.toml, which
``make bootstrap`` does not install; without them the comparisons that need them are skipped,
with the pip command that installs them.

Only the standard library is imported at module level: the core children are spawned, so they
import this module too, and their RSS must be the library's, not aiohttp's or the platform's.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import os
import platform as host
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from array import array
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loadtests.figures import LoadFigures, load_figures

if TYPE_CHECKING:
    import pyvips

    from libs.launcher import Platform

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
OURS, PILLOW = "shotgraph", "Pillow"
THUMBNAIL, WEBP = "thumbnail", "webp"
THUMB_SIDE = 256
QUALITY = 80
OUR_OPTIONS = {THUMBNAIL: f"th:{THUMB_SIDE}", WEBP: f"f:webp/q:{QUALITY}"}
DEFAULT_SIZES = "1600x1200,3000x2000,6000x4000"
LARGE_PIXELS = 12_000_000  # the targets apply from here on
MAX_SIDE, MAX_PIXELS = 8192, 40_000_000
SOURCE_QUALITY = 90  # of the generated photos, like a camera's
THROUGHPUT_TARGET = 4.0  # ours / Pillow, ops per second
MEMORY_TARGET = 0.25  # ours / Pillow, peak RSS of the work
HTTP_TARGET = 2.0  # ours / thumbor, requests per second
# A service's memory "does not grow with upload size" when, 10 MB run against 1 MB run, its peak
# growth is at most FLAT_LIMIT times as much (holding every upload whole would make it ~10x), or
# it grew by at most SLOPE_LIMIT MB per extra MB uploaded at once (whole uploads: 1 or more).
# Either suffices: the ratio is noisy when the 1 MB run grows little, the slope when pixel work
# (the same in both runs) dominates the growth.
FLAT_LIMIT = 2.0
SLOPE_LIMIT = 0.1
MAX_OPS = 10_000  # per core case
PROFILE_BUDGET_S = 1.0  # single-thread repeats of a step while they take less than this
WARMUP_S = 2.0
MAX_DURATION_S = 60.0
MAX_CONNECTIONS = 256
MAX_REQUESTS = 1_000_000
REQUEST_TIMEOUT_S = 30.0
# Distinct boxes for the uncached runs: w 256..355 x h 256..305. Each is its own cache entry
# (a canonical option string), every output 256..355 px wide, so all decode alike.
BOX_WIDTHS, BOX_HEIGHTS = range(256, 356), range(256, 306)
UPLOAD_SIZE = (4000, 3000)
SMALL_UPLOAD_MB = 1.0
SAMPLE_S = 0.05
UPLOAD_DEADLINE_S = 300.0


# --- measuring a process from /proc --------------------------------------------------------------


def _status_mb(field_name: str) -> float:
    """A ``kB`` line of this process's /proc/self/status (VmRSS, VmHWM), in MB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field_name + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field_name} in /proc/self/status")


def _tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (a service's supervisor and its workers)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        with contextlib.suppress(OSError):
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as children:
                    todo.extend(int(child) for child in children.read().split())
    return found


_PAGE = os.sysconf("SC_PAGE_SIZE")
_TICK = os.sysconf("SC_CLK_TCK")


def _tree_rss_mb(pid: int) -> float:
    total = 0
    for member in _tree(pid):
        with (
            contextlib.suppress(OSError, ValueError, IndexError),
            open(f"/proc/{member}/statm") as statm,
        ):
            total += int(statm.read().split()[1]) * _PAGE
    return total / (1 << 20)


def _tree_cpu_s(pid: int) -> float:
    """User + system CPU seconds of the processes in the tree now (exited ones are not seen)."""
    total = 0
    for member in _tree(pid):
        with (
            contextlib.suppress(OSError, ValueError, IndexError),
            open(f"/proc/{member}/stat") as stat,
        ):
            fields = stat.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / _TICK


def _machine_busy_s() -> float:
    """CPU seconds all cores spent not idle since boot (/proc/stat)."""
    with open("/proc/stat") as stat:
        ticks = [int(value) for value in stat.readline().split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / _TICK  # minus idle and iowait


# --- photos --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Photo:
    path: str
    width: int
    height: int
    bytes: int

    @property
    def label(self) -> str:
        return f"{self.width}x{self.height}"

    @property
    def large(self) -> bool:
        return self.width * self.height >= LARGE_PIXELS


def photo_pixels(width: int, height: int, seed: int, grain: float) -> pyvips.Image:
    """A photo-like picture in memory: a lit gradient, soft colour fields two octaves deep and
    luminance grain, so that JPEG compresses it about as much as a photo."""
    import pyvips

    xyz = pyvips.Image.xyz(width, height)
    x, y = xyz[0], xyz[1]
    light = (x * (90 / width) + y * (60 / height) + 50).bandjoin(
        [y * (110 / height) + 40, (x + y) * (80 / (width + height)) + 60]
    )

    def fields(cells: int, sigma: float, offset: int) -> pyvips.Image:
        cw, ch = max(2, width // cells), max(2, height // cells)
        luma = pyvips.Image.gaussnoise(cw, ch, sigma=sigma, mean=0, seed=seed + offset)
        chroma = [
            pyvips.Image.gaussnoise(cw, ch, sigma=sigma / 2, mean=0, seed=seed + offset + band)
            for band in (1, 2, 3)
        ]
        soft = (luma + chroma[0].bandjoin(chroma[1:])).resize(
            width / cw, vscale=height / ch, kernel="cubic"
        )
        return soft.crop(0, 0, width, height)

    grain_image = pyvips.Image.gaussnoise(width, height, sigma=grain, mean=0, seed=seed + 9)
    picture = light + fields(400, 40, 10) + fields(60, 18, 20) + grain_image
    return picture.cast("uchar").copy(interpretation="srgb")


def make_photos(sizes: list[tuple[int, int]], folder: Path) -> list[Photo]:
    photos = []
    for index, (width, height) in enumerate(sizes):
        path = folder / f"photo-{width}x{height}.jpg"
        photo_pixels(width, height, seed=100 + index, grain=5.0).jpegsave(
            str(path), Q=SOURCE_QUALITY
        )
        photos.append(Photo(str(path), width, height, path.stat().st_size))
    return photos


@dataclass
class UploadSet:
    label: str
    paths: list[str]
    width: int
    height: int
    quality: int
    mean_mb: float


def make_upload_set(
    label: str, count: int, target_mb: float, grain: float, seed: int, folder: Path
) -> UploadSet:
    """``count`` distinct JPEGs of about ``target_mb`` each: crops of one canvas, each shifted by
    a pixel, so no two share a byte of pixel data; the quality is searched on the first."""
    width, height = UPLOAD_SIZE
    canvas = photo_pixels(width + count, height, seed=seed, grain=grain).copy_memory()
    target = target_mb * 1_000_000
    low, high, quality = 1, 100, 1
    while low <= high:  # the highest quality whose file is not over the target
        middle = (low + high) // 2
        if len(canvas.crop(0, 0, width, height).jpegsave_buffer(Q=middle)) <= target:
            quality, low = middle, middle + 1
        else:
            high = middle - 1
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        path = folder / f"{label}-{index:03d}.jpg"
        canvas.crop(index, 0, width, height).jpegsave(str(path), Q=quality)
        paths.append(str(path))
    mean = statistics.fmean(Path(p).stat().st_size for p in paths) / 1_000_000
    return UploadSet(label, paths, width, height, quality, round(mean, 2))


# --- 1. core: ours against Pillow, each case in a fresh child ------------------------------------


@dataclass(frozen=True)
class CoreCase:
    library: str
    op: str
    path: str
    width: int
    height: int
    threads: int
    seconds: float


@dataclass
class CoreResult:
    library: str
    op: str
    size: str
    threads: int
    ops: int
    seconds: float
    ops_per_s: float
    start_mb: float  # the child before importing the library
    ready_mb: float  # after importing and setting it up, before any work: the baseline
    peak_mb: float  # VmHWM after the work
    work_mb: float  # peak - ready: what the work itself took
    output: str  # e.g. "256x171, 8.5 kB"
    stages_ms: dict[str, float]  # one operation on one thread


Work = Callable[[], tuple[int, int, int]]  # one operation -> output width, height, bytes


def _timed_ms(step: Callable[[], object]) -> float:
    """The median of a few runs of ``step``: as many as fit in PROFILE_BUDGET_S, 1 to 5."""
    runs: list[float] = []
    deadline = time.perf_counter() + PROFILE_BUDGET_S
    while len(runs) < 5 and (not runs or time.perf_counter() < deadline):
        began = time.perf_counter()
        step()
        runs.append(time.perf_counter() - began)
    return round(statistics.median(runs) * 1000, 1)


def _ours(case: CoreCase) -> tuple[Work, Callable[[int, int], dict[str, float]]]:
    """The service's code path: ``apply`` on the file, limits raised to keep 24 MP whole."""
    import pyvips

    from services.image.thumbnails import ImageLimits, probe_file, shrunk
    from services.image.transforms import apply, parse_options

    pyvips.concurrency_set(case.threads)  # the image service sets its cores per worker
    limits = ImageLimits(
        max_output_side=max(ImageLimits().max_output_side, case.width, case.height)
    )
    transform = parse_options(OUR_OPTIONS[case.op], limits)
    fmt = "jpeg" if case.op == THUMBNAIL else None  # what a JPEG source negotiates to
    path = Path(case.path)

    def work() -> tuple[int, int, int]:
        output = apply(path, transform, limits, fmt=fmt)
        return output.width, output.height, len(output.data)

    def stages(width: int, height: int) -> dict[str, float]:
        """apply's steps, rebuilt from the calls it makes (``avg()`` pulls the pixels
        through): header probe, shrink-on-load decode + resize (with the sRGB conversion when
        the photo has a profile), and the encode as the rest of the whole."""
        info = probe_file(path, limits)

        def decode() -> float:
            source = pyvips.Source.new_from_file(case.path)
            return float(shrunk(source, info, width, height, size="force").avg())

        total = _timed_ms(work)
        probe = _timed_ms(lambda: probe_file(path, limits))
        decoded = _timed_ms(decode)
        return {
            "total": total,
            "probe": probe,
            "decode+resize": decoded,
            "encode": round(max(0.0, total - probe - decoded), 1),
        }

    return work, stages


def _pillow(case: CoreCase) -> tuple[Work, Callable[[int, int], dict[str, float]]]:
    """Pillow as its documentation recommends: ``draft`` (JPEG DCT scaling) before
    ``thumbnail``, EXIF orientation applied, the same quality and encoder settings as ours."""
    from PIL import Image, ImageOps

    def decode() -> Image.Image:
        image = Image.open(case.path)
        if case.op == THUMBNAIL:
            image.draft("RGB", (THUMB_SIDE, THUMB_SIDE))
            image.thumbnail((THUMB_SIDE, THUMB_SIDE))  # loads, shrunk on load
        else:
            image.load()
        ImageOps.exif_transpose(image, in_place=True)
        return image

    def encode(image: Image.Image) -> int:
        buffer = io.BytesIO()
        if case.op == THUMBNAIL:
            image.save(buffer, format="JPEG", quality=QUALITY, optimize=True)
        else:
            image.save(buffer, format="WEBP", quality=QUALITY)
        return buffer.tell()

    def work() -> tuple[int, int, int]:
        with decode() as image:
            return image.width, image.height, encode(image)

    def stages(_width: int, _height: int) -> dict[str, float]:
        decoded = _timed_ms(lambda: decode().close())
        with decode() as image:
            encoded = _timed_ms(lambda: encode(image))
        return {"total": round(decoded + encoded, 1), "decode+resize": decoded, "encode": encoded}

    return work, stages


def _hammer(work: Work, threads: int, seconds: float) -> tuple[int, float]:
    """``threads`` threads doing ``work`` back to back; none starts after ``seconds``. The
    clock stops when the last one ends. Returns (operations done, seconds)."""
    lock = threading.Lock()
    started = done = 0
    failures: list[BaseException] = []
    began = time.perf_counter()
    deadline, ended = began + seconds, began

    def loop() -> None:
        nonlocal started, done, ended
        while True:
            with lock:
                if failures or started >= MAX_OPS or time.perf_counter() >= deadline:
                    return
                started += 1
            try:
                work()
            except BaseException as exc:
                with lock:
                    failures.append(exc)
                return
            with lock:
                done += 1
                ended = time.perf_counter()

    workers = [threading.Thread(target=loop) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if failures:
        raise failures[0]
    return done, max(ended - began, 1e-9)


def _core_child(out: Connection, fields: dict[str, Any]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us, also on Ctrl-C
    case = CoreCase(**fields)
    start_mb = _status_mb("VmRSS")
    try:
        work, stages = _ours(case) if case.library == OURS else _pillow(case)
        ready_mb = _status_mb("VmRSS")
        width, height, size = work()  # warm-up: codecs and buffers set up; counts for the peak
        ops, seconds = _hammer(work, case.threads, case.seconds)
        peak_mb = _status_mb("VmHWM")  # before the single-thread profile, which is smaller
        steps = stages(width, height)
    except Exception as exc:
        out.send({"error": f"{type(exc).__name__}: {exc}"})
        out.close()
        return
    result = CoreResult(
        library=case.library,
        op=case.op,
        size=f"{case.width}x{case.height}",
        threads=case.threads,
        ops=ops,
        seconds=round(seconds, 3),
        ops_per_s=round(ops / seconds, 2),
        start_mb=round(start_mb, 1),
        ready_mb=round(ready_mb, 1),
        peak_mb=round(peak_mb, 1),
        work_mb=round(peak_mb - ready_mb, 1),
        output=f"{width}x{height}, {size / 1000:,.1f} kB",
        stages_ms=steps,
    )
    out.send(asdict(result))
    out.close()


def measure_core_case(case: CoreCase) -> CoreResult:
    from loadtests.common import child, spawn

    receiver, sender = spawn.Pipe(duplex=False)
    with child(_core_child, (sender, asdict(case))) as process:
        sender.close()  # a crashed child shows up as EOF, not a hang
        if not receiver.poll(case.seconds + 600):
            raise TimeoutError(f"the {case.library} {case.op} child did not report")
        try:
            fields: dict[str, Any] = receiver.recv()
        except EOFError:
            raise RuntimeError(f"the core child died (exit {process.exitcode})") from None
    if "error" in fields and len(fields) == 1:
        raise RuntimeError(f"{case.library} {case.op} on {case.width}x{case.height}: {fields}")
    return CoreResult(**fields)


def measure_core(
    photos: list[Photo], libraries: list[str], threads: int, seconds: float
) -> list[CoreResult]:
    results: list[CoreResult] = []
    for photo in photos:
        for op in (THUMBNAIL, WEBP):
            order = libraries if len(results) % 4 == 0 else libraries[::-1]  # spread drift
            for library in order:
                print(f"core: {photo.label} {op} with {library}...", flush=True)
                case = CoreCase(
                    library, op, photo.path, photo.width, photo.height, threads, seconds
                )
                results.append(measure_core_case(case))
    return results


# --- 2. HTTP: the load generator, in a process of its own ----------------------------------------


@dataclass
class HttpRun(LoadFigures):
    """One target's figures (``LoadFigures``), with what thumbnails add to them."""

    mean_bytes: float | None
    content_type: str
    answered: int  # responses of any kind, warm-up included: what CPU time is divided by
    warmup_errors: int  # not counted in errors, but a sign: these burn distinct URLs fast
    distinct_urls: int  # 1 when one URL is asked again and again
    exhausted: bool  # the distinct URLs ran out before the time did
    generator_cpu_s: float
    cpu_ms_per_request: dict[str, float] = field(default_factory=dict)


def _generate(
    out: Connection,
    target: str,
    urls: list[str],
    distinct: bool,
    connections: int,
    duration: float,
) -> None:
    import asyncio

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    run = asyncio.run(_drive(target, urls, distinct, connections, duration))
    out.send(asdict(run))
    out.close()


async def _drive(
    target: str, urls: list[str], distinct: bool, connections: int, duration: float
) -> HttpRun:
    """``connections`` loops with a keep-alive connection each, sending back to back; only
    requests started after the warm-up count. ``distinct``: every request takes the next URL,
    and the run stops early, marked exhausted, if there are no more."""

    import aiohttp

    from loadtests.common import drive_connections

    latencies = array("d")
    sizes = array("d")
    errors: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    sent = answered = warmup_errors = 0
    next_url = 0
    exhausted = False
    start = time.perf_counter()
    measure_from, stop_at = start + WARMUP_S, start + WARMUP_S + duration

    async def loop(session: aiohttp.ClientSession) -> None:
        nonlocal sent, answered, warmup_errors, next_url, exhausted
        while (began := time.perf_counter()) < stop_at and sent < MAX_REQUESTS:
            if distinct:
                if next_url >= len(urls):
                    exhausted = True
                    return
                url, next_url = urls[next_url], next_url + 1
            else:
                url = urls[0]
            sent += 1
            body = b""
            try:
                async with session.get(url) as response:
                    body = await response.read()
                    outcome = "ok" if response.status == 200 else f"HTTP {response.status}"
                    kinds[response.content_type] += 1
                answered += 1
            except (aiohttp.ClientError, TimeoutError) as exc:
                outcome = type(exc).__name__
            if began >= measure_from:
                if outcome == "ok":
                    latencies.append(time.perf_counter() - began)
                    sizes.append(len(body))
                else:
                    errors[outcome] += 1
            elif outcome != "ok":
                warmup_errors += 1

    await drive_connections(loop, connections, REQUEST_TIMEOUT_S)
    return HttpRun(
        **asdict(load_figures(target, latencies, errors, measure_from)),
        mean_bytes=round(statistics.fmean(sizes)) if sizes else None,
        content_type=kinds.most_common(1)[0][0] if kinds else "",
        answered=answered,
        warmup_errors=warmup_errors,
        distinct_urls=len(urls) if distinct else 1,
        exhausted=exhausted,
        generator_cpu_s=round(time.process_time(), 3),
    )


def measure_http(
    target: str,
    urls: list[str],
    distinct: bool,
    connections: int,
    duration: float,
    servers: dict[str, int],
) -> HttpRun:
    """The load generator on ``urls``, and the CPU each server process tree (name -> pid), the
    generator and the rest of the machine spent per request meanwhile."""
    from loadtests.common import child, spawn

    print(f"http: {target}...", flush=True)
    receiver, sender = spawn.Pipe(duplex=False)
    before = {name: _tree_cpu_s(pid) for name, pid in servers.items()}
    machine = _machine_busy_s()
    args = (sender, target, urls, distinct, connections, duration)
    with child(_generate, args) as generator:
        sender.close()
        if not receiver.poll(WARMUP_S + duration + REQUEST_TIMEOUT_S + 30):
            raise TimeoutError(f"the load generator did not report on {target}")
        try:
            fields: dict[str, Any] = receiver.recv()
        except EOFError:
            raise RuntimeError(f"the load generator died (exit {generator.exitcode})") from None
    run = HttpRun(**fields)
    spent = {name: _tree_cpu_s(pid) - before[name] for name, pid in servers.items()}
    spent["generator"] = run.generator_cpu_s
    spent["rest"] = max(0.0, _machine_busy_s() - machine - sum(spent.values()))
    per = max(run.answered, 1)
    run.cpu_ms_per_request = {name: round(s * 1000 / per, 2) for name, s in spent.items()}
    return run


# --- 2. HTTP: plumbing, our side and thumbor -----------------------------------------------------


def _request(
    url: str,
    *,
    key: str | None = None,
    data: bytes | None = None,
    json_body: dict[str, Any] | None = None,
    timeout: float = 60.0,
) -> tuple[int, bytes, dict[str, str]]:
    import urllib.error  # here, not above: ssl and email would weigh on every core child
    import urllib.request

    headers = {"Authorization": f"Bearer {key}"} if key else {}
    if json_body is not None:
        data = json.dumps(json_body).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status), response.read(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), dict(exc.headers)
    except OSError:
        return 0, b"", {}


def _checked(url: str, what: str, **kwargs: Any) -> tuple[bytes, dict[str, str]]:
    status, body, headers = _request(url, **kwargs)
    if status not in (200, 201):
        raise RuntimeError(f"{what}: {url} answered {status or 'nothing'}: {body[:300]!r}")
    return body, headers


def _wait_until_ok(url: str, timeout: float, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + timeout
    while _request(url, timeout=2)[0] != 200:
        if process.poll() is not None or time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{url} did not answer 200; the log ends:\n{tail}")
        time.sleep(0.1)


async def _sign_all(gateway: str, key: str, blob: str, options: list[str]) -> list[str]:
    """Signed URLs from POST /v1/images/urls, 16 requests at a time."""
    import asyncio

    import aiohttp

    limit = asyncio.Semaphore(16)
    headers = {"Authorization": f"Bearer {key}"}

    async def sign(session: aiohttp.ClientSession, option: str) -> str:
        async with (
            limit,
            session.post(
                f"{gateway}/v1/images/urls", json={"blob": blob, "options": option}, headers=headers
            ) as response,
        ):
            if response.status != 200:
                raise RuntimeError(f"signing {option!r}: HTTP {response.status}")
            return f"{gateway}{(await response.json())['url']}"

    async with aiohttp.ClientSession() as session:
        return list(await asyncio.gather(*(sign(session, option) for option in options)))


def _boxes(count: int) -> list[tuple[int, int]]:
    return [(w, h) for h in BOX_HEIGHTS for w in BOX_WIDTHS][:count]


THUMBOR_MAIN = "import sys; from thumbor.server import main; main(sys.argv[1:])"


@contextlib.contextmanager
def thumbor_server(
    folder: Path, images: Path, processes: int, result_storage: bool
) -> Iterator[tuple[str, int]]:
    """thumbor on a free port, file loader on ``images``; (base URL, its process group)."""
    from libs.ports import free_port

    name = "cached" if result_storage else "uncached"
    conf, log = folder / f"thumbor-{name}.conf", folder / f"thumbor-{name}.log"
    results = folder / f"thumbor-results-{name}"
    conf.write_text(
        "LOADER = 'thumbor.loaders.file_loader'\n"
        f"FILE_LOADER_ROOT_PATH = {str(images)!r}\n"
        "STORAGE = 'thumbor.storages.no_storage'\n"
        + (
            "RESULT_STORAGE = 'thumbor.result_storages.file_storage'\n"
            f"RESULT_STORAGE_FILE_STORAGE_ROOT_PATH = {str(results)!r}\n"
            "RESULT_STORAGE_STORES_UNSAFE = True\n"
            if result_storage
            else "RESULT_STORAGE = None\n"
        )
        + "ALLOW_UNSAFE_URL = True\n"
        f"QUALITY = {QUALITY}\n"
        "PROGRESSIVE_JPEG = False\n"  # ours writes baseline JPEG: the same encoder work
        "AUTO_WEBP = False\n"
    )
    port = free_port()
    with open(log, "ab") as output:
        process = subprocess.Popen(
            [
                *(sys.executable, "-c", THUMBOR_MAIN, "--ip", HOST, "--port", str(port)),
                *("--conf", str(conf), "--processes", str(processes), "--log-level", "warning"),
            ],
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its forks share the group: stopped together below
        )
    try:
        base = f"http://{HOST}:{port}"
        _wait_until_ok(f"{base}/healthcheck", 30, process, log)
        yield base, process.pid
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@dataclass
class HttpSetup:
    blob: str
    source_bytes: int
    source_size: str


def measure_http_all(
    system: Platform,
    key: str,
    photo: Photo,
    folder: Path,
    connections: int,
    duration: float,
    distinct: int,
    thumbor_processes: int | None,
) -> tuple[HttpSetup, list[HttpRun]]:
    import asyncio

    gateway = system.gateway_url
    body, _ = _checked(
        f"{gateway}/v1/blobs?filename=photo.jpg",
        "upload",
        key=key,
        data=Path(photo.path).read_bytes(),
    )
    uploaded = json.loads(body)
    blob = uploaded["sha256"]
    # thumbor serves exactly the bytes our blob store keeps (the normalised upload).
    stored, _ = _checked(f"{gateway}/v1/blobs/{blob}", "download", key=key)
    images = folder / "thumbor-images"
    images.mkdir()
    (images / "photo.jpg").write_bytes(stored)
    setup = HttpSetup(blob, len(stored), f"{uploaded['width']}x{uploaded['height']}")

    boxes = _boxes(distinct)
    options = [f"th:{THUMB_SIDE}", f"rs:fit:{THUMB_SIDE - 1}:{THUMB_SIDE - 1}"]
    options += [f"rs:fit:{w}:{h}" for w, h in boxes]
    print(f"http: signing {len(options):,} image URLs...", flush=True)
    signed = asyncio.run(_sign_all(gateway, key, blob, options))
    cached_url, check_url, fresh_urls = signed[0], signed[1], signed[2:]
    for url in (cached_url, check_url):  # the first makes the cached variant
        _, headers = _checked(url, "our thumbnail")
        if not headers.get("Content-Type", "").startswith("image/jpeg"):
            raise RuntimeError(f"{url} is not a JPEG: {headers.get('Content-Type')}")
    processes = {
        "gateway": _pid(system, "gateway"),
        "image": _pid(system, "image"),
    }
    runs = [
        measure_http("ours, uncached", fresh_urls, True, connections, duration, processes),
        measure_http("ours, cached", [cached_url], False, connections, duration, processes),
    ]
    if thumbor_processes is not None:
        for cached in (False, True):
            with thumbor_server(folder, images, thumbor_processes, cached) as (base, pid):
                fit = f"{base}/unsafe/fit-in"
                _checked(f"{fit}/{THUMB_SIDE - 1}x{THUMB_SIDE - 1}/photo.jpg", "thumbor")
                servers = {"thumbor": pid}
                if cached:
                    url = f"{fit}/{THUMB_SIDE}x{THUMB_SIDE}/photo.jpg"
                    _checked(url, "thumbor")  # made and put in its result storage
                    run = measure_http(
                        "thumbor, cached", [url], False, connections, duration, servers
                    )
                else:
                    urls = [f"{fit}/{w}x{h}/photo.jpg" for w, h in boxes]
                    run = measure_http(
                        "thumbor, uncached", urls, True, connections, duration, servers
                    )
                runs.append(run)
    return setup, runs


def logged_errors(
    system: Platform, names: tuple[str, ...] = ("gateway", "image")
) -> dict[str, Any]:
    """service -> {cause: count} of the error lines in its log: the last line of the
    exception (its root cause), else the event."""
    found: dict[str, Any] = {}
    for name in names:
        causes: Counter[str] = Counter()
        with contextlib.suppress(OSError):
            for line in (
                (system.root / "logs" / f"{name}.log").read_text(errors="replace").splitlines()
            ):
                if '"level": "error"' not in line:
                    continue
                with contextlib.suppress(ValueError):
                    entry = json.loads(line)
                    cause = str(entry.get("exception") or entry.get("event", "?")).strip()
                    causes[cause.splitlines()[-1][:160]] += 1
        if causes:
            found[name] = dict(causes.most_common(3))
    return found


def _pid(system: Platform, name: str) -> int:
    process = system.services[name].process
    if process is None:
        raise RuntimeError(f"the {name} service is not running")
    return process.pid


# --- 3. uploads: memory while fifty arrive at once -----------------------------------------------


class RssSampler:
    """Sums the RSS of each process tree (name -> root pid) every SAMPLE_S, in a thread."""

    def __init__(self, groups: dict[str, int]) -> None:
        self.groups = groups
        self.samples: list[dict[str, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append({name: _tree_rss_mb(pid) for name, pid in self.groups.items()})
            self._stop.wait(SAMPLE_S)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def mark(self) -> int:
        return len(self.samples)


@dataclass
class UploadRun:
    label: str
    uploads: int
    mean_mb: float
    pixels: str
    quality: int
    succeeded: int  # 201 and not a duplicate
    failures: dict[str, int]
    seconds: float
    uploads_per_s: float
    mb_per_s: float
    baseline_mb: dict[str, float]  # per process tree, idle, after one warm-up upload
    peak_mb: dict[str, float]
    growth_mb: dict[str, float]  # peak - baseline, per tree; "services" = gateway + image
    samples: int


def _upload_child(out: Connection, url: str, key: str, paths: list[str]) -> None:
    import asyncio

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    out.send(asyncio.run(_upload_all(url, key, paths)))
    out.close()


async def _upload_all(url: str, key: str, paths: list[str]) -> dict[str, Any]:
    """Every file at once, streamed from disk (the client holds none of them whole)."""
    import asyncio

    import aiohttp

    async def upload(session: aiohttp.ClientSession, path: str) -> str:
        file = await asyncio.to_thread(open, path, "rb")
        try:
            async with session.post(url, data=file, headers=headers) as response:
                body = await response.read()
                if response.status != 201:
                    return f"HTTP {response.status}: {_problem(body)}"
                return "duplicate" if json.loads(body).get("duplicate") else "ok"
        except (aiohttp.ClientError, TimeoutError) as exc:
            return type(exc).__name__
        finally:
            file.close()

    headers = {"Authorization": f"Bearer {key}", "Content-Type": "image/jpeg"}
    timeout = aiohttp.ClientTimeout(total=UPLOAD_DEADLINE_S)
    connector = aiohttp.TCPConnector(limit=len(paths))
    began = time.perf_counter()
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        outcomes = await asyncio.gather(*(upload(session, path) for path in paths))
    return {"outcomes": list(outcomes), "seconds": time.perf_counter() - began}


def _problem(body: bytes) -> str:
    """The detail of a problem+json answer (else its start), short enough to tally."""
    try:
        detail = json.loads(body).get("detail")
    except (ValueError, AttributeError):
        detail = None
    return str(detail or body[:100].decode(errors="replace"))[:120]


def measure_uploads(system: Platform, key: str, uploads: UploadSet, warmup: Path) -> UploadRun:
    """Fresh gateway and image processes, one small warm-up upload, a second of idle samples
    for the baseline, then every upload at once while sampling continues."""
    from loadtests.common import child, spawn

    print(
        f"uploads: restarting the gateway and image service for the {uploads.label} run...",
        flush=True,
    )
    for name in ("image", "gateway"):
        system.stop_service(name)
        system.start_service(name)
    system.wait_ready(["image", "gateway"])
    url = f"{system.gateway_url}/v1/blobs"
    _checked(url, "warm-up upload", key=key, data=warmup.read_bytes())
    groups = {"gateway": _pid(system, "gateway"), "image": _pid(system, "image")}
    if system.stack is not None and "nats" in system.stack.pids:
        groups["nats"] = system.stack.pids["nats"]
    print(f"uploads: {len(uploads.paths)} x {uploads.mean_mb:g} MB at once...", flush=True)
    with RssSampler(groups) as sampler:
        time.sleep(1.0)
        idle = sampler.mark()
        receiver, sender = spawn.Pipe(duplex=False)
        with child(_upload_child, (sender, url, key, uploads.paths)) as process:
            sender.close()
            if not receiver.poll(UPLOAD_DEADLINE_S + 30):
                raise TimeoutError("the upload client did not report")
            try:
                answer: dict[str, Any] = receiver.recv()
            except EOFError:
                raise RuntimeError(f"the upload client died (exit {process.exitcode})") from None
        time.sleep(0.5)
    before, during = sampler.samples[:idle], sampler.samples[idle:] or sampler.samples[-1:]
    names = [*groups, "services"]
    for sample in sampler.samples:
        sample["services"] = sample["gateway"] + sample["image"]
    baseline = {name: statistics.median(s[name] for s in before) for name in names}
    peak = {name: max(s[name] for s in during) for name in names}
    outcomes = Counter(answer["outcomes"])
    seconds = float(answer["seconds"])
    succeeded = outcomes.pop("ok", 0)
    total_mb = sum(Path(p).stat().st_size for p in uploads.paths) / 1_000_000
    return UploadRun(
        label=uploads.label,
        uploads=len(uploads.paths),
        mean_mb=uploads.mean_mb,
        pixels=f"{uploads.width}x{uploads.height}",
        quality=uploads.quality,
        succeeded=succeeded,
        failures=dict(outcomes),
        seconds=round(seconds, 3),
        uploads_per_s=round(succeeded / seconds, 2),
        mb_per_s=round(total_mb / seconds, 1),
        baseline_mb={name: round(value, 1) for name, value in baseline.items()},
        peak_mb={name: round(value, 1) for name, value in peak.items()},
        growth_mb={name: round(peak[name] - baseline[name], 1) for name in names},
        samples=len(during),
    )


# --- the report ----------------------------------------------------------------------------------


def _pair(results: list[CoreResult], size: str, op: str) -> tuple[CoreResult, CoreResult | None]:
    ours = next(r for r in results if (r.library, r.size, r.op) == (OURS, size, op))
    pillow = next((r for r in results if (r.library, r.size, r.op) == (PILLOW, size, op)), None)
    return ours, pillow


def _dominant(stages: dict[str, float]) -> str:
    steps = {name: ms for name, ms in stages.items() if name != "total"}
    name = max(steps, key=lambda step: steps[step])
    # Steps are timed apart, so with noise they can add up to more than the whole.
    whole = max(stages.get("total", 0.0), sum(steps.values()))
    share = steps[name] / whole if whole else 0.0
    return f"{name} ({share:.0%})"


def print_core(photos: list[Photo], results: list[CoreResult], threads: int) -> dict[str, Any]:
    from loadtests.common import cell, met, ratio

    print(
        f"\n1. core: th:{THUMB_SIDE} JPEG and whole-image WebP q{QUALITY} from the JPEG file, ours"
        f" (transforms.apply) against Pillow, {threads} thread(s) each, fresh process per case"
    )
    header = ("size", "op", "ours op/s", "Pillow op/s", "ratio", "ours MB", "Pillow MB", "ratio")
    print(
        f"{header[0]:<11}{header[1]:<11}"
        + "".join(f"{h:>12}" for h in header[2:5])
        + f"{'target':>9}  {'check':<9}"
        + "".join(f"{h:>16}" for h in header[5:8])
        + f"{'target':>9}  check"
    )
    targets: dict[str, Any] = {}
    for photo in photos:
        for op in (THUMBNAIL, WEBP):
            ours, pillow = _pair(results, photo.label, op)
            speed = ratio(ours.ops_per_s, pillow.ops_per_s) if pillow else None
            memory = ratio(ours.work_mb, pillow.work_mb) if pillow else None
            if photo.large and pillow:
                speed_ok = speed is not None and speed >= THROUGHPUT_TARGET
                memory_ok = memory is not None and memory <= MEMORY_TARGET
                targets[f"{photo.label} {op}"] = {"throughput": speed_ok, "memory": memory_ok}
                speed_cells = (f">= {THROUGHPUT_TARGET:g}", met(speed_ok))
                memory_cells = (f"<= {MEMORY_TARGET:g}", met(memory_ok))
            else:
                speed_cells = memory_cells = ("", "")
            print(
                f"{photo.label:<11}{op:<11}"
                f"{cell(ours.ops_per_s):>12}{cell(pillow.ops_per_s if pillow else None):>12}"
                f"{cell(speed):>12}{speed_cells[0]:>9}  {speed_cells[1]:<9}"
                f"{_mb(ours):>16}{_mb(pillow):>16}{cell(memory):>16}"
                f"{memory_cells[0]:>9}  {memory_cells[1]}".rstrip()
            )
    print(
        "MB = peak RSS of the child (VmHWM) and, in brackets, the work: peak minus the RSS"
        " after importing the library; the memory ratio and its target use the work."
    )
    print("\nwhere one operation's time goes: one thread, ms (the median of up to 5)")
    steps = ("total", "probe", "decode+resize", "encode")
    print(
        f"{'size':<11}{'op':<11}{'side':<11}"
        + "".join(f"{s:>14}" for s in steps)
        + f"   {'output':<22}dominated by"
    )
    for photo in photos:
        for op in (THUMBNAIL, WEBP):
            for r in _pair(results, photo.label, op):
                if r is None:
                    continue
                cells = "".join(
                    f"{cell(r.stages_ms.get(s), ',.1f') if s in r.stages_ms else '-':>14}"
                    for s in steps
                )
                print(
                    f"{photo.label:<11}{op:<11}{r.library:<11}{cells}   {r.output:<22}"
                    f"{_dominant(r.stages_ms)}"
                )
    return targets


def _mb(result: CoreResult | None) -> str:
    return "n/a" if result is None else f"{result.peak_mb:,.0f} ({result.work_mb:,.0f})"


def print_http(
    setup: HttpSetup, runs: list[HttpRun], settings: dict[str, Any], core: list[CoreResult]
) -> dict[str, Any]:
    from loadtests.common import cell, met, ratio

    print(
        f"\n2. HTTP: {THUMB_SIDE} px JPEG thumbnails of the {setup.source_size} photo"
        f" ({setup.source_bytes / 1e6:,.1f} MB as stored), {settings['connections']} connections,"
        f" {settings['duration_s']:g} s after {WARMUP_S:g} s of warm-up"
    )
    header = ("target", "requests", "errors", "req/s", "p50 ms", "p99 ms", "bytes")
    print(
        f"{header[0]:<20}"
        + "".join(f"{h:>10}" for h in header[1:])
        + f"{'URLs':>17}  CPU ms per request"
    )
    for r in runs:
        urls = f"{r.distinct_urls:,}" + (" (ran out)" if r.exhausted else "")
        cpu = ", ".join(f"{name} {ms:,.1f}" for name, ms in r.cpu_ms_per_request.items())
        cells = (
            f"{r.requests:,}",
            f"{r.errors:,}",
            cell(r.rps),
            cell(r.p50_ms),
            cell(r.p99_ms),
            cell(r.mean_bytes, ",.0f"),
        )
        print(f"{r.target:<20}" + "".join(f"{c:>10}" for c in cells) + f"{urls:>17}  {cpu}")
    for r in runs:
        if r.error_kinds or r.warmup_errors:
            print(f"{r.target} errors: {r.error_kinds}, {r.warmup_errors:,} more in the warm-up")
    by_name = {r.target: r for r in runs}
    targets: dict[str, Any] = {}
    for kind in ("cached", "uncached"):
        ours, theirs = by_name.get(f"ours, {kind}"), by_name.get(f"thumbor, {kind}")
        if ours is None or theirs is None:
            continue
        measured = ratio(ours.rps, theirs.rps)
        ok = measured is not None and measured >= HTTP_TARGET and ours.errors == 0
        targets[kind] = ok
        print(
            f"{kind}: ours / thumbor req/s = {cell(measured)} (target >= {HTTP_TARGET:g}:"
            f" {met(ok)}); p50 {cell(ratio(ours.p50_ms, theirs.p50_ms))}x thumbor's"
        )
    largest = max((r.size for r in core), key=_pixels, default=None)
    for library, name in ((OURS, "ours, uncached"), (PILLOW, "thumbor, uncached")):
        alone = [r for r in core if (r.library, r.op, r.size) == (library, THUMBNAIL, largest)]
        run = by_name.get(name)
        if alone and run:
            share = cell(ratio(run.rps, alone[0].ops_per_s), ".0%")
            # Ours makes every variant after the first from the photo's working copy.
            why = "the working copy" if library == OURS else "HTTP, storage and the rest"
            print(
                f"{name}: {cell(run.rps)} req/s over HTTP, against {cell(alone[0].ops_per_s)}"
                f" op/s for a {largest} file's thumbnail by {library} alone in part 1:"
                f" {share} ({why})"
            )
    return targets


def _pixels(size: str) -> int:
    width, height = size.split("x")
    return int(width) * int(height)


def print_uploads(runs: list[UploadRun]) -> dict[str, Any]:
    from loadtests.common import cell, met, ratio

    print(
        "\n3. uploads through POST /v1/blobs, all at once; RSS of each service's processes"
        f" sampled every {SAMPLE_S * 1000:g} ms (MB: idle baseline -> peak, growth)"
    )
    header = ("run", "mean MB", "ok", "seconds", "uploads/s", "MB/s")
    groups = [name for name in runs[0].growth_mb if name != "services"] if runs else []
    print(
        f"{header[0]:<8}"
        + "".join(f"{h:>10}" for h in header[1:])
        + "".join(f"{name:>26}" for name in [*groups, "gateway+image"])
    )
    for r in runs:
        cells = (
            f"{r.mean_mb:,.2f}",
            f"{r.succeeded}/{r.uploads}",
            f"{r.seconds:,.2f}",
            f"{r.uploads_per_s:,.2f}",
            f"{r.mb_per_s:,.1f}",
        )
        memory = [
            f"{r.baseline_mb[n]:,.0f} -> {r.peak_mb[n]:,.0f}, +{r.growth_mb[n]:,.0f}"
            for n in [*groups, "services"]
        ]
        print(
            f"{r.label:<8}"
            + "".join(f"{c:>10}" for c in cells)
            + "".join(f"{m:>26}" for m in memory)
        )
    for r in runs:
        if r.failures:
            print(f"{r.label} failures: {r.failures}")
    if any("Deadline Exceeded" in failure for r in runs for failure in r.failures):
        print(
            "(the gateway gives its gRPC Upload stream the platform's deadline for every call,"
            " SHOTGRAPH_GRPC_DEADLINE_S; rerun with --grpc-deadline 120 to measure the memory"
            " with every upload accepted)"
        )
    if len(runs) != 2:
        return {}
    big, small = runs
    extra_mb = big.uploads * big.mean_mb - small.uploads * small.mean_mb
    print(
        f"\ngrowth against upload size: {big.label} run / {small.label} run; slope = extra peak MB"
        f" per extra MB uploaded at once ({extra_mb:,.0f} MB more); flat if the ratio is <="
        f" {FLAT_LIMIT:g} or the slope <= {SLOPE_LIMIT:g}"
    )
    print(f"{'processes':<16}{'large':>10}{'small':>10}{'ratio':>10}{'slope':>10}  check")
    verdicts: dict[str, Any] = {}
    for name in [*groups, "services"]:
        slope = (big.growth_mb[name] - small.growth_mb[name]) / extra_mb if extra_mb > 0 else None
        growth = ratio(max(big.growth_mb[name], 0.0), max(small.growth_mb[name], 0.1))
        flat = (slope is not None and slope <= SLOPE_LIMIT) or (
            growth is not None and growth <= FLAT_LIMIT
        )
        label = "gateway+image" if name == "services" else name
        informative = name not in ("gateway", "image", "services")
        verdicts[label] = {
            "slope": None if slope is None else round(slope, 3),
            "ratio": growth,
            "flat": flat,
        }
        print(
            f"{label:<16}{big.growth_mb[name]:>+10,.0f}{small.growth_mb[name]:>+10,.0f}"
            f"{cell(growth):>10}{cell(slope):>10}"
            f"  {'flat' if flat else 'grows'}{' (for information)' if informative else ''}"
        )
    ok = all(verdicts[n]["flat"] for n in ("gateway", "image")) and not (
        big.failures or small.failures or big.succeeded < big.uploads
    )
    print(
        f"memory does not grow with upload size (gateway and image flat, every upload stored):"
        f" {met(ok)}"
    )
    return {"flat_memory": ok, "size_ratio": ratio(big.mean_mb, small.mean_mb), **verdicts}


def report(
    settings: dict[str, Any],
    photos: list[Photo],
    core: list[CoreResult],
    setup: HttpSetup | None,
    http: list[HttpRun],
    uploads: list[UploadRun],
    missing: list[str],
    errors: dict[str, Any],
) -> None:
    from loadtests.common import print_notes, print_result

    print("\nsettings: " + ", ".join(f"{k}={v}" for k, v in settings.items()))
    print(
        "photos: "
        + ", ".join(f"{p.label} JPEG q{SOURCE_QUALITY} {p.bytes / 1e6:,.1f} MB" for p in photos)
    )
    if missing:
        print(f"\n{_install_message(missing)}")
    targets: dict[str, Any] = {}
    if core:
        targets["core"] = print_core(photos, core, settings["threads"])
    if setup is not None:
        targets["http"] = print_http(setup, http, settings, core)
    if uploads:
        targets["uploads"] = print_uploads(uploads)
    print("\nerrors in the services' logs: " + ("none" if not errors else ""))
    for name, causes in errors.items():
        for cause, count in causes.items():
            print(f"  {name}: {count:,} x {cause}")
    notes = [
        f"{settings['usable_cpus']} usable cores, shared by everything. Part 1 runs before the"
        " platform starts, one case at a time, ours and Pillow alternating which goes first;"
        " parts 2 and 3 share the cores with the seven services, NATS, Postgres and Redis, and"
        " the load generator or upload client. Other work on the machine (load_1m) skews"
        " absolute figures; the ratios were measured side by side.",
        "part 1: each case is a fresh spawned process with "
        f"{settings['threads']} thread(s) doing the operation back to back for about"
        f" {settings['seconds']:g} s (after one uncounted warm-up, which counts for the peak);"
        " op/s is operations over the time until the last one ended. libvips also gets"
        f" {settings['threads']} thread(s) per operation (pyvips.concurrency_set), as the image"
        " service sets it for its cores; Pillow decodes and encodes in the calling thread with"
        " the GIL released. Ours: apply(Path, th:256 | f:webp/q:80) with max_output_side raised"
        " to the photo's side, so the WebP keeps every pixel; JPEG output is q80 with optimised"
        " Huffman tables, as Pillow's optimize=True. Pillow: Image.open, draft('RGB', (256,"
        " 256)) then thumbnail(), exif_transpose, save(JPEG q80 optimize | WEBP q80). draft"
        " picks the largest DCT scale that keeps the box; libvips' shrink-on-load leaves at"
        " least 2x for its resize, so both decode 750x500 from 3000x2000 and 6000x4000 but"
        " Pillow 400x300 against libvips' 800x600 from 1600x1200: that size favours Pillow.",
        "where the time goes: the steps are timed separately on one thread after the peak was"
        " read. For ours they rebuild apply from the same calls (probe_file, then shrunk pulled"
        " through with avg()); 'encode' is what is left of the whole. Pillow's are decode"
        " (open, draft, thumbnail or load) and encode.",
        "part 2: ours is GET /images/{signature}/{options}/{blob} through the gateway (signature"
        " check, gRPC Transform to the image service, its derived-image KV lookup, the output"
        " read from the blob store). 'cached' asks for th:256 again and again after one request"
        " made it; 'uncached' asks for a distinct rs:fit:W:H per request (W 256..355, H"
        " 256..305, signed beforehand), so each one is made and stored with its KV entry."
        " The first one also keeps the photo's working copy (services/image/working.py: 1024"
        " px, JPEG q95), and every later one is made from that copy, as the variants of any"
        " photo are; thumbor decodes the original for each. thumbor "
        + (
            f"runs {settings['thumbor_processes']} process(es) (--processes), file loader,"
            " no original storage, baseline JPEG q80: 'cached' with its file result storage"
            " (RESULT_STORAGE_STORES_UNSAFE) on fit-in/256x256 after one request made it,"
            " 'uncached' without result storage on the same distinct fit-in/WxH boxes."
            if settings.get("thumbor_processes")
            else "was not run."
        )
        + " Both answer a JPEG of the same size; 'bytes' is the mean body. CPU ms per request"
        " comes from /proc over the whole run, warm-up included: each server's process tree,"
        " the load generator, and 'rest', everything else the machine did meanwhile (NATS,"
        " the other services, other load).",
        "part 3: each run restarts the gateway and image service, uploads one small warm-up"
        " image, takes a second of idle samples (baseline: their median), then sends every"
        " upload at once from a separate process, streamed from disk, and samples until all"
        " are answered plus 0.5 s. Sizes are RSS summed over each service's process tree"
        " (supervisor and workers); 'nats' is the dev stack's NATS server, where the blobs"
        " go, for information. An upload counts only as 201 with duplicate=false. The"
        " uploads of a run are crops of one picture shifted a pixel apart, so all are"
        " distinct; both runs have the same pixel size, only grain and quality differ, so"
        " whatever the decoding and re-encoding of the pixels costs is the same in both, and"
        " the difference is what the bytes cost. A service's memory counts as flat when its"
        f" growth in the large run is at most {FLAT_LIMIT:g}x the small run's, or at most"
        f" {SLOPE_LIMIT:g} MB per extra MB uploaded at once.",
    ]
    print_notes(notes, 96)
    print_result(
        {
            "settings": settings,
            "photos": [asdict(p) for p in photos],
            "core": [asdict(r) for r in core],
            "http": {
                "setup": asdict(setup) if setup else None,
                "runs": [asdict(r) for r in http],
            },
            "uploads": [asdict(r) for r in uploads],
            "targets": targets,
            "logged_errors": errors,
            "skipped": missing,
        }
    )


# --- running it ----------------------------------------------------------------------------------


def _bench_requirements() -> list[str]:
    with open(ROOT / "pyproject.toml", "rb") as file:
        project = tomllib.load(file)["project"]
    return list(project.get("optional-dependencies", {}).get("bench", []))


def _install_message(missing: list[str]) -> str:
    requirements = " ".join(f"'{r}'" for r in _bench_requirements()) or "Pillow thumbor"
    return (
        f"{' and '.join(missing)} not installed: the comparisons with them are skipped."
        " They are the optional `bench` dependency group of pyproject.toml, which make"
        f" bootstrap does not install. Install them with:\n  .venv/bin/pip install {requirements}"
    )


def _sizes(text: str) -> list[tuple[int, int]]:
    sizes = []
    for item in text.split(","):
        width, _, height = item.strip().lower().partition("x")
        if not (width.isdigit() and height.isdigit()):
            raise argparse.ArgumentTypeError(f"{item!r} is not WIDTHxHEIGHT")
        w, h = int(width), int(height)
        if not (64 <= w <= MAX_SIDE and 64 <= h <= MAX_SIDE and w * h <= MAX_PIXELS):
            raise argparse.ArgumentTypeError(
                f"{item!r}: sides 64..{MAX_SIDE}, at most {MAX_PIXELS:,} pixels"
            )
        sizes.append((w, h))
    if not 1 <= len(sizes) <= 5:
        raise argparse.ArgumentTypeError("give 1 to 5 sizes")
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m loadtests.bench_image")
    parser.add_argument(
        "--sizes", type=_sizes, default=_sizes(DEFAULT_SIZES), help="photos, WxH,WxH,..."
    )
    parser.add_argument("--seconds", type=float, default=3.0, help="per core case")
    parser.add_argument(
        "--threads", type=int, default=len(os.sched_getaffinity(0)), help="per core case, both"
    )
    parser.add_argument("--connections", type=int, default=32, help="HTTP connections")
    parser.add_argument("--duration", type=float, default=8.0, help="measured HTTP seconds/run")
    parser.add_argument("--distinct", type=int, default=2000, help="URLs for uncached runs")
    parser.add_argument("--uploads", type=int, default=50, help="uploads at once per run")
    parser.add_argument("--upload-mb", type=float, default=10.0, help="size of the large ones")
    parser.add_argument("--workers", type=int, default=1, help="processes per service")
    parser.add_argument(
        "--grpc-deadline",
        type=float,
        help="SHOTGRAPH_GRPC_DEADLINE_S for the platform (default: its own, 5 s)",
    )
    parser.add_argument(
        "--skip",
        action="append",
        choices=("core", "http", "uploads"),
        default=[],
        help="leave a part out (repeatable)",
    )
    parser.add_argument("--keep-logs", type=Path, help="copy the platform's logs to this folder")
    args = parser.parse_args()
    if not 0.2 <= args.seconds <= 30:
        parser.error("--seconds must be between 0.2 and 30")
    if not 1 <= args.threads <= 16:
        parser.error("--threads must be between 1 and 16")
    if not 1 <= args.connections <= MAX_CONNECTIONS:
        parser.error(f"--connections must be between 1 and {MAX_CONNECTIONS}")
    if not 0 < args.duration <= MAX_DURATION_S:
        parser.error(f"--duration must be more than 0 and at most {MAX_DURATION_S:g}")
    most = len(BOX_WIDTHS) * len(BOX_HEIGHTS)
    if not 10 <= args.distinct <= most:
        parser.error(f"--distinct must be between 10 and {most:,}")
    if not 1 <= args.uploads <= 100:
        parser.error("--uploads must be between 1 and 100")
    if not 2 <= args.upload_mb <= 20:
        parser.error("--upload-mb must be between 2 and 20")
    if not 1 <= args.workers <= 8:
        parser.error("--workers must be between 1 and 8")
    if args.grpc_deadline is not None and not 0 < args.grpc_deadline <= 600:
        parser.error("--grpc-deadline must be more than 0 and at most 600")

    missing = [name for name in ("Pillow", "thumbor") if not _installed(name)]
    if missing:
        print(_install_message(missing), file=sys.stderr, flush=True)
    libraries = [OURS] if "Pillow" in missing else [OURS, PILLOW]
    thumbor_processes = None if "thumbor" in missing else len(os.sched_getaffinity(0))
    import pyvips

    settings: dict[str, Any] = {
        "sizes": ",".join(f"{w}x{h}" for w, h in args.sizes),
        "seconds": args.seconds,
        "threads": args.threads,
        "connections": args.connections,
        "duration_s": args.duration,
        "distinct": args.distinct,
        "uploads": args.uploads,
        "upload_mb": args.upload_mb,
        "workers": args.workers,
        "grpc_deadline_s": args.grpc_deadline,
        "thumbor_processes": thumbor_processes,
        "cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)),
        "libvips": ".".join(str(pyvips.version(i)) for i in range(3)),
        "pillow": _version("Pillow"),
        "thumbor": _version("thumbor"),
        "python": host.python_version(),
        "load_1m": round(os.getloadavg()[0], 2),  # other work on the machine
    }
    _run(args, settings, libraries, thumbor_processes, missing)


def _run(
    args: argparse.Namespace,
    settings: dict[str, Any],
    libraries: list[str],
    thumbor_processes: int | None,
    missing: list[str],
) -> None:
    from libs.launcher import Platform
    from loadtests.common import stopped_at_exit

    with tempfile.TemporaryDirectory(prefix="shotgraph-bench-") as root:
        work = Path(root) / "work"
        work.mkdir()
        env = {}
        if args.grpc_deadline is not None:
            env["SHOTGRAPH_GRPC_DEADLINE_S"] = f"{args.grpc_deadline:g}"
        system = Platform(root=Path(root) / "platform", workers=args.workers, env=env)
        try:
            with stopped_at_exit(system):
                _parts(args, system, work, libraries, thumbor_processes, settings, missing)
        finally:
            if args.keep_logs is not None:
                with contextlib.suppress(OSError):
                    shutil.copytree(system.root / "logs", args.keep_logs, dirs_exist_ok=True)
                    for log in work.glob("thumbor-*.log"):
                        shutil.copy(log, args.keep_logs)


def _parts(
    args: argparse.Namespace,
    system: Platform,
    work: Path,
    libraries: list[str],
    thumbor_processes: int | None,
    settings: dict[str, Any],
    missing: list[str],
) -> None:
    photos: list[Photo] = []
    core: list[CoreResult] = []
    setup: HttpSetup | None = None
    http: list[HttpRun] = []
    uploads: list[UploadRun] = []
    print("making photos...", flush=True)
    photos = make_photos(args.sizes, work)
    sets: list[UploadSet] = []
    if "uploads" not in args.skip:
        print(f"making {2 * args.uploads} upload files...", flush=True)
        large = f"{args.upload_mb:g} MB"
        small = f"{SMALL_UPLOAD_MB:g} MB"
        sets = [
            make_upload_set(large, args.uploads, args.upload_mb, 30.0, 1000, work / "l"),
            make_upload_set(small, args.uploads, SMALL_UPLOAD_MB, 1.5, 2000, work / "s"),
        ]
    warmup = work / "warmup.jpg"
    photo_pixels(64, 48, seed=7, grain=5.0).jpegsave(str(warmup), Q=80)
    if "core" not in args.skip:
        core = measure_core(photos, libraries, args.threads, args.seconds)
    if {"http", "uploads"} - set(args.skip):
        print(f"starting the platform ({args.workers} worker(s) per service)...", flush=True)
        system.start()
        key = system.create_api_key("bench")
        if "http" not in args.skip:
            largest = max(photos, key=lambda p: p.width * p.height)
            setup, http = measure_http_all(
                system,
                key,
                largest,
                work,
                args.connections,
                args.duration,
                args.distinct,
                thumbor_processes,
            )
        for upload_set in sets:
            uploads.append(measure_uploads(system, key, upload_set, warmup))
    errors = logged_errors(system) if system.services else {}
    report(settings, photos, core, setup, http, uploads, missing, errors)


def _installed(name: str) -> bool:
    return importlib.util.find_spec("PIL" if name == "Pillow" else name) is not None


def _version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


if __name__ == "__main__":
    main()
