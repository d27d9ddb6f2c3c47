"""Kafka as a tenant interface: each organisation's topics, credentials and ACLs (`access`), the bridge of its
commands to the internal topics (`bridge`), and the forwarder of its run events (`forwarder`). The bridge and the
forwarder run in every gateway replica as a worker of the native dialect (Syncline's own interface), started and
stopped with it; the key routes reach the access manager through it."""

from fastapi import Request

from syncline_gateway.dialects.native.kafka.access import TenantAccess
from syncline_gateway.dialects.native.kafka.bridge import CommandBridge
from syncline_gateway.dialects.native.kafka.forwarder import EventForwarder
from syncline_gateway.service import Gateway
from syncline_gateway.settings import GatewaySettings
from syncline_platform.errors import UnavailableError


class KafkaInterface:
    """The access manager, and the bridge and forwarder unless `kafka_interface` is off."""

    def __init__(self, *, settings: GatewaySettings, gateway: Gateway) -> None:
        self.access = TenantAccess(settings.kafka)
        self.workers: list[CommandBridge | EventForwarder] = []
        if settings.kafka_interface:
            self.workers = [
                EventForwarder(settings=settings, gateway=gateway, access=self.access),
                CommandBridge(settings=settings, gateway=gateway, access=self.access),
            ]

    async def start(self) -> None:
        """Start the forwarder, then the bridge."""
        for worker in self.workers:
            await worker.start()

    async def stop(self) -> None:
        """Stop them, the bridge first."""
        for worker in reversed(self.workers):
            await worker.stop()


def make_interface(settings: GatewaySettings, gateway: Gateway) -> KafkaInterface:
    """The interface, as a worker of the native dialect."""
    return KafkaInterface(settings=settings, gateway=gateway)


def access_of(request: Request) -> TenantAccess:
    """This replica's access manager."""
    workers: list[object] = request.app.state.workers
    interface = next((w for w in workers if isinstance(w, KafkaInterface)), None)
    if interface is None:
        raise UnavailableError(dependency="kafka", detail="the Kafka interface is not running")
    return interface.access


__all__ = ["CommandBridge", "EventForwarder", "KafkaInterface", "TenantAccess", "access_of", "make_interface"]
