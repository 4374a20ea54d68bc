"""bitsandbytes imported without reaching for a hub kernel.

On a CPU with AVX-512 BF16, importing bitsandbytes (seen with 0.50.2) asks the ``kernels`` package for
``kernels-community/quantization-bitsandbytes`` from the Hugging Face hub, for the ``gemv_4bit`` path of
layers repacked for CPU inference. Offline the request is refused, and bitsandbytes logs it as an error
that advises ``trust_remote_code=True``. prefzoo never takes that path (``models.keep_4bit_differentiable``
keeps every 4-bit layer off the repacked layout), so the request is not made: the import runs once, first,
with ``kernels`` hidden, and the warning bitsandbytes logs about the missing kernel is not shown. Nothing
else changes: ``kernels`` is importable again afterwards, and remote code stays off.
"""

from __future__ import annotations

import importlib.util
import logging
import sys

_CPU_OPS_LOGGER = "bitsandbytes.backends.cpu.ops"


def import_bitsandbytes_offline() -> None:
    """Import bitsandbytes with the ``kernels`` package hidden, unless it is imported already or absent."""
    if "bitsandbytes" in sys.modules or importlib.util.find_spec("bitsandbytes") is None:
        return
    hidden = sys.modules.get("kernels")
    sys.modules["kernels"] = None  # ``from kernels import get_kernel`` raises ImportError: no hub request
    logger = logging.getLogger(_CPU_OPS_LOGGER)
    was_disabled, logger.disabled = logger.disabled, True
    try:
        import bitsandbytes  # noqa: F401
    finally:
        logger.disabled = was_disabled
        if hidden is None:
            del sys.modules["kernels"]
        else:
            sys.modules["kernels"] = hidden
