"""Start vLLM's OpenAI-compatible server for one model, sized to the GPU memory slice the pod was given.

Settings come from the environment (set by the Helm chart or the EAS service JSON):
  MODEL_DIR            directory holding the weights, mounted read-only from the region's OSS bucket
  SERVED_MODEL_NAME    the name clients ask for (the catalog id, e.g. llama3.2-1b)
  MAX_MODEL_LEN        context length the KV cache is sized for
  MAX_NUM_SEQS         sequences served at once
  DTYPE                auto, float16, bfloat16 (quantized models: QUANTIZATION=awq|gptq|fp8)
  VLLM_API_KEY         read by vLLM itself; requests without it are refused
  PORT                 default 8000
Under cGPU, ACK sets ALIYUN_COM_GPU_MEM_CONTAINER (this pod's GiB) and ALIYUN_COM_GPU_MEM_DEV (the GPU's GiB);
vLLM sizes its cache as a fraction of the whole GPU, so the fraction is computed from them.
"""

from __future__ import annotations

import os
import sys


def gpu_memory_utilization(environ: dict[str, str]) -> float:
    """This pod's share of the GPU, a little under its slice so the CUDA context fits inside it."""
    container = environ.get("ALIYUN_COM_GPU_MEM_CONTAINER")
    device = environ.get("ALIYUN_COM_GPU_MEM_DEV")
    if container and device and float(device) > 0:
        return round(min(float(container) / float(device), 1.0) * 0.95, 3)
    return float(environ.get("GPU_MEMORY_UTILIZATION", "0.90"))


def command(environ: dict[str, str]) -> list[str]:
    missing = [k for k in ("MODEL_DIR", "SERVED_MODEL_NAME") if not environ.get(k)]
    if missing:
        raise SystemExit(f"serve.py: set {', '.join(missing)} in the container's environment")
    if not environ.get("VLLM_API_KEY"):
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
