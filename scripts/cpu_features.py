"""Which SIMD code paths numpy takes here: ``python scripts/cpu_features.py [--has-avx512]``.

numpy 2.x picks its ufunc kernels (exp, tanh, sums …) at run time by CPU feature; the AVX-512 and AVX2
kernels differ in the last bit. With ``--has-avx512`` the exit status says whether numpy would use its
AVX-512 paths in this process (0: yes, 1: no), so ``make notebooks`` knows whether a second run on the
AVX2 profile checks anything new.
"""

from __future__ import annotations

import sys

from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__

AVX512_GROUPS = ("X86_V4", "AVX512_ICL", "AVX512_SPR")


def uses_avx512() -> bool:
    """True when the CPU has a numpy AVX-512 dispatch target that this build can run."""
    return any(__cpu_features__.get(name, False) and name in __cpu_dispatch__ for name in AVX512_GROUPS)


if __name__ == "__main__":
    if "--has-avx512" in sys.argv[1:]:
        sys.exit(0 if uses_avx512() else 1)
    found = [name for name in __cpu_dispatch__ if __cpu_features__.get(name, False)]
    print("numpy dispatch targets this CPU runs:", ", ".join(found) or "baseline only")
