"""How a case's engine state is stored (case_states.base and case_state_deltas.delta; cases.state_blob
before 0031): zlib-compressed JSON (since 0019), since
0025 with a preset dictionary of the words every SpiffWorkflow state repeats (the keys of a task, the
empty values, the format tag), which the first occurrences in a state would otherwise spell out: about
a sixth smaller for a finished case. A zlib stream names its dictionary (FDICT and its Adler-32), so a
blob compressed without one (before 0025) decodes the same way; the dictionary must never change (a
blob written with it needs it to be read): a different one would get an entry of its own in _DICTS."""
from __future__ import annotations

import zlib

STATE_DICT = (
    b'{"format":"yjs-case/1","subprocesses":{},"bpmn_events":[],"root":"'
    b'"correlations":{},"last_task":"","success":true,"completed":false,"tasks":{"'
    b'"parent":null,"children":[],"last_state_change":17,"state":64,"task_spec":"Start","triggered":false,'
    b'"internal_data":{"event_fired":true},"data":{},"delta":{"updates":{},"deletions":[]},"typename":"Task"},"'
    b'"id":"","parent":"","children":["","last_state_change":17,"state":64,"task_spec":"","triggered":false,'
    b'"internal_data":{},"data":{},"delta":{"updates":{},"deletions":[]},"typename":"Task"},"'
)
# Still the dictionary for format yjs-case/2 (records without "id" and "parent", #17): one spelling out
# the /2 record prefix saved 0-4 bytes of a 790-1,180-byte blob, not worth a second entry.
_DICTS = {zlib.adler32(STATE_DICT): STATE_DICT}


def compress(state_json: str | bytes, level: int) -> bytes:
    """The blob of a state's JSON (text, or its UTF-8 bytes)."""
    packer = zlib.compressobj(level, zdict=STATE_DICT)
    data = state_json if isinstance(state_json, bytes) else state_json.encode("utf-8")
    return packer.compress(data) + packer.flush()


def decompress(blob: bytes) -> str:
    """The JSON of a blob, whether written with the dictionary or without one (before 0025)."""
    needs_dict = len(blob) >= 6 and blob[1] & 0x20
    if not needs_dict:
        return zlib.decompress(blob).decode("utf-8")
    unpacker = zlib.decompressobj(zdict=_DICTS[int.from_bytes(blob[2:6], "big")])
    return (unpacker.decompress(blob) + unpacker.flush()).decode("utf-8")
