"""Start vLLM's OpenAI-compatible server for one model, sized to the GPU memory slice the pod was given.

Settings come from the environment (set by the Helm chart or the EAS service JSON):
  MODEL_DIR            directory holding the weights, mounted read-only from the region's OSS bucket
  SERVED_MODEL_NAME    the name clients ask for (the catalog id, e.g. llama3.2-1b)
  MAX_MODEL_LEN        context length the KV cache is sized for
  MAX_NUM_SEQS         sequences served at once
  DTYPE                auto, float16, bfloat16 (quantized models: QUANTIZATION=awq|gptq|fp8)
  VLLM_API_KEY         read by vLLM itself; requests without `Authorization: Bearer <key>` are refused
  AUTH_AT_GATEWAY      "eas": the EAS gateway checks the service token, so vLLM runs without a key
  PORT                 default 8000
  GPU_MEMORY_UTILIZATION   overrides the fraction below
  CGPU_MEMORY_ISOLATION    "off" only where cGPU shares a GPU without memory isolation
Under cGPU, ACK sets ALIYUN_COM_GPU_MEM_CONTAINER (this pod's GiB) and ALIYUN_COM_GPU_MEM_DEV (the GPU's GiB).
With memory isolation (the fleet's cgpu and core_mem pools) the container sees its slice as the whole GPU, so
vLLM takes a fixed fraction of what it sees; only without isolation, where the pod sees the whole GPU, is the
fraction the slice's share of the device (ACK: "Configure GPU sharing without GPU memory isolation").
"""

from __future__ import annotations

import math
import os
import sys

# vLLM refuses to start when the memory free at start-up is below gpu_memory_utilization x total ("Free memory
# on device ... on startup is less than desired GPU memory utilization", vllm-project/vllm#20305). The CUDA context
# is already on the GPU by then: about 300 MiB with lazy module loading (CUDA >= 11.7; pytorch/pytorch#107667),
# 200 to 700+ MiB depending on the machine (pytorch/pytorch#28113). Under cGPU isolation the slice is the whole
# "GPU", so the fraction must leave the context's share of the slice free: a fixed 0.95 left 0.25 GiB of a 5 GiB
# slice. The planner's slice holds a runtime overhead of its own (fleet/capacity.py), which this reserve uses.
CUDA_CONTEXT_RESERVE_GIB = 0.75
SHARED_UTILIZATION = 0.95  # without isolation: of the slice's share of a GPU the pod sees whole
WHOLE_GPU_UTILIZATION = 0.90  # vLLM's own default, for a GPU of its own (EAS)


def gpu_memory_utilization(environ: dict[str, str]) -> float:
    """The fraction of the GPU memory this container sees that vLLM may budget."""
    if environ.get("GPU_MEMORY_UTILIZATION"):
        return float(environ["GPU_MEMORY_UTILIZATION"])
    container = environ.get("ALIYUN_COM_GPU_MEM_CONTAINER")
    device = environ.get("ALIYUN_COM_GPU_MEM_DEV")
    if not container:
        return WHOLE_GPU_UTILIZATION
    if environ.get("CGPU_MEMORY_ISOLATION") == "off" and device and float(device) > 0:
        # The pod sees the whole GPU: budget only its slice of it.
        return round(min(float(container) / float(device), 1.0) * SHARED_UTILIZATION, 3)
    return isolated_utilization(float(container))


def isolated_utilization(slice_gib: float) -> float:
    """The fraction of a slice seen as the whole GPU that leaves the CUDA context room at start-up (2 places, down)."""
    if slice_gib <= CUDA_CONTEXT_RESERVE_GIB:
        raise SystemExit(f"serve.py: a {slice_gib} GiB slice cannot hold even the CUDA context")
    return math.floor((slice_gib - CUDA_CONTEXT_RESERVE_GIB) / slice_gib * 100) / 100


def command(environ: dict[str, str]) -> list[str]:
    missing = [k for k in ("MODEL_DIR", "SERVED_MODEL_NAME") if not environ.get(k)]
    if missing:
        raise SystemExit(f"serve.py: set {', '.join(missing)} in the container's environment")
    if not environ.get("VLLM_API_KEY") and environ.get("AUTH_AT_GATEWAY") != "eas":
        raise SystemExit("serve.py: VLLM_API_KEY is not set; the endpoint would be open to anyone who reaches it")
    args = [
        sys.executable, "-m", "vllm.entrypoints.openai.api_server",
        "--model", environ["MODEL_DIR"],
        "--served-model-name", environ["SERVED_MODEL_NAME"],
        "--host", "0.0.0.0",
        "--port", environ.get("PORT", "8000"),
        "--max-model-len", environ.get("MAX_MODEL_LEN", "4096"),
        "--max-num-seqs", environ.get("MAX_NUM_SEQS", "8"),
        "--dtype", environ.get("DTYPE", "auto"),
        "--gpu-memory-utilization", str(gpu_memory_utilization(environ)),
    ]
    if environ.get("QUANTIZATION"):
        args += ["--quantization", environ["QUANTIZATION"]]
    return args


if __name__ == "__main__":
    argv = command(dict(os.environ))
    os.execv(argv[0], argv)
