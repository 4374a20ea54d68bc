"""bitsandbytes is imported without asking the hub for a kernel: no advice to enable remote code is printed
(on a CPU with AVX-512 BF16 it was, at every run), and the ``kernels`` package is importable afterwards."""

import subprocess
import sys

import pytest


@pytest.mark.slow
def test_importing_the_engine_and_its_peers_prints_no_hub_kernel_request():
    code = ("import prefzoo.algorithms.engine.models, peft, transformers, trl, sys; "
            "import kernels; print('bitsandbytes' in sys.modules, kernels.__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "kernels"]
    assert "kernels-community" not in out.stderr + out.stdout
    assert "trust_remote_code" not in out.stderr + out.stdout
