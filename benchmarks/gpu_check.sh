#!/bin/sh
# The GPU device check (issue 7), for a machine with an NVIDIA GPU, CuPy and CUDA torch:
#     sh benchmarks/gpu_check.sh
# Runs ember's @pytest.mark.gpu tests, then benchmarks/gpu.py (LeNet at batch 4 and 256, a
# ResNet-18-style CIFAR network at batch 128; ember against torch CUDA with TF32 off).
# Budget: under 6 minutes on an H200.  ember travels as source: PYTHONPATH is the checkout.
cd "$(dirname "$0")/.." || exit 1
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
python -c "import ember, cupy; print('ember sees a GPU:', ember.cuda.is_available(), '| cupy', cupy.__version__,
'|', ember.cuda.get_device_name() if ember.cuda.is_available() else '-')" || exit 1
status=0
timeout 200 python -m pytest -q -p no:cacheprovider -m gpu tests/cuda || status=$?
timeout 150 python benchmarks/gpu.py --seconds 1.5 --rounds 3 || status=$?
exit $status
