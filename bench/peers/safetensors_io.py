"""Reads a safetensors file into torch tensors.

Hand-rolled so the peer needs only Debian's python3-torch: the `safetensors`
package is not packaged there. The format is an 8-byte little-endian header
length, a JSON header, then raw little-endian tensor bytes.
"""
import json
import mmap
import struct

import numpy as np
import torch

_NUMPY = {'F32': np.float32, 'F16': np.float16, 'F64': np.float64, 'I32': np.int32, 'I64': np.int64}


def read_safetensors(path):
    """Returns ({name: tensor}, metadata); floats come back as float32."""
    with open(path, 'rb') as f:
        (size,) = struct.unpack('<Q', f.read(8))
        header = json.loads(f.read(size))
        # Mapped, not read: each tensor is copied once, straight from the page cache.
        data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    meta = header.pop('__metadata__', {})
    out = {}
    base = 8 + size
    for name, info in header.items():
        start, end = info['data_offsets']
        raw = memoryview(data)[base + start:base + end]
        if info['dtype'] == 'BF16':
            # bfloat16 is the top half of a float32.
            bits = np.frombuffer(raw, dtype='<u2').astype(np.uint32) << 16
            arr = bits.view(np.float32)
        else:
            arr = np.frombuffer(raw, dtype=np.dtype(_NUMPY[info['dtype']]).newbyteorder('<')).copy()
        t = torch.from_numpy(arr).reshape(info['shape'])
        out[name] = t.float() if t.is_floating_point() else t
        del raw
    return out, meta
