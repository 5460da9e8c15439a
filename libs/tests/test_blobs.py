"""The blob store on a real JetStream: content addresses, files, and the hot-blob memory."""

from __future__ import annotations

from pathlib import Path

import pytest
from nats.js import JetStreamContext

from libs.blobs import BlobStore, blob_ids, file_digest
from libs.bus import ensure_streams
from libs.bus.streams import BLOB_BUCKET
from libs.errors import NotFound


@pytest.fixture
async def js(nats_js: JetStreamContext) -> JetStreamContext:
    await ensure_streams(nats_js)
    return nats_js


async def test_files_go_in_and_out_without_changing(js: JetStreamContext, tmp_path: Path) -> None:
    source = tmp_path / "in.bin"
    source.write_bytes(bytes(range(256)) * 5000)
    store = BlobStore(js)
    digest = await store.put_file(source, "application/x-test")
    assert digest == file_digest(source)
    assert await store.put(source.read_bytes(), "application/x-test") == digest, "stored once"
    target = tmp_path / "out.bin"
    assert await store.get_to_file(digest, target) == "application/x-test"
    assert target.read_bytes() == source.read_bytes()
    assert await store.content_type(digest) == "application/x-test"
    with pytest.raises(NotFound):
        await store.content_type("0" * 64)


async def test_hot_blobs_are_served_from_memory_and_bounded(js: JetStreamContext) -> None:
    store = BlobStore(js, hot_bytes=2500, hot_blob_bytes=1000)
    small = [await store.put(bytes([n]) * 1000, "x/small") for n in range(3)]
    large = await store.put(b"L" * 2000, "x/large")
    for digest in (*small, large):
        await store.get(digest)
    # Delete them underneath: what the memory kept is still served, the rest is gone.
    bucket = await js.object_store(BLOB_BUCKET)
    for digest in (*small, large):
        await bucket.delete(digest)
    assert (await store.get(small[2])).data == bytes([2]) * 1000, "kept: recent and small"
    assert (await store.get(small[1])).data == bytes([1]) * 1000
    with pytest.raises(NotFound):
        await store.get(small[0])  # pushed out: 2,500 bytes hold two of them
    with pytest.raises(NotFound):
        await store.get(large)  # never kept: over the per-blob bound


async def test_reads_take_only_their_own_chunks_and_open_no_consumer(
    js: JetStreamContext, tmp_path: Path
) -> None:
    store = BlobStore(js)
    # Several chunks each (nats-py writes 128 KiB chunks), stored one after another, an empty
    # blob between them, and one replaced by a deletion: each read must take its own chunks.
    first, second = bytes(range(256)) * 2100, bytes(reversed(range(256))) * 1900
    digests = [await store.put(data, "x/test") for data in (first, b"", second)]
    gone = await store.put(b"gone" * 50_000, "x/test")
    await (await js.object_store(BLOB_BUCKET)).delete(gone)

    assert [(await store.get(digest)).data for digest in digests] == [first, b"", second]
    target = tmp_path / "second.bin"
    await store.get_to_file(digests[2], target)
    assert target.read_bytes() == second
    with pytest.raises(NotFound):
        await store.get(gone)
    stream = await js.stream_info(f"OBJ_{BLOB_BUCKET}")
    assert stream.state.consumer_count == 0, "direct gets, not a consumer per read"


def test_blob_ids_are_every_blob_address_in_a_json_value() -> None:
    png, glb, frame = "a" * 64, "b" * 64, "c" * 64
    output = {
        "image": png,
        "outputs": {"png": png, "glb": glb},
        "frames": [{"blob": frame}, "A" * 64, "d" * 63, 64],
        "note": f"made {png}",
    }
    assert blob_ids(output) == {png, glb, frame}
    assert blob_ids(None) == set() and blob_ids([]) == set()
