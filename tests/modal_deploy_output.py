"""What `modal deploy` prints for one proxy-authenticated web function, through modal 1.6.4's own output
manager (rich): used by the fake `modal` CLI in test_modal_provider.py, so wrapping is rich's own."""

from __future__ import annotations

from modal._output.manager import OutputManager
from modal._output.rich import RichOutputManager
from modal._output.status import FunctionCreationStatus
from modal_proto import api_pb2


def print_deploy(url: str) -> None:
    manager = RichOutputManager()
    OutputManager._set(manager)
    response = api_pb2.FunctionCreateResponse()
    response.handle_metadata.web_url = url
    response.function.webhook_config.requires_proxy_auth = True
    manager.print("[green]✓[/green] Initialized. View run at https://modal.com/apps/ws/main/ap-0123456789abcdefghijkl")
    with manager.display_object_tree(), FunctionCreationStatus("web function", "serve") as status:
        status.set_response(response)
    manager.print("[green]✓[/green] App deployed in 3.2s! 🎉")
    manager.print("View Deployment: https://modal.com/apps/ws/main/deployed/beacon")
