"""ModalCounterpart: the region's models on Modal, one app per model deployed from modal_apps/vllm_server.py."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi

from fleet import counterparts
from fleet.config_schema import PROJECT_ROOT
from providers.modal_app import ModalApp

APP_FILE = "modal_apps/vllm_server.py"  # relative: the provider runs `modal deploy` from the project root


def source_hash(path: str = APP_FILE) -> str:
    return hashlib.sha256((PROJECT_ROOT / path).read_bytes()).hexdigest()


@dataclass(frozen=True)
class ModalModel:
    model_id: str
    settings: dict[str, str]  # COUNTERPART_* environment for `modal deploy`


@dataclass(frozen=True)
class ModalCounterpartArgs:
    name_stem: str
    environment: str
    models: Sequence[ModalModel]


class ModalCounterpart(pulumi.ComponentResource):
    urls: dict[str, dict[str, pulumi.Output[str]]]

    def __init__(self, name: str, args: ModalCounterpartArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("beacon-fleet:counterpart:ModalCounterpart", name, None, opts)
        digest = source_hash()
        self.urls = {}
        for model in args.models:
            app = ModalApp(
                f"{name}-{model.model_id}",
                app_name=f"{args.name_stem}-{model.model_id}".replace(".", "-"),
                environment=args.environment,
                app_file=APP_FILE,
                source_hash=digest,
                settings=model.settings,
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.urls[model.model_id] = {
                "baseUrl": app.url.apply(lambda u: counterparts.modal_urls(u).base_url),
                "healthUrl": app.url.apply(lambda u: counterparts.modal_urls(u).health_url),
            }
        self.register_outputs({"urls": self.urls})
