"""Dequantizes raw ggml blocks with llama.cpp's gguf-py (numpy), the outside reference for the IQ/TQ tests.

usage: PYTHONPATH=<llama.cpp>/gguf-py python3 gguf-py-dequant.py TYPE IN OUT [TYPE IN OUT ...]
TYPE is a GGMLQuantizationType name (IQ4_NL, TQ1_0, ...); IN holds whole blocks; OUT gets float32 values.
"""
import sys

import numpy as np
from gguf.constants import GGMLQuantizationType
from gguf.quants import dequantize

args = sys.argv[1:]
for i in range(0, len(args), 3):
    qtype = GGMLQuantizationType[args[i]]
    raw = np.fromfile(args[i + 1], dtype=np.uint8)
    np.asarray(dequantize(raw, qtype), dtype=np.float32).tofile(args[i + 2])
