"""The router probe: golden prompts sent to every provider of a router config, with latency and model checks.

    python -m probe --config router-config.json                  # every internet-reachable provider
    python -m probe --config router-config.json --json out.json  # and a JSON report
    python -m probe --config router-config.json --provider us-east-modal-llama3-2-1b --requests 8
    python -m probe --config router-config.json --consistency    # every provider of a model answers alike

Credentials come from the environment, under the variable names the config gives (the router's own
variables). Each request is an OpenAI chat completion with a bounded timeout; the run sends at most
providers x requests requests. Providers on `network: vpc` are skipped unless --include-vpc (run it from
inside the VPC). Exit code 0 when every probed provider passed, 1 when one failed, 2 for a usage error.
"""
