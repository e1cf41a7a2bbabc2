"""Which BLAS this torch computes with.

Debian's torch links the generic libblas.so.3, which the alternatives system
points at the reference BLAS or OpenBLAS: the library actually mapped into the
process after a matmul is the answer, the build flags only say "generic".
"""
import re

import torch


def blas_info():
    a = torch.ones(64, 64)
    (a @ a).sum()
    libs = set()
    with open('/proc/self/maps') as f:
        for line in f:
            path = line.split()[-1]
            if re.search(r'lib(open)?blas|libblis|libmkl|liblapack', path):
                libs.add(path)
    flags = re.search(r'BLAS_INFO=([^,]+)', torch.__config__.show())
    return {'built': flags.group(1) if flags else 'unknown', 'loaded': sorted(libs), 'name': _name(libs)}


def _name(libs):
    text = ' '.join(libs)
    if 'openblas' in text and '/blas/' in text:
        return 'mixed: ' + text
    if 'openblas' in text:
        return 'OpenBLAS' + (' (pthread)' if 'pthread' in text else ' (openmp)' if 'openmp' in text else '')
    if 'mkl' in text:
        return 'MKL'
    if 'blis' in text:
        return 'BLIS'
    if '/blas/' in text:
        return 'reference BLAS (netlib)'
    return 'unknown: ' + text if text else 'none mapped'
