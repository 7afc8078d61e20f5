"""A Modal app serving one model with vLLM's OpenAI-compatible server, behind Modal proxy auth.

Deployed by providers/modal_app.py with `modal deploy`, once per region and model. The decorators are
evaluated where `modal deploy` runs, from the COUNTERPART_* environment it sets; the container gets the
serving settings through `env=`, since it does not see the deployer's environment.
"""

from __future__ import annotations

import os
import subprocess

import modal

MODEL = os.environ.get("COUNTERPART_MODEL", "llama3.2-1b")
HF_REPO = os.environ.get("COUNTERPART_HF_REPO", "meta-llama/Llama-3.2-1B-Instruct")
REVISION = os.environ.get("COUNTERPART_REVISION", "")  # the pinned commit; serve() refuses to run without one
GPU = os.environ.get("COUNTERPART_GPU", "L4").split(",")
REGION = os.environ.get("COUNTERPART_REGION", "us-east").split(",")
MIN_CONTAINERS = int(os.environ.get("COUNTERPART_MIN_CONTAINERS", "0"))
MAX_CONTAINERS = int(os.environ.get("COUNTERPART_MAX_CONTAINERS", "2"))
SCALEDOWN_SECONDS = int(os.environ.get("COUNTERPART_SCALEDOWN_SECONDS", "300"))
HF_SECRET = os.environ.get("COUNTERPART_HF_SECRET", "huggingface")
SERVE_ENV = {
    "SERVED_MODEL_NAME": MODEL,
    "HF_REPO": HF_REPO,
    "REVISION": REVISION,
    # The shared cache volume, one directory per model and revision: a new pin never reuses another's files.
    "HF_HUB_CACHE": f"/root/.cache/huggingface/hub/{MODEL}/{REVISION or 'unpinned'}",
    "MAX_MODEL_LEN": os.environ.get("COUNTERPART_MAX_MODEL_LEN", "4096"),
    "MAX_NUM_SEQS": os.environ.get("COUNTERPART_MAX_NUM_SEQS", "8"),
    "DTYPE": os.environ.get("COUNTERPART_DTYPE", "auto"),
    "QUANTIZATION": os.environ.get("COUNTERPART_QUANTIZATION", ""),
}
PORT = 8000

image = modal.Image.debian_slim(python_version="3.12").pip_install("vllm==0.33.0", "huggingface_hub[hf_transfer]")
weights = modal.Volume.from_name("beacon-hf-cache", create_if_missing=True)
app = modal.App(os.environ.get("COUNTERPART_APP", f"beacon-{MODEL}"))


@app.function(
    image=image,
    gpu=GPU,
    region=REGION,
    min_containers=MIN_CONTAINERS,
    max_containers=MAX_CONTAINERS,
    scaledown_window=SCALEDOWN_SECONDS,
    timeout=20 * 60,
    volumes={"/root/.cache/huggingface": weights},
    secrets=[modal.Secret.from_name(HF_SECRET)],
    env=SERVE_ENV,
)
@modal.concurrent(max_inputs=int(os.environ.get("COUNTERPART_MAX_INPUTS", "8")))
# Proxy auth: Modal's edge refuses any request without the router's Modal-Key / Modal-Secret pair.
@modal.web_server(port=PORT, startup_timeout=15 * 60, requires_proxy_auth=True)
def serve() -> None:
    command = [
        "vllm",
        "serve",
        os.environ["HF_REPO"],
        "--served-model-name",
        os.environ["SERVED_MODEL_NAME"],
        "--host",
        "0.0.0.0",
        "--port",
        str(PORT),
        "--max-model-len",
        os.environ["MAX_MODEL_LEN"],
        "--max-num-seqs",
        os.environ["MAX_NUM_SEQS"],
        "--dtype",
        os.environ["DTYPE"],
        # The same weights and tokenizer as every other endpoint of this model.
        "--revision",
        os.environ["REVISION"],
        "--tokenizer-revision",
        os.environ["REVISION"],
    ]
    if not os.environ["REVISION"]:
        raise RuntimeError("COUNTERPART_REVISION was not set at deploy: refusing to serve an unpinned 'main'")
    if os.environ.get("QUANTIZATION"):
        command += ["--quantization", os.environ["QUANTIZATION"]]
    subprocess.Popen(command)
